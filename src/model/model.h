// The model interface every architecture implements. A model is a stack of sublayers
// (attention, FFN) between an embedding and a task head; pruning code drives the stack one
// sublayer at a time through this interface and never sees architecture details.
// Parameter names are the Hugging Face checkpoint keys, so checkpoints load without a mapping.
#pragma once
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/masks.h"
#include "model/param_tree.h"

namespace hp {

using TensorMap = std::map<std::string, torch::Tensor>;

struct ForwardInput {
  torch::Tensor input_ids;       // [B, T] int64
  torch::Tensor attention_mask;  // [B, T] int64, 1 = real token
  torch::Tensor token_type_ids;  // [B, T] int64 or undefined
};

// What a scoring method may ask a forward pass to keep (per layer; undefined when not asked or
// when the sublayer is skipped). Shapes: [B, T, ...].
struct Trace {
  bool keep_inputs = false;  // residual stream entering each sublayer
  bool keep_units = false;   // inputs of each output projection (per-head context, FFN act.)
  bool keep_outputs = false; // sublayer output before the residual add
  // Per head, the largest pre-softmax attention score of each query (padding excluded), averaged
  // over the batch's real query tokens: [n_head], no gradient. Used as a head "confidence".
  bool keep_attn_max = false;
  std::vector<torch::Tensor> attn_max;
  std::vector<torch::Tensor> attn_in, attn_units, attn_out;  // units: [B,T,n_head*d_head]
  std::vector<torch::Tensor> ffn_in, ffn_units, ffn_out;     // units: [B,T,n_ff]
  void reset(int n_layer);
};

// Names of the tensors of one layer that surgery slices. Per-head row blocks: q (n_head*d_head
// rows), k/v (n_head_kv*d_head rows); per-head column blocks: o. FFN: up (and gate) rows, down
// columns. Empty string = tensor absent (e.g. no bias).
struct SublayerNames {
  std::string wq, bq, wk, bk, wv, bv, wo, bo;
  std::string w_up, b_up, w_gate, b_gate, w_down, b_down;
  std::vector<std::string> attn_other, ffn_other;  // kept whole while the sublayer exists
};

class Model : public ParamTree {
 public:
  explicit Model(ModelConfig cfg) : cfg_(std::move(cfg)) {}
  const ModelConfig& config() const { return cfg_; }

  // Full forward: logits ([B, C] for classify/regress, [B, T, V] for mlm/lm).
  torch::Tensor forward(const ForwardInput& in, const MaskSet* masks = nullptr,
                        Trace* trace = nullptr, const torch::Tensor& predict_positions = {});

  // The stack, one piece at a time (used by forward and by sublayer-wise pruning methods).
  // `ctx` holds per-batch values computed once by embed (e.g. the additive attention mask).
  struct Context {
    torch::Tensor attn_bias;  // broadcastable to [B, n_head, T, T]
    torch::Tensor token_mask; // [B, T] bool
    // Optional [B, T] bool: token-level heads (mlm/lm) return logits only at these positions,
    // as [N, V], so training does not materialise [B, T, V].
    torch::Tensor predict_positions;
  };
  virtual torch::Tensor embed(const ForwardInput& in, Context& ctx) = 0;               // [B,T,d]
  // Sublayer `il` applied to the residual stream x, including the residual add (and norm).
  virtual torch::Tensor attn_sublayer(int il, const torch::Tensor& x, const Context& ctx,
                                      const torch::Tensor& head_mask, Trace* trace) = 0;
  virtual torch::Tensor ffn_sublayer(int il, const torch::Tensor& x,
                                     const torch::Tensor& neuron_mask, Trace* trace) = 0;
  virtual torch::Tensor head(const torch::Tensor& x, const Context& ctx) = 0;

  virtual SublayerNames names(int il) const = 0;

  // Named parameters (HF keys) as a map; tied weights appear once, under their HF key.
  TensorMap state() const;
  // Copies tensors into the parameters. Every parameter must be present with the exact shape;
  // unexpected keys are an error unless listed by ignorable_keys().
  void load_state(const TensorMap& tensors, const std::string& where);
  virtual std::vector<std::string> ignorable_keys() const { return {}; }

 protected:
  ModelConfig cfg_;
};

// Registry: builds an architecture from its config (random init, seeded by the caller).
std::shared_ptr<Model> make_model(const ModelConfig& cfg);

}  // namespace hp
