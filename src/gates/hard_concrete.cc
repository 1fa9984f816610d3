#include "gates/hard_concrete.h"

#include <cmath>

#include "core/check.h"

namespace hp {

double HardConcrete::closed_shift() const {
  HP_CHECK(gamma < 0 && zeta > 1 && beta > 0, "hard concrete needs gamma < 0 < 1 < zeta and beta > 0, got gamma ",
           gamma, " zeta ", zeta, " beta ", beta);
  return beta * std::log(-gamma / zeta);
}

double HardConcrete::open_shift() const {
  HP_CHECK(gamma < 0 && zeta > 1 && beta > 0, "hard concrete needs gamma < 0 < 1 < zeta and beta > 0, got gamma ",
           gamma, " zeta ", zeta, " beta ", beta);
  return beta * std::log((1 - gamma) / (zeta - 1));
}

torch::Tensor HardConcrete::sample_from_uniform(const torch::Tensor& log_alpha, const torch::Tensor& u) const {
  HP_CHECK(u.sizes() == log_alpha.sizes(), "hard concrete: noise shape ", u.sizes(), " != log_alpha shape ",
           log_alpha.sizes());
  auto uc = u.to(log_alpha.scalar_type()).clamp(eps, 1 - eps);
  // log u - log(1-u) is the logistic noise; log1p keeps precision near u = 1.
  auto logistic = torch::log(uc) - torch::log1p(-uc);
  auto s = torch::sigmoid((logistic + log_alpha) / beta);
  return (s * (zeta - gamma) + gamma).clamp(0.0, 1.0);
}

torch::Tensor HardConcrete::sample(const torch::Tensor& log_alpha) const {
  return sample_from_uniform(log_alpha, torch::rand(log_alpha.sizes(), log_alpha.options().requires_grad(false)));
}

torch::Tensor HardConcrete::deterministic(const torch::Tensor& log_alpha) const {
  return (torch::sigmoid(log_alpha) * (zeta - gamma) + gamma).clamp(0.0, 1.0);
}

torch::Tensor HardConcrete::p_closed(const torch::Tensor& log_alpha) const {
  return torch::sigmoid(closed_shift() - log_alpha);
}

torch::Tensor HardConcrete::p_open(const torch::Tensor& log_alpha) const {
  return torch::sigmoid(log_alpha - open_shift());
}

torch::Tensor HardConcrete::log_p_closed(const torch::Tensor& log_alpha) const {
  return torch::log_sigmoid(closed_shift() - log_alpha);
}

torch::Tensor HardConcrete::p_nonzero(const torch::Tensor& log_alpha) const {
  return torch::sigmoid(log_alpha - closed_shift());
}

}  // namespace hp
