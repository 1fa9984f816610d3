// BERT-style encoder (post-LayerNorm blocks, learned positions, token types) with a
// classification/regression head (BertForSequenceClassification) or a masked-LM head
// (BertForMaskedLM). Sublayers bottom-up: layer il's self-attention, then its FFN. Per-layer widths
// come from the config; a sublayer with 0 units (or an all-zero mask) keeps only its LayerNorm
// (the residual path), matching Kprune's treatment of empty sublayers.
#pragma once
#include "model/layers.h"
#include "model/model.h"

namespace hp {

class BertModel : public Model {
 public:
  explicit BertModel(const ModelConfig& cfg);
  ForwardState begin(const ForwardInput& in) override;
  void apply(int s, ForwardState& st, const torch::Tensor& mask, Probe* probe) override;
  torch::Tensor head(const ForwardState& st) override;
  std::vector<std::string> ignorable_keys() const override;

  static std::vector<SublayerSpec> describe(const ModelConfig& cfg);
  static ModelConfig tiny(const std::string& task);

 private:
  torch::Tensor attn(int s, const torch::Tensor& x, const ForwardState& st,
                     const torch::Tensor& head_mask, Probe* probe);
  torch::Tensor ffn(int s, const torch::Tensor& x, const torch::Tensor& neuron_mask, Probe* probe);
  struct Layer {
    torch::Tensor wq, bq, wk, bk, wv, bv, wo, bo, ln1_w, ln1_b;
    torch::Tensor w_up, b_up, w_down, b_down, ln2_w, ln2_b;
  };
  torch::Tensor word_emb_, pos_emb_, type_emb_, emb_ln_w_, emb_ln_b_;
  std::vector<Layer> layers_;
  torch::Tensor pool_w_, pool_b_, cls_w_, cls_b_;                 // classify / regress
  torch::Tensor mlm_w_, mlm_b_, mlm_ln_w_, mlm_ln_b_, mlm_bias_;  // mlm
  Activation act_;
  bool token_head_ = false;  // masked-LM head (else pooler + classifier)
  double dropout_, attn_dropout_;
};

}  // namespace hp
