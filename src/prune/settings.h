// Prune-job settings that change how the model describes itself rather than its weights: the unit
// of grouped-query attention pruning (--gqa, ModelConfig::gqa_unit) and what an emptied sublayer
// computes (--empty-sublayer, ModelConfig::empty_keeps_bias). Either rebuilds the model with the
// same weights before any method sees it, so every method, the budget and surgery work on the
// chosen units without knowing about the option.
#pragma once
#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>

#include "model/model.h"

namespace hp {

struct PruneSettings {
  std::string gqa_unit;                  // "group" | "query"; "" = the model's own
  std::optional<bool> empty_keeps_bias;  // unset = the model's own
  // Every sublayer needs an output-projection bias (the method folds a correction into it): those
  // without one get a zero bias through Architecture::add_output_biases. `output_biases_for` names
  // who needs it in the error when the architecture cannot.
  bool output_biases = false;
  std::string output_biases_for;
};

// Whether some present sublayer of the model has no output-projection bias.
bool lacks_output_bias(const Model& model);

// True when the two GQA units describe `cfg` differently (some attention sublayer has more query
// heads than K/V groups), asked of the architecture's own sublayer list.
bool gqa_units_differ(const ModelConfig& cfg);

// `model` itself when the settings ask for nothing new, else a copy with the same weights (on
// `device`, in the model's dtype) built from the changed config. Throws hp::Error naming the option:
// a --gqa value other than group or query; --gqa query for a model without grouped-query attention
// (query heads and groups are then the same units); a --gqa unit other than the one `parent_map`
// (the model's pruning.json, or null) was made with, since its kept indices number those units;
// --empty-sublayer for a model that already has an emptied sublayer; output biases asked of an
// architecture that cannot add them. `where` names the model.
std::shared_ptr<Model> apply_prune_settings(const std::shared_ptr<Model>& model,
                                            const PruneSettings& settings,
                                            const nlohmann::json* parent_map,
                                            const std::string& where, torch::Device device);

}  // namespace hp
