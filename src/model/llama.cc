// LLaMA-style decoder (LlamaForCausalLM): pre-RMSNorm blocks, rotary positions (rope_theta, the
// llama3 and linear rope_scaling), SwiGLU FFN, grouped-query attention (num_key_value_heads <
// num_attention_heads), tied or untied output embedding, a KV cache for decoding. Sublayers
// bottom-up: layer il's causal self-attention, then its FFN; an empty sublayer is the identity
// (its norm goes with it). Per-layer widths come from the config.
//
// The unit of attention pruning (ModelConfig::gqa_unit): "group" makes a unit one K/V group with
// the query heads that share it (unit width group_size * d_head); "query" makes units query
// heads inside their groups. Without grouped-query attention both are one head per unit.
#include "model/layers.h"
#include "model/model.h"

#include "config/task_info.h"
#include "core/check.h"

namespace hp {

namespace {
std::string lp(int il) { return "model.layers." + std::to_string(il) + "."; }
}  // namespace

class LlamaModel : public Model {
 public:
  explicit LlamaModel(const ModelConfig& cfg);
  ForwardState begin(const ForwardInput& in) override;
  void apply(int s, ForwardState& st, const torch::Tensor& mask, Probe* probe) override;
  torch::Tensor head(const ForwardState& st) override;
  std::vector<std::string> ignorable_keys() const override;

  static std::vector<SublayerSpec> describe(const ModelConfig& cfg);
  static ModelConfig tiny(const std::string& task);

 private:
  torch::Tensor attn(int s, const torch::Tensor& x, ForwardState& st, const torch::Tensor& mask,
                     Probe* probe);
  torch::Tensor ffn(int s, const torch::Tensor& x, const torch::Tensor& mask, Probe* probe);
  struct Layer {
    torch::Tensor wq, bq, wk, bk, wv, bv, wo, bo, ln1;
    torch::Tensor w_gate, b_gate, w_up, b_up, w_down, b_down, ln2;
  };
  torch::Tensor embed_, norm_, lm_head_, inv_freq_;
  std::vector<Layer> layers_;
  Activation act_;
  double attn_dropout_ = 0;
};

namespace {
bool opt_flag(const ModelConfig& c, const char* key, bool def) {
  return c.arch_opts.value(key, def);
}
}  // namespace

std::vector<SublayerSpec> LlamaModel::describe(const ModelConfig& cfg) {
  std::vector<SublayerSpec> out;
  const int64_t dh = cfg.d_head;
  const bool attn_bias = opt_flag(cfg, "attention_bias", false);
  const bool mlp_bias = opt_flag(cfg, "mlp_bias", false);
  for (int il = 0; il < cfg.n_layer; ++il) {
    const auto& lc = cfg.layers.at(il);
    const std::string p = lp(il);
    // Units: whole K/V groups, or query heads inside them.
    const bool by_group = cfg.gqa_unit == "group" && lc.n_head_kv > 0;
    const int64_t hpu = by_group ? lc.n_head / lc.n_head_kv : 1;
    const int64_t units = lc.n_head / hpu;
    SublayerSpec a = make_spec(static_cast<int>(out.size()), SublayerKind::CausalAttn,
                               Stack::Decoder, il, NormPlace::PreRMS, units, lc.n_head_kv,
                               cfg.d_model, hpu * dh);
    a.heads_per_unit = hpu;
    a.head_dim = dh;
    a.out_proj = {p + "self_attn.o_proj.weight", 1, 0, hpu * dh};
    a.unit_slices = {{p + "self_attn.q_proj.weight", 0, 0, hpu * dh}, a.out_proj};
    a.group_slices = {{p + "self_attn.k_proj.weight", 0, 0, dh},
                      {p + "self_attn.v_proj.weight", 0, 0, dh}};
    if (attn_bias) {
      a.unit_slices.push_back({p + "self_attn.q_proj.bias", 0, 0, hpu * dh});
      a.group_slices.push_back({p + "self_attn.k_proj.bias", 0, 0, dh});
      a.group_slices.push_back({p + "self_attn.v_proj.bias", 0, 0, dh});
      a.out_bias = p + "self_attn.o_proj.bias";
    }
    a.whole = {p + "input_layernorm.weight"};
    out.push_back(a);

    SublayerSpec f = make_spec(static_cast<int>(out.size()), SublayerKind::Ffn, Stack::Decoder, il,
                               NormPlace::PreRMS, lc.n_ff, 0, cfg.d_model, 1);
    f.gated = true;
    f.out_proj = {p + "mlp.down_proj.weight", 1, 0, 1};
    f.unit_slices = {{p + "mlp.gate_proj.weight", 0, 0, 1}, {p + "mlp.up_proj.weight", 0, 0, 1},
                     f.out_proj};
    if (mlp_bias) {
      f.unit_slices.push_back({p + "mlp.gate_proj.bias", 0, 0, 1});
      f.unit_slices.push_back({p + "mlp.up_proj.bias", 0, 0, 1});
      f.out_bias = p + "mlp.down_proj.bias";
    }
    f.whole = {p + "post_attention_layernorm.weight"};
    f.may_pad = true;
    out.push_back(f);
  }
  return out;
}

ModelConfig LlamaModel::tiny(const std::string& task) {
  ModelConfig c;
  c.arch = "llama";
  c.task = task;
  c.vocab_size = 40;
  c.d_model = 16;
  c.d_head = 4;
  c.n_layer = 2;
  c.n_head_dense = 4;
  c.n_kv_dense = 2;  // grouped-query attention, 2 query heads per K/V group
  c.n_ff_dense = 24;
  c.max_pos = 64;
  c.act = "silu";
  c.ln_eps = 1e-6f;
  c.tie_embeddings = false;
  c.n_labels = 0;
  c.set_dense_layers();
  return c;
}

LlamaModel::LlamaModel(const ModelConfig& cfg) : Model(cfg) {
  cfg_.validate();
  const int64_t d = cfg_.d_model, dh = cfg_.d_head;
  act_ = activation_from_name(cfg_.act);
  attn_dropout_ = cfg_.arch_opts.value("attention_dropout", 0.0);
  const bool attn_bias = opt_flag(cfg_, "attention_bias", false);
  const bool mlp_bias = opt_flag(cfg_, "mlp_bias", false);
  auto zeros = [](int64_t n) { return torch::zeros({n}); };
  auto ones = [](int64_t n) { return torch::ones({n}); };
  embed_ = add("model.embed_tokens.weight", init_normal({cfg_.vocab_size, d}));
  for (int il = 0; il < cfg_.n_layer; ++il) {
    const auto& lc = cfg_.layers[il];
    const std::string p = lp(il);
    Layer L;
    if (lc.has_attn()) {
      const int64_t wq = lc.n_head * dh, wkv = lc.n_head_kv * dh;
      L.ln1 = add(p + "input_layernorm.weight", ones(d));
      L.wq = add(p + "self_attn.q_proj.weight", init_normal({wq, d}));
      L.wk = add(p + "self_attn.k_proj.weight", init_normal({wkv, d}));
      L.wv = add(p + "self_attn.v_proj.weight", init_normal({wkv, d}));
      L.wo = add(p + "self_attn.o_proj.weight", init_normal({d, wq}));
      if (attn_bias) {
        L.bq = add(p + "self_attn.q_proj.bias", zeros(wq));
        L.bk = add(p + "self_attn.k_proj.bias", zeros(wkv));
        L.bv = add(p + "self_attn.v_proj.bias", zeros(wkv));
        L.bo = add(p + "self_attn.o_proj.bias", zeros(d));
      }
    }
    if (lc.has_ffn()) {
      L.ln2 = add(p + "post_attention_layernorm.weight", ones(d));
      L.w_gate = add(p + "mlp.gate_proj.weight", init_normal({lc.n_ff, d}));
      L.w_up = add(p + "mlp.up_proj.weight", init_normal({lc.n_ff, d}));
      L.w_down = add(p + "mlp.down_proj.weight", init_normal({d, lc.n_ff}));
      if (mlp_bias) {
        L.b_gate = add(p + "mlp.gate_proj.bias", zeros(lc.n_ff));
        L.b_up = add(p + "mlp.up_proj.bias", zeros(lc.n_ff));
        L.b_down = add(p + "mlp.down_proj.bias", zeros(d));
      }
    }
    layers_.push_back(L);
  }
  norm_ = add("model.norm.weight", ones(d));
  lm_head_ = cfg_.tie_embeddings ? embed_ : add("lm_head.weight", init_normal({cfg_.vocab_size, d}));
  inv_freq_ = rope_inv_freq(dh, cfg_.arch_opts.value("rope_theta", 10000.0),
                            cfg_.arch_opts.value("rope_scaling", nlohmann::json()));
  set_sublayers(describe(cfg_));
}

std::vector<std::string> LlamaModel::ignorable_keys() const {
  // Rotary buffers older transformers saved, and the output embedding when tied to the input one.
  std::vector<std::string> k = {"model.rotary_emb.inv_freq"};
  for (int il = 0; il < cfg_.n_layer; ++il) k.push_back(lp(il) + "self_attn.rotary_emb.inv_freq");
  if (cfg_.tie_embeddings) k.push_back("lm_head.weight");
  return k;
}

ForwardState LlamaModel::begin(const ForwardInput& in) {
  ForwardState st;
  const int64_t T = in.input_ids.size(1);
  // Rotary positions have no table: like transformers, positions past max_position_embeddings
  // are computed (the model was not trained on them).
  const int64_t past = causal_context(in, embed_.scalar_type(), st);
  st.rope = rope_tables(inv_freq_, past, T, in.input_ids.device());
  st.x(Stack::Decoder) = torch::embedding(embed_, in.input_ids);  // [B, T, d]
  return st;
}

void LlamaModel::apply(int s, ForwardState& st, const torch::Tensor& mask, Probe* probe) {
  const auto& sp = sublayers().at(s);
  auto& x = st.x(Stack::Decoder);
  if (probe) probe->on_input(s, x);
  if (sp.units == 0 || mask_all_zero(mask)) return;  // empty sublayer: the residual alone
  x = sp.kind == SublayerKind::Ffn ? ffn(s, x, mask, probe) : attn(s, x, st, mask, probe);
}

torch::Tensor LlamaModel::attn(int s, const torch::Tensor& x, ForwardState& st,
                               const torch::Tensor& mask, Probe* probe) {
  const auto& sp = sublayers()[s];
  const auto& L = layers_[sp.layer];
  const int64_t H = sp.units * sp.heads_per_unit, Hkv = sp.groups;
  auto h = rms_norm(x, L.ln1, cfg_.ln_eps);
  auto q = apply_rope(split_heads(torch::linear(h, L.wq, L.bq), H), st.rope);  // [B, H, T, dh]
  auto k = apply_rope(split_heads(torch::linear(h, L.wk, L.bk), Hkv), st.rope);
  auto v = split_heads(torch::linear(h, L.wv, L.bv), Hkv);
  std::tie(k, v) = kv_extend(st.cache, s, k, v);  // [B, Hkv, S, dh]
  if (probe && probe->wants_attention(s))
    probe->on_attention(s, q, k, explicit_attn_bias(st, q.size(2), q.scalar_type(), q.device()),
                        st.token_mask);
  auto ctx = attention(q, k, v, st.attn_bias, attn_dropout_, is_training(), st.causal);
  if (mask.defined()) {
    auto m = sp.heads_per_unit > 1 ? mask.repeat_interleave(sp.heads_per_unit) : mask;
    ctx = ctx * m.to(ctx.scalar_type()).view({1, H, 1, 1});
  }
  auto units = merge_heads(ctx);  // [B, T, H*dh]
  if (probe) probe->on_units(s, units);
  auto out = torch::linear(units, L.wo, L.bo);
  if (probe) probe->on_output(s, out);
  return x + out;
}

torch::Tensor LlamaModel::ffn(int s, const torch::Tensor& x, const torch::Tensor& mask,
                              Probe* probe) {
  const auto& sp = sublayers()[s];
  const auto& L = layers_[sp.layer];
  auto h = rms_norm(x, L.ln2, cfg_.ln_eps);
  auto a = activate(act_, torch::linear(h, L.w_gate, L.b_gate)) * torch::linear(h, L.w_up, L.b_up);
  if (mask.defined()) a = a * mask.to(a.scalar_type());
  if (probe) probe->on_units(s, a);
  auto out = torch::linear(a, L.w_down, L.b_down);
  if (probe) probe->on_output(s, out);
  return x + out;
}

torch::Tensor LlamaModel::head(const ForwardState& st) {
  auto x = st.x(Stack::Decoder);
  if (st.predict_positions.defined()) x = x.index({st.predict_positions});  // [N, d]
  return torch::linear(rms_norm(x, norm_, cfg_.ln_eps), lm_head_);   // [.., V]
}

// The HF mapping (io/hf_llama.cc).
void llama_from_hf(HfReader& r, const HeadpruneBlock& hb, ModelConfig& cfg);
void llama_to_hf(const ModelConfig& cfg, const std::vector<std::vector<int>>* pruned_heads,
                 nlohmann::json& j);
bool llama_hf_loadable(const ModelConfig& cfg);

// The registry entry (model/registry.cc).
Architecture llama_architecture() {
  Architecture a{"llama",
                 [](const ModelConfig& c) { return std::make_shared<LlamaModel>(c); },
                 LlamaModel::describe,
                 LlamaModel::tiny,
                 {"lm"},
                 {"llama"},
                 llama_from_hf,
                 llama_to_hf,
                 llama_hf_loadable};
  // HF's attention_bias / mlp_bias: biases on q, k, v, o / gate, up, down (all zero when added),
  // so the result still loads in plain transformers.
  a.add_output_biases = [](ModelConfig& c) {
    bool changed = false;
    for (const char* key : {"attention_bias", "mlp_bias"}) {
      if (c.arch_opts.value(key, false)) continue;
      c.arch_opts[key] = true;
      changed = true;
    }
    return changed;
  };
  return a;
}

}  // namespace hp
