// Decoder language models (every registered architecture with an "lm" head, plus GPT-2 and OPT
// specifics): incremental decoding through the KV cache equals the full forward (padded rows
// included), GPT-2's fused Conv1D c_attn is sliced per head on its output columns, OPT's learned
// positions follow the attention mask (left padding), OPT's norm-placement / projection variants
// survive surgery (masked == pruned) and save -> load, the HF config mappings round-trip and refuse
// what the models do not implement, and checkpoints with transformers' exact keys load.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "core/check.h"
#include "io/hf_config.h"
#include "model/layers.h"
#include "model/model.h"
#include "model/model_dir.h"
#include "surgery/surgery.h"
#include "test_util.h"

using namespace hp;
using json = nlohmann::json;
using torch::indexing::Slice;

namespace {

std::vector<std::string> lm_archs() {
  std::vector<std::string> out;
  for (const auto& a : architectures())
    for (const auto& t : a.tasks)
      if (t == "lm") out.push_back(a.name);
  return out;
}

// Random weights with a spread that makes every head and neuron matter (the HF-style init is so
// small that the logits barely depend on the inputs); norm gains around 1. Eval mode.
std::shared_ptr<Model> random_model(const ModelConfig& cfg, uint64_t seed) {
  return hp_test::spread_model(cfg, seed);
}

// About half the units of every sublayer removed, kept ones scaled by values in [0.5, 1.5), the
// sublayers `empty` emptied (no grouped-query attention here: one head per K/V group, except
// LLaMA where whole groups are the units).
MaskSet random_masks(const std::vector<SublayerSpec>& specs, const std::vector<int>& empty) {
  MaskSet m = MaskSet::ones(specs);
  for (const auto& sp : specs) {
    if (sp.units == 0) continue;
    auto t = (torch::rand({sp.units}) > 0.5).to(torch::kFloat32);
    t[0] = 1;
    m[sp.index] = t * (0.5 + torch::rand({sp.units}));
  }
  for (int s : empty) m[s].zero_();
  return m;
}

// B = 3 rows of length T: row 0 unpadded, row 1 right-padded (last 3), row 2 left-padded (first 2).
ForwardInput padded_batch(int64_t T, int64_t V) {
  ForwardInput in;
  in.input_ids = torch::randint(2, V, {3, T}, torch::kInt64);
  in.attention_mask = torch::ones({3, T}, torch::kInt64);
  in.attention_mask[1].narrow(0, T - 3, 3).fill_(0);
  in.attention_mask[2].narrow(0, 0, 2).fill_(0);
  return in;
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

void expect_same_config(const ModelConfig& a, const ModelConfig& b, const std::string& what) {
  EXPECT_EQ(a.arch, b.arch) << what;
  EXPECT_EQ(a.task, b.task) << what;
  EXPECT_EQ(a.vocab_size, b.vocab_size) << what;
  EXPECT_EQ(a.d_model, b.d_model) << what;
  EXPECT_EQ(a.d_head, b.d_head) << what;
  EXPECT_EQ(a.n_layer, b.n_layer) << what;
  EXPECT_EQ(a.n_head_dense, b.n_head_dense) << what;
  EXPECT_EQ(a.kv_dense(), b.kv_dense()) << what;
  EXPECT_EQ(a.n_ff_dense, b.n_ff_dense) << what;
  EXPECT_EQ(a.max_pos, b.max_pos) << what;
  EXPECT_EQ(a.pad_id, b.pad_id) << what;
  EXPECT_EQ(a.ln_eps, b.ln_eps) << what;
  EXPECT_EQ(a.act, b.act) << what;
  EXPECT_EQ(a.tie_embeddings, b.tie_embeddings) << what;
  EXPECT_EQ(a.n_labels, b.n_labels) << what;
  EXPECT_EQ(a.empty_keeps_bias, b.empty_keeps_bias) << what;
  EXPECT_EQ(a.layers, b.layers) << what;
  EXPECT_EQ(a.arch_opts, b.arch_opts) << what;
  EXPECT_EQ(a.passthrough, b.passthrough) << what;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// OPT in its four shapes: pre-LN (opt-125m and the large models) or post-LN (opt-350m), with the
// word embedding as wide as the model or projected (word_embed_proj_dim 8 != 16).
struct OptVariant {
  bool pre_ln;
  int proj;
  bool bias;
  std::string name() const {
    return str(pre_ln ? "pre_ln" : "post_ln", "/proj", proj, bias ? "" : "/no_bias");
  }
};
const std::vector<OptVariant> kOptVariants = {
    {true, 16, true}, {true, 8, true}, {false, 16, true}, {false, 8, true}, {true, 16, false}};

ModelConfig opt_config(const OptVariant& v) {
  ModelConfig c = architecture("opt").tiny("lm");
  c.arch_opts["do_layer_norm_before"] = v.pre_ln;
  c.arch_opts["word_embed_proj_dim"] = v.proj;
  c.arch_opts["enable_bias"] = v.bias;
  return c;
}

// Records the queries and keys of attention sublayers.
struct QkProbe : Probe {
  std::map<int, torch::Tensor> q, k;
  bool wants_attention(int) const override { return true; }
  void on_attention(int s, const torch::Tensor& qq, const torch::Tensor& kk, const torch::Tensor&,
                    const torch::Tensor&) override {
    q[s] = qq;
    k[s] = kk;
  }
};

}  // namespace

// (a) Prefix, then one token at a time through a KvCache == one full forward, for every decoder:
// without padding, and for a batch with an unpadded, a right-padded and a left-padded row; dense
// and with masks that empty sublayers (a skipped sublayer caches nothing). predict_positions too.
TEST(Decoders, IncrementalDecodingMatchesFullForward) {
  const auto archs = lm_archs();
  ASSERT_GE(archs.size(), 3u);  // llama, gpt2, opt
  for (const auto& arch : archs) {
    for (bool masked : {false, true}) {
      for (bool padded : {false, true}) {
        SCOPED_TRACE(str(arch, masked ? " masked" : " dense", padded ? " padded" : " unpadded"));
        auto cfg = architecture(arch).tiny("lm");
        auto m = random_model(cfg, 11);
        torch::manual_seed(12);
        const int64_t T = 9, P = 4;
        auto in = padded_batch(T, cfg.vocab_size);
        if (!padded) in.attention_mask = torch::Tensor();
        const auto& specs = m->sublayers();
        MaskSet masks = masked ? random_masks(specs, {0, 3}) : MaskSet::dense(specs);
        torch::NoGradGuard ng;
        auto full = m->forward(in, &masks);  // [B, T, V]
        ASSERT_EQ(full.sizes(), (std::vector<int64_t>{3, T, cfg.vocab_size}));

        KvCache cache;
        std::vector<torch::Tensor> steps;
        for (int64_t t = 0; t < T; t = t == 0 ? P : t + 1) {
          const int64_t n = t == 0 ? P : 1;
          ForwardInput step;
          step.input_ids = in.input_ids.narrow(1, t, n);
          if (padded) step.attention_mask = in.attention_mask.narrow(1, 0, t + n);
          step.cache = &cache;
          steps.push_back(m->forward(step, &masks));
          EXPECT_EQ(cache.length, t + n);
        }
        auto inc = torch::cat(steps, 1);
        // Positions before a row's first real token attend to padding only; not compared.
        auto seen = padded ? in.attention_mask.cumsum(1).gt(0) : torch::ones({3, T}, torch::kBool);
        EXPECT_LE(max_diff(full.index({seen}), inc.index({seen})), 1e-5);
        EXPECT_GT(full.abs().max().item<double>(), 0.5);  // not a vacuous comparison

        // predict_positions: the same logits at the asked positions only.
        auto where = padded ? in.attention_mask.to(torch::kBool) : seen;
        auto picked = m->forward(in, &masks, nullptr, where);
        ASSERT_EQ(picked.dim(), 2);
        EXPECT_LE(max_diff(picked, full.index({where})), 1e-5);
      }
    }
  }
}

// (b) GPT-2's c_attn is a Conv1D weight [in, out] = [d, 3d] whose COLUMNS hold Q | K | V; head h
// owns columns [h dh, (h+1) dh) of each third. The model's queries, keys, per-head context and
// attention output are checked against that computation written out directly, and surgery must
// keep exactly those columns (slicing rows would keep other numbers, and other shapes).
TEST(Decoders, Gpt2FusedConv1DIsSlicedOnColumnsPerHead) {
  auto cfg = architecture("gpt2").tiny("lm");
  auto m = random_model(cfg, 21);
  const int64_t d = cfg.d_model, dh = cfg.d_head, H = cfg.n_head_dense, T = 6;
  torch::manual_seed(22);
  ForwardInput in;
  in.input_ids = torch::randint(0, cfg.vocab_size, {2, T}, torch::kInt64);
  QkProbe qk;
  Recorder rec;
  rec.keep_units = rec.keep_outputs = true;
  struct Both : Probe {
    Probe *a, *b;
    void on_units(int s, const torch::Tensor& u) override { b->on_units(s, u); }
    void on_output(int s, const torch::Tensor& y) override { b->on_output(s, y); }
    bool wants_attention(int s) const override { return a->wants_attention(s); }
    void on_attention(int s, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& bb,
                      const torch::Tensor& tm) override {
      a->on_attention(s, q, k, bb, tm);
    }
  } both;
  both.a = &qk;
  both.b = &rec;
  torch::NoGradGuard ng;
  m->forward(in, nullptr, &both);

  const auto W = m->param("transformer.h.0.attn.c_attn.weight");  // [d, 3d]
  const auto b = m->param("transformer.h.0.attn.c_attn.bias");
  ASSERT_EQ(W.sizes(), (std::vector<int64_t>{d, 3 * d}));
  auto x = torch::embedding(m->param("transformer.wte.weight"), in.input_ids) +
           m->param("transformer.wpe.weight").narrow(0, 0, T).unsqueeze(0);
  auto h = torch::layer_norm(x, {d}, m->param("transformer.h.0.ln_1.weight"),
                             m->param("transformer.h.0.ln_1.bias"), cfg.ln_eps);  // [B, T, d]
  auto future = torch::ones({T, T}, torch::kBool).triu(1);
  for (int64_t hd = 0; hd < H; ++hd) {
    auto cols = [&](int64_t part) { return Slice(part * d + hd * dh, part * d + (hd + 1) * dh); };
    auto q = torch::matmul(h, W.index({Slice(), cols(0)})) + b.index({cols(0)});  // [B, T, dh]
    auto k = torch::matmul(h, W.index({Slice(), cols(1)})) + b.index({cols(1)});
    auto v = torch::matmul(h, W.index({Slice(), cols(2)})) + b.index({cols(2)});
    EXPECT_LE(max_diff(qk.q.at(0).select(1, hd), q), 1e-5) << "head " << hd;
    EXPECT_LE(max_diff(qk.k.at(0).select(1, hd), k), 1e-5) << "head " << hd;
    auto scores = torch::matmul(q, k.transpose(1, 2)) / std::sqrt(double(dh));
    auto p = torch::softmax(scores.masked_fill(future, -1e30), -1);
    auto ctx = torch::matmul(p, v);  // [B, T, dh]
    EXPECT_LE(max_diff(rec.units.at(0).narrow(-1, hd * dh, dh), ctx), 1e-5) << "head " << hd;
  }
  // c_proj is [in, out]: its ROWS are the per-head inputs.
  auto out = torch::matmul(rec.units.at(0), m->param("transformer.h.0.attn.c_proj.weight")) +
             m->param("transformer.h.0.attn.c_proj.bias");
  EXPECT_LE(max_diff(rec.outputs.at(0), out), 1e-5);

  // Surgery keeps heads 0 and 2 of layer 0: their Q, K and V columns and c_proj rows.
  MaskSet masks = MaskSet::ones(m->sublayers());
  masks[0] = torch::tensor({1.f, 0.f, 1.f, 0.f});
  auto res = prune_model(*m, masks);
  std::vector<int64_t> keep_cols, keep_rows;
  for (int64_t part = 0; part < 3; ++part)
    for (int64_t hd : {0, 2})
      for (int64_t i = 0; i < dh; ++i) keep_cols.push_back(part * d + hd * dh + i);
  for (int64_t hd : {0, 2})
    for (int64_t i = 0; i < dh; ++i) keep_rows.push_back(hd * dh + i);
  const auto ci = torch::tensor(keep_cols), ri = torch::tensor(keep_rows);
  EXPECT_TRUE(res.tensors.at("transformer.h.0.attn.c_attn.weight").equal(W.index_select(1, ci)));
  EXPECT_TRUE(res.tensors.at("transformer.h.0.attn.c_attn.bias").equal(b.index_select(0, ci)));
  EXPECT_TRUE(res.tensors.at("transformer.h.0.attn.c_proj.weight")
                  .equal(m->param("transformer.h.0.attn.c_proj.weight").index_select(0, ri)));
  EXPECT_EQ(res.config.layers[0].n_head, 2);
  EXPECT_EQ(res.config.layers[0].n_head_kv, 2);
  // The FFN's Conv1D weights: c_fc [d, n_ff] columns, mlp.c_proj [n_ff, d] rows.
  masks[0] = torch::Tensor();
  masks[1] = torch::zeros({cfg.n_ff_dense});
  masks[1].narrow(0, 3, 5).fill_(1);
  res = prune_model(*m, masks);
  EXPECT_TRUE(res.tensors.at("transformer.h.0.mlp.c_fc.weight")
                  .equal(m->param("transformer.h.0.mlp.c_fc.weight").narrow(1, 3, 5)));
  EXPECT_TRUE(res.tensors.at("transformer.h.0.mlp.c_proj.weight")
                  .equal(m->param("transformer.h.0.mlp.c_proj.weight").narrow(0, 3, 5)));
}

// (c) OPT's positions come from the attention mask (cumsum(mask) * mask - 1, offset 2): a
// left-padded row gives the same logits at its real tokens as the row without padding, in every
// OPT variant; GPT-2, whose positions ignore the mask (transformers' default), does not.
TEST(Decoders, OptPositionsFollowTheAttentionMask) {
  for (const auto& v : kOptVariants) {
    SCOPED_TRACE(v.name());
    auto cfg = opt_config(v);
    auto m = random_model(cfg, 31);
    torch::manual_seed(32);
    const int64_t n = 6, pad = 3;
    ForwardInput plain;
    plain.input_ids = torch::randint(2, cfg.vocab_size, {1, n}, torch::kInt64);
    ForwardInput left;
    left.input_ids = torch::cat({torch::full({1, pad}, cfg.pad_id, torch::kInt64), plain.input_ids}, 1);
    left.attention_mask = torch::cat({torch::zeros({1, pad}, torch::kInt64), torch::ones({1, n}, torch::kInt64)}, 1);
    torch::NoGradGuard ng;
    auto want = m->forward(plain);
    auto got = m->forward(left).narrow(1, pad, n);
    EXPECT_LE(max_diff(want, got), 1e-5);
    // The positions of the padded row, as the model embeds them (layer 0's input minus the
    // token embeddings): rows 2 + 0..n-1 of the table for the real tokens, row 1 for padding.
    Recorder rec;
    rec.keep_inputs = true;
    m->forward(left, nullptr, &rec);
    auto e = torch::embedding(m->param("model.decoder.embed_tokens.weight"), left.input_ids);
    if (v.proj != cfg.d_model) e = torch::linear(e, m->param("model.decoder.project_in.weight"));
    auto pos = rec.inputs.at(0) - e;  // [1, pad + n, d]
    const auto table = m->param("model.decoder.embed_positions.weight");
    ASSERT_EQ(table.size(0), cfg.max_pos + 2);
    for (int64_t t = 0; t < pad + n; ++t) {
      const int64_t row = t < pad ? 1 : 2 + (t - pad);
      EXPECT_LE(max_diff(pos[0][t], table[row]), 1e-5) << "position " << t;
    }
  }
  // GPT-2 numbers positions 0..T-1 whatever the mask says, so the same comparison differs.
  auto cfg = architecture("gpt2").tiny("lm");
  auto m = random_model(cfg, 33);
  ForwardInput plain;
  plain.input_ids = torch::randint(2, cfg.vocab_size, {1, 6}, torch::kInt64);
  ForwardInput left;
  left.input_ids = torch::cat({torch::zeros({1, 3}, torch::kInt64), plain.input_ids}, 1);
  left.attention_mask = torch::cat({torch::zeros({1, 3}, torch::kInt64), torch::ones({1, 6}, torch::kInt64)}, 1);
  torch::NoGradGuard ng;
  EXPECT_GT(max_diff(m->forward(plain), m->forward(left).narrow(1, 3, 6)), 1e-3);
}

// (d) Every OPT variant (and GPT-2, and both with an emptied sublayer keeping its bias): the
// masked dense model == the model surgery made from the masks, and save -> load is exact. What
// stays and goes with the variant: project_in/out, the decoder's final LayerNorm, biases.
TEST(Decoders, OptVariantsMaskedEqualsPrunedAndReload) {
  struct Case {
    std::string name;
    ModelConfig cfg;
  };
  std::vector<Case> cases;
  for (const auto& v : kOptVariants) cases.push_back({"opt " + v.name(), opt_config(v)});
  for (const auto& v : {kOptVariants[1], kOptVariants[3]}) {
    auto c = opt_config(v);
    c.empty_keeps_bias = true;
    cases.push_back({"opt " + v.name() + " empty_keeps_bias", c});
  }
  auto g = architecture("gpt2").tiny("lm");
  g.tie_embeddings = false;
  cases.push_back({"gpt2 untied", g});
  g.tie_embeddings = true;
  g.empty_keeps_bias = true;
  cases.push_back({"gpt2 empty_keeps_bias", g});
  int n = 0;
  for (const auto& c : cases) {
    for (int seed = 0; seed < 2; ++seed) {
      SCOPED_TRACE(c.name + " seed " + std::to_string(seed));
      auto dense = random_model(c.cfg, 40 + seed);
      const auto& specs = dense->sublayers();
      torch::manual_seed(50 + seed);
      // Empty layer 0's attention or layer 1's, and the other layer's FFN.
      auto masks = random_masks(specs, seed == 0 ? std::vector<int>{0, 3} : std::vector<int>{2, 1});
      auto res = prune_model(*dense, masks);
      auto pruned = make_model(res.config);
      pruned->load_state(res.tensors, "surgery");
      pruned->eval();
      auto in = padded_batch(8, c.cfg.vocab_size);
      torch::NoGradGuard ng;
      auto want = dense->forward(in, &masks);
      EXPECT_LE(max_diff(want, pruned->forward(in)), 1e-5);
      // The emptied definition matters: with empty_keeps_bias the bias is still there.
      const bool keeps = c.cfg.empty_keeps_bias;
      for (int s : seed == 0 ? std::vector<int>{0, 3} : std::vector<int>{2, 1}) {
        const auto& sp = specs[s];
        if (sp.out_bias.empty()) continue;
        EXPECT_EQ(res.tensors.count(sp.out_bias), keeps ? 1u : 0u) << sp.out_bias;
      }
      if (c.cfg.arch == "opt") {
        const bool pre = c.cfg.arch_opts["do_layer_norm_before"].get<bool>();
        const bool proj = c.cfg.arch_opts["word_embed_proj_dim"].get<int>() != c.cfg.d_model;
        EXPECT_EQ(res.tensors.count("model.decoder.final_layer_norm.weight"), pre ? 1u : 0u);
        EXPECT_EQ(res.tensors.count("model.decoder.project_in.weight"), proj ? 1u : 0u);
        EXPECT_EQ(res.tensors.count("model.decoder.project_out.weight"), proj ? 1u : 0u);
        for (const auto& sp : specs)
          EXPECT_EQ(sp.norm, pre ? NormPlace::PreLN : NormPlace::PostLN) << sp.name();
      }
      // save -> load through the HF mapping: same sizes, bit-identical logits.
      auto dir = std::filesystem::temp_directory_path() /
                 ("hp_decoders_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
      std::filesystem::remove_all(dir);
      save_model_dir(dir.string(), *pruned, {});
      auto back = load_model_dir(dir.string(), torch::kCPU, false);
      back.model->eval();
      EXPECT_EQ(back.model->config().layers, res.config.layers);
      EXPECT_EQ(back.model->config().arch_opts, res.config.arch_opts);
      EXPECT_EQ(back.model->config().empty_keeps_bias, keeps);
      EXPECT_TRUE(pruned->forward(in).equal(back.model->forward(in)));
      std::filesystem::remove_all(dir);
    }
  }
}

// ---- (e) HF config mappings ----
namespace {

// What transformers writes for gpt2 (the hub's config.json: n_inner absent).
json gpt2_hub_config() {
  return json::parse(R"({
    "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
    "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12,
    "n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1, "summary_activation": null,
    "summary_first_dropout": 0.1, "summary_proj_to_labels": true, "summary_type": "cls_index",
    "summary_use_proj": true, "reorder_and_upcast_attn": false, "scale_attn_weights": true,
    "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
    "vocab_size": 50257})");
}

// facebook/opt-350m: post-LN, 512-wide word embeddings projected to 1024.
json opt350m_hub_config() {
  return json::parse(R"({
    "_name_or_path": "facebook/opt-350m", "activation_dropout": 0.0, "activation_function": "relu",
    "architectures": ["OPTForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 2,
    "do_layer_norm_before": false, "dropout": 0.1, "eos_token_id": 2, "ffn_dim": 4096,
    "hidden_size": 1024, "init_std": 0.02, "layerdrop": 0.0, "max_position_embeddings": 2048,
    "model_type": "opt", "num_attention_heads": 16, "num_hidden_layers": 24, "pad_token_id": 1,
    "prefix": "</s>", "torch_dtype": "float16", "transformers_version": "4.20.0.dev0",
    "use_cache": true, "vocab_size": 50272, "word_embed_proj_dim": 512})");
}

// facebook/opt-125m: pre-LN with the final LayerNorm, no projection.
json opt125m_hub_config() {
  return json::parse(R"({
    "_name_or_path": "facebook/opt-125m", "_remove_final_layer_norm": false,
    "activation_dropout": 0.0, "activation_function": "relu", "architectures": ["OPTForCausalLM"],
    "attention_dropout": 0.0, "bos_token_id": 2, "do_layer_norm_before": true, "dropout": 0.1,
    "eos_token_id": 2, "ffn_dim": 3072, "hidden_size": 768, "init_std": 0.02, "layerdrop": 0.0,
    "max_position_embeddings": 2048, "model_type": "opt", "num_attention_heads": 12,
    "num_hidden_layers": 12, "pad_token_id": 1, "prefix": "</s>", "torch_dtype": "float16",
    "transformers_version": "4.21.0.dev0", "use_cache": true, "vocab_size": 50272,
    "word_embed_proj_dim": 768})");
}

}  // namespace

TEST(Decoders, HfConfigRoundTripsAndKeepsUnknownFields) {
  std::vector<std::pair<std::string, ModelConfig>> cfgs;
  cfgs.push_back({"gpt2 tiny", architecture("gpt2").tiny("lm")});
  for (const auto& v : kOptVariants) cfgs.push_back({"opt " + v.name(), opt_config(v)});
  auto untied = architecture("gpt2").tiny("lm");
  untied.tie_embeddings = false;
  untied.n_ff_dense = 64;  // = 4 d: written as n_inner null
  untied.pad_id = 7;
  untied.set_dense_layers();
  cfgs.push_back({"gpt2 untied", untied});
  auto pruned = opt_config(kOptVariants[3]);
  pruned.layers[0] = {2, 2, 24};
  pruned.layers[1] = {0, 0, 5};  // uneven FFN widths: ffn_dim stays dense
  pruned.empty_keeps_bias = true;
  cfgs.push_back({"opt pruned", pruned});
  for (auto [what, cfg] : cfgs) {
    SCOPED_TRACE(what);
    cfg.passthrough["some_future_field"] = json{{"a", 1}};
    const json j = config_to_hf(cfg);
    EXPECT_EQ(j.at("some_future_field"), json({{"a", 1}}));
    EXPECT_EQ(j.at("model_type"), cfg.arch);
    const auto back = config_from_hf(j, "config.json");
    expect_same_config(back, cfg, what);
    EXPECT_EQ(config_to_hf(back), j);
  }
  EXPECT_TRUE(config_to_hf(untied).at("n_inner").is_null());
  EXPECT_EQ(config_to_hf(untied).at("pad_token_id"), 7);
  EXPECT_FALSE(config_to_hf(architecture("gpt2").tiny("lm")).contains("pad_token_id"));

  // The hub configs: sizes read, every other field written back as found.
  for (const auto& [name, j] : std::vector<std::pair<std::string, json>>{
           {"gpt2", gpt2_hub_config()}, {"opt-350m", opt350m_hub_config()},
           {"opt-125m", opt125m_hub_config()}}) {
    SCOPED_TRACE(name);
    const auto cfg = config_from_hf(j, name);
    EXPECT_EQ(cfg.task, "lm");
    const json out = config_to_hf(cfg);
    for (const auto& [k, v] : j.items()) {
      if (k == "n_inner") continue;
      ASSERT_TRUE(out.contains(k)) << k;
      EXPECT_EQ(out.at(k), v) << k;
    }
    expect_same_config(config_from_hf(out, "again"), cfg, name + " again");
  }
  const auto g = config_from_hf(gpt2_hub_config(), "gpt2");
  EXPECT_EQ(g.arch, "gpt2");
  EXPECT_EQ(g.d_model, 768);
  EXPECT_EQ(g.d_head, 64);
  EXPECT_EQ(g.n_ff_dense, 3072);
  EXPECT_EQ(g.max_pos, 1024);
  EXPECT_EQ(g.act, "gelu_new");
  EXPECT_TRUE(g.tie_embeddings);
  EXPECT_EQ(g.pad_id, 0);
  EXPECT_EQ(g.passthrough.at("reorder_and_upcast_attn"), false);  // numerics only: kept as found
  const auto o = config_from_hf(opt350m_hub_config(), "opt-350m");
  EXPECT_EQ(o.arch, "opt");
  EXPECT_EQ(o.d_model, 1024);
  EXPECT_EQ(o.d_head, 64);
  EXPECT_EQ(o.n_ff_dense, 4096);
  EXPECT_EQ(o.max_pos, 2048);
  EXPECT_EQ(o.pad_id, 1);
  EXPECT_FLOAT_EQ(o.ln_eps, 1e-5f);
  EXPECT_EQ(o.arch_opts.at("do_layer_norm_before"), false);
  EXPECT_EQ(o.arch_opts.at("word_embed_proj_dim"), 512);
  EXPECT_EQ(o.arch_opts.at("enable_bias"), true);
  const auto o125 = config_from_hf(opt125m_hub_config(), "opt-125m");
  EXPECT_EQ(o125.arch_opts.at("do_layer_norm_before"), true);
  EXPECT_EQ(o125.arch_opts.at("word_embed_proj_dim"), 768);
  // word_embed_proj_dim absent or null: hidden_size.
  json nul = opt125m_hub_config();
  nul["word_embed_proj_dim"] = nullptr;
  EXPECT_EQ(config_from_hf(nul, "c").arch_opts.at("word_embed_proj_dim"), 768);
  // A uniformly pruned FFN is written as the HF width, which transformers can load.
  auto even = config_from_hf(opt125m_hub_config(), "opt-125m");
  for (auto& l : even.layers) l.n_ff = 1000;
  EXPECT_EQ(config_to_hf(even).at("ffn_dim"), 1000);
  auto geven = g;
  for (auto& l : geven.layers) l.n_ff = 1000;
  EXPECT_EQ(config_to_hf(geven).at("n_inner"), 1000);
  EXPECT_EQ(config_to_hf(geven).at("n_head"), 12);  // head counts: headprune block only
}

TEST(Decoders, HfConfigRefusesWhatTheModelsDoNotImplement) {
  struct Bad {
    json (*base)();
    std::string field;
    json value;
    std::vector<std::string> expect;
  };
  const std::vector<Bad> bad = {
      {gpt2_hub_config, "scale_attn_by_inverse_layer_idx", true, {"scale_attn_by_inverse_layer_idx"}},
      {gpt2_hub_config, "scale_attn_weights", false, {"scale_attn_weights"}},
      {gpt2_hub_config, "activation_function", "gelu_fast", {"activation_function", "gelu_fast"}},
      {gpt2_hub_config, "add_cross_attention", true, {"add_cross_attention"}},
      {gpt2_hub_config, "architectures", json::array({"GPT2ForSequenceClassification"}),
       {"GPT2ForSequenceClassification", "GPT2LMHeadModel"}},
      {gpt2_hub_config, "n_head", 7, {"n_embd", "n_head"}},
      {opt125m_hub_config, "_remove_final_layer_norm", true, {"_remove_final_layer_norm"}},
      {opt125m_hub_config, "layer_norm_elementwise_affine", false, {"layer_norm_elementwise_affine"}},
      {opt125m_hub_config, "activation_function", "quick_gelu", {"activation_function", "quick_gelu"}},
      {opt125m_hub_config, "architectures", json::array({"OPTForSequenceClassification"}),
       {"OPTForSequenceClassification", "OPTForCausalLM"}},
  };
  for (const auto& b : bad) {
    json j = b.base();
    j[b.field] = b.value;
    const std::string msg = error_of([&] { config_from_hf(j, "m/config.json"); });
    for (const auto& e : b.expect) EXPECT_NE(msg.find(e), std::string::npos) << b.field << ": " << msg;
    EXPECT_NE(msg.find("m/config.json"), std::string::npos) << msg;
  }
  // Without do_layer_norm_before there is no final LayerNorm: _remove_final_layer_norm is moot.
  json post = opt350m_hub_config();
  post["_remove_final_layer_norm"] = true;
  EXPECT_EQ(config_from_hf(post, "c").passthrough.at("_remove_final_layer_norm"), true);
  // The writers refuse what transformers could not read back.
  auto eps = architecture("opt").tiny("lm");
  eps.ln_eps = 1e-6f;
  EXPECT_NE(error_of([&] { config_to_hf(eps); }).find("1e-5"), std::string::npos);
  auto dh = architecture("gpt2").tiny("lm");
  dh.d_head = 8;
  EXPECT_NE(error_of([&] { config_to_hf(dh); }).find("n_embd"), std::string::npos);
}

// ---- Checkpoints with transformers' keys ----
TEST(Decoders, LoadsCheckpointsWithTransformersKeys) {
  // GPT2LMHeadModel, 2 layers: the exact parameter names and Conv1D shapes.
  auto g = architecture("gpt2").tiny("lm");
  auto gm = make_model(g);
  std::map<std::string, std::vector<int64_t>> want = {
      {"transformer.wte.weight", {40, 16}}, {"transformer.wpe.weight", {64, 16}},
      {"transformer.ln_f.weight", {16}},    {"transformer.ln_f.bias", {16}}};
  for (int il = 0; il < 2; ++il) {
    const std::string p = "transformer.h." + std::to_string(il) + ".";
    for (const char* ln : {"ln_1", "ln_2"}) {
      want[p + ln + ".weight"] = {16};
      want[p + ln + ".bias"] = {16};
    }
    want[p + "attn.c_attn.weight"] = {16, 48};
    want[p + "attn.c_attn.bias"] = {48};
    want[p + "attn.c_proj.weight"] = {16, 16};
    want[p + "attn.c_proj.bias"] = {16};
    want[p + "mlp.c_fc.weight"] = {16, 24};
    want[p + "mlp.c_fc.bias"] = {24};
    want[p + "mlp.c_proj.weight"] = {24, 16};
    want[p + "mlp.c_proj.bias"] = {16};
  }
  auto shapes = [](const Model& m) {
    std::map<std::string, std::vector<int64_t>> s;
    for (const auto& [k, v] : m.state()) s[k] = v.sizes().vec();
    return s;
  };
  EXPECT_EQ(shapes(*gm), want);
  // As saved: tied lm_head absent (safetensors) or present (older .bin), with the mask buffers.
  auto src = random_model(g, 61);
  TensorMap ck = src->state();
  for (int il = 0; il < 2; ++il) {
    ck["transformer.h." + std::to_string(il) + ".attn.bias"] = torch::ones({1, 1, 64, 64}).tril();
    ck["transformer.h." + std::to_string(il) + ".attn.masked_bias"] = torch::tensor(-1e4);
  }
  ForwardInput in;
  in.input_ids = torch::randint(0, 40, {2, 5}, torch::kInt64);
  torch::NoGradGuard ng;
  gm->load_state(ck, "gpt2 checkpoint");
  gm->eval();
  EXPECT_TRUE(gm->forward(in).equal(src->forward(in)));
  ck["lm_head.weight"] = ck.at("transformer.wte.weight");
  gm->load_state(ck, "gpt2 checkpoint with lm_head");
  auto gu = g;
  gu.tie_embeddings = false;
  auto gum = make_model(gu);
  gum->load_state(ck, "untied gpt2");
  gum->eval();
  EXPECT_TRUE(gum->forward(in).equal(src->forward(in)));
  ck.erase("lm_head.weight");
  EXPECT_NE(error_of([&] { gum->load_state(ck, "x"); }).find("lm_head.weight"), std::string::npos);

  // OPTForCausalLM: opt-350m's layout (post-LN, projected, no final LayerNorm) and opt-125m's.
  for (const auto& v : {kOptVariants[3], kOptVariants[0]}) {
    SCOPED_TRACE(v.name());
    auto c = opt_config(v);
    const int64_t wp = v.proj;
    std::map<std::string, std::vector<int64_t>> w = {
        {"model.decoder.embed_tokens.weight", {40, wp}},
        {"model.decoder.embed_positions.weight", {66, 16}}};
    if (wp != 16) {
      w["model.decoder.project_in.weight"] = {16, wp};
      w["model.decoder.project_out.weight"] = {wp, 16};
    }
    if (v.pre_ln) {
      w["model.decoder.final_layer_norm.weight"] = {16};
      w["model.decoder.final_layer_norm.bias"] = {16};
    }
    for (int il = 0; il < 2; ++il) {
      const std::string p = "model.decoder.layers." + std::to_string(il) + ".";
      for (const char* pr : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
        w[p + "self_attn." + pr + ".weight"] = {16, 16};
        w[p + "self_attn." + pr + ".bias"] = {16};
      }
      for (const char* ln : {"self_attn_layer_norm", "final_layer_norm"}) {
        w[p + ln + ".weight"] = {16};
        w[p + ln + ".bias"] = {16};
      }
      w[p + "fc1.weight"] = {24, 16};
      w[p + "fc1.bias"] = {24};
      w[p + "fc2.weight"] = {16, 24};
      w[p + "fc2.bias"] = {16};
    }
    auto om = make_model(c);
    EXPECT_EQ(shapes(*om), w);
    auto osrc = random_model(c, 62);
    TensorMap ock = osrc->state();
    om->load_state(ock, "opt checkpoint");
    om->eval();
    EXPECT_TRUE(om->forward(in).equal(osrc->forward(in)));
    ock["lm_head.weight"] = ock.at("model.decoder.embed_tokens.weight");
    om->load_state(ock, "opt checkpoint with lm_head");
  }
}
