// Building blocks shared by all architectures: attention over per-head projections (with an
// optional head mask and grouped-query K/V), and the lowest representable value for masking.
#pragma once
#include <torch/torch.h>

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

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

namespace hp {

struct ForwardInput;
struct ForwardState;
struct KvCache;

// Decoder context of one batch: the real-token mask of the new positions and causal (plus
// padding) masking over the cached and new positions. Without padding and cache the state is
// marked `causal` and no bias is built (the attention kernels mask causally themselves).
// Returns the number of cached positions (the position of the first new token).
int64_t causal_context(const ForwardInput& in, torch::ScalarType dtype, ForwardState& st);
// The additive bias of a causal state for consumers that need it explicitly (attention probes):
// st.attn_bias when defined, else the [1, 1, T, T] causal mask.
torch::Tensor explicit_attn_bias(const ForwardState& st, int64_t T, torch::ScalarType dtype,
                                 torch::Device device);
// Appends this step's keys/values [B, Hkv, T, dh] to sublayer s's cache (when there is one) and
// returns the keys/values over every position.
std::pair<torch::Tensor, torch::Tensor> kv_extend(KvCache* cache, int s, torch::Tensor k,
                                                   torch::Tensor v);

// Rotary position embedding (rotate-half convention of GPT-NeoX / LLaMA). Inverse frequencies
// for `dim` channels with base `theta` and an optional HF rope_scaling object ("default",
// "linear", "llama3"; anything else throws naming the type).
torch::Tensor rope_inv_freq(int64_t dim, double theta, const nlohmann::json& scaling);
// (cos, sin) tables [T, dim] for positions first..first+T-1, computed in float32.
std::array<torch::Tensor, 2> rope_tables(const torch::Tensor& inv_freq, int64_t first, int64_t T,
                                         torch::Device device);
// x: [B, H, T, dim] rotated by the tables (cast to x's dtype).
torch::Tensor apply_rope(const torch::Tensor& x, const std::array<torch::Tensor, 2>& cs);

// RMSNorm as LLaMA computes it: in float32, x * rsqrt(mean(x^2) + eps), cast back, times weight.
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& w, double eps);

}  // namespace hp

namespace hp {

// LayerNorm over the last dimension, as nn.LayerNorm computes it (GPT-2, OPT). `w` and `b` may be
// undefined (no elementwise affine).
torch::Tensor layer_norm_last(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                              double eps);

}  // namespace hp
