#include "io/hf_config.h"

#include <algorithm>
#include <set>

#include "config/hf_reader.h"
#include "config/task_info.h"
#include "core/check.h"
#include "model/model.h"

namespace hp {

using json = nlohmann::json;

int parse_hf_index(const std::string& s, const std::string& where, const char* field) {
  bool digits = !s.empty() && s.size() <= 9 &&
                std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  HP_CHECK(digits, where, ": ", field, " keys must be decimal indices, got \"", s, "\"");
  return std::atoi(s.c_str());
}

void check_hf_activation(const std::string& act, const std::string& field, const std::string& where) {
  static const std::set<std::string> kActs = {"gelu", "gelu_new", "gelu_pytorch_tanh", "relu",
                                              "silu", "swish"};
  HP_CHECK(kActs.count(act), where, ": ", field, " = \"", act,
           "\" is not implemented (gelu, gelu_new, gelu_pytorch_tanh, relu, silu)");
}

std::vector<std::vector<int>> pruned_heads_from_hf(const json& j, const ModelConfig& cfg,
                                                   const std::string& where) {
  std::vector<std::vector<int>> out(cfg.n_layer);
  auto it = j.find("pruned_heads");
  if (it == j.end() || it->is_null()) return out;
  HP_CHECK(it->is_object(), where, ": pruned_heads must be an object {\"<layer>\": [heads]}, got ",
           it->dump());
  for (const auto& [k, heads] : it->items()) {
    int il = parse_hf_index(k, where, "pruned_heads");
    HP_CHECK(il < cfg.n_layer, where, ": pruned_heads names layer ", il,
             " but num_hidden_layers=", cfg.n_layer);
    HP_CHECK(heads.is_array(), where, ": pruned_heads[\"", k, "\"] must be an array, got ",
             heads.dump());
    std::set<int> uniq;  // transformers takes the union, so repeats count once
    for (const auto& h : heads) {
      bool ok =
          h.is_number_integer() && h.get<int64_t>() >= 0 && h.get<int64_t>() < cfg.n_head_dense;
      HP_CHECK(ok, where, ": pruned_heads[\"", k, "\"] = ", heads.dump(),
               " must hold head indices in 0..", cfg.n_head_dense - 1);
      uniq.insert(h.get<int>());
    }
    out[il].assign(uniq.begin(), uniq.end());
  }
  return out;
}

ModelConfig config_from_hf(const json& j, const std::string& where) {
  HfReader r(j, where);
  // Configs written before model_type was required are BERT's.
  const std::string model_type = r.str("model_type", "bert");
  const Architecture* arch = nullptr;
  std::string known;
  for (const auto& a : architectures())
    for (const auto& t : a.hf_model_types) {
      if (t == model_type) arch = &a;
      known += (known.empty() ? "" : ", ") + t;
    }
  HP_CHECK(arch && arch->from_hf, where, ": model_type \"", model_type,
           "\" is not supported (supported: ", known, ")");
  const HeadpruneBlock hb = read_headprune_block(r, kHeadpruneFormatVersion);
  ModelConfig cfg;
  cfg.arch = arch->name;
  cfg.empty_keeps_bias = hb.empty_keeps_bias;
  arch->from_hf(r, hb, cfg);
  cfg.passthrough = r.unread();
  try {
    cfg.validate();
  } catch (const Error& e) {
    fail(str(where, ": ", e.what()));
  }
  return cfg;
}

bool hf_loadable(const ModelConfig& cfg) {
  const Architecture& arch = architecture(cfg.arch);
  return arch.to_hf && arch.hf_loadable && arch.hf_loadable(cfg);
}

bool hf_writes_pruned_heads(const ModelConfig& cfg) { return architecture(cfg.arch).hf_pruned_heads; }

json config_to_hf(const ModelConfig& cfg, const std::vector<std::vector<int>>* pruned_heads) {
  const Architecture& arch = architecture(cfg.arch);
  HP_CHECK(arch.to_hf, "config_to_hf: arch '", cfg.arch, "' has no Hugging Face config writer");
  cfg.validate();
  json j = cfg.passthrough.is_object() ? cfg.passthrough : json::object();
  j.erase("headprune");
  arch.to_hf(cfg, pruned_heads, j);
  json layers = json::array();
  for (const auto& l : cfg.layers)
    layers.push_back({{"n_head", l.n_head}, {"n_head_kv", l.n_head_kv}, {"n_ff", l.n_ff}});
  j["headprune"] = {
      {"format_version", kHeadpruneFormatVersion}, {"task", cfg.task}, {"layers", layers}};
  if (cfg.empty_keeps_bias) j["headprune"]["empty_keeps_bias"] = true;
  return j;
}

}  // namespace hp
