// Per-channel activation statistics over the real tokens of calibration batches (FLAP's
// fluctuation, Wanda's input norms, bias-compensation means). Moments are accumulated batch by
// batch in double precision with the pairwise update of Chan, Golub and LeVeque (batch mean and
// squared deviations merged into the running ones), so memory is a few [D] vectors per sublayer
// whatever the number of tokens, and the variance does not suffer the cancellation of
// Σx² − n·mean².
#pragma once
#include <torch/torch.h>

#include <optional>
#include <vector>

#include "core/log.h"
#include "model/masks.h"
#include "model/model.h"
#include "model/probe.h"
#include "score/calib.h"

namespace hp {

struct ChannelMoments {
  int64_t count = 0;                // rows (tokens) seen
  torch::Tensor mean, m2, sumsq;    // [D] float64: mean, Σ (x - mean)², Σ x²

  // Adds rows [N, D] (any dtype / device; kept on that device).
  void add(const torch::Tensor& rows);
  bool empty() const { return count == 0; }
  int64_t dim() const { return mean.defined() ? mean.numel() : 0; }
  // Unbiased sample variance Σ (x - mean)² / (count - 1) ([D], zeros when count < 2).
  torch::Tensor variance() const;
  // L2 norm over all rows, sqrt(Σ x²) ([D]).
  torch::Tensor l2() const;
  // The same moments on another device.
  ChannelMoments to(torch::Device device) const;
};

// Collects ChannelMoments of the output-projection inputs (`units`) and / or of the residual
// stream entering each sublayer (`inputs`), over the rows where `token_mask` is true. The caller
// sets `token_mask` to the current batch's [B, T] real-token mask before each forward.
class ChannelStatsProbe : public Probe {
 public:
  bool units = true, inputs = false;
  torch::Tensor token_mask;  // [B, T] bool; undefined = every position counts
  std::vector<ChannelMoments> unit_stats, input_stats;  // indexed by sublayer (empty where unseen)

  void on_input(int s, const torch::Tensor& x) override;
  void on_units(int s, const torch::Tensor& u) override;

 private:
  void put(std::vector<ChannelMoments>& v, int s, const torch::Tensor& x);
};

// Runs every calibration batch through all sublayers (no head, no autograd) with `masks` (null =
// dense), feeding the probe; `bar` (optional) advances by one per batch.
void collect_channel_stats(Model& model, const CalibSet& calib, const MaskSet* masks,
                           ChannelStatsProbe& probe, Progress* bar = nullptr);

}  // namespace hp
