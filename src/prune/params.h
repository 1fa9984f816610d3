// The one strict reader of a method's --param options. Every read records the key and its
// default; finish() throws when a given key was never read, listing the method's valid keys with
// their defaults, so a misspelt option is an error instead of a silently ignored setting.
#pragma once
#include <nlohmann/json.hpp>

#include <map>
#include <string>

namespace hp {

class Params {
 public:
  Params(nlohmann::json given, std::string method);
  // Whether the key was given (records it as known, with `def` shown as its default).
  bool has(const std::string& key, const std::string& def = "none");
  double num(const std::string& key, double def);
  int64_t integer(const std::string& key, int64_t def);
  bool flag(const std::string& key, bool def);  // 0/1, true/false
  std::string string(const std::string& key, const std::string& def);
  // Throws naming every given key that no read asked for, with the valid keys and defaults.
  void finish() const;
  // "key=default" for every key read so far (for --help and error messages).
  std::string known() const;
  const std::string& method() const { return method_; }

 private:
  nlohmann::json j_;
  std::string method_;
  std::map<std::string, std::string> defaults_;
};

}  // namespace hp
