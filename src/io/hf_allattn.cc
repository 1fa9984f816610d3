// config.json of the All-attention LM (model/allattn.cc). transformers has no such model, so the
// file is headprune's own: HF-style size fields (so tools that read hidden_size & co. still see
// the shape), model_type "headprune_allattn", architectures ["HeadpruneAllAttentionLM"], the
// persistent-memory size `memory_slots` (per head, per layer) and, as for every architecture, the
// versioned headprune block with the per-layer head counts (docs/formats.md).
#include "config/hf_reader.h"
#include "core/check.h"
#include "io/hf_config.h"

namespace hp {

using json = nlohmann::json;

namespace {
const char* const kAllAttnLm = "HeadpruneAllAttentionLM";
}

void allattn_from_hf(HfReader& r, const HeadpruneBlock& hb, ModelConfig& cfg) {
  const std::string& where = r.where();
  cfg.vocab_size = r.integer("vocab_size", std::nullopt);
  cfg.d_model = r.integer("hidden_size", std::nullopt);
  cfg.n_layer = r.integer("num_hidden_layers", std::nullopt);
  cfg.n_head_dense = r.integer("num_attention_heads", std::nullopt);
  HP_CHECK(cfg.n_layer > 0 && cfg.n_head_dense > 0, where,
           ": num_hidden_layers and num_attention_heads must be > 0");
  const int kv = r.integer("num_key_value_heads", cfg.n_head_dense);
  HP_CHECK(kv == cfg.n_head_dense, where, ": num_key_value_heads=", kv,
           " differs from num_attention_heads=", cfg.n_head_dense,
           "; the All-attention model has no grouped-query attention");
  cfg.n_kv_dense = cfg.n_head_dense;
  cfg.n_ff_dense = 0;
  const int ff = r.integer("intermediate_size", 0);
  HP_CHECK(ff == 0, where, ": intermediate_size=", ff, "; the All-attention model has no FFN");
  HP_CHECK(r.has("head_dim") || cfg.d_model % cfg.n_head_dense == 0, where, ": hidden_size ",
           cfg.d_model, " is not divisible by num_attention_heads ", cfg.n_head_dense);
  cfg.d_head = r.integer("head_dim", cfg.d_model / cfg.n_head_dense);
  const int slots = r.integer("memory_slots", std::nullopt);
  HP_CHECK(slots >= 0, where, ": memory_slots must be >= 0, got ", slots);
  cfg.arch_opts["memory_slots"] = slots;
  cfg.max_pos = r.integer("max_position_embeddings", 2048);
  cfg.ln_eps = static_cast<float>(r.num("rms_norm_eps", 1e-6));
  cfg.tie_embeddings = r.flag("tie_word_embeddings", false);
  cfg.pad_id = r.has("pad_token_id") ? r.integer("pad_token_id", 0) : 0;
  cfg.act = "silu";  // unused (no FFN); kept for ModelConfig's invariants
  cfg.n_labels = 0;
  cfg.arch_opts["rope_theta"] = r.num("rope_theta", 10000.0);
  cfg.arch_opts["attention_dropout"] = r.num("attention_dropout", 0.0);
  cfg.arch_opts["attention_bias"] = r.flag("attention_bias", false);
  r.refuse_unless_default("rope_scaling", nullptr, "the All-attention model implements plain RoPE");
  const auto archs = r.architectures();
  cfg.task = hb.task;
  if (cfg.task.empty()) {
    HP_CHECK(archs.empty() || (archs.size() == 1 && archs[0] == kAllAttnLm), where,
             ": architectures ", json(archs).dump(), " is not supported (", kAllAttnLm, ")");
    cfg.task = "lm";
  }
  if (hb.layers) {
    cfg.layers = parse_headprune_layers(*hb.layers, cfg, where);
    for (const auto& l : cfg.layers)
      HP_CHECK(l.n_head_kv == l.n_head, where, ": headprune.layers has n_head=", l.n_head,
               " with n_head_kv=", l.n_head_kv, "; the All-attention model needs them equal");
  } else {
    cfg.set_dense_layers();
  }
}

void allattn_to_hf(const ModelConfig& cfg, const std::vector<std::vector<int>>* pruned_heads, json& j) {
  HP_CHECK(cfg.task == "lm", "config_to_hf: allattn has no head for task '", cfg.task, "'");
  HP_CHECK(!pruned_heads, "config_to_hf: allattn configs have no pruned_heads");
  j["architectures"] = json::array({kAllAttnLm});
  j["model_type"] = "headprune_allattn";
  j["vocab_size"] = cfg.vocab_size;
  j["hidden_size"] = cfg.d_model;
  j["num_hidden_layers"] = cfg.n_layer;
  j["num_attention_heads"] = cfg.n_head_dense;
  j["num_key_value_heads"] = cfg.n_head_dense;
  j["intermediate_size"] = 0;
  j["head_dim"] = cfg.d_head;
  j["memory_slots"] = cfg.arch_opts.value("memory_slots", 0);
  j["max_position_embeddings"] = cfg.max_pos;
  j["rms_norm_eps"] = float_for_json(cfg.ln_eps);
  j["tie_word_embeddings"] = cfg.tie_embeddings;
  j["rope_theta"] = cfg.arch_opts.value("rope_theta", 10000.0);
  j["attention_dropout"] = cfg.arch_opts.value("attention_dropout", 0.0);
  j["attention_bias"] = cfg.arch_opts.value("attention_bias", false);
}

}  // namespace hp
