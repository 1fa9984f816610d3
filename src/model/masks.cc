#include "model/masks.h"

#include "core/check.h"

namespace hp {

MaskSet MaskSet::ones(const ModelConfig& cfg) {
  MaskSet m;
  for (const auto& l : cfg.layers)
    m.layers.push_back({torch::ones({l.n_head}), torch::ones({l.n_ff})});
  return m;
}

MaskSet MaskSet::to(const torch::Device& device, torch::Dtype dtype) const {
  MaskSet m;
  for (const auto& l : layers)
    m.layers.push_back({l.head.defined() ? l.head.to(device, dtype) : torch::Tensor(),
                        l.neuron.defined() ? l.neuron.to(device, dtype) : torch::Tensor()});
  return m;
}

MaskSet MaskSet::binarized() const {
  MaskSet m;
  for (const auto& l : layers)
    m.layers.push_back({l.head.defined() ? l.head.ne(0).to(torch::kFloat32) : torch::Tensor(),
                        l.neuron.defined() ? l.neuron.ne(0).to(torch::kFloat32) : torch::Tensor()});
  return m;
}

int64_t MaskSet::kept_heads() const {
  int64_t n = 0;
  for (const auto& l : layers)
    if (l.head.defined()) n += l.head.ne(0).sum().item<int64_t>();
  return n;
}

int64_t MaskSet::kept_neurons() const {
  int64_t n = 0;
  for (const auto& l : layers)
    if (l.neuron.defined()) n += l.neuron.ne(0).sum().item<int64_t>();
  return n;
}

void MaskSet::check_against(const ModelConfig& cfg) const {
  HP_CHECK(static_cast<int>(layers.size()) == cfg.n_layer, "mask set has ", layers.size(),
           " layers, model has ", cfg.n_layer);
  for (int il = 0; il < cfg.n_layer; ++il) {
    const auto& l = layers[il];
    HP_CHECK(!l.head.defined() || l.head.numel() == cfg.layers[il].n_head, "layer ", il,
             ": head mask has ", l.head.numel(), " entries, layer has ", cfg.layers[il].n_head,
             " heads");
    HP_CHECK(!l.neuron.defined() || l.neuron.numel() == cfg.layers[il].n_ff, "layer ", il,
             ": neuron mask has ", l.neuron.numel(), " entries, layer has ", cfg.layers[il].n_ff,
             " neurons");
  }
}

bool mask_all_zero(const torch::Tensor& m) {
  return m.defined() && (m.numel() == 0 || !m.ne(0).any().item<bool>());
}

}  // namespace hp
