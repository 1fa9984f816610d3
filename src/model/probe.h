// Probes: how scoring methods observe a forward pass. The model calls the probe at fixed points of
// every sublayer it applies; a probe keeps what it needs (the model carries no method-specific
// fields), so a new statistic is a new probe, not a new model field. All tensors are the ones in
// the graph: a probe that keeps `units` can differentiate a loss with respect to them.
#pragma once
#include <torch/torch.h>

#include <vector>

namespace hp {

class Probe {
 public:
  virtual ~Probe() = default;
  // Residual stream entering sublayer s: [B, T, d]. Called even when the sublayer is skipped.
  virtual void on_input(int s, const torch::Tensor& x) {}
  // Inputs of sublayer s's output projection, [B, T, units * unit_width] (per-head context,
  // FFN activation), after the sublayer's mask was applied.
  virtual void on_units(int s, const torch::Tensor& units) {}
  // Sublayer output before the residual add (and dropout): [B, T, d].
  virtual void on_output(int s, const torch::Tensor& y) {}
  // Whether on_attention should be called for sublayer s (computing it costs a second score pass).
  virtual bool wants_attention(int s) const { return false; }
  // Attention sublayer s: queries [B, Hq, T, dh], keys [B, Hkv, S, dh] (before any grouping),
  // the additive bias broadcastable to [B, Hq, T, S] (or undefined) and the real-token mask
  // [B, T] of the queries.
  virtual void on_attention(int s, const torch::Tensor& q, const torch::Tensor& k,
                            const torch::Tensor& attn_bias, const torch::Tensor& token_mask) {}
};

// Keeps the tensors asked for, per sublayer (undefined where not asked or the sublayer was skipped).
class Recorder : public Probe {
 public:
  bool keep_inputs = false, keep_units = false, keep_outputs = false;
  std::vector<torch::Tensor> inputs, units, outputs;  // indexed by sublayer

  void on_input(int s, const torch::Tensor& x) override;
  void on_units(int s, const torch::Tensor& u) override;
  void on_output(int s, const torch::Tensor& y) override;
  // Clears what was recorded (sizes follow the first sublayer index seen).
  void reset();

 private:
  static void put(std::vector<torch::Tensor>& v, int s, const torch::Tensor& t);
};

// Per attention sublayer, the largest pre-softmax score of each query (padding excluded) averaged
// over the batch's real queries: [Hq] per sublayer, no gradient. PASS's head "confidence".
class AttentionMaxProbe : public Probe {
 public:
  std::vector<torch::Tensor> max_score;  // indexed by sublayer; undefined where not attention
  bool wants_attention(int) const override { return true; }
  void on_attention(int s, const torch::Tensor& q, const torch::Tensor& k,
                    const torch::Tensor& attn_bias, const torch::Tensor& token_mask) override;
};

}  // namespace hp
