// Registers parameters under dotted Hugging Face keys ("bert.encoder.layer.0.attention.self.query
// .weight") by creating one child module per path component, since LibTorch forbids dots in a
// single registered name. Architectures then compute functionally on the returned handles.
#pragma once
#include <torch/torch.h>

#include <string>

namespace hp {

class ParamTree : public torch::nn::Module {
 public:
  // Registers `init` as a parameter at the dotted path below this module and returns its handle.
  torch::Tensor add(const std::string& dotted, torch::Tensor init, bool requires_grad = true);
};

// HF BERT-style initialisation: N(0, 0.02) weights, zero biases, unit LayerNorm gains.
torch::Tensor init_normal(std::vector<int64_t> shape, double std = 0.02);

}  // namespace hp
