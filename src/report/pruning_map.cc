#include "report/pruning_map.h"

#include <cstdio>
#include <sstream>

#include "core/check.h"

namespace hp {

using nlohmann::json;

nlohmann::json make_pruning_map(const ModelConfig& parent_cfg, const json* parent_map,
                                const ModelConfig& child_cfg,
                                const std::vector<std::vector<int>>& kept_heads,
                                const std::vector<std::vector<int>>& kept_neurons,
                                const PruningRecord& rec, double dense_flops, double child_flops) {
  json layers = json::array();
  int64_t real_neurons = 0, padded = 0;
  for (int il = 0; il < child_cfg.n_layer; ++il) {
    // Parent indices -> original indices.
    std::vector<int> ph, pn;
    int total_h = parent_cfg.n_head_dense, total_f = parent_cfg.n_ff_dense;
    if (parent_map && parent_map->contains("layers")) {
      const auto& pl = parent_map->at("layers").at(il);
      ph = pl.at("heads_kept").get<std::vector<int>>();
      pn = pl.at("neurons_kept").get<std::vector<int>>();
    } else {
      for (int h = 0; h < parent_cfg.layers[il].n_head; ++h) ph.push_back(h);
      for (int j = 0; j < parent_cfg.layers[il].n_ff; ++j) pn.push_back(j);
    }
    std::vector<int> oh, on;
    for (int h : kept_heads[il]) oh.push_back(ph.at(h));
    // Indices past the parent's real neurons are its alignment padding (zero neurons): not real.
    for (int j : kept_neurons[il])
      if (j < (int)pn.size()) on.push_back(pn[j]);
    const int padding = child_cfg.layers[il].n_ff - (int)on.size();
    real_neurons += on.size();
    padded += padding;
    layers.push_back({{"layer", il},
                      {"heads_total", total_h},
                      {"heads_kept", oh},
                      {"n_head_kv", child_cfg.layers[il].n_head_kv},
                      {"neurons_total", total_f},
                      {"neurons_kept", on},
                      {"neurons_padding", padding},
                      {"attn_skipped", oh.empty()},
                      {"ffn_skipped", on.empty()}});
  }
  json m = {{"format_version", 1},
            {"headprune_version", HP_VERSION},
            {"git", HP_GIT},
            {"method", rec.method},
            {"budget", {{"keep_flops", rec.keep_flops}, {"seq_len", rec.seq_len}}},
            {"calibration", {{"data", rec.calib_data}, {"tokens", rec.calib_tokens}}},
            {"seed", rec.seed},
            {"kept_heads", child_cfg.total_heads()},
            {"total_heads", int64_t(parent_cfg.n_head_dense) * parent_cfg.n_layer},
            {"kept_neurons", real_neurons},
            {"padding_neurons", padded},
            {"total_neurons", int64_t(parent_cfg.n_ff_dense) * parent_cfg.n_layer},
            {"kept_flops_ratio", child_flops / dense_flops},
            {"layers", layers}};
  if (parent_map) m["parent"] = {{"method", parent_map->value("method", "")},
                                 {"kept_flops_ratio", parent_map->value("kept_flops_ratio", 1.0)}};
  for (auto it = rec.extra.begin(); it != rec.extra.end(); ++it) m[it.key()] = it.value();
  return m;
}

nlohmann::json pruning_map_after_training(nlohmann::json map, const nlohmann::json& training) {
  HP_CHECK(map.is_object() && map.contains("layers"), "pruning map: no \"layers\" (not a pruning.json)");
  if (map.contains("eval")) {
    // Only the figures of the model as pruned are worth keeping: a second training would
    // otherwise overwrite them with nothing.
    if (!map.contains("eval_before_training")) map["eval_before_training"] = map["eval"];
    map.erase("eval");
  }
  if (!map.contains("trained_after_pruning") || !map["trained_after_pruning"].is_array())
    map["trained_after_pruning"] = json::array();
  map["trained_after_pruning"].push_back(training);
  return map;
}

std::vector<std::vector<int>> pruned_heads_from_map(const json& map) {
  std::vector<std::vector<int>> out;
  for (const auto& l : map.at("layers")) {
    std::vector<bool> kept(l.at("heads_total").get<int>(), false);
    for (int h : l.at("heads_kept").get<std::vector<int>>()) kept.at(h) = true;
    std::vector<int> pruned;
    for (int h = 0; h < (int)kept.size(); ++h)
      if (!kept[h]) pruned.push_back(h);
    out.push_back(pruned);
  }
  return out;
}

std::string format_pruning_map(const json& map) {
  std::ostringstream os;
  char buf[512];
  // Gate-trained methods have a head budget (params.keep_heads or params.l0), not a FLOPs budget.
  std::string budget;
  const json params = map.value("params", json::object());
  if (params.contains("keep_heads"))
    budget = str("keep-heads ", params["keep_heads"].dump());
  else if (params.contains("l0"))
    budget = str("l0 ", params["l0"].dump());
  else
    budget = str("keep-flops ", map["budget"].value("keep_flops", 0.0));
  std::snprintf(buf, sizeof buf, "method %s, %s (FLOPs at seq-len %.4g), kept FLOPs %.1f%%, seed %llu\n",
                map.value("method", "?").c_str(), budget.c_str(),
                map["budget"].value("seq_len", 0.0), 100 * map.value("kept_flops_ratio", 0.0),
                (unsigned long long)map.value("seed", 0ULL));
  os << buf;
  std::snprintf(buf, sizeof buf, "heads %lld/%lld, neurons %lld/%lld\n",
                (long long)map.value("kept_heads", 0LL), (long long)map.value("total_heads", 0LL),
                (long long)map.value("kept_neurons", 0LL), (long long)map.value("total_neurons", 0LL));
  os << buf;
  os << "layer  heads  kept heads (original index; . = removed)     neurons kept\n";
  for (const auto& l : map.at("layers")) {
    int total = l.at("heads_total").get<int>();
    std::string pattern(total, '.');
    auto kept = l.at("heads_kept").get<std::vector<int>>();
    for (int h : kept) pattern[h] = h < 10 ? char('0' + h) : h < 36 ? char('a' + h - 10) : '#';
    int nk = l.at("neurons_kept").size(), nt = l.at("neurons_total").get<int>();
    int pad = l.value("neurons_padding", 0);
    std::string padding = pad > 0 ? str(" +", pad, " pad") : "";
    std::snprintf(buf, sizeof buf, "%5d  %2zu/%-2d  %-42s %5d/%-5d%s%s%s\n", l.at("layer").get<int>(),
                  kept.size(), total, pattern.c_str(), nk, nt, padding.c_str(),
                  l.value("attn_skipped", false) ? "  [attention skipped]" : "",
                  l.value("ffn_skipped", false) ? "  [FFN skipped]" : "");
    os << buf;
  }
  return os.str();
}

}  // namespace hp
