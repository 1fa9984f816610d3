#include "eval/bench.h"

#include <algorithm>
#include <chrono>

#include "core/check.h"

namespace hp {

static void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize(d.index() < 0 ? 0 : d.index());
}

static double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  double pos = q * (v.size() - 1);
  size_t lo = static_cast<size_t>(pos);
  size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

std::vector<BenchResult> bench_models(const std::vector<std::shared_ptr<Model>>& models,
                                      const BenchOptions& opt) {
  HP_CHECK(!models.empty(), "bench: no model");
  HP_CHECK(opt.batch > 0 && opt.seq_len > 0 && opt.repeats > 0, "bench: batch, seq-len, repeats must be > 0");
  torch::NoGradGuard ng;
  torch::manual_seed(opt.seed);
  std::vector<ForwardInput> inputs;
  for (const auto& m : models) {
    HP_CHECK(opt.seq_len <= m->config().max_pos, "bench: --seq-len ", opt.seq_len,
             " exceeds the model's max positions ", m->config().max_pos);
    ForwardInput in;
    in.input_ids = torch::randint(5, m->config().vocab_size, {opt.batch, opt.seq_len},
                                  torch::kInt64).to(opt.device);
    in.attention_mask = torch::ones({opt.batch, opt.seq_len}, torch::kInt64).to(opt.device);
    inputs.push_back(in);
  }
  auto run = [&](size_t i) {
    auto t0 = std::chrono::steady_clock::now();
    auto out = models[i]->forward(inputs[i]);
    sync(opt.device);
    (void)out;
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  for (int w = 0; w < opt.warmup; ++w)
    for (size_t i = 0; i < models.size(); ++i) run(i);
  std::vector<BenchResult> res(models.size());
  double elapsed = 0;
  for (int r = 0; r < opt.repeats || elapsed < opt.min_seconds * 1000; ++r) {
    for (size_t i = 0; i < models.size(); ++i) {
      double ms = run(i);
      res[i].samples_ms.push_back(ms);
      if (i == 0) elapsed += ms;
    }
  }
  for (auto& b : res) {
    b.median_ms = percentile(b.samples_ms, 0.5);
    b.p90_ms = percentile(b.samples_ms, 0.9);
    double s = 0;
    for (double x : b.samples_ms) s += x;
    b.mean_ms = s / b.samples_ms.size();
  }
  return res;
}

}  // namespace hp
