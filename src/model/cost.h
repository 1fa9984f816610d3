// Cost accounting: one Budget computes the FLOPs of every unit from the sublayer list, for every
// method's budget, for `info`, `bench` and the pruning map, so they cannot disagree.
// Counted for one sequence of length T (2 FLOPs per multiply-add; biases, norms, softmax and
// embeddings ignored, as in the Kwon et al. and Kprune reference code), per sublayer:
//   attention, per query head:  Q and O projections 4*T*d*dh, scores and context 4*T*S*dh
//                               (S = T keys, plus memory_slots persistent vectors per head)
//   attention, per K/V group:   K and V projections 4*T*d*dh, charged once per group that still
//                               serves a kept query head (grouped-query attention)
//   FFN, per neuron:            up + down 4*T*d (6*T*d with a gate projection)
// Without grouped-query attention one head costs 8*T*d*dh + 4*T^2*dh, i.e. Kprune's
// F_head = 6 T d dh + 4 T^2 dh + 2 T dh d and twice Kwon's MAC count 4 T d dh + 2 T^2 dh.
#pragma once
#include <vector>

#include "config/model_config.h"
#include "model/masks.h"
#include "model/sublayer.h"

namespace hp {

// Throws unless keep_flops is in (0, 1]: the one check every method and command shares.
void check_keep_flops(double keep_flops);
// Relative slack every budget comparison allows: sums of unit costs at a fractional sequence
// length round differently from total(), and keep_flops = 1 must keep every unit.
constexpr double kBudgetSlack = 1e-10;

class Budget {
 public:
  Budget(std::vector<SublayerSpec> specs, double seq_len);
  Budget(const ModelConfig& cfg, double seq_len);  // sublayers_of(cfg)

  const std::vector<SublayerSpec>& sublayers() const { return specs_; }
  double seq_len() const { return seq_len_; }
  // FLOPs of one query head / neuron of sublayer s, without its K/V group.
  double unit_cost(int s) const;
  // FLOPs of one K/V group of sublayer s (0 for FFN).
  double group_cost(int s) const;
  // A unit's cost with its group's cost shared among the group's query heads: the price used to
  // rank units one at a time. Exact for MHA and FFN; for GQA, cost() below is the exact total.
  double amortized_cost(int s) const;
  // FLOPs of sublayer s keeping `units` units in `groups` groups.
  double sublayer_cost(int s, int64_t units, int64_t groups) const;
  // FLOPs of the masked model: kept units, plus one group cost per K/V group that still serves a
  // kept query head (undefined entries = all units).
  double cost(const MaskSet& masks) const;
  double cost_of_sublayer(const MaskSet& masks, int s) const;
  // FLOPs of every unit as the model is now (the reference of keep_flops).
  double total() const;
  // keep_flops * total() * (1 + kBudgetSlack), after check_keep_flops: the limit units must fit.
  double target(double keep_flops) const;
  // Per sublayer FLOPs as the model is now.
  std::vector<double> per_sublayer() const;

 private:
  std::vector<SublayerSpec> specs_;
  double seq_len_;
};

// FLOPs of the same architecture with every layer at its dense width.
double dense_flops(const ModelConfig& cfg, double seq_len);

}  // namespace hp
