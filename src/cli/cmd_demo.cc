// headprune demo: the product's main job on the reference models that ship with the repository.
// For each reference model: evaluate it, prune it with kprune and a baseline to a FLOPs budget,
// evaluate the pruned models, time dense vs pruned in one process, print one table and write the
// HTML report. Every step is the library code the other commands use.
#include <filesystem>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/prune_job.h"
#include "core/check.h"
#include "core/log.h"
#include "eval/bench.h"
#include "eval/evaluate.h"
#include "model/cost.h"
#include "io/checkpoint.h"
#include "model/model_dir.h"
#include "report/html_report.h"
#include "task/task.h"

namespace hp {

namespace fs = std::filesystem;

namespace {
struct Reference {
  std::string name, model, calib, test;
};

nlohmann::json bench_pair(const std::string& dense_dir, const std::string& pruned_dir, const BenchOptions& bo) {
  std::vector<std::shared_ptr<Model>> models;
  for (const auto& d : {dense_dir, pruned_dir}) models.push_back(load_model_for_bench(d, bo.device, bo.dtype));
  auto r = bench_models(models, bo);
  double f0 = Budget(models[0]->sublayers(), bo.seq_len).total();
  double f1 = Budget(models[1]->sublayers(), bo.seq_len).total();
  return {{"dense_median_ms", r[0].median_ms}, {"median_ms", r[1].median_ms}, {"p90_ms", r[1].p90_ms},
          {"speedup", r[0].median_ms / r[1].median_ms}, {"flops_ratio", f0 / f1},
          {"device", bo.device.str()}, {"dtype", "fp32"}, {"threads", torch::get_num_threads()},
          {"batch", bo.batch}, {"seq_len", bo.seq_len}, {"repeats", r[1].samples_ms.size()}};
}
}  // namespace

int cmd_demo(const Args& args) {
  Options o("demo",
            "The product's main job on the reference models: evaluate models/finefoods-bert\n"
            "(test accuracy) and models/en-mlm (masked-token perplexity), prune each with kprune\n"
            "and a baseline to --keep-flops, evaluate the pruned models, time dense vs pruned\n"
            "(alternating, one process), print a table and write OUT/report/report.html.\n"
            "Calibration uses the training files only; a few minutes on a 2-core CPU.");
  o.add("root", ".", "repository root (where models/ and data/ are)")
      .add("out", "runs/demo", "output directory (pruned models, report)")
      .add("keep-flops", "0.5", "fraction of prunable FLOPs to keep")
      .add("methods", "kprune,magnitude", "methods to run, comma-separated")
      .add("calib-tokens", "8000", "calibration tokens per pruning run (kprune's default is 100000)")
      .add("models", "finefoods-bert,en-mlm", "reference models to run, comma-separated")
      .add("bench-batch", "32", "batch size of the latency comparison")
      .add("bench-seq-len", "128", "sequence length of the latency comparison")
      .add("bench-repeats", "5", "timed passes per model")
      .add("seed", "0", "seed of the calibration sample");
  add_common(o);
  if (!o.parse(args)) return 0;
  const std::string device = apply_common(o);
  const std::string root = o.str("root"), out = o.str("out");
  const bool progress = !o.on("quiet") && !o.on("json");
  const std::map<std::string, Reference> refs = {
      {"finefoods-bert", {"finefoods-bert", "models/finefoods-bert", "data/finefoods/train.tsv", "data/finefoods/test.tsv"}},
      {"en-mlm", {"en-mlm", "models/en-mlm", "data/bible/train.txt", "data/bible/test.txt"}}};
  BenchOptions bo;
  bo.batch = o.integer("bench-batch");
  bo.seq_len = o.integer("bench-seq-len");
  bo.repeats = o.integer("bench-repeats");
  bo.warmup = 1;
  bo.device = torch::Device(device);
  nlohmann::json rows = nlohmann::json::array();
  std::vector<std::string> run_dirs;
  for (const auto& name : o.list("models")) {
    auto it = refs.find(name);
    HP_CHECK(it != refs.end(), "--models: unknown reference model '", name, "' (finefoods-bert, en-mlm)");
    const auto& ref = it->second;
    const std::string model = root + "/" + ref.model, calib = root + "/" + ref.calib, test = root + "/" + ref.test;
    HP_CHECK(fs::exists(model + "/config.json"), model,
             ": reference model missing (see models/README.md for the command that makes it)");
    HP_CHECK(fs::exists(test) && fs::exists(calib), test, " or ", calib,
             " missing (run scripts/prepare-data)");
    // Dense reference: evaluation, and a run directory (config + eval.json) for the report.
    Timer t;
    auto lm = load_model_dir(model, torch::Device(device));
    const auto& cfg = lm.model->config();
    auto data = load_task_data(test, cfg, *lm.tokenizer, trained_max_len(cfg));
    auto dense_eval = evaluate(*lm.model, data, *lm.tokenizer, nullptr, torch::Device(device), 64, 1234, progress);
    const std::string dense_dir = out + "/" + name + "-dense";
    fs::create_directories(dense_dir);
    fs::remove(dense_dir + "/bench.json");  // rewritten from this run's first comparison
    fs::copy_file(model + "/config.json", dense_dir + "/config.json", fs::copy_options::overwrite_existing);
    write_file_atomic(dense_dir + "/eval.json", dense_eval.to_json().dump(1) + "\n");
    run_dirs.push_back(dense_dir);
    rows.push_back({{"model", name}, {"method", "dense"}, {"kept_flops_ratio", 1.0}, {"metric", dense_eval.metric},
                    {"value", dense_eval.value}, {"speedup", 1.0}, {"seconds", t.seconds()}});
    for (const auto& method : o.list("methods")) {
      if (progress) log_info(str("demo: ", name, ": pruning with ", method, " to keep-flops ", o.str("keep-flops")));
      PruneJob job;
      job.method = method;
      job.model_dir = model;
      job.out_dir = out + "/" + name + "-" + method;
      job.data = calib;
      job.eval_path = test;
      job.keep_flops = o.number("keep-flops");
      job.calib_tokens = o.integer("calib-tokens");
      job.seed = o.integer("seed");
      job.device = device;
      job.progress = progress;
      job.args = o.effective();
      auto res = run_prune_job(job);
      auto b = bench_pair(model, job.out_dir, bo);
      write_file_atomic(job.out_dir + "/bench.json", b.dump(1) + "\n");
      if (!fs::exists(dense_dir + "/bench.json")) {  // the dense point of the latency plots
        nlohmann::json db = b;
        db["median_ms"] = b["dense_median_ms"];
        db["speedup"] = 1.0;
        db.erase("p90_ms");
        write_file_atomic(dense_dir + "/bench.json", db.dump(1) + "\n");
      }
      run_dirs.push_back(job.out_dir);
      rows.push_back({{"model", name}, {"method", method},
                      {"kept_flops_ratio", res.summary["kept_flops_ratio"]},
                      {"metric", res.summary["eval"]["metric"]}, {"value", res.summary["eval"]["value"]},
                      {"speedup", b["speedup"]}, {"flops_ratio", b["flops_ratio"]},
                      {"seconds", res.summary["seconds"]}, {"out", job.out_dir}});
    }
  }
  auto files = write_report(load_runs(run_dirs), out + "/report", "headprune demo");
  nlohmann::json result = {{"rows", rows}, {"report", files[0]},
                           {"bench", {{"device", device}, {"threads", torch::get_num_threads()},
                                      {"batch", bo.batch}, {"seq_len", bo.seq_len}, {"dtype", "fp32"}}}};
  if (o.on("json")) {
    print_json(result);
    return 0;
  }
  std::printf("\n%-16s %-10s %10s %-16s %10s %10s %10s\n", "model", "method", "kept FLOPs", "metric", "value",
              "speedup", "seconds");
  for (const auto& r : rows)
    std::printf("%-16s %-10s %9.1f%% %-16s %10.4f %9.2fx %10.1f\n", r["model"].get<std::string>().c_str(),
                r["method"].get<std::string>().c_str(), 100 * r["kept_flops_ratio"].get<double>(),
                r["metric"].get<std::string>().c_str(), r["value"].get<double>(), r["speedup"].get<double>(),
                r["seconds"].get<double>());
  std::printf("speedup: median forward latency, dense / pruned, %s, %d threads, fp32, batch %d, seq %d\n",
              device.c_str(), torch::get_num_threads(), bo.batch, bo.seq_len);
  std::printf("report: %s\n", files[0].c_str());
  return 0;
}

}  // namespace hp
