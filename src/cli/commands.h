// Subcommands of the headprune CLI; each lives in its own cmd_*.cc and returns an exit code.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace hp {

using Args = std::vector<std::string>;
int cmd_train(const Args& args);
int cmd_eval(const Args& args);
int cmd_info(const Args& args);
int cmd_demo(const Args& args);
int cmd_forward(const Args& args);
int cmd_generate(const Args& args);
int cmd_bench(const Args& args);
int cmd_prune(const Args& args);
int cmd_show(const Args& args);
int cmd_report(const Args& args);

struct CommandEntry {
  const char* name;
  int (*fn)(const Args&);
  const char* summary;
};
const std::vector<CommandEntry>& commands();

// Prints `j` as the single JSON object of a --json run.
void print_json(const nlohmann::json& j);

}  // namespace hp
