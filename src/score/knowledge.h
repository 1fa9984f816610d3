// Kprune's importance of heads and neurons ("knowledge", Park et al. 2024): how much predictive
// and representational knowledge of the dense teacher a unit carries in the current student.
//  - predictive: 0.5 · (∂KL/∂m)², KL = T²·KL(softmax(z_teacher/T) || softmax(z/T)) (MSE for
//    regression), m a mask on each dimension of the output-projection input; summed over batches
//    and divided by the number of sequences. Heads average over their d_head dimensions.
//  - representational: Σ_tokens x_j² · mean_i W_ij² over real tokens, divided by the number of
//    tokens; x = the output-projection input (head context / FFN activation), W = the output
//    projection [d, units]. Heads again average over their d_head dimensions.
#pragma once
#include <string>
#include <vector>

#include "score/calib.h"

namespace hp {

struct Knowledge {
  // Per layer, double CPU: [n_head] and [n_ff]; zeros for sublayers below the start.
  std::vector<torch::Tensor> head_pred, head_rep, neuron_pred, neuron_rep;
};

// Knowledge of every unit in sublayers stream.position() .. 2L-1 of `model`, running the stack from
// the cached residual streams with all-ones masks there. `teacher`: per batch teacher outputs.
Knowledge measure_knowledge(Model& model, const CalibSet& calib, const StreamCache& stream,
                            const std::vector<torch::Tensor>& teacher, double temperature,
                            const std::string& progress_label);

}  // namespace hp
