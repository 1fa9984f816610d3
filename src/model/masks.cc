#include "model/masks.h"

#include "core/check.h"

namespace hp {

MaskSet MaskSet::dense(const std::vector<SublayerSpec>& specs) {
  MaskSet m;
  m.sub.resize(specs.size());
  return m;
}

MaskSet MaskSet::ones(const std::vector<SublayerSpec>& specs) {
  MaskSet m;
  for (const auto& s : specs) m.sub.push_back(torch::ones({s.units}));
  return m;
}

MaskSet MaskSet::zeros(const std::vector<SublayerSpec>& specs) {
  MaskSet m;
  for (const auto& s : specs) m.sub.push_back(torch::zeros({s.units}));
  return m;
}

MaskSet MaskSet::to(const torch::Device& device, torch::Dtype dtype) const {
  MaskSet m;
  for (const auto& t : sub) m.sub.push_back(t.defined() ? t.to(device, dtype) : torch::Tensor());
  return m;
}

MaskSet MaskSet::binarized() const {
  MaskSet m;
  for (const auto& t : sub)
    m.sub.push_back(t.defined() ? t.ne(0).to(torch::kFloat32) : torch::Tensor());
  return m;
}

MaskSet MaskSet::times(const MaskSet& o) const {
  HP_CHECK(o.size() == size(), "mask product: ", size(), " vs ", o.size(), " sublayers");
  MaskSet m;
  for (size_t s = 0; s < size(); ++s) {
    const auto &a = sub[s], &b = o.sub[s];
    m.sub.push_back(!a.defined() ? b : !b.defined() ? a : a * b.to(a.device(), a.scalar_type()));
  }
  return m;
}

int64_t MaskSet::kept(const std::vector<SublayerSpec>& specs, size_t s) const {
  const auto& t = sub.at(s);
  return t.defined() ? t.ne(0).sum().item<int64_t>() : specs.at(s).units;
}

int64_t MaskSet::kept_heads(const std::vector<SublayerSpec>& specs) const {
  int64_t n = 0;
  for (size_t s = 0; s < specs.size(); ++s)
    if (is_attention(specs[s].kind)) n += kept(specs, s);
  return n;
}

int64_t MaskSet::kept_neurons(const std::vector<SublayerSpec>& specs) const {
  int64_t n = 0;
  for (size_t s = 0; s < specs.size(); ++s)
    if (!is_attention(specs[s].kind)) n += kept(specs, s);
  return n;
}

void MaskSet::check_against(const std::vector<SublayerSpec>& specs) const {
  HP_CHECK(sub.size() == specs.size(), "mask set has ", sub.size(), " sublayers, model has ",
           specs.size());
  for (size_t s = 0; s < specs.size(); ++s)
    HP_CHECK(!sub[s].defined() || sub[s].numel() == specs[s].units, "sublayer ", s, " (",
             specs[s].name(), "): mask has ", sub[s].numel(), " entries, the sublayer has ",
             specs[s].units, " units");
}

bool mask_all_zero(const torch::Tensor& m) {
  return m.defined() && (m.numel() == 0 || !m.ne(0).any().item<bool>());
}

std::vector<int64_t> kept_indices(const torch::Tensor& m, int64_t n) {
  std::vector<int64_t> keep;
  if (!m.defined()) {
    for (int64_t i = 0; i < n; ++i) keep.push_back(i);
    return keep;
  }
  HP_CHECK(m.numel() == n, "mask has ", m.numel(), " entries for ", n, " units");
  auto c = m.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  for (int64_t i = 0; i < n; ++i)
    if (c.data_ptr<float>()[i] != 0.f) keep.push_back(i);
  return keep;
}

}  // namespace hp
