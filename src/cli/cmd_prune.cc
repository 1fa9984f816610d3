// headprune prune: method -> masks -> surgery -> a smaller model directory with its pruning map.
#include <filesystem>
#include <fstream>
#include <optional>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/check.h"
#include "core/log.h"
#include "eval/evaluate.h"
#include "eval/flops.h"
#include "io/checkpoint.h"
#include "io/model_dir.h"
#include "prune/method.h"
#include "report/pruning_map.h"
#include "surgery/surgery.h"

namespace hp {

static std::string method_list() {
  std::string s;
  for (const auto& [name, m] : prune_methods()) s += "\n  " + name + ": " + m.summary;
  return s;
}

int cmd_prune(const Args& args) {
  Options o("prune",
            "Prune attention heads and FFN neurons of a model to a FLOPs budget and write the\n"
            "physically smaller model (config.json + model.safetensors + pruning.json).\n"
            "--keep-flops R keeps a fraction R of the prunable (attention + FFN) FLOPs, counted at\n"
            "--seq-len (default: the calibration data's mean tokenized length). Kwon et al.'s\n"
            "--constraint c equals --keep-flops c; Kprune's --constraint c equals --keep-flops 1-c.\n"
            "methods:" + method_list());
  o.add("method", "", "pruning method (see above)", true)
      .add("model", "", "model directory to prune", true)
      .add("data", "", "calibration data (training text / training set; never the test set)")
      .add("out", "", "output model directory", true)
      .add("keep-flops", "0.5", "fraction of prunable FLOPs to keep, in (0, 1]")
      .add("seq-len", "", "sequence length for FLOPs (default: calibration mean length, else 128)")
      .add("calib-tokens", "100000", "calibration tokens drawn (seeded) from --data")
      .add("max-len", "", "maximum tokens per sequence (default: the length the model was trained with, else 128)")
      .add("eval", "", "evaluate the pruned model on this file and record it in pruning.json")
      .add("seed", "0", "random seed (calibration sample, random baselines)")
      .add("save-dtype", "fp32", "dtype of the written weights: fp32 | bf16 (half the size)")
      .add("param", "", "method options as key=value[,key=value...] (see docs/methods.md)")
      // Gate-trained methods (voita, pass, passconc, dsp, ste, l0-layerwise):
      .add("keep-heads", "", "gate methods: number of heads K to keep (exact for pass/passconc/dsp/ste)")
      .add("l0", "", "gate methods: L0 penalty coefficient lambda (voita, l0-layerwise)")
      .add("epochs", "", "gate methods: training epochs over --data")
      .add("steps", "", "gate methods: training steps (overrides --epochs)")
      .add("lr", "", "gate methods: learning rate of the model parameters")
      .add("gate-lr", "", "gate methods: learning rate of the gate parameters")
      .add("batch", "", "gate methods: training batch size");
  add_common(o);
  if (!o.parse(args)) return 0;
  std::string dev = apply_common(o);
  torch::Device device(dev);
  HP_CHECK(o.str("save-dtype") == "fp32" || o.str("save-dtype") == "bf16",
           "--save-dtype must be fp32 or bf16, got '", o.str("save-dtype"), "'");
  const auto save_dtype = o.str("save-dtype") == "bf16" ? torch::kBFloat16 : torch::kFloat32;
  const std::string method = o.str("method");
  auto mit = prune_methods().find(method);
  HP_CHECK(mit != prune_methods().end(), "unknown --method '", method, "'; known:", method_list());
  Timer timer;
  auto lm = load_model_dir(o.str("model"), device);
  const ModelConfig cfg = lm.model->config();
  std::optional<TaskData> calib;
  if (o.given("data")) {
    calib = load_task_data(o.str("data"), cfg, *lm.tokenizer, default_max_len(o, lm.model->config()),
                           o.integer("calib-tokens"), o.integer("seed"));
  }
  HP_CHECK(calib || !mit->second.needs_data, "--method ", method, " needs calibration data (--data)");
  double seq_len = o.given("seq-len") ? o.number("seq-len") : calib ? calib->mean_len() : 128.0;
  HP_CHECK(seq_len > 0, "--seq-len must be > 0");
  int64_t calib_tokens = 0;
  if (calib)
    for (const auto& e : calib->items) calib_tokens += e.ids.size();

  PruneContext ctx{*lm.model};
  ctx.tok = lm.tokenizer.get();
  ctx.calib = calib ? &*calib : nullptr;
  ctx.device = device;
  ctx.keep_flops = o.number("keep-flops");
  HP_CHECK(ctx.keep_flops > 0 && ctx.keep_flops <= 1, "--keep-flops must be in (0, 1], got ", ctx.keep_flops);
  ctx.seq_len = seq_len;
  ctx.seed = o.integer("seed");
  ctx.progress = !o.on("quiet") && !o.on("json");
  for (const auto& kv : o.list("param")) {
    auto eq = kv.find('=');
    HP_CHECK(eq != std::string::npos && eq > 0, "--param expects key=value, got '", kv, "'");
    std::string key = kv.substr(0, eq), val = kv.substr(eq + 1);
    try {  // numbers stay numbers, everything else is a string
      size_t used = 0;
      double d = std::stod(val, &used);
      if (used == val.size()) ctx.params[key] = d;
      else ctx.params[key] = val;
    } catch (const std::exception&) {
      ctx.params[key] = val;
    }
  }
  for (const char* name : {"keep-heads", "l0", "epochs", "steps", "lr", "gate-lr", "batch"}) {
    if (!o.given(name)) continue;
    HP_CHECK(mit->second.trains, "--", name, " applies only to gate-trained methods, not '", method, "'");
    std::string key = name;
    for (auto& c : key) c = c == '-' ? '_' : c;
    ctx.params[key] = o.number(name);
  }
  ctx.params["max_len"] = default_max_len(o, lm.model->config());
  if (mit->second.trains) ctx.params["data"] = o.str("data");  // gate methods train on all of it
  if (mit->second.trains) lm.model->train();
  else lm.model->eval();
  PruneOutput po = mit->second.fn(ctx);
  lm.model->eval();
  double prune_seconds = timer.seconds();

  auto res = prune_model(*lm.model, po.masks);
  double dense = dense_flops(cfg, seq_len), kept = count_flops(res.config, seq_len).total();
  PruningRecord rec;
  rec.method = method;
  rec.keep_flops = ctx.keep_flops;
  rec.seq_len = seq_len;
  rec.calib_data = o.str("data");
  rec.calib_tokens = calib_tokens;
  rec.seed = ctx.seed;
  rec.extra["method_info"] = po.info;
  if (!ctx.params.empty()) rec.extra["params"] = ctx.params;
  rec.extra["seconds"] = prune_seconds;
  rec.extra["source_model"] = o.str("model");
  nlohmann::json parent;
  bool has_parent = lm.aux_files.count("pruning.json");
  if (has_parent) parent = nlohmann::json::parse(lm.aux_files.at("pruning.json"));
  auto map = make_pruning_map(cfg, has_parent ? &parent : nullptr, res.config, res.kept_heads,
                              res.kept_neurons, rec, dense, kept);
  auto pruned = make_model(res.config);
  pruned->load_state(res.tensors, "surgery result");
  if (o.given("eval")) {
    pruned->to(device);
    auto data = load_task_data(o.str("eval"), res.config, *lm.tokenizer, default_max_len(o, lm.model->config()));
    auto r = evaluate(*pruned, data, *lm.tokenizer, nullptr, device, 64, 1234, ctx.progress);
    map["eval"] = r.to_json();
    map["eval"]["data"] = o.str("eval");
  }
  auto files = lm.aux_files;
  files["pruning.json"] = map.dump(1);
  files["prune_args.json"] = o.effective().dump(1);
  for (const auto& [name, content] : po.files) files[name] = content;
  // HF can load the result as-is only with uniform FFN widths and no skipped attention.
  bool hf_ok = true;
  for (const auto& l : res.config.layers) hf_ok &= l.n_ff == cfg.n_ff_dense && l.n_head > 0;
  auto pruned_heads = pruned_heads_from_map(map);
  TensorMap cpu;
  for (const auto& [k, v] : res.tensors) cpu[k] = v.to(torch::kCPU, save_dtype);
  save_checkpoint(o.str("out"), res.config, cpu, files, hf_ok ? &pruned_heads : nullptr);

  nlohmann::json j = {{"method", method},
                      {"kept_heads", res.config.total_heads()},
                      {"total_heads", map["total_heads"]},
                      {"kept_neurons", res.config.total_neurons()},
                      {"total_neurons", map["total_neurons"]},
                      {"kept_flops_ratio", kept / dense},
                      {"seq_len", seq_len},
                      {"seconds", prune_seconds},
                      {"out", o.str("out")},
                      {"hf_loadable", hf_ok}};
  if (map.contains("eval")) j["eval"] = map["eval"];
  if (o.on("json")) print_json(j);
  else {
    std::printf("%s", format_pruning_map(map).c_str());
    std::printf("wrote %s (%.1f%% of FLOPs kept, %.1f s)\n", o.str("out").c_str(), 100 * kept / dense,
                prune_seconds);
  }
  return 0;
}

int cmd_show(const Args& args) {
  Options o("show", "Print a pruned model's pruning map (pruning.json) as a per-layer table.");
  o.add("model", "", "model directory", true);
  add_common(o);
  if (!o.parse(args)) return 0;
  apply_common(o);
  std::filesystem::path p = std::filesystem::path(o.str("model")) / "pruning.json";
  if (!std::filesystem::exists(p)) {
    auto lm = load_model_dir(o.str("model"), torch::kCPU, false);
    HP_CHECK(!o.on("json"), o.str("model"), ": no pruning.json (a dense model)");
    std::printf("%s: dense model (no pruning.json), %d layers x %d heads, FFN %d\n",
                o.str("model").c_str(), lm.model->config().n_layer,
                lm.model->config().n_head_dense, lm.model->config().n_ff_dense);
    return 0;
  }
  std::ifstream f(p);
  nlohmann::json map;
  try {
    map = nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    fail(str(p.string(), ": invalid JSON: ", e.what()));
  }
  if (o.on("json")) print_json(map);
  else std::printf("%s", format_pruning_map(map).c_str());
  return 0;
}

}  // namespace hp
