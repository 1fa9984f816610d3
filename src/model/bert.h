// BERT-style encoder (post-LayerNorm blocks, GELU FFN, learned positions, token types) with a
// classification/regression head (BertForSequenceClassification) or a masked-LM head
// (BertForMaskedLM). Per-layer widths come from the config; a layer with 0 heads / 0 neurons keeps
// only its LayerNorm (the residual path), matching Kprune's treatment of empty sublayers.
#pragma once
#include "model/model.h"

namespace hp {

class BertModel : public Model {
 public:
  explicit BertModel(const ModelConfig& cfg);
  torch::Tensor embed(const ForwardInput& in, Context& ctx) override;
  torch::Tensor attn_sublayer(int il, const torch::Tensor& x, const Context& ctx,
                              const torch::Tensor& head_mask, Trace* trace) override;
  torch::Tensor ffn_sublayer(int il, const torch::Tensor& x, const torch::Tensor& neuron_mask,
                             Trace* trace) override;
  torch::Tensor head(const torch::Tensor& x, const Context& ctx) override;
  SublayerNames names(int il) const override;
  std::vector<std::string> ignorable_keys() const override;

 private:
  struct Layer {
    torch::Tensor wq, bq, wk, bk, wv, bv, wo, bo, ln1_w, ln1_b;
    torch::Tensor w_up, b_up, w_down, b_down, ln2_w, ln2_b;
  };
  std::string prefix_;  // "bert."
  torch::Tensor word_emb_, pos_emb_, type_emb_, emb_ln_w_, emb_ln_b_;
  std::vector<Layer> layers_;
  torch::Tensor pool_w_, pool_b_, cls_w_, cls_b_;                      // classify / regress
  torch::Tensor mlm_w_, mlm_b_, mlm_ln_w_, mlm_ln_b_, mlm_bias_;       // mlm
  double dropout_, attn_dropout_;
};

}  // namespace hp
