// Model directories in the Hugging Face layout: config.json + model.safetensors + small extra
// files (tokenizer, vocab, pruning.json). Saving is atomic at directory level, so a crash or an
// error mid-save never leaves a half-written model where a good one was. docs/formats.md.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "config/model_config.h"

namespace hp {

struct Checkpoint {
  ModelConfig config;
  TensorMap tensors;          // stored dtype, CPU
  nlohmann::json raw_config;  // config.json as read (e.g. for pruned_heads_from_hf)
};

// Writes `content` to `path` via a temp file + fsync + rename.
void write_file_atomic(const std::string& path, const std::string& content);

// Reads dir/config.json and dir/model.safetensors; errors name the directory or file at fault.
Checkpoint load_checkpoint(const std::string& dir);

// Reads only dir/config.json (raw JSON into *raw if given): for shape-only uses such as
// `bench --shape-only`. Same checks and messages as load_checkpoint.
ModelConfig load_config(const std::string& dir, nlohmann::json* raw = nullptr);

// Writes config.json (config_to_hf(cfg, pruned_heads)), model.safetensors and `extra_files`
// (file name -> content, plain names only) into `dir`. Everything is built in dir.tmp-<pid> and
// swapped in by renames; on any failure the temp dir is removed and an existing dir is untouched.
// Other files already in `dir` (tokenizer, ...) are carried over unless `extra_files` replaces
// them; old weight files (pytorch_model*.bin, model*.safetensors, shards, *.index.json) are not,
// so transformers cannot pick up stale weights.
void save_checkpoint(const std::string& dir, const ModelConfig& cfg, const TensorMap& tensors,
                     const std::map<std::string, std::string>& extra_files = {},
                     const std::vector<std::vector<int>>* pruned_heads = nullptr);

// Contents of every regular file directly in `dir` except config.json and weight files, keyed by
// file name, for passing on to save_checkpoint (tokenizer files, vocab, pruning.json).
std::map<std::string, std::string> read_aux_files(const std::string& dir);

}  // namespace hp
