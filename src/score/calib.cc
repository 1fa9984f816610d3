#include "score/calib.h"

#include <algorithm>

#include "core/check.h"
#include "task/task.h"

namespace hp {

CalibSet make_calib_set(const TaskData& data, const Tokenizer& tok, torch::Device device,
                        int batch_size, int64_t max_samples, uint64_t seed) {
  HP_CHECK(batch_size > 0, "calibration batch size must be > 0, got ", batch_size);
  HP_CHECK(!data.items.empty(), "calibration data ", data.path, " has no examples");
  CalibSet set;
  set.task = data.task;
  const int64_t n = max_samples > 0 ? std::min<int64_t>(max_samples, data.items.size())
                                    : static_cast<int64_t>(data.items.size());
  const TaskInfo& task = task_info(data.task);
  const bool mlm = task.masked_inputs;
  HP_CHECK(mlm || task.causal || !task.token_level, "task '", data.task,
           "' has no calibration support yet (sequence-level tasks, masked-LM and causal LM)");
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
    } else if (task.causal) {
      b = make_batch(data, idx, tok);  // labels: [B, T] next-token targets, -100 where not scored
      cb.predict = b.labels.ne(-100).to(device);
      cb.targets = b.labels.index({b.labels.ne(-100)}).to(device);  // [N]
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
    cb.n_items = task.token_level ? cb.targets.numel() : cb.n_seq;
    set.n_seq += cb.n_seq;
    set.n_tokens += cb.n_tokens;
    set.n_items += cb.n_items;
    set.batches.push_back(std::move(cb));
  }
  HP_CHECK(set.n_items > 0, data.path, ": calibration set has nothing to predict (",
           set.n_seq, " sequences; masked-LM texts too short to mask?)");
  return set;
}

ForwardState begin_stack(Model& model, const CalibBatch& batch) {
  torch::NoGradGuard ng;
  ForwardState st = model.begin(batch.in);
  st.predict_positions = batch.predict;
  return st;
}

void apply_sublayer(Model& model, int s, ForwardState& st, const MaskSet* masks, Probe* probe) {
  model.apply(s, st, masks ? masks->sub.at(s) : torch::Tensor(), probe);
}

SublayerPair teacher_student_sublayer(Model& model, int s, ForwardState& teacher,
                                      const ForwardState& student, const MaskSet* teacher_masks,
                                      const MaskSet* student_masks, const torch::Tensor& out_bias) {
  const Stack stack = model.sublayers().at(s).stack;
  Recorder rt, rs;
  rt.keep_outputs = true;
  rs.keep_units = true;
  const torch::Tensor xt = teacher.x(stack), xs = student.x(stack);
  apply_sublayer(model, s, teacher, teacher_masks, &rt);
  ForwardState scratch = student;
  apply_sublayer(model, s, scratch, student_masks, &rs);
  SublayerPair p;
  const bool has_out = static_cast<int>(rt.outputs.size()) > s && rt.outputs[s].defined();
  p.target = (has_out ? xt + rt.outputs[s] : xt) - xs;  // [B, T, d]
  if (out_bias.defined()) p.target = p.target - out_bias;
  HP_CHECK(static_cast<int>(rs.units.size()) > s && rs.units[s].defined(), "tuning: sublayer ", s,
           " produced no units");
  p.units = rs.units[s];
  return p;
}

torch::Tensor forward_from(Model& model, ForwardState st, int first, const MaskSet* masks,
                           Probe* probe) {
  const auto& cfg = model.config();
  if (masks) masks->check_against(model.sublayers());
  for (int s = first; s < model.n_sublayers(); ++s) apply_sublayer(model, s, st, masks, probe);
  auto logits = model.head(st);  // [B, C] | [B, 1] | [N, V]
  if (task_info(cfg.task).regression) logits = logits.squeeze(-1);  // [B]
  return logits;
}

torch::Tensor calib_logits(Model& model, const CalibBatch& batch, const MaskSet* masks,
                           Probe* probe) {
  // begin_stack ran without autograd; the embeddings hold no graph, which is all the mask and
  // unit gradients need (parameters are never differentiated here).
  return forward_from(model, begin_stack(model, batch), 0, masks, probe);
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
  if (task_info(task).regression) return torch::mse_loss(logits, batch.targets.to(logits.scalar_type()));
  HP_CHECK(logits.dim() == 2 && logits.size(0) == batch.targets.numel(), "task loss: logits ",
           logits.sizes(), " do not match ", batch.targets.numel(), " targets");
  return torch::cross_entropy_loss(logits, batch.targets);
}

torch::Tensor distill_loss(const std::string& task, const torch::Tensor& student,
                           const torch::Tensor& teacher, double temperature) {
  auto t = teacher.to(student.device(), student.scalar_type()).detach();
  HP_CHECK(student.sizes() == t.sizes(), "distillation: student outputs ", student.sizes(),
           " vs teacher ", t.sizes());
  if (task_info(task).regression) return torch::mse_loss(student, t);
  HP_CHECK(temperature > 0, "distillation temperature must be > 0, got ", temperature);
  auto log_q = torch::log_softmax(student / temperature, -1);  // [rows, C]
  auto log_p = torch::log_softmax(t / temperature, -1);
  auto kl = (log_p.exp() * (log_p - log_q)).sum(-1);  // [rows]
  return kl.mean() * (temperature * temperature);
}

torch::Tensor head_read_mask(const std::string& task, const CalibBatch& batch) {
  if (task_info(task).reads_first_token) {
    auto m = torch::zeros_like(batch.token_mask);  // [B, T] bool
    m.select(1, 0).fill_(true);
    return m;
  }
  if (task_info(task).causal) return batch.predict;  // every position with a scored next token
  return {};
}

void StreamCache::init(Model& model, const CalibSet& calib) {
  x_.clear();
  pos_ = 0;
  for (const auto& b : calib.batches) {
    auto st = begin_stack(model, b);
    std::array<torch::Tensor, 2> xs;
    for (int k = 0; k < 2; ++k)
      if (st.stream[k].defined()) xs[k] = st.stream[k].to(torch::kCPU);
    x_.push_back(xs);
  }
}

ForwardState StreamCache::get(Model& model, const CalibSet& calib, size_t b) const {
  // The context (cheap: one embedding lookup); the streams come from the cache.
  return with_streams(begin_stack(model, calib.batches.at(b)), b);
}

ForwardState StreamCache::with_streams(const ForwardState& st, size_t b) const {
  ForwardState out = st;
  const auto dev = st.token_mask.device();
  for (int k = 0; k < 2; ++k)
    out.stream[k] = x_.at(b)[k].defined() ? x_[b][k].to(dev) : torch::Tensor();
  return out;
}

void StreamCache::set(size_t b, const ForwardState& st) {
  for (int k = 0; k < 2; ++k)
    x_.at(b)[k] = st.stream[k].defined() ? st.stream[k].detach().to(torch::kCPU) : torch::Tensor();
}

void StreamCache::advance(Model& model, const CalibSet& calib, const MaskSet* masks) {
  torch::NoGradGuard ng;
  HP_CHECK(x_.size() == calib.batches.size(), "stream cache holds ", x_.size(),
           " batches, calibration set ", calib.batches.size());
  HP_CHECK(pos_ < model.n_sublayers(), "stream cache already past the last sublayer");
  for (size_t b = 0; b < x_.size(); ++b) {
    auto st = get(model, calib, b);
    apply_sublayer(model, pos_, st, masks, nullptr);
    set(b, st);
  }
  ++pos_;
}

}  // namespace hp
