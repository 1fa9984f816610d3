// Hugging Face mapping of the BERT family (BertForSequenceClassification, BertForMaskedLM):
// config.json fields <-> ModelConfig. Head-pruned layers are also written as HF's own
// "pruned_heads", so transformers loads a pruned BERT as it is.
#include <algorithm>
#include <set>

#include "config/hf_reader.h"
#include "config/task_info.h"
#include "core/check.h"
#include "io/hf_config.h"

namespace hp {

namespace {

using json = nlohmann::json;

const char* const kSeqCls = "BertForSequenceClassification";
const char* const kMaskedLm = "BertForMaskedLM";

std::string default_label(size_t i) { return "LABEL_" + std::to_string(i); }

std::vector<std::string> parse_id2label(const json& v, const std::string& where) {
  HP_CHECK(v.is_object(), where, ": id2label must be an object {\"0\": name, ...}, got ", v.dump());
  std::vector<std::string> labels(v.size());
  std::vector<bool> seen(v.size(), false);
  for (const auto& [k, name] : v.items()) {
    int i = parse_hf_index(k, where, "id2label");
    HP_CHECK(i < static_cast<int>(labels.size()) && !seen[i], where, ": id2label keys must be 0..",
             labels.size() - 1, " without gaps, got ", v.dump());
    HP_CHECK(name.is_string(), where, ": id2label[\"", k, "\"] must be a string, got ",
             name.dump());
    labels[i] = name.get<std::string>();
    seen[i] = true;
  }
  return labels;
}

}  // namespace

void bert_from_hf(HfReader& r, const HeadpruneBlock& hb, ModelConfig& cfg) {
  const std::string& where = r.where();
  cfg.vocab_size = r.integer("vocab_size", 30522);
  cfg.d_model = r.integer("hidden_size", 768);
  cfg.n_layer = r.integer("num_hidden_layers", 12);
  cfg.n_head_dense = r.integer("num_attention_heads", 12);
  cfg.n_ff_dense = r.integer("intermediate_size", 3072);
  cfg.act = r.str("hidden_act", "gelu");
  check_hf_activation(cfg.act, "hidden_act", where);
  // Settings that change the computation and that the BERT model does not implement are refused.
  r.refuse_unless_default("position_embedding_type", "absolute", "only \"absolute\"");
  r.refuse_unless_default("is_decoder", false, "BERT encoders only");
  r.refuse_unless_default("add_cross_attention", false, "BERT encoders only");
  cfg.max_pos = r.integer("max_position_embeddings", 512);
  cfg.type_vocab_size = r.integer("type_vocab_size", 2);
  cfg.ln_eps = static_cast<float>(r.num("layer_norm_eps", 1e-12));
  cfg.pad_id = r.integer("pad_token_id", 0);
  HP_CHECK(cfg.n_layer > 0, where, ": num_hidden_layers must be > 0, got ", cfg.n_layer);
  HP_CHECK(cfg.n_head_dense > 0, where, ": num_attention_heads must be > 0, got ",
           cfg.n_head_dense);
  HP_CHECK(cfg.d_model % cfg.n_head_dense == 0, where, ": hidden_size ", cfg.d_model,
           " is not divisible by num_attention_heads ", cfg.n_head_dense);
  cfg.d_head = cfg.d_model / cfg.n_head_dense;
  cfg.n_kv_dense = cfg.n_head_dense;

  // num_labels is derived from id2label and label2id from the labels, so neither is kept (a
  // stale copy would contradict).
  std::vector<std::string> labels;
  const bool has_id2label = r.has("id2label");
  const bool labels_given = has_id2label || r.has("num_labels");
  if (has_id2label)
    labels = parse_id2label(*r.raw("id2label"), where);
  else
    for (int i = 0, n = r.integer("num_labels", 2); i < n; ++i) labels.push_back(default_label(i));
  r.consume({"label2id", "num_labels"});

  const std::string problem_type = r.str("problem_type", "");
  HP_CHECK(problem_type.empty() || problem_type == "single_label_classification" ||
               problem_type == "regression",
           where, ": problem_type \"", problem_type,
           "\" is not supported (single_label_classification, regression)");
  const auto archs = r.architectures();
  cfg.task = hb.task;
  if (cfg.task.empty()) {
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

  const auto pruned = pruned_heads_from_hf(r.doc(), cfg, where);
  r.consume({"pruned_heads"});
  if (hb.layers) {
    cfg.layers = parse_headprune_layers(*hb.layers, cfg, where);
    if (r.has("pruned_heads"))
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
}

// transformers sizes BERT's attention per layer from pruned_heads, its FFN from intermediate_size
// alone: loadable with any head counts > 0 and the dense FFN width in every layer.
bool bert_hf_loadable(const ModelConfig& cfg) {
  for (const auto& l : cfg.layers)
    if (l.n_head == 0 || l.n_ff != cfg.n_ff_dense) return false;
  return true;
}

void bert_to_hf(const ModelConfig& cfg, const std::vector<std::vector<int>>* pruned_heads, json& j) {
  const TaskInfo& task = task_info(cfg.task);
  HP_CHECK(!task.token_level || task.masked_inputs, "config_to_hf: task '", cfg.task,
           "' has no BERT head (classify, regress, mlm)");
  HP_CHECK(cfg.d_head * cfg.n_head_dense == cfg.d_model, "config_to_hf: d_head ", cfg.d_head,
           " * num_attention_heads ", cfg.n_head_dense, " != hidden_size ", cfg.d_model,
           " (transformers derives the head size from these)");
  // The BERT model reads these from passthrough; a config built in code has none.
  if (!j.contains("hidden_dropout_prob")) j["hidden_dropout_prob"] = 0.1;
  if (!j.contains("attention_probs_dropout_prob")) j["attention_probs_dropout_prob"] = 0.1;
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
}

}  // namespace hp
