// Building blocks shared by all architectures: attention over per-head projections (with an
// optional head mask and grouped-query K/V), and the lowest representable value for masking.
#pragma once
#include <torch/torch.h>

#include <string>

namespace hp {

// Activations of the HF configs headprune reads (hidden_act / activation_function / hidden_act):
// "gelu" (erf), "gelu_new" and "gelu_pytorch_tanh" (tanh approximation), "relu", "silu" (= "swish").
enum class Activation { Gelu, GeluTanh, Relu, Silu };
// Throws naming `field` and the accepted values for any other name.
Activation activation_from_name(const std::string& name, const std::string& field = "hidden_act");
torch::Tensor activate(Activation a, const torch::Tensor& x);

// Additive mask value for `dtype` (finfo.min, as HF does, so padded keys get exactly zero weight).
double mask_min(torch::ScalarType dtype);

// Scaled dot-product attention. q: [B, Hq, T, dh]; k, v: [B, Hkv, S, dh] with Hq % Hkv == 0.
// attn_bias broadcastable to [B, Hq, T, S] (additive). Returns context [B, Hq, T, dh].
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& attn_bias, double dropout, bool training,
                        bool is_causal = false);

// Per head: max over keys of the pre-softmax score q.k/sqrt(dh) + attn_bias, averaged over the
// real query tokens of the batch (token_mask [B, T] bool; undefined = all). Returns [Hq], no grad.
torch::Tensor attention_max_score(const torch::Tensor& q, const torch::Tensor& k,
                                  const torch::Tensor& attn_bias, const torch::Tensor& token_mask);

// [B, T, H*dh] -> [B, H, T, dh]
torch::Tensor split_heads(const torch::Tensor& x, int64_t n_head);
// [B, H, T, dh] -> [B, T, H*dh]
torch::Tensor merge_heads(const torch::Tensor& x);

}  // namespace hp
