#include "cli/prune_job.h"

#include "cli/options.h"

#include "core/check.h"
#include "core/log.h"
#include "eval/evaluate.h"
#include "model/cost.h"
#include "io/checkpoint.h"
#include "model/model_dir.h"
#include "io/hf_config.h"
#include "prune/method.h"
#include "prune/settings.h"
#include "report/pruning_map.h"
#include "surgery/surgery.h"
#include "task/task.h"

namespace hp {

PruneJobResult run_prune_job(const PruneJob& job) {
  auto mit = prune_methods().find(job.method);
  HP_CHECK(mit != prune_methods().end(), "unknown method '", job.method, "'");
  const MethodInfo& method = mit->second;
  check_keep_flops(job.keep_flops);
  HP_CHECK(job.ffn_align >= 1, "--ffn-align must be >= 1, got ", job.ffn_align);
  HP_CHECK(!job.out_dir.empty(), "--out is required");
  HP_CHECK(!job.data.empty() || !method.needs_data, "--method ", job.method, " needs calibration data (--data)");
  HP_CHECK(!job.seq_len || *job.seq_len > 0, "--seq-len must be > 0");
  torch::Device device(job.device);
  Timer timer;
  // Data-free methods need no tokenizer unless data is read (calibration or --eval).
  const bool reads_text = !job.data.empty() || !job.eval_path.empty();
  auto lm = load_model_dir(job.model_dir, device, reads_text);
  nlohmann::json parent;
  const bool has_parent = lm.aux_files.count("pruning.json");
  if (has_parent) parent = nlohmann::json::parse(lm.aux_files.at("pruning.json"));
  // --gqa / --empty-sublayer: rebuild the model with the other description (same weights).
  PruneSettings settings;
  settings.gqa_unit = job.gqa_unit;
  settings.empty_keeps_bias = job.empty_keeps_bias;
  if (method.needs_output_biases && method.needs_output_biases(job.params)) {
    settings.output_biases = true;
    settings.output_biases_for = str(job.method, " (its bias compensation; --param bias_compensation=0 "
                                     "turns it off)");
  }
  const bool biases_added = settings.output_biases && lacks_output_bias(*lm.model);
  lm.model = apply_prune_settings(lm.model, settings, has_parent ? &parent : nullptr, job.model_dir,
                                  device);
  const ModelConfig cfg = lm.model->config();
  const int max_len = job.max_len > 0 ? job.max_len : trained_max_len(cfg);
  std::optional<TaskData> calib;
  if (!job.data.empty())
    calib = load_task_data(job.data, cfg, *lm.tokenizer, max_len, job.calib_tokens, job.seed);
  const double seq_len = job.seq_len ? *job.seq_len : calib ? calib->mean_len() : 128.0;
  int64_t calib_tokens = 0;
  if (calib)
    for (const auto& e : calib->items) calib_tokens += e.ids.size();

  PruneContext ctx{*lm.model};
  ctx.tok = lm.tokenizer.get();
  ctx.calib = calib ? &*calib : nullptr;
  ctx.data_path = job.data;  // gate methods train on all of it
  ctx.max_len = max_len;
  ctx.device = device;
  ctx.keep_flops = job.keep_flops;
  ctx.seq_len = seq_len;
  ctx.seed = job.seed;
  ctx.progress = job.progress;
  ctx.params = job.params;
  ctx.uniform = job.uniform;
  lm.model->eval();
  // The contract: a method returns masks and weight updates and never writes into the model.
  // Tensor version counters move on every in-place write, so checking them costs no copy.
  std::map<std::string, int64_t> versions;
  for (const auto& [k, v] : lm.model->state()) versions[k] = v._version();
  PruneOutput po = method.fn(ctx);
  for (const auto& [k, v] : lm.model->state())
    HP_CHECK(v._version() == versions.at(k), "method ", job.method, " wrote into the model's tensor '",
             k, "' (methods must return weight updates instead)");
  const double prune_seconds = timer.seconds();

  const auto& specs = lm.model->sublayers();
  auto res = prune_model(*lm.model, po.masks, job.ffn_align, po.weights);
  const Budget parent_budget(specs, seq_len);
  MapFlops flops;
  flops.dense = dense_flops(cfg, seq_len);
  flops.kept = parent_budget.cost(po.masks.binarized());  // real units only
  flops.padded = Budget(res.config, seq_len).total();     // the shapes as stored
  PruningRecord rec;
  rec.method = job.method;
  // Gate-trained methods have a head budget (params), not a FLOPs budget: record what they kept.
  rec.keep_flops = method.trains ? flops.kept / flops.dense : job.keep_flops;
  rec.seq_len = seq_len;
  rec.calib_data = job.data;
  rec.calib_tokens = calib_tokens;
  rec.seed = job.seed;
  rec.extra["method_info"] = po.info;
  rec.extra["params"] = ctx.params;
  rec.extra["seconds"] = prune_seconds;
  rec.extra["source_model"] = job.model_dir;
  rec.extra["ffn_align"] = job.ffn_align;
  rec.extra["empty_sublayer"] = cfg.empty_keeps_bias ? "bias" : "residual";
  rec.extra["uniform"] = job.uniform;
  rec.extra["gqa_unit"] = cfg.gqa_unit;  // what the attention units (and kept indices) are
  if (biases_added) rec.extra["output_biases_added"] = true;  // zero-initialised, then compensated
  std::vector<int64_t> dense_units;
  {
    ModelConfig dense_cfg = cfg;
    dense_cfg.set_dense_layers();
    for (const auto& sp : sublayers_of(dense_cfg)) dense_units.push_back(sp.units);
  }
  auto map = make_pruning_map(specs, dense_units, has_parent ? &parent : nullptr, res.kept_units,
                              res.kept_groups, res.padded_units, rec, flops);
  auto pruned = make_model(res.config);
  pruned->load_state(res.tensors, "surgery result");
  if (!job.eval_path.empty()) {
    pruned->to(device);
    pruned->eval();
    auto data = load_task_data(job.eval_path, res.config, *lm.tokenizer, max_len, 0, 0,
                               default_eval_stride(max_len));
    auto r = evaluate(*pruned, data, *lm.tokenizer, nullptr, device, 64, 1234, job.progress);
    map["eval"] = r.to_json();
    map["eval"]["data"] = job.eval_path;
  }
  auto files = lm.aux_files;
  files["pruning.json"] = map.dump(1);
  files["prune_args.json"] = job.args.dump(1);
  for (const auto& [name, content] : po.files) files[name] = content;
  // Whether plain transformers loads the result is the architecture's HF mapping's to say (LLaMA:
  // the same widths in every layer; BERT: per-layer heads through pruned_heads, dense FFN).
  const bool hf_ok = hf_loadable(res.config);
  // A writer that records HF's pruned_heads gets the real original indices (the per-layer view of
  // the map); otherwise it writes placeholders or none.
  const bool real_heads = hf_ok && hf_writes_pruned_heads(res.config) && map.contains("layers");
  std::vector<std::vector<int>> pruned_heads;
  if (real_heads) pruned_heads = pruned_heads_from_map(map);
  TensorMap cpu;
  for (const auto& [k, v] : res.tensors) cpu[k] = v.to(torch::kCPU, job.save_dtype);
  save_checkpoint(job.out_dir, res.config, cpu, files, real_heads ? &pruned_heads : nullptr);

  nlohmann::json j = {{"method", job.method},
                      {"kept_heads", map["kept_heads"]},
                      {"total_heads", map["total_heads"]},
                      {"kept_neurons", map["kept_neurons"]},
                      {"padding_neurons", map["padding_neurons"]},
                      {"total_neurons", map["total_neurons"]},
                      {"kept_flops_ratio", flops.kept / flops.dense},
                      {"stored_flops_ratio", flops.padded / flops.dense},
                      {"seq_len", seq_len},
                      {"seconds", prune_seconds},
                      {"out", job.out_dir},
                      {"uniform", job.uniform},
                      {"gqa_unit", cfg.gqa_unit},
                      {"hf_loadable", hf_ok}};
  if (map.contains("eval")) j["eval"] = map["eval"];
  return {j, map};
}

}  // namespace hp
