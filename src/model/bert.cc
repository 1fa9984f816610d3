// BERT-style encoder (post-LayerNorm blocks, learned positions, token types) with a
// classification/regression head (BertForSequenceClassification) or a masked-LM head
// (BertForMaskedLM). Sublayers bottom-up: layer il's self-attention, then its FFN. Per-layer widths
// come from the config; a sublayer with 0 units (or an all-zero mask) keeps only its LayerNorm
// (the residual path), matching Kprune's treatment of empty sublayers.
#include "model/layers.h"
#include "model/model.h"

#include "config/task_info.h"
#include "core/check.h"

namespace hp {

namespace {

std::string lp(int il) { return "bert.encoder.layer." + std::to_string(il) + "."; }
torch::Tensor layer_norm(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                         double eps) {
  return torch::layer_norm(x, {x.size(-1)}, w, b, eps);
}
}  // namespace

class BertModel : public Model {
 public:
  explicit BertModel(const ModelConfig& cfg);
  ForwardState begin(const ForwardInput& in) override;
  void apply(int s, ForwardState& st, const torch::Tensor& mask, Probe* probe) override;
  torch::Tensor head(const ForwardState& st) override;
  std::vector<std::string> ignorable_keys() const override;

  static std::vector<SublayerSpec> describe(const ModelConfig& cfg);
  static ModelConfig tiny(const std::string& task);

 private:
  torch::Tensor attn(int s, const torch::Tensor& x, const ForwardState& st,
                     const torch::Tensor& head_mask, Probe* probe);
  torch::Tensor ffn(int s, const torch::Tensor& x, const torch::Tensor& neuron_mask, Probe* probe);
  struct Layer {
    torch::Tensor wq, bq, wk, bk, wv, bv, wo, bo, ln1_w, ln1_b;
    torch::Tensor w_up, b_up, w_down, b_down, ln2_w, ln2_b;
  };
  torch::Tensor word_emb_, pos_emb_, type_emb_, emb_ln_w_, emb_ln_b_;
  std::vector<Layer> layers_;
  torch::Tensor pool_w_, pool_b_, cls_w_, cls_b_;                 // classify / regress
  torch::Tensor mlm_w_, mlm_b_, mlm_ln_w_, mlm_ln_b_, mlm_bias_;  // mlm
  Activation act_;
  bool token_head_ = false;  // masked-LM head (else pooler + classifier)
  double dropout_, attn_dropout_;
};

std::vector<SublayerSpec> BertModel::describe(const ModelConfig& cfg) {
  std::vector<SublayerSpec> out;
  const int64_t dh = cfg.d_head;
  for (int il = 0; il < cfg.n_layer; ++il) {
    const auto& lc = cfg.layers.at(il);
    const std::string p = lp(il);
    SublayerSpec a = make_spec(static_cast<int>(out.size()), SublayerKind::SelfAttn, Stack::Encoder,
                               il, NormPlace::PostLN, lc.n_head, lc.n_head_kv, cfg.d_model, dh);
    a.out_proj = {p + "attention.output.dense.weight", 1, 0, dh};
    a.unit_slices = {{p + "attention.self.query.weight", 0, 0, dh},
                     {p + "attention.self.query.bias", 0, 0, dh},
                     a.out_proj};
    a.group_slices = {{p + "attention.self.key.weight", 0, 0, dh},
                      {p + "attention.self.key.bias", 0, 0, dh},
                      {p + "attention.self.value.weight", 0, 0, dh},
                      {p + "attention.self.value.bias", 0, 0, dh}};
    a.out_bias = p + "attention.output.dense.bias";
    a.bias_survives_empty = cfg.empty_keeps_bias;
    out.push_back(a);

    SublayerSpec f = make_spec(static_cast<int>(out.size()), SublayerKind::Ffn, Stack::Encoder, il,
                               NormPlace::PostLN, lc.n_ff, 0, cfg.d_model, 1);
    f.out_proj = {p + "output.dense.weight", 1, 0, 1};
    f.unit_slices = {{p + "intermediate.dense.weight", 0, 0, 1},
                     {p + "intermediate.dense.bias", 0, 0, 1},
                     f.out_proj};
    f.out_bias = p + "output.dense.bias";
    f.bias_survives_empty = cfg.empty_keeps_bias;
    f.may_pad = true;
    out.push_back(f);
  }
  return out;
}

ModelConfig BertModel::tiny(const std::string& task) {
  ModelConfig c;
  c.arch = "bert";
  c.task = task;
  c.vocab_size = 40;
  c.d_model = 16;
  c.d_head = 4;
  c.n_layer = 2;
  c.n_head_dense = 4;
  c.n_ff_dense = 24;
  c.max_pos = 32;
  c.n_labels = 3;
  c.set_dense_layers();
  return c;
}

BertModel::BertModel(const ModelConfig& cfg) : Model(cfg) {
  cfg_.validate();
  const TaskInfo& task = task_info(cfg_.task);  // make_model checked it is one of BERT's tasks
  token_head_ = task.token_level;
  const int64_t d = cfg_.d_model, dh = cfg_.d_head;
  dropout_ = cfg_.passthrough.value("hidden_dropout_prob", 0.1);
  attn_dropout_ = cfg_.passthrough.value("attention_probs_dropout_prob", 0.1);
  act_ = activation_from_name(cfg_.act);
  auto zeros = [](int64_t n) { return torch::zeros({n}); };
  auto ones = [](int64_t n) { return torch::ones({n}); };
  word_emb_ = add("bert.embeddings.word_embeddings.weight", init_normal({cfg_.vocab_size, d}));
  pos_emb_ = add("bert.embeddings.position_embeddings.weight", init_normal({cfg_.max_pos, d}));
  type_emb_ = add("bert.embeddings.token_type_embeddings.weight",
                  init_normal({cfg_.type_vocab_size, d}));
  emb_ln_w_ = add("bert.embeddings.LayerNorm.weight", ones(d));
  emb_ln_b_ = add("bert.embeddings.LayerNorm.bias", zeros(d));
  for (int il = 0; il < cfg_.n_layer; ++il) {
    const auto& lc = cfg_.layers[il];
    const std::string p = lp(il);
    Layer L;
    if (lc.has_attn()) {
      HP_CHECK(lc.n_head_kv == lc.n_head, "bert: layer ", il, " has n_head_kv=", lc.n_head_kv,
               " != n_head=", lc.n_head, " (BERT has no grouped-query attention)");
      int64_t w = lc.n_head * dh;
      L.wq = add(p + "attention.self.query.weight", init_normal({w, d}));
      L.bq = add(p + "attention.self.query.bias", zeros(w));
      L.wk = add(p + "attention.self.key.weight", init_normal({w, d}));
      L.bk = add(p + "attention.self.key.bias", zeros(w));
      L.wv = add(p + "attention.self.value.weight", init_normal({w, d}));
      L.bv = add(p + "attention.self.value.bias", zeros(w));
      L.wo = add(p + "attention.output.dense.weight", init_normal({d, w}));
    }
    if (lc.has_attn() || cfg_.empty_keeps_bias) L.bo = add(p + "attention.output.dense.bias", zeros(d));
    L.ln1_w = add(p + "attention.output.LayerNorm.weight", ones(d));
    L.ln1_b = add(p + "attention.output.LayerNorm.bias", zeros(d));
    if (lc.has_ffn()) {
      L.w_up = add(p + "intermediate.dense.weight", init_normal({lc.n_ff, d}));
      L.b_up = add(p + "intermediate.dense.bias", zeros(lc.n_ff));
      L.w_down = add(p + "output.dense.weight", init_normal({d, lc.n_ff}));
    }
    if (lc.has_ffn() || cfg_.empty_keeps_bias) L.b_down = add(p + "output.dense.bias", zeros(d));
    L.ln2_w = add(p + "output.LayerNorm.weight", ones(d));
    L.ln2_b = add(p + "output.LayerNorm.bias", zeros(d));
    layers_.push_back(L);
  }
  if (token_head_) {
    mlm_w_ = add("cls.predictions.transform.dense.weight", init_normal({d, d}));
    mlm_b_ = add("cls.predictions.transform.dense.bias", zeros(d));
    mlm_ln_w_ = add("cls.predictions.transform.LayerNorm.weight", ones(d));
    mlm_ln_b_ = add("cls.predictions.transform.LayerNorm.bias", zeros(d));
    mlm_bias_ = add("cls.predictions.bias", zeros(cfg_.vocab_size));
  } else {
    int64_t n_out = task.regression ? 1 : cfg_.n_labels;
    pool_w_ = add("bert.pooler.dense.weight", init_normal({d, d}));
    pool_b_ = add("bert.pooler.dense.bias", zeros(d));
    cls_w_ = add("classifier.weight", init_normal({n_out, d}));
    cls_b_ = add("classifier.bias", zeros(n_out));
  }
  set_sublayers(describe(cfg_));
}

std::vector<std::string> BertModel::ignorable_keys() const {
  // Tied to the word embeddings / prediction bias; HF may or may not write them.
  // A pooler in an MLM checkpoint (BertForPreTraining-style) is unused here.
  return {"cls.predictions.decoder.weight", "cls.predictions.decoder.bias",
          "bert.embeddings.position_ids", "bert.pooler.*", "cls.seq_relationship.*"};
}

ForwardState BertModel::begin(const ForwardInput& in) {
  const auto& ids = in.input_ids;  // [B, T]
  HP_CHECK(ids.dim() == 2, "bert: input_ids must be [B, T], got ", ids.sizes());
  const int64_t T = ids.size(1);
  HP_CHECK(T <= cfg_.max_pos, "bert: sequence length ", T, " exceeds max_position_embeddings ",
           cfg_.max_pos);
  ForwardState st;
  auto pos = torch::arange(T, ids.options());
  auto types = in.token_type_ids.defined() ? in.token_type_ids : torch::zeros_like(ids);
  auto x = torch::embedding(word_emb_, ids) + torch::embedding(pos_emb_, pos).unsqueeze(0) +
           torch::embedding(type_emb_, types);  // [B, T, d]
  x = layer_norm(x, emb_ln_w_, emb_ln_b_, cfg_.ln_eps);
  st.x(Stack::Encoder) = torch::dropout(x, dropout_, is_training());
  if (!in.attention_mask.defined()) {  // no padding: no additive bias (fastest attention kernels)
    st.token_mask = torch::ones_like(ids, ids.options().dtype(torch::kBool));
    return st;
  }
  const auto& am = in.attention_mask;
  st.token_mask = am.to(torch::kBool);
  // [B, 1, 1, T]: 0 for real tokens, finfo.min for padding
  st.attn_bias = (1.0 - am.to(x.scalar_type())).mul(mask_min(x.scalar_type())).view(
      {ids.size(0), 1, 1, T});
  return st;
}

void BertModel::apply(int s, ForwardState& st, const torch::Tensor& mask, Probe* probe) {
  const auto& sp = sublayers().at(s);
  auto& x = st.x(Stack::Encoder);
  if (probe) probe->on_input(s, x);
  x = sp.kind == SublayerKind::Ffn ? ffn(s, x, mask, probe) : attn(s, x, st, mask, probe);
}

torch::Tensor BertModel::attn(int s, const torch::Tensor& x, const ForwardState& st,
                              const torch::Tensor& head_mask, Probe* probe) {
  const auto& sp = sublayers()[s];
  const auto& L = layers_[sp.layer];
  const int64_t H = sp.units;
  if (H == 0 || mask_all_zero(head_mask))  // empty sublayer: residual path (+ bias) only
    return layer_norm(cfg_.empty_keeps_bias ? x + L.bo : x, L.ln1_w, L.ln1_b, cfg_.ln_eps);
  auto q = split_heads(torch::linear(x, L.wq, L.bq), H);  // [B, H, T, dh]
  auto k = split_heads(torch::linear(x, L.wk, L.bk), H);
  auto v = split_heads(torch::linear(x, L.wv, L.bv), H);
  if (probe && probe->wants_attention(s)) probe->on_attention(s, q, k, st.attn_bias, st.token_mask);
  auto ctxh = attention(q, k, v, st.attn_bias, attn_dropout_, is_training());  // [B, H, T, dh]
  if (head_mask.defined()) ctxh = ctxh * head_mask.to(ctxh.scalar_type()).view({1, H, 1, 1});
  auto units = merge_heads(ctxh);  // [B, T, H*dh]
  if (probe) probe->on_units(s, units);
  auto out = torch::linear(units, L.wo, L.bo);  // [B, T, d]
  if (probe) probe->on_output(s, out);
  out = torch::dropout(out, dropout_, is_training());
  return layer_norm(x + out, L.ln1_w, L.ln1_b, cfg_.ln_eps);
}

torch::Tensor BertModel::ffn(int s, const torch::Tensor& x, const torch::Tensor& neuron_mask,
                             Probe* probe) {
  const auto& sp = sublayers()[s];
  const auto& L = layers_[sp.layer];
  if (sp.units == 0 || mask_all_zero(neuron_mask))
    return layer_norm(cfg_.empty_keeps_bias ? x + L.b_down : x, L.ln2_w, L.ln2_b, cfg_.ln_eps);
  auto h = activate(act_, torch::linear(x, L.w_up, L.b_up));  // [B, T, n_ff]
  if (neuron_mask.defined()) h = h * neuron_mask.to(h.scalar_type());
  if (probe) probe->on_units(s, h);
  auto out = torch::linear(h, L.w_down, L.b_down);  // [B, T, d]
  if (probe) probe->on_output(s, out);
  out = torch::dropout(out, dropout_, is_training());
  return layer_norm(x + out, L.ln2_w, L.ln2_b, cfg_.ln_eps);
}

torch::Tensor BertModel::head(const ForwardState& st) {
  const auto& x = st.x(Stack::Encoder);
  if (token_head_) {
    auto h = st.predict_positions.defined() ? x.index({st.predict_positions}) : x;  // [N, d]
    h = activate(act_, torch::linear(h, mlm_w_, mlm_b_));
    h = layer_norm(h, mlm_ln_w_, mlm_ln_b_, cfg_.ln_eps);
    return torch::linear(h, word_emb_, mlm_bias_);  // [.., V] (decoder tied to embeddings)
  }
  auto cls = x.select(1, 0);  // [B, d]
  auto pooled = torch::tanh(torch::linear(cls, pool_w_, pool_b_));
  pooled = torch::dropout(pooled, dropout_, is_training());
  return torch::linear(pooled, cls_w_, cls_b_);  // [B, C]
}

// The HF mapping (io/hf_bert.cc).
void bert_from_hf(HfReader& r, const HeadpruneBlock& hb, ModelConfig& cfg);
void bert_to_hf(const ModelConfig& cfg, const std::vector<std::vector<int>>* pruned_heads,
                nlohmann::json& j);
bool bert_hf_loadable(const ModelConfig& cfg);

// The registry entry (model/registry.cc).
Architecture bert_architecture() {
  return {"bert",
          [](const ModelConfig& c) { return std::make_shared<BertModel>(c); },
          BertModel::describe,
          BertModel::tiny,
          {"classify", "regress", "mlm"},
          {"bert"},
          bert_from_hf,
          bert_to_hf,
          bert_hf_loadable,
          /*hf_pruned_heads=*/true};
}

}  // namespace hp
