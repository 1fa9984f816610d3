#include "io/hf_config.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>

#include "config/task_info.h"
#include "core/check.h"

namespace hp {

namespace {

using json = nlohmann::json;

const char* const kSeqCls = "BertForSequenceClassification";
const char* const kMaskedLm = "BertForMaskedLM";

// Fields config_from_hf interprets; everything else goes to passthrough. num_labels is derived
// from id2label and label2id from the labels, so neither is kept (a stale copy would contradict).
const std::set<std::string> kInterpreted = {
    "architectures",     "model_type",        "vocab_size",
    "hidden_size",       "num_hidden_layers", "num_attention_heads",
    "intermediate_size", "hidden_act",        "max_position_embeddings",
    "type_vocab_size",   "layer_norm_eps",    "pad_token_id",
    "id2label",          "label2id",          "num_labels",
    "problem_type",      "pruned_heads",      "headprune"};

// Missing and null fields take HF BertConfig's defaults (`def`), as transformers does.
int get_int(const json& j, const char* key, const std::string& where, std::optional<int> def) {
  auto it = j.find(key);
  if (it == j.end() || (it->is_null() && def)) {
    HP_CHECK(def, where, ": missing required field ", key);
    return *def;
  }
  HP_CHECK(it->is_number_integer(), where, ": ", key, " must be an integer, got ", it->dump());
  bool fits = it->is_number_unsigned()
                  ? it->get<uint64_t>() <= INT_MAX
                  : it->get<int64_t>() >= INT_MIN && it->get<int64_t>() <= INT_MAX;
  HP_CHECK(fits, where, ": ", key, " = ", it->dump(), " is out of range");
  return static_cast<int>(it->get<int64_t>());
}

double get_num(const json& j, const char* key, const std::string& where, double def) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  HP_CHECK(it->is_number(), where, ": ", key, " must be a number, got ", it->dump());
  return it->get<double>();
}

std::string get_str(const json& j, const char* key, const std::string& where,
                    const std::string& def) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  HP_CHECK(it->is_string(), where, ": ", key, " must be a string, got ", it->dump());
  return it->get<std::string>();
}

// JSON object keys that must be decimal indices ("0", "12"); HF writes int keys as strings.
int parse_index(const std::string& s, const std::string& where, const char* field) {
  bool digits = !s.empty() && s.size() <= 9 &&
                std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  HP_CHECK(digits, where, ": ", field, " keys must be decimal indices, got \"", s, "\"");
  return std::atoi(s.c_str());
}

std::string default_label(size_t i) { return "LABEL_" + std::to_string(i); }

std::vector<std::string> parse_id2label(const json& v, const std::string& where) {
  HP_CHECK(v.is_object(), where, ": id2label must be an object {\"0\": name, ...}, got ", v.dump());
  std::vector<std::string> labels(v.size());
  std::vector<bool> seen(v.size(), false);
  for (const auto& [k, name] : v.items()) {
    int i = parse_index(k, where, "id2label");
    HP_CHECK(i < static_cast<int>(labels.size()) && !seen[i], where, ": id2label keys must be 0..",
             labels.size() - 1, " without gaps, got ", v.dump());
    HP_CHECK(name.is_string(), where, ": id2label[\"", k, "\"] must be a string, got ",
             name.dump());
    labels[i] = name.get<std::string>();
    seen[i] = true;
  }
  return labels;
}

// The shortest decimal that reads back as the same float, so 1e-12f is written as 1e-12 and not
// as 9.999999960041972e-13.
double float_for_json(float f) {
  char buf[32];
  for (int prec = 6; prec <= 9; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, static_cast<double>(f));
    if (static_cast<float>(std::strtod(buf, nullptr)) == f) break;
  }
  return std::strtod(buf, nullptr);
}

std::vector<LayerConfig> parse_layers(const json& v, const ModelConfig& cfg,
                                      const std::string& where) {
  HP_CHECK(v.is_array() && static_cast<int>(v.size()) == cfg.n_layer, where,
           ": headprune.layers must be an array of num_hidden_layers=", cfg.n_layer,
           " entries, got ", v.is_array() ? std::to_string(v.size()) + " entries" : v.dump());
  std::vector<LayerConfig> layers;
  for (int il = 0; il < cfg.n_layer; ++il) {
    const json& l = v[il];
    const std::string at = where + ": headprune.layers[" + std::to_string(il) + "]";
    HP_CHECK(l.is_object(), at, " must be an object, got ", l.dump());
    LayerConfig lc;
    lc.n_head = get_int(l, "n_head", at, std::nullopt);
    lc.n_head_kv = get_int(l, "n_head_kv", at, lc.n_head);
    lc.n_ff = get_int(l, "n_ff", at, std::nullopt);
    HP_CHECK(lc.n_head >= 0 && lc.n_head <= cfg.n_head_dense, at, ": n_head=", lc.n_head,
             " is outside 0..num_attention_heads=", cfg.n_head_dense);
    HP_CHECK(lc.n_head_kv >= 0 && lc.n_head_kv <= lc.n_head, at, ": n_head_kv=", lc.n_head_kv,
             " is outside 0..n_head=", lc.n_head);
    HP_CHECK(lc.n_ff >= 0 && lc.n_ff <= cfg.n_ff_dense, at, ": n_ff=", lc.n_ff,
             " is outside 0..intermediate_size=", cfg.n_ff_dense);
    layers.push_back(lc);
  }
  return layers;
}

}  // namespace

std::vector<std::vector<int>> pruned_heads_from_hf(const json& j, const ModelConfig& cfg,
                                                   const std::string& where) {
  std::vector<std::vector<int>> out(cfg.n_layer);
  auto it = j.find("pruned_heads");
  if (it == j.end() || it->is_null()) return out;
  HP_CHECK(it->is_object(), where, ": pruned_heads must be an object {\"<layer>\": [heads]}, got ",
           it->dump());
  for (const auto& [k, heads] : it->items()) {
    int il = parse_index(k, where, "pruned_heads");
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
  HP_CHECK(j.is_object(), where, ": config must be a JSON object, got ", j.type_name());
  ModelConfig cfg;
  const std::string model_type = get_str(j, "model_type", where, "bert");
  HP_CHECK(model_type == "bert", where, ": model_type \"", model_type,
           "\" is not supported (supported: bert)");
  cfg.arch = "bert";
  cfg.vocab_size = get_int(j, "vocab_size", where, 30522);
  cfg.d_model = get_int(j, "hidden_size", where, 768);
  cfg.n_layer = get_int(j, "num_hidden_layers", where, 12);
  cfg.n_head_dense = get_int(j, "num_attention_heads", where, 12);
  cfg.n_ff_dense = get_int(j, "intermediate_size", where, 3072);
  cfg.act = get_str(j, "hidden_act", where, "gelu");
  {
    static const std::set<std::string> kActs = {"gelu", "gelu_new", "gelu_pytorch_tanh", "relu",
                                                "silu", "swish"};
    HP_CHECK(kActs.count(cfg.act), where, ": hidden_act = \"", cfg.act,
             "\" is not implemented (gelu, gelu_new, gelu_pytorch_tanh, relu, silu)");
  }
  // Settings that change the computation and that the BERT model does not implement are refused,
  // never carried along unread.
  {
    const std::string pet = get_str(j, "position_embedding_type", where, "absolute");
    HP_CHECK(pet == "absolute", where, ": position_embedding_type = \"", pet,
             "\" is not implemented (only \"absolute\")");
    for (const char* flag : {"is_decoder", "add_cross_attention"}) {
      auto it = j.find(flag);
      HP_CHECK(it == j.end() || it->is_null() || (it->is_boolean() && !it->get<bool>()), where, ": ",
               flag, " = ", it == j.end() ? "" : it->dump(), " is not implemented for BERT encoders");
    }
  }
  cfg.max_pos = get_int(j, "max_position_embeddings", where, 512);
  cfg.type_vocab_size = get_int(j, "type_vocab_size", where, 2);
  cfg.ln_eps = static_cast<float>(get_num(j, "layer_norm_eps", where, 1e-12));
  cfg.pad_id = get_int(j, "pad_token_id", where, 0);
  HP_CHECK(cfg.n_layer > 0, where, ": num_hidden_layers must be > 0, got ", cfg.n_layer);
  HP_CHECK(cfg.n_head_dense > 0, where, ": num_attention_heads must be > 0, got ",
           cfg.n_head_dense);
  HP_CHECK(cfg.d_model % cfg.n_head_dense == 0, where, ": hidden_size ", cfg.d_model,
           " is not divisible by num_attention_heads ", cfg.n_head_dense);
  cfg.d_head = cfg.d_model / cfg.n_head_dense;

  std::vector<std::string> labels;
  const bool has_id2label = j.contains("id2label") && !j["id2label"].is_null();
  const bool labels_given =
      has_id2label || (j.contains("num_labels") && !j["num_labels"].is_null());
  if (has_id2label)
    labels = parse_id2label(j["id2label"], where);
  else
    for (int i = 0, n = get_int(j, "num_labels", where, 2); i < n; ++i)
      labels.push_back(default_label(i));

  // Task: the headprune block wins; otherwise architectures (+ problem_type / label count).
  const json* hb = nullptr;
  if (j.contains("headprune")) {
    hb = &j["headprune"];
    HP_CHECK(hb->is_object(), where, ": headprune must be an object, got ", hb->dump());
    int version = get_int(*hb, "format_version", where + ": headprune", std::nullopt);
    HP_CHECK(version >= 1, where, ": headprune.format_version must be >= 1, got ", version);
    HP_CHECK(version <= kHeadpruneFormatVersion, where, ": headprune.format_version ", version,
             " is newer than this headprune reads (", kHeadpruneFormatVersion,
             "); upgrade headprune to load this model");
  }
  const std::string problem_type = get_str(j, "problem_type", where, "");
  HP_CHECK(problem_type.empty() || problem_type == "single_label_classification" ||
               problem_type == "regression",
           where, ": problem_type \"", problem_type,
           "\" is not supported (single_label_classification, regression)");
  cfg.task = hb ? get_str(*hb, "task", where + ": headprune", "") : "";
  if (cfg.task.empty()) {
    std::vector<std::string> archs;
    if (j.contains("architectures") && !j["architectures"].is_null()) {
      const json& a = j["architectures"];
      bool ok = a.is_array() &&
                std::all_of(a.begin(), a.end(), [](const json& s) { return s.is_string(); });
      HP_CHECK(ok, where, ": architectures must be an array of strings, got ", a.dump());
      archs = a.get<std::vector<std::string>>();
    }
    auto has = [&](const char* name) {
      return std::find(archs.begin(), archs.end(), name) != archs.end();
    };
    if (has(kSeqCls))
      cfg.task = problem_type == "regression" || labels.size() == 1 ? "regress" : "classify";
    else if (has(kMaskedLm))
      cfg.task = "mlm";
    else
      fail(str(where, ": architectures ", json(archs).dump(), " is not supported (", kSeqCls, ", ",
               kMaskedLm, ")"));
  }
  if (task_info(cfg.task).regression) {
    // headprune regresses a single value, as the model's one-output classifier expects.
    HP_CHECK(labels.size() <= 1 || !labels_given, where,
             ": regression needs exactly 1 label (num_labels=1), the config has ", labels.size());
    labels.resize(1, default_label(0));
  }
  cfg.n_labels = static_cast<int>(labels.size());
  bool default_names = true;
  for (size_t i = 0; i < labels.size(); ++i) default_names &= labels[i] == default_label(i);
  if (!default_names) cfg.labels = labels;

  const auto pruned = pruned_heads_from_hf(j, cfg, where);
  if (hb && hb->contains("empty_keeps_bias")) {
    const json& e = (*hb)["empty_keeps_bias"];
    HP_CHECK(e.is_boolean(), where, ": headprune.empty_keeps_bias must be true or false, got ", e.dump());
    cfg.empty_keeps_bias = e.get<bool>();
  }
  if (hb && hb->contains("layers")) {
    cfg.layers = parse_layers((*hb)["layers"], cfg, where);
    if (j.contains("pruned_heads") && !j["pruned_heads"].is_null())
      for (int il = 0; il < cfg.n_layer; ++il) {
        int from_hf = cfg.n_head_dense - static_cast<int>(pruned[il].size());
        HP_CHECK(from_hf == cfg.layers[il].n_head, where, ": layer ", il, ": pruned_heads leaves ",
                 from_hf, " heads but headprune.layers says n_head=", cfg.layers[il].n_head);
      }
  } else {
    for (int il = 0; il < cfg.n_layer; ++il) {
      int n = cfg.n_head_dense - static_cast<int>(pruned[il].size());
      cfg.layers.push_back({n, n, cfg.n_ff_dense});
    }
  }

  for (const auto& [k, v] : j.items())
    if (!kInterpreted.count(k)) cfg.passthrough[k] = v;
  try {
    cfg.validate();
  } catch (const Error& e) {
    fail(str(where, ": ", e.what()));
  }
  return cfg;
}

json config_to_hf(const ModelConfig& cfg, const std::vector<std::vector<int>>* pruned_heads) {
  HP_CHECK(cfg.arch == "bert", "config_to_hf: arch '", cfg.arch,
           "' has no Hugging Face config writer (supported: bert)");
  cfg.validate();
  const TaskInfo& task = task_info(cfg.task);
  HP_CHECK(!task.token_level || task.masked_inputs, "config_to_hf: task '", cfg.task,
           "' has no BERT head (classify, regress, mlm)");
  HP_CHECK(cfg.d_head * cfg.n_head_dense == cfg.d_model, "config_to_hf: d_head ", cfg.d_head,
           " * num_attention_heads ", cfg.n_head_dense, " != hidden_size ", cfg.d_model,
           " (transformers derives the head size from these)");

  json j = cfg.passthrough.is_object() ? cfg.passthrough : json::object();
  // The BERT model reads these from passthrough; a config built in code has none.
  if (!j.contains("hidden_dropout_prob")) j["hidden_dropout_prob"] = 0.1;
  if (!j.contains("attention_probs_dropout_prob")) j["attention_probs_dropout_prob"] = 0.1;
  for (const auto& k : kInterpreted) j.erase(k);  // interpreted values come from cfg only

  j["architectures"] = json::array({task.token_level ? kMaskedLm : kSeqCls});
  j["model_type"] = "bert";
  j["vocab_size"] = cfg.vocab_size;
  j["hidden_size"] = cfg.d_model;
  j["num_hidden_layers"] = cfg.n_layer;
  j["num_attention_heads"] = cfg.n_head_dense;
  j["intermediate_size"] = cfg.n_ff_dense;
  j["hidden_act"] = cfg.act;
  j["max_position_embeddings"] = cfg.max_pos;
  j["type_vocab_size"] = cfg.type_vocab_size;
  j["layer_norm_eps"] = float_for_json(cfg.ln_eps);
  j["pad_token_id"] = cfg.pad_id;
  if (!task.token_level)
    j["problem_type"] = task.regression ? "regression" : "single_label_classification";

  const size_t n_labels = task.regression ? 1 : static_cast<size_t>(cfg.n_labels);
  HP_CHECK(cfg.labels.empty() || cfg.labels.size() == n_labels, "config_to_hf: ", cfg.labels.size(),
           " label names for ", n_labels, " labels");
  json id2label = json::object(), label2id = json::object();
  for (size_t i = 0; i < n_labels; ++i) {
    const std::string name = cfg.labels.empty() ? default_label(i) : cfg.labels[i];
    id2label[std::to_string(i)] = name;
    label2id[name] = i;
  }
  HP_CHECK(label2id.size() == n_labels, "config_to_hf: duplicate label names in ", id2label.dump());
  j["id2label"] = id2label;
  j["label2id"] = label2id;

  json pruned = json::object();
  if (pruned_heads)
    HP_CHECK(static_cast<int>(pruned_heads->size()) == cfg.n_layer,
             "config_to_hf: pruned_heads has ", pruned_heads->size(), " layers, config has ",
             cfg.n_layer);
  for (int il = 0; il < cfg.n_layer; ++il) {
    std::vector<int> heads;
    if (pruned_heads) {
      std::set<int> uniq((*pruned_heads)[il].begin(), (*pruned_heads)[il].end());
      for (int h : uniq)
        HP_CHECK(h >= 0 && h < cfg.n_head_dense, "config_to_hf: pruned head ", h, " of layer ", il,
                 " is outside 0..", cfg.n_head_dense - 1);
      HP_CHECK(uniq.size() == (*pruned_heads)[il].size(), "config_to_hf: layer ", il,
               " lists a pruned head twice");
      heads.assign(uniq.begin(), uniq.end());
      HP_CHECK(cfg.n_head_dense - static_cast<int>(heads.size()) == cfg.layers[il].n_head,
               "config_to_hf: layer ", il, " has n_head=", cfg.layers[il].n_head, " but prunes ",
               heads.size(), " of ", cfg.n_head_dense, " heads");
    } else {
      for (int h = cfg.layers[il].n_head; h < cfg.n_head_dense; ++h) heads.push_back(h);
    }
    if (!heads.empty()) pruned[std::to_string(il)] = heads;
  }
  if (!pruned.empty()) j["pruned_heads"] = pruned;

  json layers = json::array();
  for (const auto& l : cfg.layers)
    layers.push_back({{"n_head", l.n_head}, {"n_head_kv", l.n_head_kv}, {"n_ff", l.n_ff}});
  j["headprune"] = {
      {"format_version", kHeadpruneFormatVersion}, {"task", cfg.task}, {"layers", layers}};
  if (cfg.empty_keeps_bias) j["headprune"]["empty_keeps_bias"] = true;
  return j;
}

}  // namespace hp
