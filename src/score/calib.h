// Calibration plumbing shared by the data-driven importance measures (Fisher, Kprune knowledge,
// Michel): fixed calibration batches on the device, forward passes that start at any sublayer,
// per-batch residual streams cached between sublayer-wise steps, teacher outputs and the losses
// measured against them. The task decides what a "prediction" is (one row per example for
// classification, one per masked token for masked-LM, one per scored next token for a causal LM),
// so an encoder-decoder plugs in here (make_calib_set / head_read_mask) and every method follows without change.
#pragma once
#include <torch/torch.h>

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "io/tokenizer.h"
#include "model/model.h"
#include "task/task.h"

namespace hp {

// One collated calibration batch, already on the compute device.
struct CalibBatch {
  ForwardInput in;          // input ids (masked-LM: already corrupted, fixed seed), mask, types
  torch::Tensor predict;    // [B, T] bool: token positions the head predicts (mlm, lm), or undefined
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

// Per-batch context (attention bias etc.) and the embeddings: the state entering sublayer 0.
// Runs without autograd.
ForwardState begin_stack(Model& model, const CalibBatch& batch);

// Applies sublayer s to the state (mask: the sublayer's entry of `masks`, or none).
void apply_sublayer(Model& model, int s, ForwardState& st, const MaskSet* masks, Probe* probe);

// Sublayer s run twice, for output-projection tuning: on the teacher state `teacher` (teacher
// masks) and on the student state `student` (student masks). `target` is what the student's output
// projection (without its bias) must add to the student's stream to reach the teacher's sum
// before the sublayer's post-norm: x_t + teacher_out - x_s - bias. `units` are the student's
// projection inputs [B, T, units*width]; `teacher` advances past the sublayer. Only sublayers
// whose output is added to the stream they read (post-LN or pre-norm residual) fit this form.
struct SublayerPair {
  torch::Tensor target, units;
};
SublayerPair teacher_student_sublayer(Model& model, int s, ForwardState& teacher,
                                      const ForwardState& student, const MaskSet* teacher_masks,
                                      const MaskSet* student_masks, const torch::Tensor& out_bias);

// Runs sublayers first..end on the state and the head: the task's predictions ([B, C] classify,
// [B] regress, [N, V] mlm).
torch::Tensor forward_from(Model& model, ForwardState st, int first, const MaskSet* masks,
                           Probe* probe);
// Full forward of one calibration batch.
torch::Tensor calib_logits(Model& model, const CalibBatch& batch, const MaskSet* masks,
                           Probe* probe = nullptr);

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
// a causal LM every position with a scored next token (CalibBatch::predict).
torch::Tensor head_read_mask(const std::string& task, const CalibBatch& batch);

// The residual streams of every calibration batch at one sublayer boundary, kept on the CPU so
// that sublayer-wise methods pay one sublayer (not the whole stack) per step and the device only
// holds one batch at a time.
class StreamCache {
 public:
  // Streams entering sublayer 0 (embeddings) of every batch.
  void init(Model& model, const CalibSet& calib);
  int position() const { return pos_; }  // next sublayer the streams enter
  size_t size() const { return x_.size(); }
  // Batch b's state at position(): its context recomputed (cheap), its streams from the cache.
  ForwardState get(Model& model, const CalibSet& calib, size_t b) const;
  // The same state with this cache's streams for batch b in place of `st`'s (the context of a
  // state another cache of the same batch returned, without computing it again).
  ForwardState with_streams(const ForwardState& st, size_t b) const;
  // Applies sublayer position() to every batch (masks as in apply_sublayer) and moves on.
  void advance(Model& model, const CalibSet& calib, const MaskSet* masks);
  // Replace batch b's streams (used when the caller applied the sublayer itself); call step()
  // once every batch is replaced.
  void set(size_t b, const ForwardState& st);
  void step() { ++pos_; }

 private:
  std::vector<std::array<torch::Tensor, 2>> x_;  // per batch, per stack [B, T, d], CPU
  int pos_ = 0;
};

}  // namespace hp
