// Subset selection for differentiable subset pruning (DSP, Li et al. 2021) and its straight-through
// variant: a relaxed (Gumbel) soft top-K computed by K rounds of softmax in float64, where each
// round down-weights the items already taken by adding log(1 - p) to their scores, and exact
// top-K indicators with a deterministic tie-break (lower index first).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace hp {

// Soft K-hot vector of logits w ([N], any float dtype): r = w (+ Gumbel noise g = -log(-log u)
// when `gumbel`), p_1 = softmax(r / tau), and for j = 2..K: r += log(max(1 - p_{j-1}, 1e-30)),
// p_j = softmax(r / tau); returns sum_j p_j ([N], float64, entries in [0, 1], sum K).
// Differentiable w.r.t. w. `u` (optional, [N]) supplies the uniforms for the noise (tests).
torch::Tensor soft_topk(const torch::Tensor& w, int64_t k, double tau, bool gumbel,
                        const torch::Tensor& u = {});

// Exact K-hot indicator (float32 [N], on w's device) of the K largest values; ties go to the lower
// index, so the result always has exactly K ones.
torch::Tensor hard_topk(const torch::Tensor& w, int64_t k);
// Indices of the K largest values, same tie-break, in decreasing order of value.
std::vector<int64_t> topk_indices(const torch::Tensor& w, int64_t k);

// Straight-through top-K: forward value hard_topk(scores, k), gradient passed unchanged to scores.
torch::Tensor ste_topk(const torch::Tensor& scores, int64_t k);

// Gumbel noise -log(-log u), u ~ U(tiny, 1) from the global torch generator, float64 [n] on device.
torch::Tensor gumbel_noise(int64_t n, const torch::Device& device);

}  // namespace hp
