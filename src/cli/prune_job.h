// One pruning job end to end, shared by `headprune prune` and `headprune demo`: load the model and
// calibration data, run the method, do surgery, write the smaller model with its pruning map
// (and optional evaluation), and return the summary that `prune --json` prints.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace hp {

struct PruneJob {
  std::string method, model_dir, out_dir;
  std::string data;                    // calibration / training data ("" for data-free methods)
  std::string eval_path;               // evaluate the result on this file ("" = no evaluation)
  double keep_flops = 0.5;
  std::optional<double> seq_len;       // default: calibration mean length, else 128
  int64_t calib_tokens = 100000;
  int max_len = 0;                     // 0 = the length the model was trained with, else 128
  uint64_t seed = 0;
  nlohmann::json params = nlohmann::json::object();  // method options (--param and gate flags)
  int ffn_align = 8;
  // What an emptied sublayer computes: true = LayerNorm(x + b_out), false = LayerNorm(x);
  // unset = the model's own setting (ModelConfig::empty_keeps_bias).
  std::optional<bool> empty_keeps_bias;
  // --uniform: the same number of units in every sublayer of a family (PruneContext::uniform).
  bool uniform = false;
  // --gqa: the unit of grouped-query attention pruning, "group" or "query" ("" = the model's own,
  // ModelConfig::gqa_unit; prune/settings.h).
  std::string gqa_unit;
  torch::Dtype save_dtype = torch::kFloat32;
  std::string device = "cpu";
  bool progress = true;
  nlohmann::json args = nlohmann::json::object();    // effective CLI options, kept as prune_args.json
};

struct PruneJobResult {
  nlohmann::json summary;  // what `prune --json` prints
  nlohmann::json map;      // the pruning map written as pruning.json
};

// Runs the job; throws hp::Error with a clear message on bad input. The output directory is
// written atomically (nothing half-written on failure).
PruneJobResult run_prune_job(const PruneJob& job);

}  // namespace hp
