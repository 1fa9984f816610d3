// Least-squares reconstruction for retraining-free pruning: normal-equation accumulators over
// calibration tokens and the two solvers the methods need — per-unit output scales (Kwon et al.'s
// mask tuning) and a re-fitted output projection (Kprune's weight tuning). Everything is double on
// the CPU: the systems are small (≤ n_ff unknowns) and their conditioning is poor.
#pragma once
#include <torch/torch.h>

namespace hp {

// Accumulates X^T X, X^T R and ||R||² for min_W ||X W - R||² over token rows.
struct NormalEquations {
  torch::Tensor xtx;  // [k, k] double CPU
  torch::Tensor xtr;  // [k, m] (or [k] for a vector target)
  double rtr = 0;     // Σ R²
  int64_t rows = 0;
  // x: [N, k], r: [N, m]; any device/dtype.
  void add(const torch::Tensor& x, const torch::Tensor& r);
  // Direct statistics (when X^T X is cheaper to form blockwise, e.g. Kwon's per-neuron outputs).
  void add_stats(const torch::Tensor& xtx_part, const torch::Tensor& xtr_part, double rtr_part,
                 int64_t rows_part);
  bool empty() const { return !xtx.defined(); }
  // ||X W - R||² for a given W ([k, m] or [k]).
  double error(const torch::Tensor& w) const;
};

// Kwon et al.'s scale solve (their LSMR call, damp = `damp`, on the normal equations, solving for
// scale - 1): x = argmin ||A x - (b - A 1)||² + damp² ||x||², returned as 1 + x.
// A = X^T X, b = X^T r. Undefined tensor when the solution is not finite.
torch::Tensor solve_scales(const NormalEquations& ne, double damp);

// Kprune's weight solve: W = lstsq(X^T X, X^T R) ([k, m]); undefined when not finite.
torch::Tensor solve_weights(const NormalEquations& ne);

}  // namespace hp
