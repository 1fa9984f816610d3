// Hard Concrete gates (Louizos et al. 2018), as used for attention heads by Voita et al. 2019,
// PASS (Ding et al.) and Shim et al. 2021: a binary-concrete sample s stretched to (gamma, zeta) and
// clamped to [0, 1], so that a gate is exactly 0 or exactly 1 with non-zero probability.
//   u ~ U(eps, 1-eps),  s = sigmoid((log u - log(1-u) + log_alpha) / beta)
//   z = clamp(s * (zeta - gamma) + gamma, 0, 1)
//   P0 = P(z == 0) = sigmoid(beta*log(-gamma/zeta) - log_alpha)
//   P1 = P(z == 1) = sigmoid(log_alpha - beta*log((1-gamma)/(zeta-1)))
// The deterministic (evaluation) gate is the same map with s = sigmoid(log_alpha).
// Pure tensor math on any device and dtype; no state, no training loop.
#pragma once
#include <torch/torch.h>

namespace hp {

struct HardConcrete {
  double beta = 0.33;   // temperature
  double gamma = -0.1;  // lower stretch limit (< 0)
  double zeta = 1.1;    // upper stretch limit (> 1)
  double eps = 1e-6;    // uniform noise kept in [eps, 1-eps] (log of 0 otherwise)

  // beta*log(-gamma/zeta): P0 = sigmoid(closed_shift() - log_alpha).
  double closed_shift() const;
  // beta*log((1-gamma)/(zeta-1)): P1 = sigmoid(log_alpha - open_shift()).
  double open_shift() const;

  // Gate sample from given uniforms u (same shape as log_alpha; values are clamped to [eps, 1-eps]).
  torch::Tensor sample_from_uniform(const torch::Tensor& log_alpha, const torch::Tensor& u) const;
  // Gate sample with fresh uniforms from the global torch generator (seeded by the caller).
  torch::Tensor sample(const torch::Tensor& log_alpha) const;
  // Deterministic gate: clamp(sigmoid(log_alpha) * (zeta - gamma) + gamma, 0, 1).
  torch::Tensor deterministic(const torch::Tensor& log_alpha) const;
  torch::Tensor p_closed(const torch::Tensor& log_alpha) const;  // P0 = P(z == 0)
  torch::Tensor p_open(const torch::Tensor& log_alpha) const;    // P1 = P(z == 1)
  // log P0 in log-sigmoid form (for products of many P0 without underflow).
  torch::Tensor log_p_closed(const torch::Tensor& log_alpha) const;
  // P(z != 0) = 1 - P0 = sigmoid(log_alpha - closed_shift()): the expected L0 norm per gate.
  torch::Tensor p_nonzero(const torch::Tensor& log_alpha) const;
};

}  // namespace hp
