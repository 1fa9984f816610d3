#include "model/layers.h"

#include <torch/version.h>

#include <cmath>
#include <limits>

#include "core/check.h"

namespace hp {

Activation activation_from_name(const std::string& name, const std::string& field) {
  if (name == "gelu") return Activation::Gelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return Activation::GeluTanh;
  if (name == "relu") return Activation::Relu;
  if (name == "silu" || name == "swish") return Activation::Silu;
  fail(str(field, " = \"", name, "\" is not implemented (gelu, gelu_new, gelu_pytorch_tanh, relu, silu)"));
}

torch::Tensor activate(Activation a, const torch::Tensor& x) {
  switch (a) {
    case Activation::Gelu: return torch::gelu(x);
    case Activation::GeluTanh: return torch::gelu(x, "tanh");
    case Activation::Relu: return torch::relu(x);
    case Activation::Silu: return torch::silu(x);
  }
  return x;
}

double mask_min(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kHalf: return -65504.0;
    case torch::kBFloat16: return -3.3895313892515355e38;
    case torch::kDouble: return std::numeric_limits<double>::lowest();
    default: return std::numeric_limits<float>::lowest();
  }
}

torch::Tensor split_heads(const torch::Tensor& x, int64_t n_head) {
  auto B = x.size(0), T = x.size(1);
  return x.view({B, T, n_head, -1}).transpose(1, 2);
}

torch::Tensor merge_heads(const torch::Tensor& x) {
  auto B = x.size(0), H = x.size(1), T = x.size(2), dh = x.size(3);
  return x.transpose(1, 2).reshape({B, T, H * dh});
}

torch::Tensor attention_max_score(const torch::Tensor& q, const torch::Tensor& k,
                                  const torch::Tensor& attn_bias, const torch::Tensor& token_mask) {
  torch::NoGradGuard ng;
  auto kk = k;
  int64_t group = q.size(1) / k.size(1);
  if (group > 1) kk = k.repeat_interleave(group, 1);
  auto scores = torch::matmul(q.to(torch::kFloat32), kk.to(torch::kFloat32).transpose(-2, -1)) /
                std::sqrt(double(q.size(-1)));  // [B, H, T, S]
  if (attn_bias.defined()) scores = scores + attn_bias.to(torch::kFloat32);
  auto mx = std::get<0>(scores.max(-1));  // [B, H, T]
  if (!token_mask.defined()) return mx.mean(std::vector<int64_t>{0, 2});
  auto w = token_mask.to(torch::kFloat32).unsqueeze(1);  // [B, 1, T]
  std::vector<int64_t> dims{0, 2};
  return (mx * w).sum(dims) / w.sum(dims).clamp_min(1.0);
}

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& attn_bias, double dropout, bool training,
                        bool is_causal) {
  torch::Tensor kk = k, vv = v;
  int64_t group = q.size(1) / k.size(1);
  if (group > 1) {  // grouped-query: each K/V head serves `group` consecutive query heads
    kk = k.repeat_interleave(group, 1);
    vv = v.repeat_interleave(group, 1);
  }
  double p = training ? dropout : 0.0;
#if TORCH_VERSION_MAJOR >= 2
  // Fused kernels (flash / memory-efficient) where the build has them.
  // No bias (no padding, not causal-with-bias) lets SDPA choose the flash kernel.
  c10::optional<torch::Tensor> bias;
  if (attn_bias.defined()) bias = attn_bias;
  return at::scaled_dot_product_attention(q, kk, vv, bias, p, is_causal && !attn_bias.defined());
#else
  auto scores = torch::matmul(q, kk.transpose(-2, -1)) / std::sqrt(double(q.size(-1)));  // [B,H,T,S]
  if (attn_bias.defined()) scores = scores + attn_bias;
  if (is_causal) {
    auto T = q.size(2), S = kk.size(2);
    auto causal = torch::ones({T, S}, q.options().dtype(torch::kBool)).triu(S - T + 1);
    scores = scores.masked_fill(causal, mask_min(scores.scalar_type()));
  }
  auto probs = torch::softmax(scores, -1);
  if (p > 0) probs = torch::dropout(probs, p, true);
  return torch::matmul(probs, vv);  // [B,H,T,dh]
#endif
}

}  // namespace hp
