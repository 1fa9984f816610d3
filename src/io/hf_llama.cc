// Hugging Face mapping of LLaMA-style decoders (model_type "llama", LlamaForCausalLM): sizes,
// grouped-query attention, RMSNorm epsilon, rotary settings (transformers 4's rope_theta +
// rope_scaling and transformers 5's rope_parameters), projection biases, tied embeddings.
// A pruned model whose layers all have the same widths is written with those widths as the HF
// sizes (head_dim explicit), so plain transformers loads it; uneven widths live in the headprune
// block only (transformers cannot express them).
#include "config/hf_reader.h"
#include "core/check.h"
#include "io/hf_config.h"

namespace hp {

using json = nlohmann::json;

namespace {
const char* const kCausalLm = "LlamaForCausalLM";
}

void llama_from_hf(HfReader& r, const HeadpruneBlock& hb, ModelConfig& cfg) {
  const std::string& where = r.where();
  cfg.vocab_size = r.integer("vocab_size", 32000);
  cfg.d_model = r.integer("hidden_size", 4096);
  cfg.n_layer = r.integer("num_hidden_layers", 32);
  cfg.n_head_dense = r.integer("num_attention_heads", 32);
  cfg.n_kv_dense = r.integer("num_key_value_heads", cfg.n_head_dense);
  cfg.n_ff_dense = r.integer("intermediate_size", 11008);
  HP_CHECK(cfg.n_layer > 0 && cfg.n_head_dense > 0 && cfg.n_kv_dense > 0, where,
           ": num_hidden_layers, num_attention_heads and num_key_value_heads must be > 0");
  HP_CHECK(cfg.n_head_dense % cfg.n_kv_dense == 0, where, ": num_attention_heads ",
           cfg.n_head_dense, " is not a multiple of num_key_value_heads ", cfg.n_kv_dense);
  HP_CHECK(r.has("head_dim") || cfg.d_model % cfg.n_head_dense == 0, where, ": hidden_size ",
           cfg.d_model, " is not divisible by num_attention_heads ", cfg.n_head_dense);
  cfg.d_head = r.integer("head_dim", cfg.d_model / cfg.n_head_dense);
  cfg.act = r.str("hidden_act", "silu");
  check_hf_activation(cfg.act, "hidden_act", where);
  cfg.max_pos = r.integer("max_position_embeddings", 2048);
  cfg.ln_eps = static_cast<float>(r.num("rms_norm_eps", 1e-6));
  cfg.tie_embeddings = r.flag("tie_word_embeddings", false);
  cfg.pad_id = r.has("pad_token_id") ? r.integer("pad_token_id", 0) : 0;
  cfg.n_labels = 0;
  r.refuse_unless_default("pretraining_tp", 1, "only 1: split projections change the rounding");

  // Rotary settings: transformers 5 writes rope_parameters {rope_type, rope_theta, ...};
  // transformers 4 writes rope_theta and rope_scaling.
  double theta = 10000.0;
  json scaling = nullptr;
  if (const json* rp = r.raw("rope_parameters")) {
    HP_CHECK(rp->is_object(), where, ": rope_parameters must be an object, got ", rp->dump());
    theta = rp->value("rope_theta", theta);
    if (rp->value("rope_type", std::string("default")) != "default") scaling = *rp;
    cfg.arch_opts["rope_format"] = "parameters";
  }
  theta = r.num("rope_theta", theta);
  if (const json* rs = r.raw("rope_scaling")) scaling = *rs;
  if (!scaling.is_null()) {
    HP_CHECK(scaling.is_object(), where, ": rope_scaling must be an object, got ", scaling.dump());
    const std::string type = scaling.value("rope_type", scaling.value("type", std::string("default")));
    HP_CHECK(type == "default" || type == "linear" || type == "llama3", where, ": rope type \"",
             type, "\" is not implemented (default, linear, llama3)");
    if (type == "default") scaling = nullptr;
  }
  cfg.arch_opts["rope_theta"] = theta;
  cfg.arch_opts["rope_scaling"] = scaling;
  cfg.arch_opts["attention_bias"] = r.flag("attention_bias", false);
  cfg.arch_opts["mlp_bias"] = r.flag("mlp_bias", false);
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

// Equal widths in every layer (no emptied sublayer) are written as the model's sizes, which
// transformers loads; anything else lives in the headprune block only.
bool llama_hf_loadable(const ModelConfig& cfg) {
  const auto& l0 = cfg.layers.front();
  return cfg.same_widths() && l0.n_head > 0 && l0.n_ff > 0;
}

void llama_to_hf(const ModelConfig& cfg, const std::vector<std::vector<int>>* pruned_heads, json& j) {
  HP_CHECK(cfg.task == "lm", "config_to_hf: llama has no head for task '", cfg.task, "'");
  HP_CHECK(!pruned_heads, "config_to_hf: llama configs have no pruned_heads");
  const auto& l0 = cfg.layers.front();
  const bool rewrite = llama_hf_loadable(cfg);
  j["architectures"] = json::array({kCausalLm});
  j["model_type"] = "llama";
  j["vocab_size"] = cfg.vocab_size;
  j["hidden_size"] = cfg.d_model;
  j["num_hidden_layers"] = cfg.n_layer;
  j["num_attention_heads"] = rewrite ? l0.n_head : cfg.n_head_dense;
  j["num_key_value_heads"] = rewrite ? l0.n_head_kv : cfg.kv_dense();
  j["intermediate_size"] = rewrite ? l0.n_ff : cfg.n_ff_dense;
  j["head_dim"] = cfg.d_head;
  j["hidden_act"] = cfg.act;
  j["max_position_embeddings"] = cfg.max_pos;
  j["rms_norm_eps"] = float_for_json(cfg.ln_eps);
  j["tie_word_embeddings"] = cfg.tie_embeddings;
  const double theta = cfg.arch_opts.value("rope_theta", 10000.0);
  const json scaling = cfg.arch_opts.value("rope_scaling", json());
  j["rope_theta"] = theta;
  j["rope_scaling"] = scaling;
  json params = scaling.is_null() ? json{{"rope_type", "default"}} : scaling;
  params["rope_theta"] = theta;
  if (!params.contains("rope_type")) params["rope_type"] = params.value("type", std::string("default"));
  j["rope_parameters"] = params;
  j["attention_bias"] = cfg.arch_opts.value("attention_bias", false);
  j["mlp_bias"] = cfg.arch_opts.value("mlp_bias", false);
  j["attention_dropout"] = cfg.arch_opts.value("attention_dropout", 0.0);
  j["pretraining_tp"] = 1;
}

}  // namespace hp
