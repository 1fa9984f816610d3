// headprune bench: end-to-end forward latency of a model (and, with --compare, of a second one
// timed alternately in the same process), with FLOPs, so "is the pruned model faster?" has a
// measured answer.
#include "cli/commands.h"
#include "cli/options.h"
#include "config/task_info.h"
#include "core/check.h"
#include "core/log.h"
#include "eval/bench.h"
#include "model/cost.h"
#include "model/model_dir.h"

namespace hp {

int cmd_bench(const Args& args) {
  Options o("bench",
            "Time full forward passes (random token ids, no padding): warm-up, device sync,\n"
            "repeats; prints median and p90 latency. With --compare DIR2 both models run\n"
            "alternately in one process and the speedup of DIR2 over --model (median ratio) is\n"
            "reported with the FLOPs ratio. Decoders (task lm) are timed twice, separately:\n"
            "prefill (a batch x seq-len prompt into an empty KV cache, LM head at the last position)\n"
            "and decode (one new token per sequence after seq-len cached positions), each with its\n"
            "own speedup.");
  o.add("model", "", "model directory", true)
      .add("compare", "", "second model directory, timed alternately")
      .add("batch", "32", "batch size")
      .add("seq-len", "128", "sequence length (decoders: prompt length of prefill, cached context of decode)")
      .add("mode", "auto", "forward | prefill | decode | auto (decoders: prefill and decode; others: forward)")
      .add("dtype", "fp32", "fp32 | bf16 | fp16")
      .add("warmup", "3", "untimed warm-up passes per model")
      .add("repeats", "20", "timed passes per model")
      .add("min-seconds", "0", "repeat until each model has run at least this long")
      .flag("shape-only", "read only config.json and time randomly initialised weights of the same shapes\n"
            "(latency depends on shapes alone; no weights needed)")
      .flag("cuda-graph", "capture each forward as a CUDA graph and time its replays (no launch overhead)");
  add_common(o);
  if (!o.parse(args)) return 0;
  std::string dev = apply_common(o);
  std::string dt = o.str("dtype");
  torch::Dtype dtype = dt == "fp32" ? torch::kFloat32 : dt == "bf16" ? torch::kBFloat16
                       : dt == "fp16" ? torch::kFloat16 : torch::kFloat32;
  HP_CHECK(dt == "fp32" || dt == "bf16" || dt == "fp16", "--dtype must be fp32, bf16 or fp16, got '", dt, "'");
  BenchOptions bo;
  bo.batch = o.integer("batch");
  bo.seq_len = o.integer("seq-len");
  bo.warmup = o.integer("warmup");
  bo.repeats = o.integer("repeats");
  bo.min_seconds = o.number("min-seconds");
  bo.device = torch::Device(dev);
  bo.dtype = dtype;
  bo.cuda_graph = o.on("cuda-graph");
  HP_CHECK(!bo.cuda_graph || (cuda_graphs_available() && bo.device.is_cuda()),
           "--cuda-graph needs --device cuda and a CUDA build of headprune");
  std::vector<std::string> dirs = {o.str("model")};
  if (o.given("compare")) dirs.push_back(o.str("compare"));
  std::vector<std::shared_ptr<Model>> models;
  for (const auto& d : dirs) models.push_back(load_model_for_bench(d, bo.device, dtype, o.on("shape-only")));
  std::vector<std::string> modes;
  if (o.str("mode") == "auto") {
    if (task_info(models[0]->config().task).causal) modes = {"prefill", "decode"};
    else modes = {"forward"};
  } else {
    modes = {o.str("mode")};
  }
  for (const auto& m : models)
    HP_CHECK(modes[0] == "forward" || task_info(m->config().task).causal, "--mode ", modes[0],
             " times a decoder with a KV cache; this model's task is ", m->config().task);
  nlohmann::json j;
  for (const auto& mode : modes) {
    bo.mode = mode;
    auto res = bench_models(models, bo);
    // Tokens a pass produces: every position of a forward or prefill, one per sequence in decode.
    const double tokens = mode == "decode" ? bo.batch : double(bo.batch) * bo.seq_len;
    auto entry = [&](size_t i) {
      const auto& r = res[i];
      double fl = Budget(models[i]->sublayers(), bo.seq_len).total();
      return nlohmann::json{{"model", dirs[i]},
                            {"median_ms", r.median_ms},
                            {"p90_ms", r.p90_ms},
                            {"mean_ms", r.mean_ms},
                            {"tokens_per_s", tokens / (r.median_ms / 1000.0)},
                            {"flops", fl * bo.batch},
                            {"flops_per_seq", fl}};
    };
    nlohmann::json mj = entry(0);
    mj["mode"] = mode;
    mj["repeats"] = res[0].samples_ms.size();
    if (models.size() == 2) {
      auto c = entry(1);
      mj["compare"] = c;
      // speedup: how much faster --compare (e.g. the pruned model) runs than --model (the dense
      // one); flops_ratio: how many times fewer FLOPs it needs (sublayer FLOPs of a seq-len
      // sequence; for decode the same ratio stands for the per-token cost at that context).
      mj["speedup"] = res[0].median_ms / c["median_ms"].get<double>();
      mj["flops_ratio"] = mj["flops"].get<double>() / c["flops"].get<double>();
      mj["speedup_over_flops_ratio"] = mj["speedup"].get<double>() / mj["flops_ratio"].get<double>();
    }
    if (!o.on("json")) {
      std::printf("%s%s: median %.2f ms, p90 %.2f ms, %.0f tokens/s (%s %s, %d threads, batch %d, seq %d)\n",
                  mode == "forward" ? "" : (mode + " ").c_str(), dirs[0].c_str(), res[0].median_ms,
                  res[0].p90_ms, mj["tokens_per_s"].get<double>(), dev.c_str(), dt.c_str(),
                  torch::get_num_threads(), bo.batch, bo.seq_len);
      if (models.size() == 2)
        std::printf("%s%s: median %.2f ms, p90 %.2f ms\nspeedup %.3fx at a FLOPs ratio of %.3fx\n",
                    mode == "forward" ? "" : (mode + " ").c_str(), dirs[1].c_str(), res[1].median_ms,
                    res[1].p90_ms, mj["speedup"].get<double>(), mj["flops_ratio"].get<double>());
    }
    if (j.is_null()) j = mj;  // the first mode's figures at the top level, as before
    if (modes.size() > 1) j[mode] = mj;
  }
  j.update({{"device", dev},
            {"dtype", dt},
            {"threads", torch::get_num_threads()},
            {"batch", bo.batch},
            {"seq_len", bo.seq_len},
            {"cuda_graph", bo.cuda_graph},
            {"shape_only", o.on("shape-only")},
            {"headprune_version", HP_VERSION},
            {"git", HP_GIT}});
  if (o.on("json")) print_json(j);
  return 0;
}

}  // namespace hp
