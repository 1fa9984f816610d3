// Model shapes. Sizes live per layer (never one global head count) so that uneven, pruned shapes
// are expressible everywhere: a LayerConfig with n_head == 0 has no attention sublayer, one with
// n_ff == 0 has no FFN sublayer (only the residual path remains).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace hp {

struct LayerConfig {
  int n_head = 0;     // query heads kept in this layer (0 = attention sublayer skipped)
  int n_head_kv = 0;  // key/value heads (== n_head without grouped-query attention)
  int n_ff = 0;       // FFN width (0 = FFN sublayer skipped)
  bool has_attn() const { return n_head > 0; }
  bool has_ffn() const { return n_ff > 0; }
  bool operator==(const LayerConfig& o) const {
    return n_head == o.n_head && n_head_kv == o.n_head_kv && n_ff == o.n_ff;
  }
};

struct ModelConfig {
  std::string arch = "bert";      // registry key: "bert", ...
  std::string task = "classify";  // a task of config/task_info.h
  int vocab_size = 0;
  int d_model = 0;
  int d_head = 0;
  int n_layer = 0;
  int n_head_dense = 0;  // heads per layer of the unpruned model (HF num_attention_heads)
  int n_kv_dense = 0;    // K/V heads per layer of the unpruned model (HF num_key_value_heads;
                         // 0 = n_head_dense, no grouped-query attention); read it via kv_dense()
  int n_ff_dense = 0;    // FFN width of the unpruned model (HF intermediate_size)
  int max_pos = 512;
  int type_vocab_size = 2;
  int pad_id = 0;
  float ln_eps = 1e-12f;
  // What a sublayer with no units left computes (post-LN models): false = LayerNorm(x), the
  // residual alone (Kprune's layer skipping); true = LayerNorm(x + b_out), the output bias kept
  // (what HF BERT computes under an all-zero head mask, as Kwon et al.'s reference measures).
  bool empty_keeps_bias = false;
  std::string act = "gelu";
  // Output embedding (LM head / MLM decoder) shares the input embedding matrix.
  bool tie_embeddings = true;
  // Unit of attention pruning in grouped-query attention (not saved: a pruning-time choice).
  // "group": a unit is one K/V group with the query heads that share it (the default);
  // "query": units are query heads, kept in equal numbers per group. Equal without GQA.
  std::string gqa_unit = "group";
  int n_labels = 2;
  std::vector<std::string> labels;  // id2label; empty = "LABEL_i"
  std::vector<LayerConfig> layers;  // size n_layer
  // Settings of the architecture that its HF mapping validated and its model reads (rotary
  // base and scaling, projection biases, OPT's norm placement, ...), by HF field name. The
  // mapping writes them back; a config built in code may leave them out (HF's defaults apply).
  nlohmann::json arch_opts = nlohmann::json::object();
  // HF config fields headprune does not interpret, written back unchanged on save.
  nlohmann::json passthrough = nlohmann::json::object();

  const LayerConfig& layer(int il) const { return layers.at(il); }
  int kv_dense() const { return n_kv_dense > 0 ? n_kv_dense : n_head_dense; }
  bool uniform() const;          // every layer has the dense widths (HF can express it as-is)
  // Every layer has the same widths (possibly smaller than dense): HF can express it by
  // rewriting the dense sizes.
  bool same_widths() const;
  int64_t total_heads() const;   // sum of n_head over layers
  int64_t total_neurons() const; // sum of n_ff over layers
  // Fills `layers` with n_layer copies of the dense widths.
  void set_dense_layers();
  // Throws hp::Error naming the field if the config is inconsistent.
  void validate() const;
};

}  // namespace hp
