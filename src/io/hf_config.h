// Hugging Face config.json <-> ModelConfig for the BERT family. The standard fields describe the
// dense model (HF's view); per-layer sizes of a pruned model live in a versioned "headprune"
// block (and, for head pruning alone, in HF's own "pruned_heads"). Fields headprune does not
// interpret travel in ModelConfig::passthrough and are written back unchanged.
// docs/formats.md describes every field.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/model_config.h"

namespace hp {

// Version of the "headprune" block this build writes and the newest it reads.
constexpr int kHeadpruneFormatVersion = 1;

// Parses an HF BERT config. `where` (usually the file path) prefixes every error message.
ModelConfig config_from_hf(const nlohmann::json& j, const std::string& where);

// Writes the HF config plus the "headprune" block. `pruned_heads` (per layer, original indices of
// removed heads) must agree with cfg's head counts; when null, layers with fewer heads than
// n_head_dense get synthetic indices (the last ones), because transformers 4.x sizes attention from
// the count in pruned_heads and needs it to load the weights at all.
nlohmann::json config_to_hf(const ModelConfig& cfg,
                            const std::vector<std::vector<int>>* pruned_heads = nullptr);

// The "pruned_heads" of an HF config as per-layer sorted original head indices (empty when absent),
// so a caller re-saving a loaded checkpoint can keep the real indices.
std::vector<std::vector<int>> pruned_heads_from_hf(const nlohmann::json& j, const ModelConfig& cfg,
                                                   const std::string& where);

}  // namespace hp
