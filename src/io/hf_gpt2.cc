// Hugging Face mapping of GPT-2 (model_type "gpt2", GPT2LMHeadModel): sizes (n_embd, n_layer,
// n_head, n_positions, n_inner with null = 4 n_embd), activation_function, layer_norm_epsilon,
// dropouts, tied or untied embeddings. Settings that change the computation and that the model
// does not implement (scale_attn_weights false, scale_attn_by_inverse_layer_idx, cross-attention)
// are refused; reorder_and_upcast_attn only changes rounding and travels in passthrough.
// transformers derives GPT-2's head size from n_embd / n_head, so pruned head counts cannot be
// written as HF sizes: they live in the headprune block only. An FFN width shared by every layer
// is written as n_inner (as the LLaMA mapping rewrites its widths).
#include "config/hf_reader.h"
#include "core/check.h"
#include "io/hf_config.h"

namespace hp {

using json = nlohmann::json;

namespace {
const char* const kLmHead = "GPT2LMHeadModel";
}

void gpt2_from_hf(HfReader& r, const HeadpruneBlock& hb, ModelConfig& cfg) {
  const std::string& where = r.where();
  cfg.vocab_size = r.integer("vocab_size", 50257);
  cfg.d_model = r.integer("n_embd", 768);
  cfg.n_layer = r.integer("n_layer", 12);
  cfg.n_head_dense = r.integer("n_head", 12);
  HP_CHECK(cfg.d_model > 0 && cfg.n_layer > 0 && cfg.n_head_dense > 0, where,
           ": n_embd, n_layer and n_head must be > 0");
  HP_CHECK(cfg.d_model % cfg.n_head_dense == 0, where, ": n_embd ", cfg.d_model,
           " is not divisible by n_head ", cfg.n_head_dense);
  cfg.d_head = cfg.d_model / cfg.n_head_dense;
  cfg.n_kv_dense = cfg.n_head_dense;
  cfg.n_ff_dense = r.integer("n_inner", 4 * cfg.d_model);  // null: 4 * n_embd
  HP_CHECK(cfg.n_ff_dense > 0, where, ": n_inner must be > 0, got ", cfg.n_ff_dense);
  cfg.max_pos = r.integer("n_positions", 1024);
  cfg.act = r.str("activation_function", "gelu_new");
  check_hf_activation(cfg.act, "activation_function", where);
  cfg.ln_eps = static_cast<float>(r.num("layer_norm_epsilon", 1e-5));
  cfg.tie_embeddings = r.flag("tie_word_embeddings", true);
  // GPT-2 configs usually have no pad_token_id (null = none): 0 then, and written back only when
  // set.
  cfg.pad_id = r.integer("pad_token_id", 0);
  cfg.n_labels = 0;
  r.refuse_unless_default("scale_attn_weights", true,
                          "only true: scores are scaled by 1/sqrt(head size)");
  r.refuse_unless_default("scale_attn_by_inverse_layer_idx", false,
                          "only false: no extra 1/(layer index + 1) score scaling");
  r.refuse_unless_default("add_cross_attention", false, "GPT-2 decoders without cross-attention");
  cfg.arch_opts["resid_pdrop"] = r.num("resid_pdrop", 0.1);
  cfg.arch_opts["embd_pdrop"] = r.num("embd_pdrop", 0.1);
  cfg.arch_opts["attn_pdrop"] = r.num("attn_pdrop", 0.1);

  const auto archs = r.architectures();
  cfg.task = hb.task;
  if (cfg.task.empty()) {
    HP_CHECK(archs.empty() || (archs.size() == 1 && archs[0] == kLmHead), where,
             ": architectures ", json(archs).dump(), " is not supported (", kLmHead, ")");
    cfg.task = "lm";
  }
  if (hb.layers)
    cfg.layers = parse_headprune_layers(*hb.layers, cfg, where);
  else
    cfg.set_dense_layers();
}

// transformers derives the head size from the head count, so only dense attention loads; one FFN
// width shared by every layer is written as the model's.
bool gpt2_hf_loadable(const ModelConfig& cfg) {
  const int ff = cfg.layers.front().n_ff;
  for (const auto& l : cfg.layers)
    if (l.n_head != cfg.n_head_dense || l.n_ff != ff || ff == 0) return false;
  return true;
}

void gpt2_to_hf(const ModelConfig& cfg, const std::vector<std::vector<int>>* pruned_heads, json& j) {
  HP_CHECK(cfg.task == "lm", "config_to_hf: gpt2 has no head for task '", cfg.task, "'");
  HP_CHECK(!pruned_heads, "config_to_hf: gpt2 configs are written without pruned_heads");
  HP_CHECK(cfg.d_head * cfg.n_head_dense == cfg.d_model, "config_to_hf: gpt2: d_head ", cfg.d_head,
           " * n_head ", cfg.n_head_dense, " != n_embd ", cfg.d_model,
           " (transformers derives the head size from these)");
  HP_CHECK(cfg.kv_dense() == cfg.n_head_dense, "config_to_hf: gpt2 has no grouped-query attention");
  // One FFN width in every layer: written as the model's n_inner, which transformers loads.
  const int ff = cfg.layers.front().n_ff;
  bool same_ff = ff > 0;
  for (const auto& l : cfg.layers) same_ff &= l.n_ff == ff;
  const int n_inner = same_ff ? ff : cfg.n_ff_dense;
  j["architectures"] = json::array({kLmHead});
  j["model_type"] = "gpt2";
  j["vocab_size"] = cfg.vocab_size;
  j["n_embd"] = cfg.d_model;
  j["n_layer"] = cfg.n_layer;
  j["n_head"] = cfg.n_head_dense;
  j["n_positions"] = cfg.max_pos;
  j["n_inner"] = n_inner == 4 * cfg.d_model ? json(nullptr) : json(n_inner);
  j["activation_function"] = cfg.act;
  j["layer_norm_epsilon"] = float_for_json(cfg.ln_eps);
  j["tie_word_embeddings"] = cfg.tie_embeddings;
  for (const char* k : {"resid_pdrop", "embd_pdrop", "attn_pdrop"})
    j[k] = cfg.arch_opts.value(k, 0.1);
  if (cfg.pad_id != 0) j["pad_token_id"] = cfg.pad_id;
}

}  // namespace hp
