// All-attention decoder LM (Sukhbaatar et al. 2019, "Augmenting Self-attention with Persistent
// Memory"), the model Shim et al. 2021 prune head by head. Every layer is one pre-RMSNorm causal
// self-attention sublayer and nothing else: the FFN is replaced by N persistent key/value vectors
// per head that every query attends to together with the context, in one softmax.
//
// Choices (docs/architecture.md, "All-attention LM"):
//  - Positions: rotary (RoPE, as the LLaMA decoder), not Transformer-XL relative positions with a
//    memory of the previous segment, so that the vanilla model it is compared with
//    (models/bible-vanilla, LLaMA layout) has the same positional scheme and the same context.
//    Context keys and queries are rotated; persistent keys have no position and are scored
//    against the *unrotated* query, so what a memory slot contributes does not depend on where
//    the query stands.
//  - Causal masking covers the context part only; every position sees every memory slot. Padded
//    context keys are masked as in the other decoders.
//  - Scaling as in the original: the stored key vectors are 1/sqrt(d_head) of the keys used and
//    the stored values 1/sqrt(N) of the values used (both initialised N(0, 1) in use), which
//    makes their Adam steps large relative to their size.
//  - No grouped-query attention: one K/V head per query head. A unit is a head; pruning it
//    removes its Q/K/V rows, its output-projection columns and its N memory keys and values.
//
// Tensors (one layer il, H heads, N slots, dh = d_head): model.layers.il.input_layernorm.weight,
// self_attn.{q,k,v}_proj.weight [H*dh, d], self_attn.o_proj.weight [d, H*dh],
// self_attn.memory_key / memory_value [H, N, dh]; model.embed_tokens.weight, model.norm.weight,
// lm_head.weight (unless tied); with attention_bias, self_attn.{q,k,v,o}_proj.bias.
#include "model/layers.h"
#include "model/model.h"

#include <cmath>

#include "config/task_info.h"
#include "core/check.h"

namespace hp {

namespace {
std::string lp(int il) { return "model.layers." + std::to_string(il) + "."; }
}  // namespace

int64_t allattn_memory_slots(const ModelConfig& cfg) {
  const int64_t n = cfg.arch_opts.value("memory_slots", int64_t{0});
  HP_CHECK(n >= 0, "allattn: memory_slots must be >= 0, got ", n);
  return n;
}

class AllAttnModel : public Model {
 public:
  explicit AllAttnModel(const ModelConfig& cfg);
  ForwardState begin(const ForwardInput& in) override;
  void apply(int s, ForwardState& st, const torch::Tensor& mask, Probe* probe) override;
  torch::Tensor head(const ForwardState& st) override;
  std::vector<std::string> ignorable_keys() const override;

  static std::vector<SublayerSpec> describe(const ModelConfig& cfg);
  static ModelConfig tiny(const std::string& task);

 private:
  struct Layer {
    torch::Tensor ln, wq, bq, wk, bk, wv, bv, wo, bo, mem_k, mem_v;
  };
  torch::Tensor embed_, norm_, lm_head_, inv_freq_;
  std::vector<Layer> layers_;
  int64_t slots_ = 0;
  double attn_dropout_ = 0;
};

std::vector<SublayerSpec> AllAttnModel::describe(const ModelConfig& cfg) {
  std::vector<SublayerSpec> out;
  const int64_t dh = cfg.d_head, N = allattn_memory_slots(cfg);
  const bool bias = cfg.arch_opts.value("attention_bias", false);
  for (int il = 0; il < cfg.n_layer; ++il) {
    const auto& lc = cfg.layers.at(il);
    const std::string p = lp(il);
    SublayerSpec a = make_spec(static_cast<int>(out.size()), SublayerKind::CausalAttn,
                               Stack::Decoder, il, NormPlace::PreRMS, lc.n_head, lc.n_head_kv,
                               cfg.d_model, dh);
    a.heads_per_unit = 1;
    a.head_dim = dh;
    a.memory_slots = N;
    a.out_proj = {p + "self_attn.o_proj.weight", 1, 0, dh};
    a.unit_slices = {{p + "self_attn.q_proj.weight", 0, 0, dh}, a.out_proj};
    if (N > 0) {
      a.unit_slices.push_back({p + "self_attn.memory_key", 0, 0, 1});
      a.unit_slices.push_back({p + "self_attn.memory_value", 0, 0, 1});
    }
    a.group_slices = {{p + "self_attn.k_proj.weight", 0, 0, dh},
                      {p + "self_attn.v_proj.weight", 0, 0, dh}};
    if (bias) {
      a.unit_slices.push_back({p + "self_attn.q_proj.bias", 0, 0, dh});
      a.group_slices.push_back({p + "self_attn.k_proj.bias", 0, 0, dh});
      a.group_slices.push_back({p + "self_attn.v_proj.bias", 0, 0, dh});
      a.out_bias = p + "self_attn.o_proj.bias";
    }
    a.whole = {p + "input_layernorm.weight"};
    out.push_back(a);
  }
  return out;
}

ModelConfig AllAttnModel::tiny(const std::string& task) {
  ModelConfig c;
  c.arch = "allattn";
  c.task = task;
  c.vocab_size = 40;
  c.d_model = 16;
  c.d_head = 4;
  c.n_layer = 4;
  c.n_head_dense = 4;
  c.n_kv_dense = 4;
  c.n_ff_dense = 0;
  c.max_pos = 64;
  c.act = "silu";
  c.ln_eps = 1e-6f;
  c.tie_embeddings = false;
  c.n_labels = 0;
  c.arch_opts["memory_slots"] = 6;
  c.set_dense_layers();
  return c;
}

AllAttnModel::AllAttnModel(const ModelConfig& cfg) : Model(cfg) {
  cfg_.validate();
  HP_CHECK(cfg_.n_ff_dense == 0, "allattn: the All-attention model has no FFN (intermediate size ",
           cfg_.n_ff_dense, "); its persistent memory takes the FFN's place");
  slots_ = allattn_memory_slots(cfg_);
  const int64_t d = cfg_.d_model, dh = cfg_.d_head;
  attn_dropout_ = cfg_.arch_opts.value("attention_dropout", 0.0);
  const bool bias = cfg_.arch_opts.value("attention_bias", false);
  embed_ = add("model.embed_tokens.weight", init_normal({cfg_.vocab_size, d}));
  for (int il = 0; il < cfg_.n_layer; ++il) {
    const auto& lc = cfg_.layers[il];
    HP_CHECK(lc.n_ff == 0, "allattn: layer ", il, " has an FFN of width ", lc.n_ff);
    HP_CHECK(lc.n_head == lc.n_head_kv, "allattn: layer ", il, " has ", lc.n_head, " query heads and ",
             lc.n_head_kv, " K/V heads; the All-attention model has no grouped-query attention");
    const std::string p = lp(il);
    Layer L;
    if (lc.has_attn()) {
      const int64_t w = lc.n_head * dh;
      L.ln = add(p + "input_layernorm.weight", torch::ones({d}));
      L.wq = add(p + "self_attn.q_proj.weight", init_normal({w, d}));
      L.wk = add(p + "self_attn.k_proj.weight", init_normal({w, d}));
      L.wv = add(p + "self_attn.v_proj.weight", init_normal({w, d}));
      L.wo = add(p + "self_attn.o_proj.weight", init_normal({d, w}));
      if (bias) {
        L.bq = add(p + "self_attn.q_proj.bias", torch::zeros({w}));
        L.bk = add(p + "self_attn.k_proj.bias", torch::zeros({w}));
        L.bv = add(p + "self_attn.v_proj.bias", torch::zeros({w}));
        L.bo = add(p + "self_attn.o_proj.bias", torch::zeros({d}));
      }
      if (slots_ > 0) {
        // Stored at 1/sqrt(dh) (keys) and 1/sqrt(N) (values) of their scale in use.
        L.mem_k = add(p + "self_attn.memory_key",
                      torch::randn({lc.n_head, slots_, dh}) / std::sqrt(static_cast<double>(dh)));
        L.mem_v = add(p + "self_attn.memory_value",
                      torch::randn({lc.n_head, slots_, dh}) / std::sqrt(static_cast<double>(slots_)));
      }
    }
    layers_.push_back(L);
  }
  norm_ = add("model.norm.weight", torch::ones({d}));
  lm_head_ = cfg_.tie_embeddings ? embed_ : add("lm_head.weight", init_normal({cfg_.vocab_size, d}));
  inv_freq_ = rope_inv_freq(dh, cfg_.arch_opts.value("rope_theta", 10000.0), nlohmann::json());
  set_sublayers(describe(cfg_));
}

std::vector<std::string> AllAttnModel::ignorable_keys() const {
  if (cfg_.tie_embeddings) return {"lm_head.weight"};
  return {};
}

ForwardState AllAttnModel::begin(const ForwardInput& in) {
  ForwardState st;
  const int64_t T = in.input_ids.size(1);
  const int64_t past = causal_context(in, embed_.scalar_type(), st);
  st.rope = rope_tables(inv_freq_, past, T, in.input_ids.device());
  st.x(Stack::Decoder) = torch::embedding(embed_, in.input_ids);  // [B, T, d]
  return st;
}

void AllAttnModel::apply(int s, ForwardState& st, const torch::Tensor& mask, Probe* probe) {
  const auto& sp = sublayers().at(s);
  auto& x = st.x(Stack::Decoder);
  if (probe) probe->on_input(s, x);
  if (sp.units == 0 || mask_all_zero(mask)) return;  // pre-norm: the residual alone
  const auto& L = layers_[sp.layer];
  const int64_t H = sp.units, dh = sp.head_dim;
  auto h = rms_norm(x, L.ln, cfg_.ln_eps);
  auto q = split_heads(torch::linear(h, L.wq, L.bq), H);  // [B, H, T, dh], unrotated
  auto qr = apply_rope(q, st.rope);
  auto k = apply_rope(split_heads(torch::linear(h, L.wk, L.bk), H), st.rope);
  auto v = split_heads(torch::linear(h, L.wv, L.bv), H);
  std::tie(k, v) = kv_extend(st.cache, s, k, v);  // [B, H, S, dh]
  const int64_t T = q.size(2);
  auto bias = explicit_attn_bias(st, T, q.scalar_type(), q.device());  // [.., T, S] or undefined
  if (probe && probe->wants_attention(s)) probe->on_attention(s, qr, k, bias, st.token_mask);
  const double inv_sqrt = 1.0 / std::sqrt(static_cast<double>(dh));
  auto scores = torch::matmul(qr, k.transpose(-2, -1)) * inv_sqrt;  // [B, H, T, S]
  if (bias.defined()) scores = scores + bias;
  torch::Tensor mv;
  if (slots_ > 0) {
    // q . (k_stored * sqrt(dh)) / sqrt(dh) = q . k_stored
    auto mem = torch::matmul(q, L.mem_k.unsqueeze(0).transpose(-2, -1));  // [B, H, T, N]
    scores = torch::cat({scores, mem}, -1);
    mv = L.mem_v * std::sqrt(static_cast<double>(slots_));  // [H, N, dh]
  }
  auto probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
  if (is_training() && attn_dropout_ > 0) probs = torch::dropout(probs, attn_dropout_, true);
  const int64_t S = k.size(2);
  auto ctx = torch::matmul(probs.narrow(-1, 0, S), v);  // [B, H, T, dh]
  if (slots_ > 0) ctx = ctx + torch::matmul(probs.narrow(-1, S, slots_), mv.unsqueeze(0));
  if (mask.defined()) ctx = ctx * mask.to(ctx.scalar_type()).view({1, H, 1, 1});
  auto units = merge_heads(ctx);  // [B, T, H*dh]
  if (probe) probe->on_units(s, units);
  auto out = torch::linear(units, L.wo, L.bo);
  if (probe) probe->on_output(s, out);
  x = x + out;
}

torch::Tensor AllAttnModel::head(const ForwardState& st) {
  auto x = st.x(Stack::Decoder);
  if (st.predict_positions.defined()) x = x.index({st.predict_positions});  // [N, d]
  return torch::linear(rms_norm(x, norm_, cfg_.ln_eps), lm_head_);  // [.., V]
}

// The config mapping (io/hf_allattn.cc).
void allattn_from_hf(HfReader& r, const HeadpruneBlock& hb, ModelConfig& cfg);
void allattn_to_hf(const ModelConfig& cfg, const std::vector<std::vector<int>>* pruned_heads,
                   nlohmann::json& j);

// The registry entry (model/registry.cc). transformers has no such model: never HF-loadable.
Architecture allattn_architecture() {
  Architecture a{"allattn",
                      [](const ModelConfig& c) { return std::make_shared<AllAttnModel>(c); },
                      AllAttnModel::describe,
                      AllAttnModel::tiny,
                      {"lm"},
                      {"headprune_allattn"},
                      allattn_from_hf,
                      allattn_to_hf,
                      nullptr};
  // attention_bias: biases on q, k, v, o (all zero when added; FLAP's bias compensation).
  a.add_output_biases = [](ModelConfig& c) {
    if (c.arch_opts.value("attention_bias", false)) return false;
    c.arch_opts["attention_bias"] = true;
    return true;
  };
  return a;
}

}  // namespace hp
