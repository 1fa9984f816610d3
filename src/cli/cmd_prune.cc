// headprune prune: method -> masks -> surgery -> a smaller model directory with its pruning map.
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/prune_job.h"
#include "core/check.h"
#include "model/model_dir.h"
#include "prune/method.h"
#include "report/pruning_map.h"

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
            "--uniform keeps the same number of heads (or K/V groups) in every layer and the same\n"
            "FFN width in every layer, so a LLaMA result loads in plain transformers; --gqa query\n"
            "prunes query heads inside K/V groups, the same number in every group (docs/methods.md,\n"
            "\"Uniform and GQA units\").\n"
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
      .add("ffn-align", "8", "pad each pruned FFN with zero neurons to a multiple of this width (GPU GEMM\n"
           "fast paths need multiples of 8; output unchanged; 1 = no padding)")
      .add("save-dtype", "fp32", "dtype of the written weights: fp32 | bf16 (half the size)")
      .add("empty-sublayer", "", "what a sublayer left with no units computes (post-LN models):\n"
           "residual = LayerNorm(x), as Kprune's reference; bias = LayerNorm(x + output bias), as HF\n"
           "BERT under an all-zero head mask (Kwon's reference); default: the model's own setting")
      .flag("uniform", "every layer keeps the same number of attention units and of FFN neurons\n"
            "(each family about --keep-flops of its own FLOPs, then the leftover one more unit in\n"
            "every layer at a time); each method picks them by its own scores. The result has one\n"
            "width per family (plain HF sizes for LLaMA). Not for depth or the gate-trained methods")
      .add("gqa", "", "unit of grouped-query attention pruning: group = whole K/V groups with their\n"
           "query heads; query = query heads, the same number kept in every K/V group of a layer\n"
           "(all groups stay); default: the model's own (group). query needs a model with GQA")
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
  PruneJob job;
  job.device = apply_common(o);
  job.method = o.str("method");
  auto mit = prune_methods().find(job.method);
  HP_CHECK(mit != prune_methods().end(), "unknown --method '", job.method, "'; known:", method_list());
  job.model_dir = o.str("model");
  job.out_dir = o.str("out");
  job.data = o.str("data");
  job.eval_path = o.str("eval");
  job.keep_flops = o.number("keep-flops");
  if (o.given("seq-len")) job.seq_len = o.number("seq-len");
  job.calib_tokens = o.integer("calib-tokens");
  if (o.given("max-len")) job.max_len = static_cast<int>(o.integer("max-len"));
  job.seed = o.integer("seed");
  job.ffn_align = static_cast<int>(o.integer("ffn-align"));
  if (o.given("empty-sublayer")) {
    const std::string es = o.str("empty-sublayer");
    HP_CHECK(es == "residual" || es == "bias", "--empty-sublayer must be residual or bias, got '", es, "'");
    job.empty_keeps_bias = es == "bias";
  }
  job.uniform = o.on("uniform");
  if (o.given("gqa")) {
    job.gqa_unit = o.str("gqa");
    HP_CHECK(job.gqa_unit == "group" || job.gqa_unit == "query", "--gqa must be group or query, got '",
             job.gqa_unit, "'");
  }
  const std::string sd = o.str("save-dtype");
  HP_CHECK(sd == "fp32" || sd == "bf16", "--save-dtype must be fp32 or bf16, got '", sd, "'");
  job.save_dtype = sd == "bf16" ? torch::kBFloat16 : torch::kFloat32;
  job.progress = !o.on("quiet") && !o.on("json");
  for (const auto& kv : o.list("param")) {
    auto eq = kv.find('=');
    HP_CHECK(eq != std::string::npos && eq > 0, "--param expects key=value, got '", kv, "'");
    std::string key = kv.substr(0, eq), val = kv.substr(eq + 1);
    try {  // numbers stay numbers, everything else is a string
      size_t used = 0;
      double d = std::stod(val, &used);
      if (used == val.size()) job.params[key] = d;
      else job.params[key] = val;
    } catch (const std::exception&) {
      job.params[key] = val;
    }
  }
  for (const char* name : {"keep-heads", "l0", "epochs", "steps", "lr", "gate-lr", "batch"}) {
    if (!o.given(name)) continue;
    HP_CHECK(mit->second.trains, "--", name, " applies only to gate-trained methods, not '", job.method, "'");
    std::string key = name;
    for (auto& c : key) c = c == '-' ? '_' : c;
    job.params[key] = o.number(name);
  }
  job.args = o.effective();
  auto res = run_prune_job(job);
  const auto& j = res.summary;
  if (o.on("json")) {
    print_json(j);
  } else {
    std::printf("%s", format_pruning_map(res.map).c_str());
    std::printf("wrote %s (%.1f%% of FLOPs kept, %.1f s)\n", job.out_dir.c_str(),
                100 * j["kept_flops_ratio"].get<double>(), j["seconds"].get<double>());
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
