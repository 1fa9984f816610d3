// OPT decoder (OPTForCausalLM): LayerNorm blocks before the sublayers (do_layer_norm_before, as in
// opt-125m and the large models) or after them (post-LN, opt-350m), learned positions with
// OPT's offset of 2 computed from the attention mask (cumsum(mask) * mask - 1, from the first new
// position on, so padded rows match transformers), nn.Linear [out, in] projections with or
// without biases (enable_bias), ReLU FFN, an embedding of word_embed_proj_dim with project_in /
// project_out when that differs from hidden_size, an output embedding tied to embed_tokens (or
// untied), a KV cache for decoding. Sublayers bottom-up: layer il's causal self-attention, then
// its FFN. An empty sublayer leaves the residual alone: x for pre-LN, LN(x) for post-LN (its
// LayerNorm stays), plus its output bias under ModelConfig::empty_keeps_bias.
//
// Family settings live in ModelConfig::arch_opts under their HF names: do_layer_norm_before
// (default true), word_embed_proj_dim (default d_model), enable_bias (true), dropout (0.1),
// attention_dropout (0.0). The LayerNorm epsilon is transformers' fixed 1e-5 (ModelConfig::ln_eps).
#include "model/layers.h"
#include "model/model.h"

#include "core/check.h"

namespace hp {

namespace {
std::string lp(int il) { return "model.decoder.layers." + std::to_string(il) + "."; }
constexpr int64_t kPosOffset = 2;  // OPTLearnedPositionalEmbedding.offset

struct OptOpts {
  bool pre_ln = true, bias = true;
  int64_t proj_dim = 0;  // word_embed_proj_dim
  explicit OptOpts(const ModelConfig& c)
      : pre_ln(c.arch_opts.value("do_layer_norm_before", true)),
        bias(c.arch_opts.value("enable_bias", true)),
        proj_dim(c.arch_opts.value("word_embed_proj_dim", static_cast<int64_t>(c.d_model))) {}
  bool projected(const ModelConfig& c) const { return proj_dim != c.d_model; }
};
}  // namespace

class OptModel : public Model {
 public:
  explicit OptModel(const ModelConfig& cfg);
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
  torch::Tensor norm(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) const {
    return layer_norm_last(x, w, b, cfg_.ln_eps);
  }
  struct Layer {
    torch::Tensor wq, bq, wk, bk, wv, bv, wo, bo, ln1_w, ln1_b;
    torch::Tensor w_fc1, b_fc1, w_fc2, b_fc2, ln2_w, ln2_b;
  };
  OptOpts opts_;
  torch::Tensor embed_, pos_emb_, proj_in_, proj_out_, final_w_, final_b_, lm_head_;
  std::vector<Layer> layers_;
  Activation act_;
  double dropout_ = 0, attn_dropout_ = 0;
};

std::vector<SublayerSpec> OptModel::describe(const ModelConfig& cfg) {
  const OptOpts o(cfg);
  const NormPlace place = o.pre_ln ? NormPlace::PreLN : NormPlace::PostLN;
  std::vector<SublayerSpec> out;
  const int64_t dh = cfg.d_head;
  for (int il = 0; il < cfg.n_layer; ++il) {
    const auto& lc = cfg.layers.at(il);
    const std::string p = lp(il) + "self_attn.";
    SublayerSpec a = make_spec(static_cast<int>(out.size()), SublayerKind::CausalAttn,
                               Stack::Decoder, il, place, lc.n_head, lc.n_head_kv, cfg.d_model, dh);
    a.out_proj = {p + "out_proj.weight", 1, 0, dh};
    a.unit_slices = {{p + "q_proj.weight", 0, 0, dh}, a.out_proj};
    a.group_slices = {{p + "k_proj.weight", 0, 0, dh}, {p + "v_proj.weight", 0, 0, dh}};
    if (o.bias) {
      a.unit_slices.push_back({p + "q_proj.bias", 0, 0, dh});
      a.group_slices.push_back({p + "k_proj.bias", 0, 0, dh});
      a.group_slices.push_back({p + "v_proj.bias", 0, 0, dh});
      a.out_bias = p + "out_proj.bias";
      a.bias_survives_empty = cfg.empty_keeps_bias;
    }
    out.push_back(a);

    const std::string q = lp(il);
    SublayerSpec f = make_spec(static_cast<int>(out.size()), SublayerKind::Ffn, Stack::Decoder, il,
                               place, lc.n_ff, 0, cfg.d_model, 1);
    f.out_proj = {q + "fc2.weight", 1, 0, 1};
    f.unit_slices = {{q + "fc1.weight", 0, 0, 1}, f.out_proj};
    if (o.bias) {
      f.unit_slices.push_back({q + "fc1.bias", 0, 0, 1});
      f.out_bias = q + "fc2.bias";
      f.bias_survives_empty = cfg.empty_keeps_bias;
    }
    f.may_pad = true;
    out.push_back(f);
  }
  return out;
}

// opt-350m's shape in miniature: post-LN blocks and an 8-wide word embedding projected to d = 16
// (tests/test_decoders.cc covers the pre-LN and unprojected variants).
ModelConfig OptModel::tiny(const std::string& task) {
  ModelConfig c;
  c.arch = "opt";
  c.task = task;
  c.vocab_size = 40;
  c.d_model = 16;
  c.d_head = 4;
  c.n_layer = 2;
  c.n_head_dense = 4;
  c.n_kv_dense = 4;
  c.n_ff_dense = 24;
  c.max_pos = 64;
  c.act = "relu";
  c.ln_eps = 1e-5f;
  c.tie_embeddings = true;
  c.pad_id = 1;
  c.n_labels = 0;
  c.arch_opts = {{"do_layer_norm_before", false},
                 {"word_embed_proj_dim", 8},
                 {"enable_bias", true},
                 {"dropout", 0.0},
                 {"attention_dropout", 0.0}};
  c.set_dense_layers();
  return c;
}

OptModel::OptModel(const ModelConfig& cfg) : Model(cfg), opts_(cfg) {
  cfg_.validate();
  const int64_t d = cfg_.d_model, dh = cfg_.d_head, wp = opts_.proj_dim;
  HP_CHECK(wp > 0, "opt: word_embed_proj_dim must be > 0, got ", wp);
  HP_CHECK(cfg_.max_pos > 0, "opt: max_position_embeddings must be > 0, got ", cfg_.max_pos);
  act_ = activation_from_name(cfg_.act, "activation_function");
  dropout_ = cfg_.arch_opts.value("dropout", 0.1);
  attn_dropout_ = cfg_.arch_opts.value("attention_dropout", 0.0);
  const bool bias = opts_.bias;
  auto zeros = [](int64_t n) { return torch::zeros({n}); };
  auto ones = [](int64_t n) { return torch::ones({n}); };
  embed_ = add("model.decoder.embed_tokens.weight", init_normal({cfg_.vocab_size, wp}));
  pos_emb_ = add("model.decoder.embed_positions.weight",
                 init_normal({cfg_.max_pos + kPosOffset, d}, 0.01));
  if (opts_.projected(cfg_)) {
    proj_out_ = add("model.decoder.project_out.weight", init_normal({wp, d}));
    proj_in_ = add("model.decoder.project_in.weight", init_normal({d, wp}));
  }
  for (int il = 0; il < cfg_.n_layer; ++il) {
    const auto& lc = cfg_.layers[il];
    const std::string p = lp(il);
    Layer L;
    if (lc.has_attn()) {
      HP_CHECK(lc.n_head_kv == lc.n_head, "opt: layer ", il, " has n_head_kv=", lc.n_head_kv,
               " != n_head=", lc.n_head, " (OPT has no grouped-query attention)");
      const int64_t w = lc.n_head * dh;
      L.wk = add(p + "self_attn.k_proj.weight", init_normal({w, d}));
      L.wv = add(p + "self_attn.v_proj.weight", init_normal({w, d}));
      L.wq = add(p + "self_attn.q_proj.weight", init_normal({w, d}));
      L.wo = add(p + "self_attn.out_proj.weight", init_normal({d, w}));
      if (bias) {
        L.bk = add(p + "self_attn.k_proj.bias", zeros(w));
        L.bv = add(p + "self_attn.v_proj.bias", zeros(w));
        L.bq = add(p + "self_attn.q_proj.bias", zeros(w));
      }
    }
    if (bias && (lc.has_attn() || cfg_.empty_keeps_bias))
      L.bo = add(p + "self_attn.out_proj.bias", zeros(d));
    L.ln1_w = add(p + "self_attn_layer_norm.weight", ones(d));
    L.ln1_b = add(p + "self_attn_layer_norm.bias", zeros(d));
    if (lc.has_ffn()) {
      L.w_fc1 = add(p + "fc1.weight", init_normal({lc.n_ff, d}));
      if (bias) L.b_fc1 = add(p + "fc1.bias", zeros(lc.n_ff));
      L.w_fc2 = add(p + "fc2.weight", init_normal({d, lc.n_ff}));
    }
    if (bias && (lc.has_ffn() || cfg_.empty_keeps_bias)) L.b_fc2 = add(p + "fc2.bias", zeros(d));
    L.ln2_w = add(p + "final_layer_norm.weight", ones(d));
    L.ln2_b = add(p + "final_layer_norm.bias", zeros(d));
    layers_.push_back(L);
  }
  if (opts_.pre_ln) {  // post-LN OPT (opt-350m) has no final LayerNorm
    final_w_ = add("model.decoder.final_layer_norm.weight", ones(d));
    final_b_ = add("model.decoder.final_layer_norm.bias", zeros(d));
  }
  lm_head_ = cfg_.tie_embeddings ? embed_ : add("lm_head.weight", init_normal({cfg_.vocab_size, wp}));
  set_sublayers(describe(cfg_));
}

std::vector<std::string> OptModel::ignorable_keys() const {
  if (cfg_.tie_embeddings) return {"lm_head.weight"};
  return {};
}

ForwardState OptModel::begin(const ForwardInput& in) {
  ForwardState st;
  const int64_t past = causal_context(in, embed_.scalar_type(), st);
  const auto& ids = in.input_ids;
  const int64_t T = ids.size(1), S = past + T;
  // Positions as transformers computes them: from the attention mask over cached and new
  // positions, cumsum(mask) * mask - 1 (padding gets -1), the new positions' part, + 2.
  torch::Tensor pos;
  if (in.attention_mask.defined()) {
    auto am = in.attention_mask.to(torch::kInt64);
    pos = (am.cumsum(1) * am - 1).narrow(1, past, T);  // [B, T]
  } else {
    pos = torch::arange(past, S, ids.options()).unsqueeze(0);  // [1, T]
  }
  if (S > cfg_.max_pos) {  // positions never exceed S - 1; look closer only when they might
    const int64_t top = pos.max().item<int64_t>();
    HP_CHECK(top < cfg_.max_pos, "opt: position ", top, " exceeds max_position_embeddings=",
             cfg_.max_pos);
  }
  auto e = torch::embedding(embed_, ids);  // [B, T, word_embed_proj_dim]
  if (proj_in_.defined()) e = torch::linear(e, proj_in_);
  st.x(Stack::Decoder) = e + torch::embedding(pos_emb_, pos + kPosOffset);  // [B, T, d]
  return st;
}

void OptModel::apply(int s, ForwardState& st, const torch::Tensor& mask, Probe* probe) {
  const auto& sp = sublayers().at(s);
  const auto& L = layers_[sp.layer];
  const bool is_ffn = sp.kind == SublayerKind::Ffn;
  auto& x = st.x(Stack::Decoder);
  if (probe) probe->on_input(s, x);
  if (sp.units == 0 || mask_all_zero(mask)) {  // empty sublayer: the residual alone (+ kept bias)
    const auto& b = is_ffn ? L.b_fc2 : L.bo;
    auto r = cfg_.empty_keeps_bias && b.defined() ? x + b : x;
    x = opts_.pre_ln ? r : is_ffn ? norm(r, L.ln2_w, L.ln2_b) : norm(r, L.ln1_w, L.ln1_b);
    return;
  }
  x = is_ffn ? ffn(s, x, mask, probe) : attn(s, x, st, mask, probe);
}

torch::Tensor OptModel::attn(int s, const torch::Tensor& x, ForwardState& st,
                             const torch::Tensor& mask, Probe* probe) {
  const auto& sp = sublayers()[s];
  const auto& L = layers_[sp.layer];
  const int64_t H = sp.units, G = sp.groups;
  auto h = opts_.pre_ln ? norm(x, L.ln1_w, L.ln1_b) : x;
  auto q = split_heads(torch::linear(h, L.wq, L.bq), H);  // [B, H, T, dh]
  auto k = split_heads(torch::linear(h, L.wk, L.bk), G);
  auto v = split_heads(torch::linear(h, L.wv, L.bv), G);
  std::tie(k, v) = kv_extend(st.cache, s, k, v);  // [B, G, S, dh]
  if (probe && probe->wants_attention(s))
    probe->on_attention(s, q, k, explicit_attn_bias(st, q.size(2), q.scalar_type(), q.device()),
                        st.token_mask);
  // transformers scales q by head_dim^-0.5 before the product; the kernel's scale is the same.
  auto ctx = attention(q, k, v, st.attn_bias, attn_dropout_, is_training(), st.causal);
  if (mask.defined()) ctx = ctx * mask.to(ctx.scalar_type()).view({1, H, 1, 1});
  auto units = merge_heads(ctx);  // [B, T, H*dh]
  if (probe) probe->on_units(s, units);
  auto out = torch::linear(units, L.wo, L.bo);
  if (probe) probe->on_output(s, out);
  auto y = x + torch::dropout(out, dropout_, is_training());
  return opts_.pre_ln ? y : norm(y, L.ln1_w, L.ln1_b);
}

torch::Tensor OptModel::ffn(int s, const torch::Tensor& x, const torch::Tensor& mask,
                            Probe* probe) {
  const auto& sp = sublayers()[s];
  const auto& L = layers_[sp.layer];
  auto h = opts_.pre_ln ? norm(x, L.ln2_w, L.ln2_b) : x;
  auto a = activate(act_, torch::linear(h, L.w_fc1, L.b_fc1));  // [B, T, n_ff]
  if (mask.defined()) a = a * mask.to(a.scalar_type());
  if (probe) probe->on_units(s, a);
  auto out = torch::linear(a, L.w_fc2, L.b_fc2);
  if (probe) probe->on_output(s, out);
  auto y = x + torch::dropout(out, dropout_, is_training());
  return opts_.pre_ln ? y : norm(y, L.ln2_w, L.ln2_b);
}

torch::Tensor OptModel::head(const ForwardState& st) {
  auto x = st.x(Stack::Decoder);
  if (st.predict_positions.defined()) x = x.index({st.predict_positions});  // [N, d]
  if (final_w_.defined()) x = norm(x, final_w_, final_b_);
  if (proj_out_.defined()) x = torch::linear(x, proj_out_);  // [.., word_embed_proj_dim]
  return torch::linear(x, lm_head_);                           // [.., V]
}

// The HF mapping (io/hf_opt.cc).
void opt_from_hf(HfReader& r, const HeadpruneBlock& hb, ModelConfig& cfg);
void opt_to_hf(const ModelConfig& cfg, const std::vector<std::vector<int>>* pruned_heads,
               nlohmann::json& j);
bool opt_hf_loadable(const ModelConfig& cfg);

// The registry entry (model/registry.cc).
Architecture opt_architecture() {
  Architecture a{"opt",
                 [](const ModelConfig& c) { return std::make_shared<OptModel>(c); },
                 OptModel::describe,
                 OptModel::tiny,
                 {"lm"},
                 {"opt"},
                 opt_from_hf,
                 opt_to_hf,
                 opt_hf_loadable};
  // HF's enable_bias: biases on every projection (zero when added).
  a.add_output_biases = [](ModelConfig& c) {
    if (c.arch_opts.value("enable_bias", true)) return false;
    c.arch_opts["enable_bias"] = true;
    return true;
  };
  return a;
}

}  // namespace hp
