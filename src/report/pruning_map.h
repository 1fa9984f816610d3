// The pruning map: which heads and neurons of each layer survived (in the numbering of the
// original dense model, composed across repeated pruning), with the method, budget, calibration
// data, seed and version that produced them. Written as pruning.json beside every pruned model.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "model/config.h"

namespace hp {

struct PruningRecord {
  std::string method;
  double keep_flops = 1;       // requested budget (fraction of prunable FLOPs kept)
  double seq_len = 0;          // length at which FLOPs were counted
  std::string calib_data;      // path or "" for data-free methods
  int64_t calib_tokens = 0;
  uint64_t seed = 0;
  nlohmann::json extra = nlohmann::json::object();  // method info, timings, eval results
};

// Builds the map for a model obtained from `parent_cfg` (whose own map is `parent_map`, or null
// if it was dense) by keeping `kept_heads` / `kept_neurons` (indices into the parent's layers).
nlohmann::json make_pruning_map(const ModelConfig& parent_cfg, const nlohmann::json* parent_map,
                                const ModelConfig& child_cfg,
                                const std::vector<std::vector<int>>& kept_heads,
                                const std::vector<std::vector<int>>& kept_neurons,
                                const PruningRecord& rec, double dense_flops, double child_flops);

// Original-numbering indices of pruned heads per layer (HF `pruned_heads`).
std::vector<std::vector<int>> pruned_heads_from_map(const nlohmann::json& map);

// The map of a pruned model after further training (`train --init` of a pruned model): the
// structure, and so every kept/removed index, is unchanged; quality figures measured before the
// training move from "eval" to "eval_before_training" so that no report shows them as the trained
// model's; `training` (what was trained: init, task, data) is appended to "trained_after_pruning".
nlohmann::json pruning_map_after_training(nlohmann::json map, const nlohmann::json& training);

// Per-layer table for `headprune show`.
std::string format_pruning_map(const nlohmann::json& map);

}  // namespace hp
