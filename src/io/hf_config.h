// Hugging Face config.json <-> ModelConfig. The generic part lives here: which architecture a
// config belongs to (its model_type, through the registry in model/registry.cc), the versioned
// "headprune" block with the per-layer sizes of a pruned model, and the fields headprune does not
// interpret (ModelConfig::passthrough, written back unchanged). Each architecture's own fields
// are read and written by its mapping file (src/io/hf_<arch>.cc). docs/formats.md describes every
// field.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/model_config.h"

namespace hp {

// Version of the "headprune" block this build writes and the newest it reads.
constexpr int kHeadpruneFormatVersion = 1;

// Parses an HF config. `where` (usually the file path) prefixes every error message.
ModelConfig config_from_hf(const nlohmann::json& j, const std::string& where);

// Writes the HF config plus the "headprune" block. `pruned_heads` (per layer, original indices of
// removed heads; BERT only) must agree with cfg's head counts; when null, layers with fewer heads
// than n_head_dense get synthetic indices (the last ones), because transformers 4.x sizes BERT
// attention from the count in pruned_heads and needs it to load the weights at all.
nlohmann::json config_to_hf(const ModelConfig& cfg,
                            const std::vector<std::vector<int>>* pruned_heads = nullptr);

// Whether plain transformers loads `cfg` as config_to_hf writes it: the architecture's HF mapping
// can express every layer's sizes (LLaMA: the same widths in every layer, no emptied sublayer;
// BERT: per-layer heads through pruned_heads with the dense FFN width; GPT-2 and OPT: all heads,
// one FFN width). Otherwise the sizes live only in the headprune block, which headprune reads.
bool hf_loadable(const ModelConfig& cfg);
// Whether the architecture's writer records removed heads as HF's pruned_heads (BERT), so callers
// pass their original indices to config_to_hf; other writers take none.
bool hf_writes_pruned_heads(const ModelConfig& cfg);

// The "pruned_heads" of an HF config as per-layer sorted original head indices (empty when absent),
// so a caller re-saving a loaded checkpoint can keep the real indices.
std::vector<std::vector<int>> pruned_heads_from_hf(const nlohmann::json& j, const ModelConfig& cfg,
                                                   const std::string& where);

// ---- Helpers for the per-architecture mappings ----
// JSON object keys that must be decimal indices ("0", "12"); HF writes int keys as strings.
int parse_hf_index(const std::string& s, const std::string& where, const char* field);
// Throws naming the field unless `act` is an activation the models implement.
void check_hf_activation(const std::string& act, const std::string& field, const std::string& where);

}  // namespace hp
