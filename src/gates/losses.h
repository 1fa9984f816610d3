// Sparsity losses and schedules of the gate-trained head-pruning methods (docs/gates.md has the
// equations): Voita/Shim's expected-L0 penalty, PASS's almost-sure sparsity loss and concentrator,
// PASS's lambda schedule, clip & reopen, the concentrator coefficient, and Shim's per-layer output
// scaling. Losses take a flat log_alpha tensor over all gated heads plus the sizes of the groups
// (attention modules) it is cut into, so nothing here knows about layers of a particular model.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <random>
#include <vector>

#include "gates/hard_concrete.h"

namespace hp {

// Voita 2019 / Shim 2021: L_C = sum_i P(z_i != 0) = sum_i sigmoid(log_alpha_i - beta*log(-gamma/zeta)).
torch::Tensor l0_penalty(const HardConcrete& hc, const torch::Tensor& log_alpha);

// PASS almost-sure sparsity loss (without lambda), N = numel, n_close = gates to close:
//   |n_close - sum P0| + |(N - n_close) - sum P1| + sum (1 - P0 - P1).
torch::Tensor pass_loss(const HardConcrete& hc, const torch::Tensor& log_alpha, int64_t n_close);

// PASS concentrator (without lambda * lambda_c): sum over groups g of (1 - prod_{i in g} P0_i),
// the product taken in log space (sum of log-sigmoids) and 1 - exp(.) as -expm1(.).
torch::Tensor concentrator_loss(const HardConcrete& hc, const torch::Tensor& log_alpha,
                                const std::vector<int64_t>& group_sizes);

// PASS concentrator coefficient lambda_c, evaluated on (clipped) log_alpha values:
//   min over gates i that are not closed (log_alpha_i > closed_at) of
//     2 * max(r_i, 1) / max(1e-8, prod_{j != i, j in group(i)} P0_j),
//   r_i = s(a+x) s(-a-x) / (s(a-x) s(-a+x)), x = log_alpha_i, a = beta*log(-gamma/zeta),
// capped at `cap` (also the value when no gate is open).
double concentrator_coeff(const HardConcrete& hc, const std::vector<double>& log_alpha,
                          const std::vector<int64_t>& group_sizes, double closed_at, double cap);

// PASS lambda schedule: lambda = lambda0 * growth^(k / period); the counter k advances only on
// steps where the gate counts miss the target (#closed != target or #open != N - target).
struct LambdaSchedule {
  double lambda0 = 1e-5, growth = 1000, period = 1000;
  int64_t k = 0;
  double value() const;
  // Called once per training step with the current counts; returns the lambda for the next step.
  double update(int64_t n_closed, int64_t n_open, int64_t n_total, int64_t target_closed);
};

// Clamps every value into [lo, hi]; returns how many were changed.
int64_t clip_values(std::vector<double>& log_alpha, double lo, double hi);

// Reopens closed gates (log_alpha <= closed_at): gate i becomes `reopen_to` when a uniform draw from
// rng is < prob[i] (one draw per closed gate, in index order, so a seed fixes the outcome). Returns
// the indices reopened.
std::vector<int64_t> reopen_closed(std::vector<double>& log_alpha, const std::vector<double>& prob,
                                   double closed_at, double reopen_to, std::mt19937_64& rng);

// Reopen probabilities from accumulated head confidences: factor * conf_i / max_j conf_j, clamped
// to [0, 1] (all zero when the maximum is not positive).
std::vector<double> reopen_probabilities(const std::vector<double>& confidence, double factor);

// Shim 2021 attention output scaling of one module with H heads of which n_closed are closed:
// clamp(H / (H - n_closed + 1e-3), 1, H).
double output_scale(int64_t n_head, int64_t n_closed);

}  // namespace hp
