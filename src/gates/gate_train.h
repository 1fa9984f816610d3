// Joint training of a model and per-head gates, shared by every gate-trained pruning method
// (voita, pass, passconc, dsp, ste, l0-layerwise; see prune/gate_methods.h and docs/gates.md). A method
// supplies the gate parameters, the gate values of each step and its sparsity loss through
// GateMethod; this loop owns data order, optimizers, learning-rate schedule, gradient clipping,
// progress and the gates.csv trajectory. Gates reach the model only as head masks of a MaskSet,
// so any architecture (and any number of attention modules) can be gated.
#pragma once
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "io/tokenizer.h"
#include "model/masks.h"
#include "model/model.h"
#include "task/task.h"

namespace hp {

// Where the gates sit: one group per attention sublayer (in sublayer order, whatever its kind or
// stack), heads numbered consecutively across groups. A group of size 0 (an attention sublayer
// pruned away) has no gates.
struct GateLayout {
  std::vector<int64_t> sizes, offsets;
  std::vector<int> sublayer;      // sublayer index of each group
  int64_t n_sublayers = 0;        // length of the model's sublayer list
  int64_t total = 0;
  static GateLayout heads_of(const std::vector<SublayerSpec>& specs);
  // Flat gate values [total] -> masks of the attention sublayers (slices of `flat`, so gradients
  // flow back to it); FFN masks stay undefined (all kept).
  MaskSet to_masks(const torch::Tensor& flat) const;
  int group_of(int64_t i) const;  // group of flat index i
};

// Position of a training step. `step` counts completed optimizer steps (0 before the first).
struct GateStep {
  int64_t step = 0, total_steps = 1, steps_per_epoch = 1;
  double progress() const { return total_steps > 0 ? double(step) / double(total_steps) : 1.0; }
};

class GateMethod {
 public:
  virtual ~GateMethod() = default;
  // Called once before training with the planned number of steps (schedules are set from it).
  virtual void begin(int64_t total_steps, int64_t steps_per_epoch) = 0;
  virtual std::vector<torch::Tensor> parameters() = 0;  // gate tensors (requires_grad)
  // Gate values ([total], differentiable) for the step about to be taken: used as head masks.
  virtual torch::Tensor train_gates(const GateStep& s) = 0;
  // Sparsity loss added to the task loss for this step (undefined = none).
  virtual torch::Tensor penalty(const GateStep&) { return {}; }
  // Whether after_step wants the per-head attention confidence of the step's batch.
  virtual bool wants_confidence() const { return false; }
  // After the optimizer step (s.step already counts it): schedules, clipping, reopening.
  // `confidence`: [total] per-head mean max pre-softmax score of this batch (0 for skipped modules),
  // only when wants_confidence().
  virtual void after_step(const GateStep& s, const std::vector<double>* confidence) = 0;
  // Values written to gates.csv: per gate log_alpha (or logit), P(closed), P(open).
  virtual void log_values(std::vector<double>& log_alpha, std::vector<double>& p_closed,
                          std::vector<double>& p_open) const = 0;
  virtual std::string progress_note() const { return ""; }
};

struct GateTrainOptions {
  int epochs = 3;
  int64_t steps = 0;          // > 0: exactly this many steps (epochs repeat as needed)
  int batch = 32;
  double lr = 2e-5;           // model parameters (AdamW)
  double gate_lr = 0.5;       // gate parameters (Adam, no weight decay)
  double lr_warmup = 0.06;    // fraction of steps of linear warm-up, then linear decay to 0
  bool gate_lr_schedule = false; // gates follow the model's warm-up/decay multiplier (else constant)
  double weight_decay = 0.01; // model weights except LayerNorm and biases
  double clip = 1.0;          // gradient-norm clip of the model parameters (gates unclipped); 0 = off
  bool clip_gates = false;    // clip model and gate gradients jointly (one norm), as the PASS reference
  int64_t log_every = 0;      // gates.csv row interval; 0 = about 100 points per run
  uint64_t seed = 0;
  bool progress = true;
  std::string label = "gates";
};

struct GateTrainResult {
  int64_t steps = 0, steps_per_epoch = 0, log_every = 0;
  std::string gates_csv;     // header step,layer,head,log_alpha,p_closed,p_open
  double seconds = 0, last_task_loss = 0;
  int64_t nonfinite_gate_grads = 0;  // gate-gradient entries that were NaN/inf and zeroed
};

// Planned number of optimizer steps for n examples.
int64_t planned_gate_steps(int64_t n_examples, const GateTrainOptions& opt);

// Trains `model` (in place, in train mode: callers pass their own copy) and the method's gates on
// `data`.
GateTrainResult train_gates(Model& model, const TaskData& data, const Tokenizer& tok, GateMethod& method,
                            const GateLayout& layout, const GateTrainOptions& opt, torch::Device device);

}  // namespace hp
