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
  // --uniform: every live sublayer of a family (attention; FFN) keeps the same number of units,
  // uniform_counts(budget, keep_flops), each method choosing them by its own scores, so that the
  // result has one width per family (loadable as a plain HF model). Methods that cannot honour it
  // (depth, the gate-trained methods) fail before any work.
  bool uniform = false;
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
  // Whether, with these params, the method folds a correction into every sublayer's output bias
  // (the job then gives sublayers without one a zero bias: PruneSettings::output_biases).
  std::function<bool(const nlohmann::json& params)> needs_output_biases;
};
const std::map<std::string, MethodInfo>& prune_methods();

// ---- Shared selection ----
// Attention sublayers whose units are query heads inside K/V groups (SublayerSpec::group_size()
// > 1, i.e. ModelConfig::gqa_unit "query" on a model with grouped-query attention) keep the same
// number of query heads in every group, so that the pruned model is plain grouped-query attention
// (surgery requires it). Every selection below enforces this: there the r-th best query head of
// every group forms one bundle (score: its members' mean), taken or left as a whole, so such a
// sublayer keeps r heads in each of its groups (all groups survive while r > 0). Whole groups are
// removed with gqa_unit "group", where a unit is one group with its query heads.

// Units of sublayer s kept or removed together by the selections: its number of K/V groups for
// query heads inside groups (above), else 1. Counts of kept units are multiples of it.
int64_t selection_step(const SublayerSpec& sp);

// Shared budget fill: keeps the units with the highest score (per FLOP when `per_flop`) while
// they fit `keep_flops` of the model's FLOPs. Scores: one tensor per sublayer (higher = more
// important), ranked by score / Budget::amortized_cost; a unit is taken when its exact marginal
// cost (its own, plus its K/V group's when it is the group's first kept head) still fits.
// `uniform` (PruneContext::uniform): instead keeps the uniform_counts(budget, keep_flops) best
// units of every sublayer by score (keep_top_k_per_sublayer).
MaskSet keep_best_under_budget(const Budget& budget, const std::vector<torch::Tensor>& scores,
                               double keep_flops, bool per_flop = true, bool uniform = false);

// Same, but attention units compete only with attention units and FFN neurons with neurons, each
// family keeping `keep_flops` of its own FLOPs (for scores only comparable within a family, e.g.
// Michel's gradient importance). `uniform`: as above (uniform_counts splits the budget the same
// way, per family).
MaskSet keep_best_per_family_under_budget(const Budget& budget,
                                          const std::vector<torch::Tensor>& scores,
                                          double keep_flops, bool uniform = false);

// --uniform: the number of units every sublayer keeps (0 for absent sublayers). All live
// sublayers of a family (attention; FFN) keep the same number: one "level" n per family, n units
// per sublayer (n query heads per K/V group for query heads inside groups, selection_step), at most
// the smallest live sublayer's. The levels start at the largest that keeps each family within
// keep_flops of its own FLOPs (as keep_best_per_family_under_budget); then, while one more level
// of a family (one more unit in every sublayer of that family) still fits budget.target(keep_flops),
// the family with the smaller kept fraction of its own FLOPs takes it (attention on ties). Exact
// costs: a K/V group is charged once while it serves a kept query head. The result fits the
// target and is maximal: one more level of either family would not fit.
std::vector<int64_t> uniform_counts(const Budget& budget, double keep_flops);

// FLOPs of sublayer s keeping `count` units chosen as the selections above choose them (equal
// numbers per K/V group for query heads inside groups).
double selected_cost(const Budget& budget, int s, int64_t count);

// Keeps the counts[s] best units of every sublayer by score (stable: the lower index on ties); for
// query heads inside K/V groups, the counts[s] / groups best of every group. Binary float masks.
MaskSet keep_top_k_per_sublayer(const Budget& budget, const std::vector<torch::Tensor>& scores,
                                const std::vector<int64_t>& counts);
// The same for one sublayer: its [units] keep mask.
torch::Tensor keep_top_k(const SublayerSpec& sp, const torch::Tensor& score, int64_t count);

// The bundles of a sublayer of query heads inside K/V groups (selection_step > 1): members[r] =
// the r-th best query head of every group, one per group in group order (stable: the lower index
// on ties); mean[r] and sum[r] = its members' scores. Means decrease with r (weakly), so taking
// bundles by decreasing mean takes them in order r = 0, 1, ...; only bundle 0 pays the groups'
// K/V cost.
struct GroupBundles {
  std::vector<std::vector<int64_t>> members;
  std::vector<double> mean, sum;
};
GroupBundles group_bundles(const SublayerSpec& sp, const torch::Tensor& score);

}  // namespace hp
