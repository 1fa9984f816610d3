#include "eval/bench.h"

#include <algorithm>
#include <chrono>
#include <functional>

#include "core/check.h"

#ifdef HP_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

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

bool cuda_graphs_available() {
#ifdef HP_WITH_CUDA
  return true;
#else
  return false;
#endif
}

namespace {
// One timed unit of work per model: an eager forward, or the replay of a captured CUDA graph.
struct Runner {
  std::function<void()> step;
#ifdef HP_WITH_CUDA
  std::shared_ptr<at::cuda::CUDAGraph> graph;
  torch::Tensor out;  // keeps the graph's output buffer alive
#endif
};

// The timed work of opt.mode on input `in` ([batch, seq_len] ids).
std::function<torch::Tensor()> make_pass(const std::shared_ptr<Model>& model, const ForwardInput& in,
                                         const BenchOptions& opt) {
  if (opt.mode == "forward") return [model, in] { return model->forward(in); };
  const int64_t B = in.input_ids.size(0), T = in.input_ids.size(1);
  auto last = torch::zeros({B, T}, in.input_ids.options().dtype(torch::kBool));
  last.select(1, T - 1).fill_(true);
  if (opt.mode == "prefill")
    return [model, in, last] {
      KvCache cache;
      ForwardInput i = in;
      i.cache = &cache;
      return model->forward(i, nullptr, nullptr, last);
    };
  HP_CHECK(opt.mode == "decode", "bench: unknown mode '", opt.mode, "' (forward, prefill, decode)");
  // The cache of a seq_len-token prompt, filled once; each pass decodes one token on a copy of it
  // (tensors are shared, the forward appends to the copy only).
  auto prefilled = std::make_shared<KvCache>();
  {
    ForwardInput i = in;
    i.cache = prefilled.get();
    (void)model->forward(i, nullptr, nullptr, last);
  }
  ForwardInput next;
  next.input_ids = in.input_ids.narrow(1, T - 1, 1).contiguous();  // [B, 1]
  return [model, next, prefilled] {
    KvCache cache = *prefilled;
    ForwardInput i = next;
    i.cache = &cache;
    return model->forward(i);
  };
}

Runner make_runner(const std::shared_ptr<Model>& model, const ForwardInput& in, const BenchOptions& opt) {
  Runner r;
  auto pass = make_pass(model, in, opt);
  if (!opt.cuda_graph) {
    r.step = [pass] { (void)pass(); };
    return r;
  }
#ifdef HP_WITH_CUDA
  HP_CHECK(opt.device.is_cuda(), "bench: --cuda-graph needs --device cuda");
  auto stream = c10::cuda::getStreamFromPool(false, opt.device.index() < 0 ? 0 : opt.device.index());
  {
    c10::cuda::CUDAStreamGuard guard(stream);
    for (int i = 0; i < 3; ++i) (void)pass();  // lazy init outside the capture
    stream.synchronize();
    r.graph = std::make_shared<at::cuda::CUDAGraph>();
    r.graph->capture_begin();
    r.out = pass();
    r.graph->capture_end();
  }
  auto g = r.graph;
  r.step = [g] { g->replay(); };
  return r;
#else
  fail("bench: --cuda-graph needs a CUDA build of headprune");
#endif
}
}  // namespace

std::vector<BenchResult> bench_models(const std::vector<std::shared_ptr<Model>>& models,
                                      const BenchOptions& opt) {
  HP_CHECK(!models.empty(), "bench: no model");
  HP_CHECK(opt.batch > 0 && opt.seq_len > 0 && opt.repeats > 0, "bench: batch, seq-len, repeats must be > 0");
  torch::NoGradGuard ng;
  torch::manual_seed(opt.seed);
  std::vector<ForwardInput> inputs;
  for (const auto& m : models) {
    HP_CHECK(opt.seq_len + (opt.mode == "decode" ? 1 : 0) <= m->config().max_pos, "bench: --seq-len ",
             opt.seq_len, " exceeds the model's max positions ", m->config().max_pos);
    ForwardInput in;
    in.input_ids = torch::randint(5, m->config().vocab_size, {opt.batch, opt.seq_len},
                                  torch::kInt64).to(opt.device);
    // No attention_mask: every sequence is full length (no padding), as in a length-bucketed
    // serving batch; models then need no additive attention bias.
    inputs.push_back(in);
  }
  std::vector<Runner> runners;
  for (size_t i = 0; i < models.size(); ++i) runners.push_back(make_runner(models[i], inputs[i], opt));
  auto run = [&](size_t i) {
    sync(opt.device);
    auto t0 = std::chrono::steady_clock::now();
    runners[i].step();
    sync(opt.device);
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
