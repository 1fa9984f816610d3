// FLOPs accounting, one counter for every method's budget and for `info`/`bench`.
// Counted per sublayer for one sequence of length s (2 FLOPs per multiply-add; biases, norms,
// softmax and embeddings ignored, as in the Kwon et al. and Kprune reference code):
//   attention, per query head:  Q and O projections 4*s*d*dh, scores and context 4*s^2*dh
//   attention, per K/V head:    K and V projections 4*s*d*dh
//   FFN, per neuron:            up + down 4*s*d (6*s*d with a gate projection)
// Without grouped-query attention one head costs 8*s*d*dh + 4*s^2*dh, i.e. Kprune's
// F_head = 6 s d dh + 4 s^2 dh + 2 s dh d and twice Kwon's MAC count 4 s d dh + 2 s^2 dh.
#pragma once
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace hp {

struct FlopsBreakdown {
  std::vector<double> attn, ffn;  // per layer
  double total() const;           // all prunable sublayers
};

double flops_per_head(const ModelConfig& cfg, double seq_len);     // query head incl. its K/V share
double flops_per_kv_head(const ModelConfig& cfg, double seq_len);  // K + V projections of one KV head
double flops_per_query_head(const ModelConfig& cfg, double seq_len);
double flops_per_neuron(const ModelConfig& cfg, double seq_len);
FlopsBreakdown count_flops(const ModelConfig& cfg, double seq_len);
// FLOPs of the same architecture with every layer at its dense width.
double dense_flops(const ModelConfig& cfg, double seq_len);

}  // namespace hp
