// Calibration plumbing shared by the data-driven importance measures (Fisher, Kprune knowledge,
// Michel): fixed calibration batches on the device, forward passes that start at any sublayer,
// per-batch residual streams cached between sublayer-wise steps, teacher outputs and the losses
// measured against them. The task decides what a "prediction" is (one row per example for
// classification, one per masked token for masked-LM), so a decoder LM or an encoder-decoder
// plugs in here (make_calib_set / head_read_mask) and every method follows without change.
#pragma once
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "io/tokenizer.h"
#include "model/model.h"
#include "train/task.h"

namespace hp {

// One collated calibration batch, already on the compute device.
struct CalibBatch {
  ForwardInput in;          // input ids (masked-LM: already corrupted, fixed seed), mask, types
  torch::Tensor predict;    // [B, T] bool: token positions the head predicts (masked-LM), or undefined
  torch::Tensor targets;    // classify: [B] int64; regress: [B] float; mlm: [N] int64
  torch::Tensor token_mask; // [B, T] bool, true on real tokens (padding removed with it)
  int64_t n_seq = 0, n_tokens = 0, n_items = 0;  // sequences, real tokens, predicted rows
};

struct CalibSet {
  std::string task;
  std::vector<CalibBatch> batches;
  int64_t n_seq = 0, n_tokens = 0, n_items = 0;
};

// Batches (in the data's order) of `batch_size` sequences from the first `max_samples` items
// (0 = all). Masked-LM data is masked once per sequence with make_mlm_eval_set(seed), so every
// model evaluated on the set (teacher, student, finite-difference probe) sees identical inputs.
CalibSet make_calib_set(const TaskData& data, const Tokenizer& tok, torch::Device device,
                        int batch_size = 32, int64_t max_samples = 0, uint64_t seed = 0);

// Floating dtype of the model's parameters (float32 unless a test moved it to double).
torch::Dtype model_dtype(const Model& model);
// A parameter by its (HF) name; throws naming it when absent.
torch::Tensor model_param(const Model& model, const std::string& name);

// Sublayers are numbered bottom-up: 2*il = attention of layer il, 2*il + 1 = its FFN.
inline int n_sublayers(const ModelConfig& cfg) { return 2 * cfg.n_layer; }
// Units of sublayer s (heads or neurons); 0 = the sublayer does not exist.
int sublayer_units(const ModelConfig& cfg, int s);

// Per-batch context (attention bias etc.) and the embeddings, i.e. the residual stream entering
// sublayer 0. Runs without autograd.
struct StackStart {
  Model::Context ctx;
  torch::Tensor x;  // [B, T, d]
};
StackStart begin_stack(Model& model, const CalibBatch& batch);

// Applies sublayer s to the residual stream x (masks: the sublayer's entry of `masks`, or none).
torch::Tensor apply_sublayer(Model& model, int s, const torch::Tensor& x, const Model::Context& ctx,
                             const MaskSet* masks, Trace* trace);  // [B, T, d]

// Sublayer s run twice, for output-projection tuning: on the teacher stream xt (teacher masks) and
// on the student stream xs (student masks). `target` is what the student's output projection
// (without its bias) must add to xs to reach the teacher's pre-LayerNorm sum:
// xt + teacher_out - xs - bias. `units` are the student's projection inputs [B, T, n*w];
// `teacher_next` the teacher stream after the sublayer.
struct SublayerPair {
  torch::Tensor target, units, teacher_next;
};
SublayerPair teacher_student_sublayer(Model& model, int s, const torch::Tensor& xt, const torch::Tensor& xs,
                                      const Model::Context& ctx, const MaskSet* teacher_masks,
                                      const MaskSet* student_masks, const torch::Tensor& out_bias);

// Runs sublayers first..2L-1 on x and the head: the task's predictions ([B, C] classify,
// [B] regress, [N, V] mlm). `trace` (optional) is reset to n_layer first.
torch::Tensor forward_from(Model& model, const CalibBatch& batch, const Model::Context& ctx,
                           torch::Tensor x, int first, const MaskSet* masks, Trace* trace);
// Full forward of one calibration batch.
torch::Tensor calib_logits(Model& model, const CalibBatch& batch, const MaskSet* masks,
                           Trace* trace = nullptr);

// Teacher outputs of every batch (no autograd, kept on CPU).
std::vector<torch::Tensor> teacher_outputs(Model& model, const CalibSet& calib,
                                           const MaskSet* masks = nullptr);

// Task loss against the batch targets: mean cross-entropy over predicted rows (MSE for regress).
torch::Tensor task_loss_of(const std::string& task, const torch::Tensor& logits,
                           const CalibBatch& batch);
// Distillation loss: T^2 * mean over rows of KL(softmax(teacher/T) || softmax(student/T)); MSE
// for regress. Both [rows, C] (or [rows] for regress).
torch::Tensor distill_loss(const std::string& task, const torch::Tensor& student,
                           const torch::Tensor& teacher, double temperature);

// [B, T] bool: the positions whose final hidden state the task head reads, or undefined when it
// may read any token (masked-LM reads the masked positions, which depend on the input but are
// scattered; callers then fit every real token). Encoder classifiers read the first token ([CLS]);
// a decoder classifier reading the last token would be added here.
torch::Tensor head_read_mask(const std::string& task, const CalibBatch& batch);

// The residual stream of every calibration batch at one sublayer boundary, kept on the CPU so
// that sublayer-wise methods pay one sublayer (not the whole stack) per step and the device only
// holds one batch at a time.
class StreamCache {
 public:
  // Stream entering sublayer 0 (embeddings) of every batch.
  void init(Model& model, const CalibSet& calib);
  int position() const { return pos_; }  // next sublayer the stream enters
  size_t size() const { return x_.size(); }
  torch::Tensor get(size_t b, torch::Device device) const { return x_.at(b).to(device); }
  // Applies sublayer position() to every batch (masks as in apply_sublayer) and moves on.
  void advance(Model& model, const CalibSet& calib, const MaskSet* masks);
  // Replace batch b's stream (used when the caller applied the sublayer itself); call step()
  // once every batch is replaced.
  void set(size_t b, const torch::Tensor& x) { x_.at(b) = x.detach().to(torch::kCPU); }
  void step() { ++pos_; }

 private:
  std::vector<torch::Tensor> x_;  // per batch [B, T, d], CPU
  int pos_ = 0;
};

// Number or numeric string from a method's params, with a default.
double param_number(const nlohmann::json& params, const std::string& key, double def);
std::string param_string(const nlohmann::json& params, const std::string& key,
                         const std::string& def);

}  // namespace hp
