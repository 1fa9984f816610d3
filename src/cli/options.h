// One option table per subcommand: every option is declared once with its default and help text,
// so --help, parsing and the effective-config dump all come from the same place.
#pragma once
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace hp {

class Options {
 public:
  Options(std::string command, std::string summary);
  // An option taking a value; `def` empty and required=true means it must be given.
  Options& add(const std::string& name, const std::string& def, const std::string& help,
               bool required = false);
  Options& flag(const std::string& name, const std::string& help);
  // Parses argv (after the subcommand). Returns false if --help was printed.
  bool parse(const std::vector<std::string>& args);
  std::string help() const;

  std::string str(const std::string& name) const;
  int64_t integer(const std::string& name) const;
  double number(const std::string& name) const;
  bool on(const std::string& name) const;  // flags
  bool given(const std::string& name) const;
  std::vector<std::string> list(const std::string& name) const;  // comma-separated values
  nlohmann::json effective() const;  // every option with its effective value

 private:
  struct Opt {
    std::string name, def, help;
    bool is_flag, required;
  };
  const Opt& find(const std::string& name) const;
  std::string command_, summary_;
  std::vector<Opt> opts_;
  std::map<std::string, std::string> values_;
};

struct ModelConfig;
// --max-len if given, else the length the model was trained with (config), else 128.
int default_max_len(const Options& o, const ModelConfig& cfg);
// The length the model was trained with (config "headprune_max_len"), else 128.
int trained_max_len(const ModelConfig& cfg);

// Options every command shares: --json, --quiet, --threads, --device.
void add_common(Options& o);
// Applies --threads/--quiet; returns the torch device named by --device (checks availability).
std::string apply_common(const Options& o);

}  // namespace hp
