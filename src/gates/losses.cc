#include "gates/losses.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/check.h"
#include "data/batch.h"

namespace hp {

torch::Tensor l0_penalty(const HardConcrete& hc, const torch::Tensor& log_alpha) {
  return hc.p_nonzero(log_alpha).sum();
}

torch::Tensor pass_loss(const HardConcrete& hc, const torch::Tensor& log_alpha, int64_t n_close) {
  const int64_t n = log_alpha.numel();
  HP_CHECK(n_close >= 0 && n_close <= n, "pass loss: ", n_close, " gates to close of ", n);
  auto p0 = hc.p_closed(log_alpha);
  auto p1 = hc.p_open(log_alpha);
  return (double(n_close) - p0.sum()).abs() + (double(n - n_close) - p1.sum()).abs() +
         (1.0 - p0 - p1).sum();
}

torch::Tensor concentrator_loss(const HardConcrete& hc, const torch::Tensor& log_alpha,
                                const std::vector<int64_t>& group_sizes) {
  HP_CHECK(std::accumulate(group_sizes.begin(), group_sizes.end(), int64_t(0)) == log_alpha.numel(),
           "concentrator: group sizes do not add up to ", log_alpha.numel(), " gates");
  auto logp0 = hc.log_p_closed(log_alpha.reshape({-1}));
  torch::Tensor total = torch::zeros({}, log_alpha.options());
  int64_t off = 0;
  for (int64_t g : group_sizes) {
    if (g > 0) total = total - torch::expm1(logp0.narrow(0, off, g).sum());
    off += g;
  }
  return total;
}

double concentrator_coeff(const HardConcrete& hc, const std::vector<double>& log_alpha,
                          const std::vector<int64_t>& group_sizes, double closed_at, double cap) {
  const double a = hc.closed_shift();
  // log sigmoid(t), stable for large |t|.
  auto log_sig = [](double t) { return t >= 0 ? -std::log1p(std::exp(-t)) : t - std::log1p(std::exp(t)); };
  double best = cap;
  int64_t off = 0;
  for (int64_t g : group_sizes) {
    for (int64_t i = off; i < off + g; ++i) {
      const double x = log_alpha.at(i);
      if (x <= closed_at) continue;
      // r = s(a+x)s(-a-x) / (s(a-x)s(-a+x)), in logs.
      double log_r = log_sig(a + x) + log_sig(-a - x) - log_sig(a - x) - log_sig(-a + x);
      double r = std::max(1.0, std::exp(std::min(log_r, 700.0)));
      double log_prod = 0;
      for (int64_t j = off; j < off + g; ++j)
        if (j != i) log_prod += log_sig(a - log_alpha.at(j));
      double prod = std::max(1e-8, std::exp(log_prod));
      best = std::min(best, 2 * r / prod);
    }
    off += g;
  }
  return best;
}

double LambdaSchedule::value() const { return lambda0 * std::pow(growth, double(k) / period); }

double LambdaSchedule::update(int64_t n_closed, int64_t n_open, int64_t n_total, int64_t target_closed) {
  if (n_closed != target_closed || n_open != n_total - target_closed) ++k;
  return value();
}

int64_t clip_values(std::vector<double>& log_alpha, double lo, double hi) {
  int64_t changed = 0;
  for (auto& v : log_alpha) {
    double c = std::min(hi, std::max(lo, v));
    changed += c != v;
    v = c;
  }
  return changed;
}

std::vector<int64_t> reopen_closed(std::vector<double>& log_alpha, const std::vector<double>& prob,
                                   double closed_at, double reopen_to, std::mt19937_64& rng) {
  HP_CHECK(prob.size() == log_alpha.size(), "reopen: ", prob.size(), " probabilities for ",
           log_alpha.size(), " gates");
  std::vector<int64_t> out;
  for (size_t i = 0; i < log_alpha.size(); ++i) {
    if (log_alpha[i] > closed_at) continue;
    if (uniform_unit(rng) < prob[i]) {
      log_alpha[i] = reopen_to;
      out.push_back(int64_t(i));
    }
  }
  return out;
}

std::vector<double> reopen_probabilities(const std::vector<double>& confidence, double factor) {
  double mx = -std::numeric_limits<double>::infinity();
  for (double c : confidence) mx = std::max(mx, c);
  std::vector<double> p(confidence.size(), 0.0);
  if (!(mx > 0) || !std::isfinite(mx)) return p;
  for (size_t i = 0; i < p.size(); ++i) p[i] = std::min(1.0, std::max(0.0, factor * confidence[i] / mx));
  return p;
}

double output_scale(int64_t n_head, int64_t n_closed) {
  HP_CHECK(n_head > 0 && n_closed >= 0 && n_closed <= n_head, "output scale: ", n_closed, " closed of ",
           n_head, " heads");
  double h = double(n_head);
  return std::min(h, std::max(1.0, h / (h - double(n_closed) + 1e-3)));
}

}  // namespace hp
