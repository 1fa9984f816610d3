#include "prune/params.h"

#include <cmath>
#include <sstream>

#include "core/check.h"

namespace hp {

namespace {
std::string shortest(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}
}  // namespace

Params::Params(nlohmann::json given, std::string method)
    : j_(given.is_null() ? nlohmann::json::object() : std::move(given)), method_(std::move(method)) {
  HP_CHECK(j_.is_object(), method_, ": parameters must be key=value pairs, got ", j_.dump());
}

bool Params::has(const std::string& key, const std::string& def) {
  defaults_.emplace(key, def);
  return j_.contains(key) && !j_[key].is_null();
}

double Params::num(const std::string& key, double def) {
  if (!has(key, shortest(def))) return def;
  const auto& v = j_[key];
  if (v.is_number()) return v.get<double>();
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  if (v.is_string()) {  // "--param k=v" arrives as a string when v is not a plain number
    const std::string s = v.get<std::string>();
    try {
      size_t used = 0;
      double d = std::stod(s, &used);
      if (used == s.size()) return d;
    } catch (const std::exception&) {
    }
  }
  fail(str(method_, ": parameter '", key, "' must be a number, got ", v.dump()));
}

int64_t Params::integer(const std::string& key, int64_t def) {
  const double v = num(key, static_cast<double>(def));
  HP_CHECK(std::floor(v) == v, method_, ": parameter '", key, "' must be an integer, got ", v);
  return static_cast<int64_t>(v);
}

bool Params::flag(const std::string& key, bool def) {
  if (!has(key, def ? "1" : "0")) return def;
  const auto& v = j_[key];
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string() && (v == "true" || v == "false")) return v == "true";
  const double d = num(key, def ? 1 : 0);
  HP_CHECK(d == 0 || d == 1, method_, ": parameter '", key, "' must be 0 or 1, got ", v.dump());
  return d != 0;
}

std::string Params::string(const std::string& key, const std::string& def) {
  if (!has(key, def.empty() ? "\"\"" : def)) return def;
  const auto& v = j_[key];
  HP_CHECK(v.is_string(), method_, ": parameter '", key, "' must be a string, got ", v.dump());
  return v.get<std::string>();
}

std::string Params::known() const {
  std::string k;
  for (const auto& [key, def] : defaults_) k += (k.empty() ? "" : ", ") + key + "=" + def;
  return k;
}

void Params::finish() const {
  std::string unknown;
  for (const auto& [k, v] : j_.items())
    if (!defaults_.count(k)) unknown += (unknown.empty() ? "" : ", ") + k;
  HP_CHECK(unknown.empty(), method_, ": unknown parameter(s) ", unknown,
           defaults_.empty() ? std::string(" (it takes no parameters)")
                             : str(" (valid, with defaults: ", known(), ")"));
}

}  // namespace hp
