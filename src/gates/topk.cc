#include "gates/topk.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "core/check.h"

namespace hp {

namespace {
constexpr double kTiny = std::numeric_limits<double>::min();  // smallest normal double
// Floor of 1 - p inside the log: below it an item is taken for good either way (log(1e-30)/tau
// removes it at every temperature where 1 - p can get that small), and the floor keeps the
// backward factor 1/(1 - p) far from overflow.
constexpr double kTakenFloor = 1e-30;

torch::Tensor gumbel_from_uniform(const torch::Tensor& u) {
  auto uc = u.to(torch::kFloat64).clamp(kTiny, 1.0);
  return -torch::log(-torch::log(uc));
}
}  // namespace

torch::Tensor gumbel_noise(int64_t n, const torch::Device& device) {
  auto u = torch::rand({n}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
  return gumbel_from_uniform(u * (1 - kTiny) + kTiny);
}

torch::Tensor soft_topk(const torch::Tensor& w, int64_t k, double tau, bool gumbel, const torch::Tensor& u) {
  HP_CHECK(w.dim() == 1, "soft top-k: logits must be 1-D, got ", w.sizes());
  const int64_t n = w.size(0);
  HP_CHECK(k >= 1 && k <= n, "soft top-k: k = ", k, " outside [1, ", n, "]");
  HP_CHECK(tau > 0, "soft top-k: temperature must be > 0, got ", tau);
  // Float64 throughout: at tau ~ 1e-8 the scaled scores reach ~1e9 and the one-hot rounds must
  // still subtract cleanly.
  auto r = w.to(torch::kFloat64);
  if (gumbel) {
    if (u.defined()) {
      HP_CHECK(u.numel() == n, "soft top-k: ", u.numel(), " uniforms for ", n, " logits");
      r = r + gumbel_from_uniform(u.reshape({n}).to(r.device()));
    } else {
      r = r + gumbel_noise(n, r.device());
    }
  }
  auto p = torch::softmax(r / tau, 0);
  auto khot = p;
  for (int64_t j = 1; j < k; ++j) {
    r = r + torch::log(torch::clamp_min(1.0 - p, kTakenFloor));
    p = torch::softmax(r / tau, 0);
    khot = khot + p;
  }
  return khot;
}

std::vector<int64_t> topk_indices(const torch::Tensor& w, int64_t k) {
  auto v = w.detach().to(torch::kCPU, torch::kFloat64).contiguous().reshape({-1});
  const int64_t n = v.numel();
  HP_CHECK(k >= 0 && k <= n, "top-k: k = ", k, " outside [0, ", n, "]");
  const double* d = v.data_ptr<double>();
  std::vector<int64_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return d[a] > d[b]; });
  idx.resize(k);
  return idx;
}

torch::Tensor hard_topk(const torch::Tensor& w, int64_t k) {
  auto out = torch::zeros({w.numel()}, torch::kFloat32);
  auto* o = out.data_ptr<float>();
  for (int64_t i : topk_indices(w, k)) o[i] = 1.f;
  return out.to(w.device());
}

torch::Tensor ste_topk(const torch::Tensor& scores, int64_t k) {
  auto hard = hard_topk(scores, k).to(scores.scalar_type());
  return hard + (scores - scores.detach());
}

}  // namespace hp
