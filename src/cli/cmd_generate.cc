// headprune generate: continue prompts with a decoder LM, using its KV cache.
#include <cstdio>
#include <fstream>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/check.h"
#include "data/readers.h"
#include "eval/generate.h"
#include "model/model_dir.h"

namespace hp {

int cmd_generate(const Args& args) {
  Options o("generate",
            "Continue text with a decoder LM (task lm). The prompt is encoded without special tokens\n"
            "(the model's begin-of-text id is put first when its tokenizer has one), run once, and then\n"
            "one token per step reuses the KV cache. --temperature 0 (the default) is greedy; otherwise\n"
            "tokens are sampled with temperature, top-k and top-p from a generator seeded by --seed.\n"
            "Generation stops at the end-of-text token or after --max-new tokens.");
  o.add("model", "", "model directory", true)
      .add("prompt", "", "prompt text")
      .add("prompts", "", "file with one prompt per line (instead of --prompt)")
      .add("max-new", "32", "new tokens per prompt at most")
      .add("temperature", "0", "0 = greedy; > 0 samples from softmax(logits / temperature)")
      .add("top-k", "0", "sample among the k most likely tokens (0 = all)")
      .add("top-p", "1", "sample among the most likely tokens whose probability sums to p (1 = all)")
      .add("seed", "0", "seed of the sampler")
      .flag("no-stop", "do not stop at the end-of-text token");
  add_common(o);
  if (!o.parse(args)) return 0;
  std::string device = apply_common(o);
  HP_CHECK(o.given("prompt") != o.given("prompts"), "give exactly one of --prompt TEXT and --prompts FILE");
  std::vector<std::string> prompts = o.given("prompt") ? std::vector<std::string>{o.str("prompt")}
                                                       : read_text_lines(o.str("prompts"));
  auto lm = load_model_dir(o.str("model"), torch::Device(device));
  lm.model->eval();
  GenerateOptions g;
  g.max_new_tokens = static_cast<int>(o.integer("max-new"));
  g.temperature = o.number("temperature");
  g.top_k = static_cast<int>(o.integer("top-k"));
  g.top_p = o.number("top-p");
  g.seed = static_cast<uint64_t>(o.integer("seed"));
  g.stop_id = o.on("no-stop") ? -1 : lm.tokenizer->eos_id;
  g.device = torch::Device(device);
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& text : prompts) {
    std::vector<int64_t> ids;
    if (lm.tokenizer->bos_id >= 0) ids.push_back(lm.tokenizer->bos_id);
    for (auto id : lm.tokenizer->encode(text)) ids.push_back(id);
    auto r = generate(*lm.model, ids, g);
    // Decoding the new ids alone drops the space a word-initial piece carries ("▁the" at the
    // start of a string decodes to "the"): decode prompt + continuation and keep what follows the
    // decoded prompt.
    std::vector<int64_t> all = ids;
    all.insert(all.end(), r.ids.begin(), r.ids.end());
    const std::string whole = lm.tokenizer->decode(all), head = lm.tokenizer->decode(ids);
    const std::string out = whole.compare(0, head.size(), head) == 0 ? whole.substr(head.size())
                                                                      : lm.tokenizer->decode(r.ids);
    rows.push_back({{"prompt", text},
                    {"prompt_ids", ids},
                    {"ids", r.ids},
                    {"text", out},
                    {"prefill_ms", r.prefill_ms},
                    {"decode_ms", r.decode_ms},
                    {"decode_ms_per_token", r.ids.size() > 1 ? r.decode_ms / (r.ids.size() - 1) : 0.0}});
    if (!o.on("json")) std::printf("%s%s\n", text.c_str(), out.c_str());
  }
  if (o.on("json"))
    print_json({{"model", o.str("model")},
                {"device", device},
                {"temperature", g.temperature},
                {"top_k", g.top_k},
                {"top_p", g.top_p},
                {"seed", g.seed},
                {"max_new", g.max_new_tokens},
                {"results", rows}});
  return 0;
}

}  // namespace hp
