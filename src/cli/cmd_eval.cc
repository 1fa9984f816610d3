// headprune eval: one metric of a model on a data file, as a line or one JSON object.
#include "cli/commands.h"
#include "cli/options.h"
#include "core/check.h"
#include "core/log.h"
#include "eval/evaluate.h"
#include "model/model_dir.h"

namespace hp {

int cmd_eval(const Args& args) {
  Options o("eval",
            "Evaluate a model directory on a data file: accuracy (+F1, MCC) for classification,\n"
            "Pearson/Spearman for regression, masked-token perplexity for masked-LM models (a fixed,\n"
            "seeded masking of every sequence, so numbers on the same file are comparable), and\n"
            "next-token perplexity for causal LMs: the text (one document per line, each followed by\n"
            "the end-of-text token) is one stream read in windows of --max-len tokens every --stride\n"
            "tokens; each token is scored once, in the first window that holds it with at least\n"
            "max-len - stride tokens of context (docs/formats.md, \"Perplexity\").");
  o.add("model", "", "model directory", true)
      .add("data", "", "data file (.tsv/.jsonl for classification, .txt for masked-LM and causal LM)", true)
      .add("batch", "64", "batch size")
      .add("max-len", "", "maximum tokens per sequence (default: the length the model was trained with, else 128)")
      .add("stride", "", "causal LM: tokens between window starts (default: half of --max-len)")
      .add("seed", "1234", "masking seed for masked-LM evaluation");
  add_common(o);
  if (!o.parse(args)) return 0;
  std::string device = apply_common(o);
  auto lm = load_model_dir(o.str("model"), torch::Device(device));
  const int max_len = default_max_len(o, lm.model->config());
  const int stride = o.given("stride") ? static_cast<int>(o.integer("stride")) : default_eval_stride(max_len);
  auto data = load_task_data(o.str("data"), lm.model->config(), *lm.tokenizer, max_len, 0, 0, stride);
  auto r = evaluate(*lm.model, data, *lm.tokenizer, nullptr, torch::Device(device),
                    o.integer("batch"), o.integer("seed"), !o.on("quiet") && !o.on("json"));
  if (o.on("json")) {
    print_json(r.to_json());
  } else {
    std::printf("%s %s = %.6g over %lld examples\n", r.task.c_str(), r.metric.c_str(), r.value,
                (long long)r.examples);
  }
  return 0;
}

}  // namespace hp
