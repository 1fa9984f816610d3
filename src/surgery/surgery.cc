#include "surgery/surgery.h"

#include "core/check.h"

namespace hp {

namespace {

std::vector<int> nonzero_indices(const torch::Tensor& m, int64_t n) {
  std::vector<int> keep;
  if (!m.defined()) {
    for (int i = 0; i < n; ++i) keep.push_back(i);
    return keep;
  }
  auto c = m.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  for (int i = 0; i < n; ++i)
    if (c.data_ptr<float>()[i] != 0.f) keep.push_back(i);
  return keep;
}

// Row indices of the given blocks of `block` rows each: [b*block, (b+1)*block) for b in blocks.
torch::Tensor block_rows(const std::vector<int>& blocks, int64_t block) {
  std::vector<int64_t> idx;
  for (int b : blocks)
    for (int64_t r = 0; r < block; ++r) idx.push_back(b * block + r);
  return torch::tensor(idx, torch::kInt64);
}

void take_rows(TensorMap& t, const std::string& name, const torch::Tensor& rows) {
  if (name.empty() || !t.count(name)) return;
  t[name] = t[name].index_select(0, rows).contiguous();
}

void take_cols(TensorMap& t, const std::string& name, const torch::Tensor& cols,
               const torch::Tensor& scale /* [cols] or undefined */) {
  if (name.empty() || !t.count(name)) return;
  auto w = t[name].index_select(1, cols);
  if (scale.defined()) w = w * scale.to(w.scalar_type()).view({1, -1});
  t[name] = w.contiguous();
}

// Appends `n` zero rows (dim 0) or zero columns (dim 1) to a tensor.
void pad_zeros(TensorMap& t, const std::string& name, int64_t n, int dim) {
  if (name.empty() || !t.count(name) || n == 0) return;
  auto& w = t[name];
  auto sizes = w.sizes().vec();
  sizes[dim] = n;
  w = torch::cat({w, torch::zeros(sizes, w.options())}, dim).contiguous();
}

void drop(TensorMap& t, std::initializer_list<std::string> names) {
  for (const auto& n : names)
    if (!n.empty()) t.erase(n);
}

// Per-unit scale over the kept units, repeated `rep` times (d_head columns per head);
// undefined when every kept value is exactly 1 (nothing to fold).
torch::Tensor kept_scale(const torch::Tensor& m, const std::vector<int>& keep, int64_t rep) {
  if (!m.defined() || keep.empty()) return {};
  auto v = m.detach().to(torch::kCPU, torch::kFloat32)
               .index_select(0, torch::tensor(std::vector<int64_t>(keep.begin(), keep.end())));
  if (v.eq(1).all().item<bool>()) return {};
  return v.repeat_interleave(rep);
}

}  // namespace

SurgeryResult prune_model(const Model& model, const MaskSet& masks, int ffn_align) {
  HP_CHECK(ffn_align >= 1, "surgery: ffn_align must be >= 1, got ", ffn_align);
  const auto& cfg = model.config();
  masks.check_against(cfg);
  SurgeryResult res;
  res.config = cfg;
  torch::NoGradGuard ng;
  for (const auto& [k, v] : model.state()) res.tensors[k] = v.detach().to(torch::kCPU).clone();
  const int64_t dh = cfg.d_head;
  for (int il = 0; il < cfg.n_layer; ++il) {
    const auto& lc = cfg.layers[il];
    const auto nm = model.names(il);
    auto& t = res.tensors;
    auto& out = res.config.layers[il];
    // Attention heads.
    auto keep_h = nonzero_indices(masks.layers[il].head, lc.n_head);
    if (lc.n_head > 0) {
      if (keep_h.empty()) {
        drop(t, {nm.wq, nm.bq, nm.wk, nm.bk, nm.wv, nm.bv, nm.wo, nm.bo});
        for (const auto& n : nm.attn_other) t.erase(n);
        out.n_head = out.n_head_kv = 0;
      } else {
        const int group = lc.n_head / lc.n_head_kv;
        std::vector<int> keep_kv, per_group(lc.n_head_kv, 0);
        for (int h : keep_h) per_group[h / group]++;
        int kept_per_group = -1;
        for (int g = 0; g < lc.n_head_kv; ++g) {
          if (per_group[g] == 0) continue;
          keep_kv.push_back(g);
          HP_CHECK(kept_per_group < 0 || per_group[g] == kept_per_group, "surgery: layer ", il,
                   ": grouped-query attention needs the same number of query heads kept in every "
                   "K/V group that survives (groups keep ", per_group[g], " and ", kept_per_group,
                   "); prune whole groups or equal counts per group");
          kept_per_group = per_group[g];
        }
        auto qrows = block_rows(keep_h, dh);
        take_rows(t, nm.wq, qrows);
        take_rows(t, nm.bq, qrows);
        auto kvrows = block_rows(keep_kv, dh);
        for (const auto& n : {nm.wk, nm.bk, nm.wv, nm.bv}) take_rows(t, n, kvrows);
        take_cols(t, nm.wo, qrows, kept_scale(masks.layers[il].head, keep_h, dh));
        out.n_head = keep_h.size();
        out.n_head_kv = keep_kv.size();
      }
    }
    res.kept_heads.push_back(lc.n_head > 0 ? keep_h : std::vector<int>{});
    // FFN neurons.
    int64_t pad = 0;
    auto keep_f = nonzero_indices(masks.layers[il].neuron, lc.n_ff);
    if (lc.n_ff > 0) {
      if (keep_f.empty()) {
        drop(t, {nm.w_up, nm.b_up, nm.w_gate, nm.b_gate, nm.w_down, nm.b_down});
        for (const auto& n : nm.ffn_other) t.erase(n);
        out.n_ff = 0;
      } else {
        auto rows = torch::tensor(std::vector<int64_t>(keep_f.begin(), keep_f.end()));
        for (const auto& n : {nm.w_up, nm.b_up, nm.w_gate, nm.b_gate}) take_rows(t, n, rows);
        take_cols(t, nm.w_down, rows, kept_scale(masks.layers[il].neuron, keep_f, 1));
        out.n_ff = keep_f.size();
        if (out.n_ff < lc.n_ff) {
          int64_t width = std::min<int64_t>(lc.n_ff, (out.n_ff + ffn_align - 1) / ffn_align * ffn_align);
          pad = width - out.n_ff;
          for (const auto& n : {nm.w_up, nm.b_up, nm.w_gate, nm.b_gate}) pad_zeros(t, n, pad, 0);
          pad_zeros(t, nm.w_down, pad, 1);
          out.n_ff = width;
        }
      }
    }
    res.kept_neurons.push_back(lc.n_ff > 0 ? keep_f : std::vector<int>{});
    res.padded_neurons.push_back(pad);
  }
  return res;
}

}  // namespace hp
