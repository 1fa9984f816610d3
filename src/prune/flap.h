// FLAP (An et al. 2024, "Fluctuation-based Adaptive Structured Pruning for Large Language
// Models"): fluctuation metric of every output-projection input channel, scores standardised per
// sublayer and ranked across all sublayers under the FLOPs budget, and bias compensation of the
// removed channels' mean contribution. docs/methods.md gives the defaults and the differences from
// the reference code.
#pragma once
#include <string>
#include <vector>

#include "core/log.h"
#include "prune/method.h"
#include "score/calib.h"

namespace hp {

struct FlapScores {
  // Per sublayer (empty tensors where the sublayer is absent), float64 on the CPU:
  std::vector<torch::Tensor> channel;  // [units*unit_width] metric per output-projection input
                                       // channel (squared for attention sublayers)
  std::vector<torch::Tensor> unit;     // [units] standardised score: mean of the unit's channel z-scores
  std::vector<torch::Tensor> mean;     // [units*unit_width] mean output-projection input
};

// One dense pass over the calibration set. metric: "wifv" = var(x_c)·‖W_out[:, c]‖²,
// "ifv" = var(x_c), "wifn" = mean_i |W_out[i, c]|·‖x_c‖₂. Variance and norms over real tokens.
FlapScores flap_scores(Model& model, const CalibSet& calib, const std::string& metric,
                       Progress* bar = nullptr);

// New output-projection biases b + W_out[:, removed]·mean(x_removed) for every sublayer that lost
// units (by HF name, in the bias's dtype, on the CPU). A sublayer emptied completely keeps its
// compensation only when its bias survives the removal (SublayerSpec::bias_survives_empty); the
// others are counted in *uncompensated. Throws when a sublayer to compensate has no output bias.
// Whether flap with these --param options compensates biases (bias_compensation, default on).
bool flap_needs_output_biases(const nlohmann::json& params);

TensorMap flap_bias_compensation(const Model& model, const MaskSet& masks,
                                 const std::vector<torch::Tensor>& mean, int* uncompensated = nullptr);

PruneOutput prune_flap(const PruneContext& ctx);

}  // namespace hp
