// Kprune's importance of units ("knowledge", Park et al. 2024): how much predictive and
// representational knowledge of the dense teacher a unit carries in the current student.
//  - predictive: 0.5 · (∂KL/∂m)², KL = T²·KL(softmax(z_teacher/T) || softmax(z/T)) (MSE for
//    regression), m a mask on each dimension of the output-projection input; summed over batches
//    and divided by the number of sequences. Units wider than one dimension (heads) average over
//    their unit_width dimensions.
//  - representational: Σ_tokens x_j² · mean_i W_ij² over real tokens, divided by the number of
//    tokens; x = the output-projection input (head context / FFN activation), W = the output
//    projection [d, units]. Heads again average over their dimensions.
#pragma once
#include <string>
#include <vector>

#include "score/calib.h"

namespace hp {

struct Knowledge {
  // Per sublayer, double CPU: [units]; zeros for sublayers below the start.
  std::vector<torch::Tensor> pred, rep;
  // Per sublayer: mean over real tokens of ||x||²/d of the residual stream entering it (0 below
  // the start and where skipped). Kprune divides a pre-norm sublayer's rep by it (rep_norm).
  std::vector<double> stream_energy;
};

// Knowledge of every unit in sublayers stream.position() .. end of `model`, running the stack from
// the cached residual streams with all-ones masks there. `teacher`: per batch teacher outputs.
Knowledge measure_knowledge(Model& model, const CalibSet& calib, const StreamCache& stream,
                            const std::vector<torch::Tensor>& teacher, double temperature,
                            const std::string& progress_label);

}  // namespace hp
