#include "score/calib.h"

#include <algorithm>

#include "core/check.h"
#include "eval/evaluate.h"

namespace hp {

CalibSet make_calib_set(const TaskData& data, const Tokenizer& tok, torch::Device device,
                        int batch_size, int64_t max_samples, uint64_t seed) {
  HP_CHECK(batch_size > 0, "calibration batch size must be > 0, got ", batch_size);
  HP_CHECK(!data.items.empty(), "calibration data ", data.path, " has no examples");
  CalibSet set;
  set.task = data.task;
  const int64_t n = max_samples > 0 ? std::min<int64_t>(max_samples, data.items.size())
                                    : static_cast<int64_t>(data.items.size());
  const bool mlm = data.task == "mlm";
  HP_CHECK(mlm || data.task == "classify" || data.task == "regress", "task '", data.task,
           "' has no calibration support (classify, regress, mlm)");
  MlmEvalSet masked;
  if (mlm) masked = make_mlm_eval_set(data, tok, seed);
  const int64_t pad = tok.pad_id >= 0 ? tok.pad_id : 0;
  for (int64_t s = 0; s < n; s += batch_size) {
    std::vector<int> idx;
    for (int64_t i = s; i < std::min(n, s + batch_size); ++i) idx.push_back(static_cast<int>(i));
    CalibBatch cb;
    Batch b;
    if (mlm) {
      torch::Tensor tg;
      b = collate_mlm(masked, idx, pad, &tg);  // tg: [B, T], -100 where not predicted
      cb.predict = tg.ne(-100).to(device);
      cb.targets = tg.index({tg.ne(-100)}).to(device);  // [N]
    } else {
      b = make_batch(data, idx, tok);
      cb.targets = b.labels.to(device);  // [B]
    }
    cb.in.input_ids = b.input_ids.to(device);
    cb.in.attention_mask = b.attention_mask.to(device);
    cb.in.token_type_ids = b.token_type_ids.to(device);
    cb.token_mask = b.attention_mask.to(torch::kBool).to(device);
    cb.n_seq = static_cast<int64_t>(idx.size());
    cb.n_tokens = b.attention_mask.sum().item<int64_t>();
    cb.n_items = mlm ? cb.targets.numel() : cb.n_seq;
    set.n_seq += cb.n_seq;
    set.n_tokens += cb.n_tokens;
    set.n_items += cb.n_items;
    set.batches.push_back(std::move(cb));
  }
  HP_CHECK(set.n_items > 0, data.path, ": calibration set has nothing to predict (",
           set.n_seq, " sequences; masked-LM texts too short to mask?)");
  return set;
}

torch::Dtype model_dtype(const Model& model) {
  for (const auto& p : model.parameters())
    if (p.is_floating_point()) return p.scalar_type();
  return torch::kFloat32;
}

torch::Tensor model_param(const Model& model, const std::string& name) {
  for (const auto& p : model.named_parameters(true))
    if (p.key() == name) return p.value();
  fail(str("model has no parameter '", name, "'"));
}

int sublayer_units(const ModelConfig& cfg, int s) {
  HP_CHECK(s >= 0 && s < n_sublayers(cfg), "sublayer ", s, " out of range [0, ",
           n_sublayers(cfg), ")");
  const auto& l = cfg.layers.at(s / 2);
  return s % 2 ? l.n_ff : l.n_head;
}

StackStart begin_stack(Model& model, const CalibBatch& batch) {
  torch::NoGradGuard ng;
  StackStart st;
  st.x = model.embed(batch.in, st.ctx);
  st.ctx.predict_positions = batch.predict;
  return st;
}

torch::Tensor apply_sublayer(Model& model, int s, const torch::Tensor& x, const Model::Context& ctx,
                             const MaskSet* masks, Trace* trace) {
  const int il = s / 2;
  if (s % 2 == 0)
    return model.attn_sublayer(il, x, ctx, masks ? masks->layers.at(il).head : torch::Tensor(),
                               trace);
  return model.ffn_sublayer(il, x, masks ? masks->layers.at(il).neuron : torch::Tensor(), trace);
}

SublayerPair teacher_student_sublayer(Model& model, int s, const torch::Tensor& xt, const torch::Tensor& xs,
                                      const Model::Context& ctx, const MaskSet* teacher_masks,
                                      const MaskSet* student_masks, const torch::Tensor& out_bias) {
  const int il = s / 2;
  const bool ffn = s % 2 == 1;
  Trace trt, trs;
  trt.reset(model.config().n_layer);
  trs.reset(model.config().n_layer);
  trt.keep_outputs = true;
  trs.keep_units = true;
  SublayerPair p;
  p.teacher_next = apply_sublayer(model, s, xt, ctx, teacher_masks, &trt);
  apply_sublayer(model, s, xs, ctx, student_masks, &trs);
  auto out_t = ffn ? trt.ffn_out[il] : trt.attn_out[il];
  p.target = (out_t.defined() ? xt + out_t : xt) - xs;  // [B, T, d]
  if (out_bias.defined()) p.target = p.target - out_bias;
  p.units = ffn ? trs.ffn_units[il] : trs.attn_units[il];
  HP_CHECK(p.units.defined(), "tuning: sublayer ", s, " produced no units");
  return p;
}

torch::Tensor forward_from(Model& model, const CalibBatch& batch, const Model::Context& ctx,
                           torch::Tensor x, int first, const MaskSet* masks, Trace* trace) {
  const auto& cfg = model.config();
  if (masks) masks->check_against(cfg);
  if (trace) trace->reset(cfg.n_layer);
  for (int s = first; s < n_sublayers(cfg); ++s) x = apply_sublayer(model, s, x, ctx, masks, trace);
  auto logits = model.head(x, ctx);  // [B, C] | [B, 1] | [N, V]
  if (cfg.task == "regress") logits = logits.squeeze(-1);  // [B]
  return logits;
}

torch::Tensor calib_logits(Model& model, const CalibBatch& batch, const MaskSet* masks,
                           Trace* trace) {
  auto st = begin_stack(model, batch);
  // begin_stack ran without autograd; the embeddings hold no graph, which is all the mask and
  // unit gradients need (parameters are never differentiated here).
  return forward_from(model, batch, st.ctx, st.x, 0, masks, trace);
}

std::vector<torch::Tensor> teacher_outputs(Model& model, const CalibSet& calib,
                                           const MaskSet* masks) {
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> out;
  for (const auto& b : calib.batches) out.push_back(calib_logits(model, b, masks).to(torch::kCPU));
  return out;
}

torch::Tensor task_loss_of(const std::string& task, const torch::Tensor& logits,
                           const CalibBatch& batch) {
  if (task == "regress") return torch::mse_loss(logits, batch.targets.to(logits.scalar_type()));
  HP_CHECK(logits.dim() == 2 && logits.size(0) == batch.targets.numel(), "task loss: logits ",
           logits.sizes(), " do not match ", batch.targets.numel(), " targets");
  return torch::cross_entropy_loss(logits, batch.targets);
}

torch::Tensor distill_loss(const std::string& task, const torch::Tensor& student,
                           const torch::Tensor& teacher, double temperature) {
  auto t = teacher.to(student.device(), student.scalar_type()).detach();
  HP_CHECK(student.sizes() == t.sizes(), "distillation: student outputs ", student.sizes(),
           " vs teacher ", t.sizes());
  if (task == "regress") return torch::mse_loss(student, t);
  HP_CHECK(temperature > 0, "distillation temperature must be > 0, got ", temperature);
  auto log_q = torch::log_softmax(student / temperature, -1);  // [rows, C]
  auto log_p = torch::log_softmax(t / temperature, -1);
  auto kl = (log_p.exp() * (log_p - log_q)).sum(-1);  // [rows]
  return kl.mean() * (temperature * temperature);
}

torch::Tensor head_read_mask(const std::string& task, const CalibBatch& batch) {
  if (task == "classify" || task == "regress") {
    auto m = torch::zeros_like(batch.token_mask);  // [B, T] bool
    m.select(1, 0).fill_(true);
    return m;
  }
  return {};
}

void StreamCache::init(Model& model, const CalibSet& calib) {
  x_.clear();
  pos_ = 0;
  for (const auto& b : calib.batches) x_.push_back(begin_stack(model, b).x.to(torch::kCPU));
}

void StreamCache::advance(Model& model, const CalibSet& calib, const MaskSet* masks) {
  torch::NoGradGuard ng;
  HP_CHECK(x_.size() == calib.batches.size(), "stream cache holds ", x_.size(),
           " batches, calibration set ", calib.batches.size());
  HP_CHECK(pos_ < n_sublayers(model.config()), "stream cache already past the last sublayer");
  for (size_t b = 0; b < x_.size(); ++b) {
    const auto& cb = calib.batches[b];
    auto st = begin_stack(model, cb);  // the context only (cheap: one embedding lookup)
    x_[b] = apply_sublayer(model, pos_, x_[b].to(cb.in.input_ids.device()), st.ctx, masks, nullptr)
                .to(torch::kCPU);
  }
  ++pos_;
}

double param_number(const nlohmann::json& params, const std::string& key, double def) {
  if (!params.is_object() || !params.contains(key)) return def;
  const auto& v = params.at(key);
  if (v.is_number()) return v.get<double>();
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    try {
      size_t used = 0;
      double d = std::stod(s, &used);
      if (used == s.size()) return d;
    } catch (const std::exception&) {
    }
    if (s == "true") return 1.0;
    if (s == "false") return 0.0;
  }
  fail(str("method parameter '", key, "' must be a number, got ", v.dump()));
}

std::string param_string(const nlohmann::json& params, const std::string& key,
                         const std::string& def) {
  if (!params.is_object() || !params.contains(key)) return def;
  const auto& v = params.at(key);
  HP_CHECK(v.is_string(), "method parameter '", key, "' must be a string, got ", v.dump());
  return v.get<std::string>();
}

}  // namespace hp
