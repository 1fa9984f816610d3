// Reading a Hugging Face config.json field by field. Every field a mapping reads is recorded, so
// what is left over (fields headprune does not interpret) can travel unchanged in
// ModelConfig::passthrough, and every error names the file and the field. Missing and null
// fields take the default the caller passes (HF's own default for that field), as transformers
// does; a required field has no default.
#pragma once
#include <nlohmann/json.hpp>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/model_config.h"

namespace hp {

class HfReader {
 public:
  HfReader(const nlohmann::json& j, std::string where);
  const std::string& where() const { return where_; }
  const nlohmann::json& doc() const { return j_; }

  bool has(const std::string& key) const;  // present and not null
  int integer(const std::string& key, std::optional<int> def);
  double num(const std::string& key, double def);
  std::string str(const std::string& key, const std::string& def);
  bool flag(const std::string& key, bool def);
  // The raw value (nullptr when absent or null), recorded as read.
  const nlohmann::json* raw(const std::string& key);
  // The "architectures" list (empty when absent).
  std::vector<std::string> architectures();
  // Records keys as read without reading them (fields derived elsewhere, e.g. label2id).
  void consume(std::initializer_list<const char*> keys);
  // A setting that changes the computation must have its default value (or be absent): anything
  // else is refused naming the field. A default value stays unread, so it is written back as found.
  void refuse_unless_default(const std::string& key, const nlohmann::json& def, const std::string& why);
  // Fields nobody read.
  nlohmann::json unread() const;

 private:
  const nlohmann::json& j_;
  std::string where_;
  std::set<std::string> read_;
};

// The versioned "headprune" block of a config.json written by headprune (docs/formats.md).
struct HeadpruneBlock {
  bool present = false;
  std::string task;                         // "" = derive from HF's architectures
  const nlohmann::json* layers = nullptr;   // per-layer sizes of a pruned model
  bool empty_keeps_bias = false;
};
// Parses (and records as read) the block; throws for a newer format than this build reads.
HeadpruneBlock read_headprune_block(HfReader& r, int newest_version);

// headprune.layers as per-layer sizes, each checked against the dense sizes of `cfg`.
std::vector<LayerConfig> parse_headprune_layers(const nlohmann::json& v, const ModelConfig& cfg,
                                                const std::string& where);

// The shortest decimal that reads back as the same float (1e-12f is written as 1e-12).
double float_for_json(float f);

}  // namespace hp
