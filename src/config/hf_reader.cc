#include "config/hf_reader.h"

#include <climits>
#include <cstdio>
#include <cstdlib>

#include "core/check.h"

namespace hp {

using json = nlohmann::json;

HfReader::HfReader(const json& j, std::string where) : j_(j), where_(std::move(where)) {
  HP_CHECK(j_.is_object(), where_, ": config must be a JSON object, got ", j_.type_name());
}

bool HfReader::has(const std::string& key) const {
  auto it = j_.find(key);
  return it != j_.end() && !it->is_null();
}

const json* HfReader::raw(const std::string& key) {
  read_.insert(key);
  auto it = j_.find(key);
  return it == j_.end() || it->is_null() ? nullptr : &*it;
}

int HfReader::integer(const std::string& key, std::optional<int> def) {
  const json* v = raw(key);
  if (!v) {
    HP_CHECK(def, where_, ": missing required field ", key);
    return *def;
  }
  HP_CHECK(v->is_number_integer(), where_, ": ", key, " must be an integer, got ", v->dump());
  bool fits = v->is_number_unsigned()
                  ? v->get<uint64_t>() <= INT_MAX
                  : v->get<int64_t>() >= INT_MIN && v->get<int64_t>() <= INT_MAX;
  HP_CHECK(fits, where_, ": ", key, " = ", v->dump(), " is out of range");
  return static_cast<int>(v->get<int64_t>());
}

double HfReader::num(const std::string& key, double def) {
  const json* v = raw(key);
  if (!v) return def;
  HP_CHECK(v->is_number(), where_, ": ", key, " must be a number, got ", v->dump());
  return v->get<double>();
}

std::string HfReader::str(const std::string& key, const std::string& def) {
  const json* v = raw(key);
  if (!v) return def;
  HP_CHECK(v->is_string(), where_, ": ", key, " must be a string, got ", v->dump());
  return v->get<std::string>();
}

bool HfReader::flag(const std::string& key, bool def) {
  const json* v = raw(key);
  if (!v) return def;
  HP_CHECK(v->is_boolean(), where_, ": ", key, " must be true or false, got ", v->dump());
  return v->get<bool>();
}

std::vector<std::string> HfReader::architectures() {
  const json* a = raw("architectures");
  if (!a) return {};
  bool ok = a->is_array();
  if (ok)
    for (const auto& s : *a) ok &= s.is_string();
  HP_CHECK(ok, where_, ": architectures must be an array of strings, got ", a->dump());
  return a->get<std::vector<std::string>>();
}

void HfReader::consume(std::initializer_list<const char*> keys) {
  for (const char* k : keys) read_.insert(k);
}

void HfReader::refuse_unless_default(const std::string& key, const json& def, const std::string& why) {
  // Checked, not recorded as read: a default-valued field travels on in passthrough unchanged.
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return;
  const json* v = &*it;
  bool same = *v == def || (v->is_number() && def.is_number() && v->get<double>() == def.get<double>());
  HP_CHECK(same, where_, ": ", key, " = ", v->dump(), " is not implemented (", why, ")");
}

json HfReader::unread() const {
  json out = json::object();
  for (const auto& [k, v] : j_.items())
    if (!read_.count(k)) out[k] = v;
  return out;
}

HeadpruneBlock read_headprune_block(HfReader& r, int newest_version) {
  HeadpruneBlock hb;
  const json* b = r.raw("headprune");
  if (!b) return hb;
  const std::string at = r.where() + ": headprune";
  HP_CHECK(b->is_object(), at, " must be an object, got ", b->dump());
  HfReader br(*b, at);
  int version = br.integer("format_version", std::nullopt);
  HP_CHECK(version >= 1, at, ".format_version must be >= 1, got ", version);
  HP_CHECK(version <= newest_version, at, ".format_version ", version,
           " is newer than this headprune reads (", newest_version,
           "); upgrade headprune to load this model");
  hb.present = true;
  hb.task = br.str("task", "");
  hb.layers = br.raw("layers");
  hb.empty_keeps_bias = br.flag("empty_keeps_bias", false);
  return hb;
}

std::vector<LayerConfig> parse_headprune_layers(const json& v, const ModelConfig& cfg,
                                                const std::string& where) {
  HP_CHECK(v.is_array() && static_cast<int>(v.size()) == cfg.n_layer, where,
           ": headprune.layers must be an array of num_hidden_layers=", cfg.n_layer,
           " entries, got ", v.is_array() ? std::to_string(v.size()) + " entries" : v.dump());
  std::vector<LayerConfig> layers;
  for (int il = 0; il < cfg.n_layer; ++il) {
    const json& l = v[il];
    const std::string at = where + ": headprune.layers[" + std::to_string(il) + "]";
    HP_CHECK(l.is_object(), at, " must be an object, got ", l.dump());
    HfReader lr(l, at);
    LayerConfig lc;
    lc.n_head = lr.integer("n_head", std::nullopt);
    lc.n_head_kv = lr.integer("n_head_kv", lc.n_head * cfg.kv_dense() / std::max(1, cfg.n_head_dense));
    lc.n_ff = lr.integer("n_ff", std::nullopt);
    HP_CHECK(lc.n_head >= 0 && lc.n_head <= cfg.n_head_dense, at, ": n_head=", lc.n_head,
             " is outside 0..num_attention_heads=", cfg.n_head_dense);
    HP_CHECK(lc.n_head_kv >= 0 && lc.n_head_kv <= std::min(lc.n_head, cfg.kv_dense()), at,
             ": n_head_kv=", lc.n_head_kv, " is outside 0..min(n_head=", lc.n_head,
             ", num_key_value_heads=", cfg.kv_dense(), ")");
    HP_CHECK(lc.n_ff >= 0 && lc.n_ff <= cfg.n_ff_dense, at, ": n_ff=", lc.n_ff,
             " is outside 0..intermediate_size=", cfg.n_ff_dense);
    layers.push_back(lc);
  }
  return layers;
}

double float_for_json(float f) {
  char buf[32];
  for (int prec = 6; prec <= 9; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, static_cast<double>(f));
    if (static_cast<float>(std::strtod(buf, nullptr)) == f) break;
  }
  return std::strtod(buf, nullptr);
}

}  // namespace hp
