// GPT-2 decoder (GPT2LMHeadModel): pre-LayerNorm blocks, learned absolute positions (position ids
// = cached length + 0..T-1, transformers' default when none are given), a fused Q|K|V projection
// stored as a Conv1D weight [in, out] = [d, 3d] (c_attn), Conv1D c_proj / c_fc / mlp.c_proj, an
// output embedding tied to wte (or untied), a KV cache for decoding. Sublayers bottom-up: layer
// il's causal self-attention, then its FFN. An empty sublayer is the identity (pre-LN: x passes
// unchanged; ln_1/ln_2 stay, as transformers always has them) unless
// ModelConfig::empty_keeps_bias, where it adds its kept output bias. Per-layer widths come from
// the config; each query head is its own K/V group.
#include "model/layers.h"
#include "model/model.h"

#include "core/check.h"

namespace hp {

namespace {
std::string lp(int il) { return "transformer.h." + std::to_string(il) + "."; }

// transformers' Conv1D: x @ W + b with W stored [in, out].
torch::Tensor conv1d(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  auto sizes = x.sizes().vec();
  sizes.back() = w.size(1);
  return torch::addmm(b, x.reshape({-1, x.size(-1)}), w).view(sizes);
}
}  // namespace

class Gpt2Model : public Model {
 public:
  explicit Gpt2Model(const ModelConfig& cfg);
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
    torch::Tensor ln1_w, ln1_b, w_attn, b_attn, w_proj, b_proj;
    torch::Tensor ln2_w, ln2_b, w_fc, b_fc, w_out, b_out;
  };
  torch::Tensor wte_, wpe_, lnf_w_, lnf_b_, lm_head_;
  std::vector<Layer> layers_;
  Activation act_;
  double resid_drop_ = 0, embd_drop_ = 0, attn_drop_ = 0;
};

std::vector<SublayerSpec> Gpt2Model::describe(const ModelConfig& cfg) {
  std::vector<SublayerSpec> out;
  const int64_t dh = cfg.d_head;
  for (int il = 0; il < cfg.n_layer; ++il) {
    const auto& lc = cfg.layers.at(il);
    const std::string p = lp(il);
    const int64_t nq = lc.n_head, nkv = lc.n_head_kv;
    SublayerSpec a = make_spec(static_cast<int>(out.size()), SublayerKind::CausalAttn,
                               Stack::Decoder, il, NormPlace::PreLN, nq, nkv, cfg.d_model, dh);
    // c_attn.weight [d, (nq + 2 nkv) dh] holds Q | K | V columns; c_proj.weight [nq dh, d].
    const std::string w = p + "attn.c_attn.weight", b = p + "attn.c_attn.bias";
    a.out_proj = {p + "attn.c_proj.weight", 0, 0, dh};
    a.unit_slices = {{w, 1, 0, dh}, {b, 0, 0, dh}, a.out_proj};
    a.group_slices = {{w, 1, nq * dh, dh},
                      {b, 0, nq * dh, dh},
                      {w, 1, (nq + nkv) * dh, dh},
                      {b, 0, (nq + nkv) * dh, dh}};
    a.out_bias = p + "attn.c_proj.bias";
    a.bias_survives_empty = cfg.empty_keeps_bias;
    out.push_back(a);

    SublayerSpec f = make_spec(static_cast<int>(out.size()), SublayerKind::Ffn, Stack::Decoder, il,
                               NormPlace::PreLN, lc.n_ff, 0, cfg.d_model, 1);
    // c_fc.weight [d, n_ff], mlp.c_proj.weight [n_ff, d].
    f.out_proj = {p + "mlp.c_proj.weight", 0, 0, 1};
    f.unit_slices = {{p + "mlp.c_fc.weight", 1, 0, 1}, {p + "mlp.c_fc.bias", 0, 0, 1}, f.out_proj};
    f.out_bias = p + "mlp.c_proj.bias";
    f.bias_survives_empty = cfg.empty_keeps_bias;
    f.may_pad = true;
    out.push_back(f);
  }
  return out;
}

ModelConfig Gpt2Model::tiny(const std::string& task) {
  ModelConfig c;
  c.arch = "gpt2";
  c.task = task;
  c.vocab_size = 40;
  c.d_model = 16;
  c.d_head = 4;
  c.n_layer = 2;
  c.n_head_dense = 4;
  c.n_kv_dense = 4;
  c.n_ff_dense = 24;
  c.max_pos = 64;
  c.act = "gelu_new";
  c.ln_eps = 1e-5f;
  c.tie_embeddings = true;
  c.n_labels = 0;
  c.arch_opts = {{"resid_pdrop", 0.0}, {"embd_pdrop", 0.0}, {"attn_pdrop", 0.0}};
  c.set_dense_layers();
  return c;
}

Gpt2Model::Gpt2Model(const ModelConfig& cfg) : Model(cfg) {
  cfg_.validate();
  const int64_t d = cfg_.d_model, dh = cfg_.d_head;
  HP_CHECK(cfg_.max_pos > 0, "gpt2: n_positions must be > 0, got ", cfg_.max_pos);
  act_ = activation_from_name(cfg_.act, "activation_function");
  resid_drop_ = cfg_.arch_opts.value("resid_pdrop", 0.1);
  embd_drop_ = cfg_.arch_opts.value("embd_pdrop", 0.1);
  attn_drop_ = cfg_.arch_opts.value("attn_pdrop", 0.1);
  auto zeros = [](int64_t n) { return torch::zeros({n}); };
  auto ones = [](int64_t n) { return torch::ones({n}); };
  wte_ = add("transformer.wte.weight", init_normal({cfg_.vocab_size, d}));
  wpe_ = add("transformer.wpe.weight", init_normal({cfg_.max_pos, d}, 0.01));
  for (int il = 0; il < cfg_.n_layer; ++il) {
    const auto& lc = cfg_.layers[il];
    const std::string p = lp(il);
    Layer L;
    L.ln1_w = add(p + "ln_1.weight", ones(d));
    L.ln1_b = add(p + "ln_1.bias", zeros(d));
    if (lc.has_attn()) {
      HP_CHECK(lc.n_head_kv == lc.n_head, "gpt2: layer ", il, " has n_head_kv=", lc.n_head_kv,
               " != n_head=", lc.n_head, " (GPT-2 has no grouped-query attention)");
      const int64_t w = lc.n_head * dh;
      L.w_attn = add(p + "attn.c_attn.weight", init_normal({d, 3 * w}));
      L.b_attn = add(p + "attn.c_attn.bias", zeros(3 * w));
      L.w_proj = add(p + "attn.c_proj.weight", init_normal({w, d}));
    }
    if (lc.has_attn() || cfg_.empty_keeps_bias) L.b_proj = add(p + "attn.c_proj.bias", zeros(d));
    L.ln2_w = add(p + "ln_2.weight", ones(d));
    L.ln2_b = add(p + "ln_2.bias", zeros(d));
    if (lc.has_ffn()) {
      L.w_fc = add(p + "mlp.c_fc.weight", init_normal({d, lc.n_ff}));
      L.b_fc = add(p + "mlp.c_fc.bias", zeros(lc.n_ff));
      L.w_out = add(p + "mlp.c_proj.weight", init_normal({lc.n_ff, d}));
    }
    if (lc.has_ffn() || cfg_.empty_keeps_bias) L.b_out = add(p + "mlp.c_proj.bias", zeros(d));
    layers_.push_back(L);
  }
  lnf_w_ = add("transformer.ln_f.weight", ones(d));
  lnf_b_ = add("transformer.ln_f.bias", zeros(d));
  lm_head_ = cfg_.tie_embeddings ? wte_ : add("lm_head.weight", init_normal({cfg_.vocab_size, d}));
  set_sublayers(describe(cfg_));
}

std::vector<std::string> Gpt2Model::ignorable_keys() const {
  // The causal-mask buffers older transformers saved, and the output embedding when tied.
  std::vector<std::string> k;
  for (int il = 0; il < cfg_.n_layer; ++il) {
    k.push_back(lp(il) + "attn.bias");
    k.push_back(lp(il) + "attn.masked_bias");
  }
  if (cfg_.tie_embeddings) k.push_back("lm_head.weight");
  return k;
}

ForwardState Gpt2Model::begin(const ForwardInput& in) {
  ForwardState st;
  const int64_t past = causal_context(in, wte_.scalar_type(), st);
  const auto& ids = in.input_ids;
  const int64_t T = ids.size(1);
  HP_CHECK(past + T <= cfg_.max_pos, "gpt2: positions up to ", past + T,
           " exceed n_positions=", cfg_.max_pos);
  auto pos = torch::arange(past, past + T, ids.options());
  auto x = torch::embedding(wte_, ids) + torch::embedding(wpe_, pos).unsqueeze(0);  // [B, T, d]
  st.x(Stack::Decoder) = torch::dropout(x, embd_drop_, is_training());
  return st;
}

void Gpt2Model::apply(int s, ForwardState& st, const torch::Tensor& mask, Probe* probe) {
  const auto& sp = sublayers().at(s);
  auto& x = st.x(Stack::Decoder);
  if (probe) probe->on_input(s, x);
  if (sp.units == 0 || mask_all_zero(mask)) {  // empty sublayer: the residual alone (+ kept bias)
    if (cfg_.empty_keeps_bias) {
      const auto& L = layers_[sp.layer];
      x = x + (sp.kind == SublayerKind::Ffn ? L.b_out : L.b_proj);
    }
    return;
  }
  x = sp.kind == SublayerKind::Ffn ? ffn(s, x, mask, probe) : attn(s, x, st, mask, probe);
}

torch::Tensor Gpt2Model::attn(int s, const torch::Tensor& x, ForwardState& st,
                              const torch::Tensor& mask, Probe* probe) {
  const auto& sp = sublayers()[s];
  const auto& L = layers_[sp.layer];
  const int64_t H = sp.units, G = sp.groups, dh = sp.head_dim;
  auto h = layer_norm_last(x, L.ln1_w, L.ln1_b, cfg_.ln_eps);
  auto qkv = conv1d(h, L.w_attn, L.b_attn);  // [B, T, (H + 2G) dh]: Q | K | V
  auto q = split_heads(qkv.narrow(-1, 0, H * dh), H);  // [B, H, T, dh]
  auto k = split_heads(qkv.narrow(-1, H * dh, G * dh), G);
  auto v = split_heads(qkv.narrow(-1, (H + G) * dh, G * dh), G);
  std::tie(k, v) = kv_extend(st.cache, s, k, v);  // [B, G, S, dh]
  if (probe && probe->wants_attention(s))
    probe->on_attention(s, q, k, explicit_attn_bias(st, q.size(2), q.scalar_type(), q.device()),
                        st.token_mask);
  auto ctx = attention(q, k, v, st.attn_bias, attn_drop_, is_training(), st.causal);
  if (mask.defined()) ctx = ctx * mask.to(ctx.scalar_type()).view({1, H, 1, 1});
  auto units = merge_heads(ctx);  // [B, T, H*dh]
  if (probe) probe->on_units(s, units);
  auto out = conv1d(units, L.w_proj, L.b_proj);
  if (probe) probe->on_output(s, out);
  return x + torch::dropout(out, resid_drop_, is_training());
}

torch::Tensor Gpt2Model::ffn(int s, const torch::Tensor& x, const torch::Tensor& mask,
                             Probe* probe) {
  const auto& sp = sublayers()[s];
  const auto& L = layers_[sp.layer];
  auto h = layer_norm_last(x, L.ln2_w, L.ln2_b, cfg_.ln_eps);
  auto a = activate(act_, conv1d(h, L.w_fc, L.b_fc));  // [B, T, n_ff]
  if (mask.defined()) a = a * mask.to(a.scalar_type());
  if (probe) probe->on_units(s, a);
  auto out = conv1d(a, L.w_out, L.b_out);
  if (probe) probe->on_output(s, out);
  return x + torch::dropout(out, resid_drop_, is_training());
}

torch::Tensor Gpt2Model::head(const ForwardState& st) {
  auto x = st.x(Stack::Decoder);
  if (st.predict_positions.defined()) x = x.index({st.predict_positions});  // [N, d]
  return torch::linear(layer_norm_last(x, lnf_w_, lnf_b_, cfg_.ln_eps), lm_head_);  // [.., V]
}

// The HF mapping (io/hf_gpt2.cc).
void gpt2_from_hf(HfReader& r, const HeadpruneBlock& hb, ModelConfig& cfg);
void gpt2_to_hf(const ModelConfig& cfg, const std::vector<std::vector<int>>* pruned_heads,
                nlohmann::json& j);
bool gpt2_hf_loadable(const ModelConfig& cfg);

// The registry entry (model/registry.cc).
Architecture gpt2_architecture() {
  return {"gpt2",
          [](const ModelConfig& c) { return std::make_shared<Gpt2Model>(c); },
          Gpt2Model::describe,
          Gpt2Model::tiny,
          {"lm"},
          {"gpt2"},
          gpt2_from_hf,
          gpt2_to_hf,
          gpt2_hf_loadable};
}

}  // namespace hp
