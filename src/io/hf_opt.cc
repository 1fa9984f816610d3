// Hugging Face mapping of OPT (model_type "opt", OPTForCausalLM): sizes (hidden_size,
// num_hidden_layers, num_attention_heads, ffn_dim, max_position_embeddings), norm placement
// (do_layer_norm_before), word_embed_proj_dim (project_in / project_out when it differs from
// hidden_size), enable_bias, activation_function, dropouts, tied or untied embeddings. These
// family settings go to ModelConfig::arch_opts under their HF names. Refused: a pre-LN config
// with _remove_final_layer_norm (old fine-tunes without the final LayerNorm) and
// layer_norm_elementwise_affine false. transformers derives the head size from hidden_size /
// num_attention_heads, so pruned head counts live in the headprune block only; an FFN width shared
// by every layer is written as ffn_dim. OPT's LayerNorm epsilon is nn.LayerNorm's 1e-5, not a
// config field.
#include "config/hf_reader.h"
#include "core/check.h"
#include "io/hf_config.h"

namespace hp {

using json = nlohmann::json;

namespace {
const char* const kCausalLm = "OPTForCausalLM";
constexpr float kOptLnEps = 1e-5f;
}  // namespace

void opt_from_hf(HfReader& r, const HeadpruneBlock& hb, ModelConfig& cfg) {
  const std::string& where = r.where();
  cfg.vocab_size = r.integer("vocab_size", 50272);
  cfg.d_model = r.integer("hidden_size", 768);
  cfg.n_layer = r.integer("num_hidden_layers", 12);
  cfg.n_head_dense = r.integer("num_attention_heads", 12);
  cfg.n_ff_dense = r.integer("ffn_dim", 3072);
  HP_CHECK(cfg.d_model > 0 && cfg.n_layer > 0 && cfg.n_head_dense > 0 && cfg.n_ff_dense > 0, where,
           ": hidden_size, num_hidden_layers, num_attention_heads and ffn_dim must be > 0");
  HP_CHECK(cfg.d_model % cfg.n_head_dense == 0, where, ": hidden_size ", cfg.d_model,
           " is not divisible by num_attention_heads ", cfg.n_head_dense);
  cfg.d_head = cfg.d_model / cfg.n_head_dense;
  cfg.n_kv_dense = cfg.n_head_dense;
  cfg.max_pos = r.integer("max_position_embeddings", 2048);
  cfg.act = r.str("activation_function", "relu");
  check_hf_activation(cfg.act, "activation_function", where);
  cfg.ln_eps = kOptLnEps;
  cfg.tie_embeddings = r.flag("tie_word_embeddings", true);
  cfg.pad_id = r.integer("pad_token_id", 1);  // OPTConfig's default
  cfg.n_labels = 0;

  const bool pre_ln = r.flag("do_layer_norm_before", true);
  // Without do_layer_norm_before there is no final LayerNorm to remove: the flag changes nothing.
  if (pre_ln)
    r.refuse_unless_default("_remove_final_layer_norm", false,
                            "only false with do_layer_norm_before: the final LayerNorm is applied");
  r.refuse_unless_default("layer_norm_elementwise_affine", true,
                          "only true: LayerNorms with weight and bias");
  const int proj = r.integer("word_embed_proj_dim", cfg.d_model);  // null: hidden_size
  HP_CHECK(proj > 0, where, ": word_embed_proj_dim must be > 0, got ", proj);
  cfg.arch_opts["do_layer_norm_before"] = pre_ln;
  cfg.arch_opts["word_embed_proj_dim"] = proj;
  cfg.arch_opts["enable_bias"] = r.flag("enable_bias", true);
  cfg.arch_opts["dropout"] = r.num("dropout", 0.1);
  cfg.arch_opts["attention_dropout"] = r.num("attention_dropout", 0.0);

  const auto archs = r.architectures();
  cfg.task = hb.task;
  if (cfg.task.empty()) {
    HP_CHECK(archs.empty() || (archs.size() == 1 && archs[0] == kCausalLm), where,
             ": architectures ", json(archs).dump(), " is not supported (", kCausalLm, ")");
    cfg.task = "lm";
  }
  if (hb.layers)
    cfg.layers = parse_headprune_layers(*hb.layers, cfg, where);
  else
    cfg.set_dense_layers();
}

// transformers derives the head size from the head count, so only dense attention loads; one FFN
// width shared by every layer is written as the model's.
bool opt_hf_loadable(const ModelConfig& cfg) {
  const int ff = cfg.layers.front().n_ff;
  for (const auto& l : cfg.layers)
    if (l.n_head != cfg.n_head_dense || l.n_ff != ff || ff == 0) return false;
  return true;
}

void opt_to_hf(const ModelConfig& cfg, const std::vector<std::vector<int>>* pruned_heads, json& j) {
  HP_CHECK(cfg.task == "lm", "config_to_hf: opt has no head for task '", cfg.task, "'");
  HP_CHECK(!pruned_heads, "config_to_hf: opt configs are written without pruned_heads");
  HP_CHECK(cfg.d_head * cfg.n_head_dense == cfg.d_model, "config_to_hf: opt: d_head ", cfg.d_head,
           " * num_attention_heads ", cfg.n_head_dense, " != hidden_size ", cfg.d_model,
           " (transformers derives the head size from these)");
  HP_CHECK(cfg.kv_dense() == cfg.n_head_dense, "config_to_hf: opt has no grouped-query attention");
  HP_CHECK(cfg.ln_eps == kOptLnEps, "config_to_hf: opt: LayerNorm epsilon ", cfg.ln_eps,
           " cannot be expressed (transformers' OPT uses 1e-5)");
  const int ff = cfg.layers.front().n_ff;
  bool same_ff = ff > 0;
  for (const auto& l : cfg.layers) same_ff &= l.n_ff == ff;
  j["architectures"] = json::array({kCausalLm});
  j["model_type"] = "opt";
  j["vocab_size"] = cfg.vocab_size;
  j["hidden_size"] = cfg.d_model;
  j["num_hidden_layers"] = cfg.n_layer;
  j["num_attention_heads"] = cfg.n_head_dense;
  j["ffn_dim"] = same_ff ? ff : cfg.n_ff_dense;
  j["max_position_embeddings"] = cfg.max_pos;
  j["activation_function"] = cfg.act;
  j["tie_word_embeddings"] = cfg.tie_embeddings;
  j["do_layer_norm_before"] = cfg.arch_opts.value("do_layer_norm_before", true);
  j["word_embed_proj_dim"] = cfg.arch_opts.value("word_embed_proj_dim", cfg.d_model);
  j["enable_bias"] = cfg.arch_opts.value("enable_bias", true);
  j["dropout"] = cfg.arch_opts.value("dropout", 0.1);
  j["attention_dropout"] = cfg.arch_opts.value("attention_dropout", 0.0);
  j["pad_token_id"] = cfg.pad_id;
}

}  // namespace hp
