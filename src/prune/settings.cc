#include "prune/settings.h"

#include "core/check.h"

namespace hp {

bool gqa_units_differ(const ModelConfig& cfg) {
  ModelConfig g = cfg, q = cfg;
  g.gqa_unit = "group";
  q.gqa_unit = "query";
  const auto a = sublayers_of(g), b = sublayers_of(q);
  for (size_t s = 0; s < a.size() && s < b.size(); ++s)
    if (a[s].units != b[s].units) return true;
  return false;
}

bool lacks_output_bias(const Model& model) {
  for (const auto& sp : model.sublayers())
    if (sp.present() && sp.out_bias.empty()) return true;
  return false;
}

std::shared_ptr<Model> apply_prune_settings(const std::shared_ptr<Model>& model,
                                            const PruneSettings& settings,
                                            const nlohmann::json* parent_map,
                                            const std::string& where, torch::Device device) {
  const ModelConfig& cur = model->config();
  ModelConfig c = cur;
  const std::string& unit = settings.gqa_unit;
  HP_CHECK(unit.empty() || unit == "group" || unit == "query", "--gqa must be group or query, got '",
           unit, "'");
  const bool differ = gqa_units_differ(cur);
  if (!unit.empty()) {
    HP_CHECK(unit == "group" || differ, "--gqa query: ", where, " has no grouped-query attention "
             "(every K/V head serves one query head), so query heads and K/V groups are the same "
             "units; leave --gqa out");
    c.gqa_unit = unit;
  }
  if (parent_map && differ) {
    // The parent's kept indices number its attention units: groups or query heads.
    const std::string parent_unit = parent_map->value("gqa_unit", std::string("group"));
    HP_CHECK(parent_unit == c.gqa_unit, "--gqa ", c.gqa_unit, ": ", where, " was pruned with --gqa ",
             parent_unit, " and its pruning.json numbers the kept attention units that way; prune it "
             "again with --gqa ", parent_unit);
  }
  if (settings.empty_keeps_bias && *settings.empty_keeps_bias != cur.empty_keeps_bias) {
    for (const auto& sp : model->sublayers())
      HP_CHECK(sp.units > 0, "--empty-sublayer: ", where, " already has an emptied sublayer (",
               sp.name(), "); its definition cannot change after pruning");
    c.empty_keeps_bias = *settings.empty_keeps_bias;
  }
  bool biases_added = false;
  if (settings.output_biases && lacks_output_bias(*model)) {
    const auto& arch = architecture(c.arch);
    biases_added = arch.add_output_biases && arch.add_output_biases(c);
    HP_CHECK(biases_added, settings.output_biases_for, " needs an output-projection bias in every "
             "sublayer, and ", where, " (architecture ", c.arch, ") has none it can add");
  }
  if (c.gqa_unit == cur.gqa_unit && c.empty_keeps_bias == cur.empty_keeps_bias && !biases_added)
    return model;
  // Rebuild with the new description (same weights; added biases start at zero).
  auto m = make_model(c);
  m->to(device, model_dtype(*model));
  TensorMap st = model->state();
  if (biases_added)
    for (const auto& [k, v] : m->state())
      if (!st.count(k)) st[k] = torch::zeros_like(v);
  m->load_state(st, where);
  if (model->is_training()) m->train();
  else m->eval();
  return m;
}

}  // namespace hp
