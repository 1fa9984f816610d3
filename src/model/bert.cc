#include "model/bert.h"

#include "core/check.h"
#include "model/layers.h"

namespace hp {

namespace F = torch::nn::functional;

namespace {
std::string lp(int il) { return "bert.encoder.layer." + std::to_string(il) + "."; }
torch::Tensor layer_norm(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                         double eps) {
  return torch::layer_norm(x, {x.size(-1)}, w, b, eps);
}
}  // namespace

BertModel::BertModel(const ModelConfig& cfg) : Model(cfg) {
  cfg_.validate();
  HP_CHECK(cfg_.task == "classify" || cfg_.task == "regress" || cfg_.task == "mlm",
           "bert: task '", cfg_.task, "' is not supported (classify, regress, mlm)");
  const int64_t d = cfg_.d_model, dh = cfg_.d_head;
  dropout_ = cfg_.passthrough.value("hidden_dropout_prob", 0.1);
  attn_dropout_ = cfg_.passthrough.value("attention_probs_dropout_prob", 0.1);
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
      L.bo = add(p + "attention.output.dense.bias", zeros(d));
    }
    L.ln1_w = add(p + "attention.output.LayerNorm.weight", ones(d));
    L.ln1_b = add(p + "attention.output.LayerNorm.bias", zeros(d));
    if (lc.has_ffn()) {
      L.w_up = add(p + "intermediate.dense.weight", init_normal({lc.n_ff, d}));
      L.b_up = add(p + "intermediate.dense.bias", zeros(lc.n_ff));
      L.w_down = add(p + "output.dense.weight", init_normal({d, lc.n_ff}));
      L.b_down = add(p + "output.dense.bias", zeros(d));
    }
    L.ln2_w = add(p + "output.LayerNorm.weight", ones(d));
    L.ln2_b = add(p + "output.LayerNorm.bias", zeros(d));
    layers_.push_back(L);
  }
  if (cfg_.task == "mlm") {
    mlm_w_ = add("cls.predictions.transform.dense.weight", init_normal({d, d}));
    mlm_b_ = add("cls.predictions.transform.dense.bias", zeros(d));
    mlm_ln_w_ = add("cls.predictions.transform.LayerNorm.weight", ones(d));
    mlm_ln_b_ = add("cls.predictions.transform.LayerNorm.bias", zeros(d));
    mlm_bias_ = add("cls.predictions.bias", zeros(cfg_.vocab_size));
  } else {
    int64_t n_out = cfg_.task == "regress" ? 1 : cfg_.n_labels;
    pool_w_ = add("bert.pooler.dense.weight", init_normal({d, d}));
    pool_b_ = add("bert.pooler.dense.bias", zeros(d));
    cls_w_ = add("classifier.weight", init_normal({n_out, d}));
    cls_b_ = add("classifier.bias", zeros(n_out));
  }
}

std::vector<std::string> BertModel::ignorable_keys() const {
  // Tied to the word embeddings / prediction bias; HF may or may not write them.
  // A pooler in an MLM checkpoint (BertForPreTraining-style) is unused here.
  return {"cls.predictions.decoder.weight", "cls.predictions.decoder.bias",
          "bert.embeddings.position_ids", "bert.pooler.*", "cls.seq_relationship.*"};
}

torch::Tensor BertModel::embed(const ForwardInput& in, Context& ctx) {
  const auto& ids = in.input_ids;  // [B, T]
  HP_CHECK(ids.dim() == 2, "bert: input_ids must be [B, T], got ", ids.sizes());
  const int64_t T = ids.size(1);
  HP_CHECK(T <= cfg_.max_pos, "bert: sequence length ", T, " exceeds max_position_embeddings ",
           cfg_.max_pos);
  auto pos = torch::arange(T, ids.options());
  auto types = in.token_type_ids.defined() ? in.token_type_ids : torch::zeros_like(ids);
  auto x = torch::embedding(word_emb_, ids) + torch::embedding(pos_emb_, pos).unsqueeze(0) +
           torch::embedding(type_emb_, types);  // [B, T, d]
  x = layer_norm(x, emb_ln_w_, emb_ln_b_, cfg_.ln_eps);
  x = torch::dropout(x, dropout_, is_training());
  if (!in.attention_mask.defined()) {  // no padding: no additive bias (fastest attention kernels)
    ctx.token_mask = torch::ones_like(ids, ids.options().dtype(torch::kBool));
    return x;
  }
  const auto& am = in.attention_mask;
  ctx.token_mask = am.to(torch::kBool);
  // [B, 1, 1, T]: 0 for real tokens, finfo.min for padding
  ctx.attn_bias = (1.0 - am.to(x.scalar_type())).mul(mask_min(x.scalar_type())).view(
      {ids.size(0), 1, 1, T});
  return x;
}

torch::Tensor BertModel::attn_sublayer(int il, const torch::Tensor& x, const Context& ctx,
                                       const torch::Tensor& head_mask, Trace* trace) {
  const auto& L = layers_[il];
  const int64_t H = cfg_.layers[il].n_head;
  if (trace && trace->keep_inputs) trace->attn_in[il] = x;
  if (H == 0 || mask_all_zero(head_mask))  // empty sublayer: residual path only
    return layer_norm(x, L.ln1_w, L.ln1_b, cfg_.ln_eps);
  auto q = split_heads(torch::linear(x, L.wq, L.bq), H);  // [B, H, T, dh]
  auto k = split_heads(torch::linear(x, L.wk, L.bk), H);
  auto v = split_heads(torch::linear(x, L.wv, L.bv), H);
  if (trace && trace->keep_attn_max) trace->attn_max[il] = attention_max_score(q, k, ctx.attn_bias, ctx.token_mask);
  auto ctxh = attention(q, k, v, ctx.attn_bias, attn_dropout_, is_training());  // [B, H, T, dh]
  if (head_mask.defined()) ctxh = ctxh * head_mask.to(ctxh.scalar_type()).view({1, H, 1, 1});
  auto units = merge_heads(ctxh);  // [B, T, H*dh]
  if (trace && trace->keep_units) trace->attn_units[il] = units;
  auto out = torch::linear(units, L.wo, L.bo);  // [B, T, d]
  if (trace && trace->keep_outputs) trace->attn_out[il] = out;
  out = torch::dropout(out, dropout_, is_training());
  return layer_norm(x + out, L.ln1_w, L.ln1_b, cfg_.ln_eps);
}

torch::Tensor BertModel::ffn_sublayer(int il, const torch::Tensor& x,
                                      const torch::Tensor& neuron_mask, Trace* trace) {
  const auto& L = layers_[il];
  if (trace && trace->keep_inputs) trace->ffn_in[il] = x;
  if (cfg_.layers[il].n_ff == 0 || mask_all_zero(neuron_mask))
    return layer_norm(x, L.ln2_w, L.ln2_b, cfg_.ln_eps);
  auto h = torch::gelu(torch::linear(x, L.w_up, L.b_up));  // [B, T, n_ff]
  if (neuron_mask.defined()) h = h * neuron_mask.to(h.scalar_type());
  if (trace && trace->keep_units) trace->ffn_units[il] = h;
  auto out = torch::linear(h, L.w_down, L.b_down);  // [B, T, d]
  if (trace && trace->keep_outputs) trace->ffn_out[il] = out;
  out = torch::dropout(out, dropout_, is_training());
  return layer_norm(x + out, L.ln2_w, L.ln2_b, cfg_.ln_eps);
}

torch::Tensor BertModel::head(const torch::Tensor& x, const Context& ctx) {
  if (cfg_.task == "mlm") {
    auto h = ctx.predict_positions.defined() ? x.index({ctx.predict_positions}) : x;  // [N, d]
    h = torch::gelu(torch::linear(h, mlm_w_, mlm_b_));
    h = layer_norm(h, mlm_ln_w_, mlm_ln_b_, cfg_.ln_eps);
    return torch::linear(h, word_emb_, mlm_bias_);  // [.., V] (decoder tied to embeddings)
  }
  auto cls = x.select(1, 0);  // [B, d]
  auto pooled = torch::tanh(torch::linear(cls, pool_w_, pool_b_));
  pooled = torch::dropout(pooled, dropout_, is_training());
  return torch::linear(pooled, cls_w_, cls_b_);  // [B, C]
}

SublayerNames BertModel::names(int il) const {
  const std::string p = lp(il);
  SublayerNames n;
  n.wq = p + "attention.self.query.weight";
  n.bq = p + "attention.self.query.bias";
  n.wk = p + "attention.self.key.weight";
  n.bk = p + "attention.self.key.bias";
  n.wv = p + "attention.self.value.weight";
  n.bv = p + "attention.self.value.bias";
  n.wo = p + "attention.output.dense.weight";
  n.bo = p + "attention.output.dense.bias";
  n.w_up = p + "intermediate.dense.weight";
  n.b_up = p + "intermediate.dense.bias";
  n.w_down = p + "output.dense.weight";
  n.b_down = p + "output.dense.bias";
  return n;
}

}  // namespace hp
