// The pruning map: which heads and neurons of each layer survived (in the numbering of the
// original dense model, composed across repeated pruning), with the method, budget, calibration
// data, seed and version that produced them. Written as pruning.json beside every pruned model.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "config/model_config.h"
#include "model/sublayer.h"

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

// Builds the map of a model obtained from a parent (sublayer list `parent`, dense sizes
// `dense_units` per sublayer, its own map `parent_map` or null if it was dense) by keeping
// `kept_units` per sublayer (indices into the parent's units) with `padding` zero units appended.
// The map lists every sublayer (kind, stack, layer, kept units in the dense model's numbering)
// and, for models made of (self-attention, FFN) layers, the per-layer view "layers" that HF's
// pruned_heads and earlier readers use. FLOPs: `kept_flops` counts real units, `padded_flops`
// the shapes as stored (alignment padding included), both against `dense_flops`.
struct MapFlops {
  double dense = 0, kept = 0, padded = 0;
};
nlohmann::json make_pruning_map(const std::vector<SublayerSpec>& parent,
                                const std::vector<int64_t>& dense_units,
                                const nlohmann::json* parent_map,
                                const std::vector<std::vector<int64_t>>& kept_units,
                                const std::vector<std::vector<int64_t>>& kept_groups,
                                const std::vector<int64_t>& padding, const PruningRecord& rec,
                                const MapFlops& flops);

// The "sublayers" array of a map; maps written before it existed (per-layer "layers" only) are
// converted (layer il = self_attn sublayer 2il and ffn sublayer 2il+1).
nlohmann::json map_sublayers(const nlohmann::json& map);

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
