#include "eval/generate.h"

#include <chrono>
#include <cmath>

#include "config/task_info.h"
#include "core/check.h"

namespace hp {

static void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize(d.index() < 0 ? 0 : d.index());
}

int64_t pick_token(const torch::Tensor& logits, const GenerateOptions& opt, torch::Generator& gen) {
  auto l = logits.to(torch::kFloat32).to(torch::kCPU).view({-1});
  if (opt.temperature == 0) return l.argmax().item<int64_t>();
  auto probs = torch::softmax(l / opt.temperature, -1);
  auto [sorted, order] = probs.sort(-1, /*descending=*/true);
  int64_t keep = sorted.numel();
  if (opt.top_k > 0) keep = std::min<int64_t>(keep, opt.top_k);
  if (opt.top_p < 1.0) {
    // The smallest prefix whose mass reaches top_p (at least one token).
    auto cum = sorted.cumsum(0);
    int64_t n = cum.lt(opt.top_p).sum().item<int64_t>() + 1;
    keep = std::min(keep, n);
  }
  auto p = sorted.narrow(0, 0, keep);
  auto pick = torch::multinomial(p / p.sum(), 1, false, gen).item<int64_t>();
  return order[pick].item<int64_t>();
}

GenerateResult generate(Model& model, const std::vector<int64_t>& prompt, const GenerateOptions& opt) {
  const auto& cfg = model.config();
  HP_CHECK(task_info(cfg.task).causal, "generate: the model's task is ", cfg.task, ", not a decoder LM");
  HP_CHECK(!prompt.empty(), "generate: empty prompt");
  HP_CHECK(opt.max_new_tokens >= 0, "generate: max new tokens must be >= 0, got ", opt.max_new_tokens);
  HP_CHECK(std::isfinite(opt.temperature) && opt.temperature >= 0, "generate: temperature must be >= 0, got ",
           opt.temperature);
  HP_CHECK(opt.top_k >= 0, "generate: top-k must be >= 0, got ", opt.top_k);
  HP_CHECK(std::isfinite(opt.top_p) && opt.top_p > 0 && opt.top_p <= 1, "generate: top-p must be in (0, 1], got ",
           opt.top_p);
  HP_CHECK(static_cast<int64_t>(prompt.size()) + opt.max_new_tokens <= cfg.max_pos, "generate: prompt of ",
           prompt.size(), " tokens + ", opt.max_new_tokens, " new ones exceed the model's ", cfg.max_pos,
           " positions");
  torch::NoGradGuard ng;
  auto gen = at::detail::createCPUGenerator(opt.seed);
  GenerateResult r;
  KvCache cache;
  ForwardInput in;
  in.input_ids = torch::tensor(prompt, torch::kInt64).view({1, -1}).to(opt.device);
  in.cache = &cache;
  auto last = torch::zeros({1, static_cast<int64_t>(prompt.size())}, torch::kBool);
  last[0][-1] = true;
  auto t0 = std::chrono::steady_clock::now();
  auto logits = model.forward(in, nullptr, nullptr, last.to(opt.device));  // [1, V]
  sync(opt.device);
  auto t1 = std::chrono::steady_clock::now();
  r.prefill_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  for (int step = 0; step < opt.max_new_tokens; ++step) {
    const int64_t id = pick_token(logits[0], opt, gen);
    r.ids.push_back(id);
    if (id == opt.stop_id || step + 1 == opt.max_new_tokens) break;
    in.input_ids = torch::full({1, 1}, id, torch::kInt64).to(opt.device);
    logits = model.forward(in).view({1, -1});  // [1, V]
  }
  sync(opt.device);
  r.decode_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
  return r;
}

}  // namespace hp
