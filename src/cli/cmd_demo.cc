// headprune demo: the product's main job on the reference models that ship with the repository.
#include <filesystem>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/check.h"
#include "core/log.h"
#include "eval/evaluate.h"
#include "eval/flops.h"
#include "io/model_dir.h"

namespace hp {

int cmd_demo(const Args& args) {
  Options o("demo",
            "Evaluate the reference models (models/finefoods-bert on data/finefoods/test.tsv and\n"
            "models/en-mlm on data/bible/test.txt) and print a table.");
  o.add("root", ".", "repository root (where models/ and data/ are)");
  add_common(o);
  if (!o.parse(args)) return 0;
  std::string device = apply_common(o);
  std::string root = o.str("root");
  struct Item { const char* model; const char* data; };
  nlohmann::json rows = nlohmann::json::array();
  for (auto it : {Item{"models/finefoods-bert", "data/finefoods/test.tsv"},
                  Item{"models/en-mlm", "data/bible/test.txt"}}) {
    std::string m = root + "/" + it.model, d = root + "/" + it.data;
    HP_CHECK(std::filesystem::exists(m + "/config.json"), m,
             ": reference model missing (see models/README.md for the command that makes it)");
    auto lm = load_model_dir(m, torch::Device(device));
    auto data = load_task_data(d, lm.model->config(), *lm.tokenizer,
                               lm.model->config().passthrough.value("headprune_max_len", 128));
    Timer t;
    auto r = evaluate(*lm.model, data, *lm.tokenizer, nullptr, torch::Device(device), 64, 1234,
                      !o.on("quiet") && !o.on("json"));
    double fl = count_flops(lm.model->config(), data.mean_len()).total();
    rows.push_back({{"model", it.model}, {"data", it.data}, {"metric", r.metric},
                    {"value", r.value}, {"flops", fl}, {"eval_seconds", t.seconds()}});
  }
  if (o.on("json")) {
    print_json({{"rows", rows}});
    return 0;
  }
  std::printf("%-24s %-26s %-16s %10s %12s\n", "model", "data", "metric", "value", "GFLOPs/seq");
  for (const auto& r : rows)
    std::printf("%-24s %-26s %-16s %10.4f %12.4f\n", r["model"].get<std::string>().c_str(),
                r["data"].get<std::string>().c_str(), r["metric"].get<std::string>().c_str(),
                r["value"].get<double>(), r["flops"].get<double>() / 1e9);
  return 0;
}

}  // namespace hp
