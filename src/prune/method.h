// Pruning methods: each turns a model (+ calibration data) and a budget into a mask set. Methods
// never change shapes (that is surgery's job) and never know the architecture: they work through
// Model's sublayer interface and MaskSet. Adding a method = one file here + one registry line.
#pragma once
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>

#include "io/tokenizer.h"
#include "model/model.h"
#include "train/task.h"

namespace hp {

struct PruneContext {
  Model& model;                 // dense (or already pruned) model, eval mode, on `device`
  const Tokenizer* tok = nullptr;
  const TaskData* calib = nullptr;  // calibration data (null for data-free methods)
  torch::Device device = torch::kCPU;
  double keep_flops = 0.5;      // fraction of the model's prunable FLOPs to keep
  double seq_len = 128;         // sequence length at which FLOPs are counted
  uint64_t seed = 0;
  nlohmann::json params = nlohmann::json::object();  // method-specific options
  bool progress = true;
};

struct PruneOutput {
  MaskSet masks;                // zeros = removed; other values are folded as scales
  nlohmann::json info = nlohmann::json::object();  // method diagnostics
  // Extra files written beside the pruned model (e.g. "gates.csv" from gate training).
  std::map<std::string, std::string> files;
};

using PruneFn = std::function<PruneOutput(PruneContext&)>;

struct MethodInfo {
  PruneFn fn;
  bool needs_data;
  std::string summary;
  // Gate-trained methods train the model jointly with per-head gates (ctx.model's weights change)
  // and take their budget from params "keep_heads" (or "l0") instead of keep_flops.
  bool trains = false;
};
const std::map<std::string, MethodInfo>& prune_methods();

// Shared budget search: keeps the units with the highest score per FLOP until the FLOPs budget
// is spent. Scores: per layer, [n_head] and [n_ff] tensors (higher = more important).
MaskSet keep_best_under_budget(const ModelConfig& cfg, const std::vector<torch::Tensor>& head_scores,
                               const std::vector<torch::Tensor>& neuron_scores, double keep_flops,
                               double seq_len, bool per_flop = true);

// Same, but each kind keeps the same fraction of its own FLOPs: heads compete with heads and
// neurons with neurons (for scores that are only comparable within a kind, e.g. Michel's
// gradient importance).
MaskSet keep_best_per_kind_under_budget(const ModelConfig& cfg, const std::vector<torch::Tensor>& head_scores,
                                        const std::vector<torch::Tensor>& neuron_scores,
                                        double keep_flops, double seq_len);

}  // namespace hp
