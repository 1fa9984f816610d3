// A model directory as users see it: config.json + model.safetensors + tokenizer files (+ the
// pruning map). Loads into a ready model on a device, and saves one back atomically.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "io/tokenizer.h"
#include "model/model.h"

namespace hp {

struct LoadedModel {
  std::shared_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;               // null if the dir has no tokenizer files
  std::map<std::string, std::string> aux_files;       // every file besides config + weights
  std::string dir;
};

LoadedModel load_model_dir(const std::string& dir, torch::Device device = torch::kCPU,
                           bool need_tokenizer = true);
// The model in `dir` on `device` in `dtype`, in eval mode, for latency measurements (no tokenizer
// needed). shape_only: reads config.json alone and initialises the weights randomly (seed 0):
// latency depends on the shapes only.
std::shared_ptr<Model> load_model_for_bench(const std::string& dir, torch::Device device, torch::Dtype dtype,
                                            bool shape_only = false);
// Writes config + weights (CPU fp32 copies) + aux files; atomic at directory level.
void save_model_dir(const std::string& dir, const Model& model,
                    const std::map<std::string, std::string>& aux_files);

}  // namespace hp
