#include "report/pruning_map.h"

#include <cstdio>
#include <sstream>

#include "core/check.h"

namespace hp {

using nlohmann::json;

nlohmann::json map_sublayers(const json& map) {
  if (map.contains("sublayers")) return map.at("sublayers");
  HP_CHECK(map.contains("layers"), "pruning map: neither \"sublayers\" nor \"layers\" (not a pruning.json)");
  json out = json::array();
  int index = 0;
  const auto& layers = map.at("layers");
  HP_CHECK(layers.is_array(), "pruning map: \"layers\" must be an array");
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    const std::string at = str("layers[", i, "]");
    for (const char* k : {"layer", "heads_total", "heads_kept", "neurons_total", "neurons_kept"})
      HP_CHECK(l.is_object() && l.contains(k), at, ": missing \"", k, "\"");
    const int il = l.at("layer").get<int>();
    const auto heads = l.at("heads_kept").get<std::vector<int64_t>>();
    out.push_back({{"index", index++}, {"kind", "self_attn"}, {"stack", "encoder"}, {"layer", il},
                   {"units_total", l.at("heads_total")}, {"kept", heads},
                   {"groups_kept", l.value("n_head_kv", static_cast<int64_t>(heads.size()))},
                   {"padding", 0}, {"skipped", heads.empty()}});
    const auto neurons = l.at("neurons_kept").get<std::vector<int64_t>>();
    out.push_back({{"index", index++}, {"kind", "ffn"}, {"stack", "encoder"}, {"layer", il},
                   {"units_total", l.at("neurons_total")}, {"kept", neurons}, {"groups_kept", 0},
                   {"padding", l.value("neurons_padding", 0)}, {"skipped", neurons.empty()}});
  }
  return out;
}

nlohmann::json make_pruning_map(const std::vector<SublayerSpec>& parent,
                                const std::vector<int64_t>& dense_units, const json* parent_map,
                                const std::vector<std::vector<int64_t>>& kept_units,
                                const std::vector<std::vector<int64_t>>& kept_groups,
                                const std::vector<int64_t>& padding, const PruningRecord& rec,
                                const MapFlops& flops) {
  HP_CHECK(kept_units.size() == parent.size() && kept_groups.size() == parent.size() &&
               padding.size() == parent.size() && dense_units.size() == parent.size(),
           "pruning map: per-sublayer lists do not match the ", parent.size(), " sublayers");
  json parent_subs;
  if (parent_map) {
    parent_subs = map_sublayers(*parent_map);
    HP_CHECK(parent_subs.size() == parent.size(), "pruning map: the parent's map lists ",
             parent_subs.size(), " sublayers, the model has ", parent.size());
  }
  json subs = json::array();
  int64_t kept_heads = 0, total_heads = 0, kept_neurons = 0, total_neurons = 0, padded = 0;
  for (size_t s = 0; s < parent.size(); ++s) {
    const auto& sp = parent[s];
    // Parent indices -> original indices. Indices past the parent's real units are its
    // alignment padding (zero units): not real.
    std::vector<int64_t> orig;
    if (parent_map) orig = parent_subs[s].at("kept").get<std::vector<int64_t>>();
    else
      for (int64_t u = 0; u < sp.units; ++u) orig.push_back(u);
    std::vector<int64_t> kept;
    for (int64_t u : kept_units[s])
      if (u < static_cast<int64_t>(orig.size())) kept.push_back(orig[u]);
    const int64_t stored = static_cast<int64_t>(kept_units[s].size()) + padding[s];
    const int64_t pad = stored - static_cast<int64_t>(kept.size());
    subs.push_back({{"index", sp.index}, {"kind", to_string(sp.kind)}, {"stack", to_string(sp.stack)},
                    {"layer", sp.layer}, {"units_total", dense_units[s]}, {"kept", kept},
                    {"groups_kept", static_cast<int64_t>(kept_groups[s].size())}, {"padding", pad},
                    {"skipped", kept.empty()}});
    if (is_attention(sp.kind)) kept_heads += kept.size(), total_heads += dense_units[s];
    else kept_neurons += kept.size(), total_neurons += dense_units[s], padded += pad;
  }
  json m = {{"format_version", 2},
            {"headprune_version", HP_VERSION},
            {"git", HP_GIT},
            {"method", rec.method},
            {"budget", {{"keep_flops", rec.keep_flops}, {"seq_len", rec.seq_len}}},
            {"calibration", {{"data", rec.calib_data}, {"tokens", rec.calib_tokens}}},
            {"seed", rec.seed},
            {"kept_heads", kept_heads},
            {"total_heads", total_heads},
            {"kept_neurons", kept_neurons},
            {"padding_neurons", padded},
            {"total_neurons", total_neurons},
            {"kept_flops_ratio", flops.kept / flops.dense},
            {"stored_flops_ratio", flops.padded / flops.dense},
            {"sublayers", subs}};
  // The per-layer view, for models made of one self-attention and one FFN per layer.
  bool pairs = subs.size() % 2 == 0;
  for (size_t s = 0; pairs && s < subs.size(); s += 2)
    pairs = subs[s]["kind"] == "self_attn" && subs[s + 1]["kind"] == "ffn" &&
            subs[s]["layer"] == subs[s + 1]["layer"] && subs[s]["layer"] == int(s / 2);
  if (pairs) {
    json layers = json::array();
    for (size_t s = 0; s < subs.size(); s += 2) {
      const auto &a = subs[s], &f = subs[s + 1];
      layers.push_back({{"layer", a["layer"]},
                        {"heads_total", a["units_total"]},
                        {"heads_kept", a["kept"]},
                        {"n_head_kv", a["groups_kept"]},
                        {"neurons_total", f["units_total"]},
                        {"neurons_kept", f["kept"]},
                        {"neurons_padding", f["padding"]},
                        {"attn_skipped", a["skipped"]},
                        {"ffn_skipped", f["skipped"]}});
    }
    m["layers"] = layers;
  }
  if (parent_map) m["parent"] = {{"method", parent_map->value("method", "")},
                                 {"kept_flops_ratio", parent_map->value("kept_flops_ratio", 1.0)}};
  for (auto it = rec.extra.begin(); it != rec.extra.end(); ++it) m[it.key()] = it.value();
  return m;
}

nlohmann::json pruning_map_after_training(nlohmann::json map, const nlohmann::json& training) {
  HP_CHECK(map.is_object() && (map.contains("sublayers") || map.contains("layers")),
           "pruning map: no \"sublayers\" (not a pruning.json)");
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
  os << "sublayer               units  kept (original index; . = removed)\n";
  for (const auto& sl : map_sublayers(map)) {
    const auto kept = sl.at("kept").get<std::vector<int64_t>>();
    const int64_t total = sl.at("units_total").get<int64_t>();
    const std::string name = str(sl.value("stack", "encoder"), ".", sl.at("layer").get<int>(), ".",
                                 sl.at("kind").get<std::string>());
    std::string detail;
    if (sl.at("kind") == "ffn") {
      if (sl.value("padding", 0) > 0) detail = str("+", sl.value("padding", 0), " pad");
    } else {
      std::string pattern(total, '.');
      for (int64_t h : kept)
        if (h < total) pattern[h] = h < 10 ? char('0' + h) : h < 36 ? char('a' + h - 10) : '#';
      detail = pattern;
      if (!kept.empty() && sl.value("groups_kept", int64_t(kept.size())) != int64_t(kept.size()))
        detail += str("  (", sl.value("groups_kept", 0), " K/V groups)");
    }
    std::snprintf(buf, sizeof buf, "%-22s %5zu/%-5lld %s%s\n", name.c_str(), kept.size(),
                  (long long)total, detail.c_str(), sl.value("skipped", false) ? "  [skipped]" : "");
    os << buf;
  }
  return os.str();
}

}  // namespace hp
