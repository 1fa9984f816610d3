#include "model/layers.h"

#include <torch/version.h>

#include <cmath>
#include <limits>

#include "core/check.h"
#include "model/model.h"

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

namespace hp {

int64_t causal_context(const ForwardInput& in, torch::ScalarType dtype, ForwardState& st) {
  const auto& ids = in.input_ids;
  HP_CHECK(ids.dim() == 2, "decoder: input_ids must be [B, T], got ", ids.sizes());
  const int64_t B = ids.size(0), T = ids.size(1);
  const int64_t past = in.cache ? in.cache->length : 0;
  const int64_t S = past + T;
  st.cache = in.cache;
  if (in.attention_mask.defined())
    HP_CHECK(in.attention_mask.dim() == 2 && in.attention_mask.size(0) == B &&
                 in.attention_mask.size(1) == S,
             "decoder: attention_mask must be [B, cached + new] = [", B, ", ", S, "], got ",
             in.attention_mask.sizes());
  st.token_mask = in.attention_mask.defined()
                      ? in.attention_mask.narrow(1, past, T).to(torch::kBool)
                      : torch::ones({B, T}, ids.options().dtype(torch::kBool));
  if (!in.attention_mask.defined() && (past == 0 || T == 1)) {
    st.causal = past == 0 && T > 1;  // one new token after a cache attends to every position
    return past;
  }
  auto opts = ids.options();
  auto qpos = torch::arange(past, S, opts).view({T, 1});
  auto kpos = torch::arange(0, S, opts).view({1, S});
  auto allowed = kpos.le(qpos).view({1, 1, T, S});  // [1, 1, T, S]
  if (in.attention_mask.defined())
    allowed = allowed.logical_and(in.attention_mask.to(torch::kBool).view({B, 1, 1, S}));
  st.attn_bias = torch::zeros(allowed.sizes(), opts.dtype(dtype))
                     .masked_fill(allowed.logical_not(), mask_min(dtype));
  return past;
}

torch::Tensor explicit_attn_bias(const ForwardState& st, int64_t T, torch::ScalarType dtype,
                                 torch::Device device) {
  if (st.attn_bias.defined() || !st.causal) return st.attn_bias;
  auto future = torch::ones({T, T}, torch::TensorOptions().dtype(torch::kBool).device(device)).triu(1);
  return torch::zeros({1, 1, T, T}, torch::TensorOptions().dtype(dtype).device(device))
      .masked_fill(future.view({1, 1, T, T}), mask_min(dtype));
}

std::pair<torch::Tensor, torch::Tensor> kv_extend(KvCache* cache, int s, torch::Tensor k,
                                                   torch::Tensor v) {
  if (!cache) return {std::move(k), std::move(v)};
  if (static_cast<int>(cache->k.size()) <= s) cache->k.resize(s + 1), cache->v.resize(s + 1);
  auto& ck = cache->k[s];
  auto& cv = cache->v[s];
  if (ck.defined()) {
    HP_CHECK(ck.size(2) == cache->length, "KV cache: sublayer ", s, " holds ", ck.size(2),
             " positions but the cache says ", cache->length);
    ck = torch::cat({ck, k}, 2);
    cv = torch::cat({cv, v}, 2);
  } else {
    HP_CHECK(cache->length == 0, "KV cache: sublayer ", s, " is empty but ", cache->length,
             " positions are cached (a pruned-away sublayer cannot start caching)");
    ck = k;
    cv = v;
  }
  return {ck, cv};
}

torch::Tensor rope_inv_freq(int64_t dim, double theta, const nlohmann::json& scaling) {
  HP_CHECK(dim % 2 == 0 && dim > 0, "rotary embedding: head size ", dim, " must be even");
  HP_CHECK(theta > 0, "rotary embedding: rope_theta must be > 0, got ", theta);
  auto inv = 1.0 / torch::pow(theta, torch::arange(0, dim, 2, torch::kInt64).to(torch::kFloat32) /
                                         static_cast<double>(dim));  // [dim/2] float32
  if (scaling.is_null()) return inv;
  HP_CHECK(scaling.is_object(), "rope_scaling must be an object or null, got ", scaling.dump());
  std::string type = scaling.value("rope_type", scaling.value("type", std::string("default")));
  if (type == "default") return inv;
  const double factor = scaling.value("factor", 1.0);
  HP_CHECK(factor > 0, "rope_scaling.factor must be > 0, got ", factor);
  if (type == "linear") return inv / factor;
  if (type == "llama3") {
    const double low = scaling.value("low_freq_factor", 1.0);
    const double high = scaling.value("high_freq_factor", 4.0);
    HP_CHECK(scaling.contains("original_max_position_embeddings"),
             "rope_scaling llama3 needs original_max_position_embeddings");
    const double old_len = scaling["original_max_position_embeddings"].get<double>();
    HP_CHECK(high > low, "rope_scaling llama3: high_freq_factor ", high, " must exceed low_freq_factor ", low);
    const double low_wavelen = old_len / low, high_wavelen = old_len / high;
    auto wavelen = 2 * M_PI / inv;
    auto scaled = torch::where(wavelen > low_wavelen, inv / factor, inv);
    auto smooth = (old_len / wavelen - low) / (high - low);
    auto smoothed = (1 - smooth) * scaled / factor + smooth * scaled;
    auto medium = wavelen.ge(high_wavelen).logical_and(wavelen.le(low_wavelen));
    return torch::where(medium, smoothed, scaled);
  }
  fail(str("rope_scaling type \"", type, "\" is not implemented (default, linear, llama3)"));
}

std::array<torch::Tensor, 2> rope_tables(const torch::Tensor& inv_freq, int64_t first, int64_t T,
                                         torch::Device device) {
  auto pos = torch::arange(first, first + T, torch::TensorOptions().dtype(torch::kInt64).device(device))
                 .to(torch::kFloat32);
  auto freqs = torch::outer(pos, inv_freq.to(device));  // [T, dim/2]
  auto emb = torch::cat({freqs, freqs}, -1);            // [T, dim]
  return {emb.cos(), emb.sin()};
}

torch::Tensor apply_rope(const torch::Tensor& x, const std::array<torch::Tensor, 2>& cs) {
  const int64_t half = x.size(-1) / 2;
  auto cos = cs[0].to(x.scalar_type()), sin = cs[1].to(x.scalar_type());
  auto rot = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos + rot * sin;
}

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  auto xf = x.to(torch::kFloat32);
  auto y = xf * torch::rsqrt(xf.pow(2).mean(-1, true) + eps);
  return w * y.to(x.scalar_type());
}

}  // namespace hp

namespace hp {

torch::Tensor layer_norm_last(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                              double eps) {
  return torch::layer_norm(x, {x.size(-1)}, w, b, eps);
}

}  // namespace hp
