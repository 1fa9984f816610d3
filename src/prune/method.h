// Pruning methods: each turns a model (+ calibration data) and a budget into masks and weight
// updates. Methods never change shapes (that is surgery's job), never write into the caller's
// model or masks (they return what should change), and never know the architecture: they work
// through the model's sublayer list (model/sublayer.h), MaskSet and Budget.
// Adding a method = one file here + one registry line (docs/add-a-method.md).
#pragma once
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>

#include "io/tokenizer.h"
#include "model/cost.h"
#include "model/model.h"
#include "prune/params.h"
#include "task/task.h"

namespace hp {

struct PruneContext {
  Model& model;                 // dense (or already pruned) model on `device`; read, never written
  const Tokenizer* tok = nullptr;
  const TaskData* calib = nullptr;  // calibration / training data (null for data-free methods)
  std::string data_path;        // the file `calib` was read from (gate methods re-read it whole)
  int max_len = 128;            // sequence length the data was encoded with
  torch::Device device = torch::kCPU;
  double keep_flops = 0.5;      // fraction of the model's prunable FLOPs to keep
  double seq_len = 128;         // sequence length at which FLOPs are counted
  uint64_t seed = 0;
  nlohmann::json params = nlohmann::json::object();  // method-specific options (read with Params)
  bool progress = true;
};

struct PruneOutput {
  MaskSet masks;                // zeros = removed; other values are folded as scales by surgery
  // New values of existing tensors (HF names), applied before surgery cuts: least-squares-tuned
  // output projections (kprune), the jointly trained weights of gate methods.
  TensorMap weights;
  nlohmann::json info = nlohmann::json::object();  // method diagnostics
  // Extra files written beside the pruned model (e.g. "gates.csv" from gate training).
  std::map<std::string, std::string> files;
};

using PruneFn = std::function<PruneOutput(const PruneContext&)>;

struct MethodInfo {
  PruneFn fn;
  bool needs_data;
  std::string summary;
  // Gate-trained methods train a copy of the model jointly with per-head gates (returned in
  // PruneOutput::weights) and take their budget from params "keep_heads" (or "l0").
  bool trains = false;
};
const std::map<std::string, MethodInfo>& prune_methods();

// Shared budget fill: keeps the units with the highest score (per FLOP when `per_flop`) while
// they fit `keep_flops` of the model's FLOPs. Scores: one tensor per sublayer (higher = more
// important), ranked by score / Budget::amortized_cost; a unit is taken when its exact marginal
// cost (its own, plus its K/V group's when it is the group's first kept head) still fits.
MaskSet keep_best_under_budget(const Budget& budget, const std::vector<torch::Tensor>& scores,
                               double keep_flops, bool per_flop = true);

// Same, but attention units compete only with attention units and FFN neurons with neurons, each
// family keeping `keep_flops` of its own FLOPs (for scores only comparable within a family, e.g.
// Michel's gradient importance).
MaskSet keep_best_per_family_under_budget(const Budget& budget,
                                          const std::vector<torch::Tensor>& scores,
                                          double keep_flops);

}  // namespace hp
