// The model interface every architecture implements. A model is an ordered, bottom-up list of
// prunable sublayers (model/sublayer.h) between an embedding (`begin`) and a task head (`head`);
// pruning code drives it one sublayer at a time through `apply` and learns everything else it
// needs (unit groups, norm placement, tensor slices, costs) from `sublayers()`. It never asks
// which architecture it is talking to. Parameter names are the Hugging Face checkpoint keys.
#pragma once
#include <torch/torch.h>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/hf_reader.h"
#include "config/model_config.h"
#include "model/masks.h"
#include "model/param_tree.h"
#include "model/probe.h"
#include "model/sublayer.h"

namespace hp {

using TensorMap = std::map<std::string, torch::Tensor>;

// Keys and values of the tokens a decoder has already seen, per attention sublayer, so that
// decoding one more token costs one position instead of the whole prefix.
struct KvCache {
  std::vector<torch::Tensor> k, v;  // indexed by sublayer: [B, Hkv, S, dh] (undefined = empty)
  int64_t length = 0;               // positions cached (S)
  void clear() { k.clear(), v.clear(), length = 0; }
};

struct ForwardInput {
  torch::Tensor input_ids;       // [B, T] int64
  // [B, T] int64, 1 = real token (undefined = no padding). With a KV cache: [B, S + T], the
  // cached positions included.
  torch::Tensor attention_mask;
  torch::Tensor token_type_ids;  // [B, T] int64 or undefined
  KvCache* cache = nullptr;      // decoders: read and extended by the forward pass
};

// Everything one batch carries between sublayers: the residual stream of each stack and the
// per-batch values `begin` computes once. Sublayer-wise methods cache `stream` between steps.
struct ForwardState {
  std::array<torch::Tensor, 2> stream;  // indexed by Stack: [B, T, d] (undefined if unused)
  torch::Tensor attn_bias;   // additive, broadcastable to [B, n_head, T, S] (undefined = none)
  bool causal = false;       // attention is causal with no other mask (T == S, no cache): the
                             // kernels apply it themselves, attn_bias stays undefined
  torch::Tensor token_mask;  // [B, T] bool, true on real tokens
  // Rotary position tables (cos, sin) [T, d_head] of rotary decoders (undefined otherwise).
  std::array<torch::Tensor, 2> rope;
  KvCache* cache = nullptr;  // decoders: keys/values of earlier positions (ForwardInput::cache)
  // Optional [B, T] bool: token-level heads (mlm/lm) return logits only at these positions, as
  // [N, V], so training does not materialise [B, T, V].
  torch::Tensor predict_positions;
  torch::Tensor& x(Stack s) { return stream[static_cast<int>(s)]; }
  const torch::Tensor& x(Stack s) const { return stream[static_cast<int>(s)]; }
};

class Model : public ParamTree {
 public:
  explicit Model(ModelConfig cfg) : cfg_(std::move(cfg)) {}
  const ModelConfig& config() const { return cfg_; }
  const std::vector<SublayerSpec>& sublayers() const { return specs_; }
  int n_sublayers() const { return static_cast<int>(specs_.size()); }

  // Full forward: begin, every sublayer with its mask, head. Logits: [B, C] classify, [B, 1]
  // regress, [B, T, V] (or [N, V] at predict_positions) for token-level tasks.
  torch::Tensor forward(const ForwardInput& in, const MaskSet* masks = nullptr,
                        Probe* probe = nullptr, const torch::Tensor& predict_positions = {});

  // Embeddings and per-batch context: the state entering sublayer 0.
  virtual ForwardState begin(const ForwardInput& in) = 0;
  // Sublayer s on the state (its stack's stream), residual add and norm included. `mask` is the
  // sublayer's entry of a MaskSet ([units] or undefined); all zeros = the sublayer is skipped.
  virtual void apply(int s, ForwardState& st, const torch::Tensor& mask, Probe* probe) = 0;
  // Task head on the final state.
  virtual torch::Tensor head(const ForwardState& st) = 0;

  // Named parameters (HF keys) as a map; tied weights appear once, under their HF key.
  TensorMap state() const;
  // Copies tensors into the parameters. Every parameter must be present with the exact shape;
  // unexpected keys are an error unless listed by ignorable_keys().
  void load_state(const TensorMap& tensors, const std::string& where);
  virtual std::vector<std::string> ignorable_keys() const { return {}; }
  // A parameter by its (HF) name; throws naming it when absent.
  torch::Tensor param(const std::string& name) const;

 protected:
  // Derived constructors call this once their parameters exist; it validates the list.
  void set_sublayers(std::vector<SublayerSpec> specs);
  ModelConfig cfg_;

 private:
  std::vector<SublayerSpec> specs_;
};

// ---- Registry (model/registry.cc: one entry per architecture) ----
struct Architecture {
  std::string name;  // ModelConfig::arch
  std::function<std::shared_ptr<Model>(const ModelConfig&)> make;
  // The sublayer list implied by a config, without building weights (info, budgets of configs).
  std::function<std::vector<SublayerSpec>(const ModelConfig&)> sublayers;
  // A small dense config for `task` (empty if the architecture has no head for it): the
  // architecture-wide invariant tests build one model per entry from this.
  std::function<ModelConfig(const std::string& task)> tiny;
  std::vector<std::string> tasks;  // tasks it has a head for
  // Hugging Face mapping (src/io/hf_<arch>.cc): the config.json model_type values it reads, the
  // reader of the family's fields (sizes, task from `architectures`, per-layer sizes from the
  // headprune block or the family's own fields) and the writer. Unread fields are kept by the
  // caller as passthrough.
  std::vector<std::string> hf_model_types;
  std::function<void(HfReader&, const HeadpruneBlock&, ModelConfig&)> from_hf;
  std::function<void(const ModelConfig&, const std::vector<std::vector<int>>* pruned_heads,
                     nlohmann::json&)>
      to_hf;
  // Whether plain transformers loads what to_hf writes for a config, i.e. whether the HF sizes can
  // express every layer's widths (null = never; io/hf_config.h, hf_loadable), and whether to_hf
  // records removed heads as HF's pruned_heads (then callers pass the original indices).
  std::function<bool(const ModelConfig&)> hf_loadable;
  bool hf_pruned_heads = false;
  // Turns on an output-projection bias in every sublayer that lacks one (a config change; the new
  // biases start at zero, so outputs are unchanged), for methods that fold a correction into that
  // bias (FLAP's bias compensation). Returns false when nothing changed. Null: the architecture
  // cannot (or always has them).
  std::function<bool(ModelConfig&)> add_output_biases;
};
const std::vector<Architecture>& architectures();
const Architecture& architecture(const std::string& name);  // throws listing the known ones
// Builds an architecture from its config (random init, seeded by the caller).
std::shared_ptr<Model> make_model(const ModelConfig& cfg);
std::vector<SublayerSpec> sublayers_of(const ModelConfig& cfg);
// Independent copy (same config, dtype, device, weights), built without disturbing the global RNG.
std::shared_ptr<Model> clone_model(const Model& src, torch::Device device);
// Writes a sublayer's new sizes into the config (surgery).
void resize_sublayer(ModelConfig& cfg, const SublayerSpec& spec, int64_t units, int64_t groups);
// The output projection of sublayer s restricted to its units, as a [d_out, units * unit_width]
// view of the parameter (whatever its storage layout: [out, in] or Conv1D's [in, out]).
torch::Tensor out_proj_weight(const Model& model, const SublayerSpec& spec);
// Floating dtype of the model's parameters (float32 unless a test moved it to double).
torch::Dtype model_dtype(const Model& model);

}  // namespace hp
