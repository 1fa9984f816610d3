// The All-attention LM (model/allattn.cc): its forward against the computation written out head by
// head in double precision (persistent memory in the joint softmax, visible to every position,
// scored against the unrotated query, scaled as documented), pruning a head removes its memory
// vectors (parameter and FLOPs accounting include them), the config mapping round-trips and
// refuses what the model does not have. Registry-wide invariants (masked == pruned, save == load,
// KV-cache decoding == full forward) cover allattn through its registry line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "core/check.h"
#include "io/hf_config.h"
#include "model/cost.h"
#include "model/layers.h"
#include "model/model.h"
#include "model/model_dir.h"
#include "surgery/surgery.h"
#include "test_util.h"

using namespace hp;
using torch::indexing::Slice;

namespace {

ModelConfig tiny() { return architecture("allattn").tiny("lm"); }

torch::Tensor P(const Model& m, const std::string& k) { return m.param(k).to(torch::kFloat64); }

// Rotate-half RoPE at positions 0..T-1 for x [H, T, dh] (double).
torch::Tensor rope_ref(const torch::Tensor& x, double theta) {
  const int64_t T = x.size(1), dh = x.size(2), half = dh / 2;
  auto out = x.clone();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < half; ++i) {
      const double f = std::pow(theta, -2.0 * i / dh), a = t * f;
      auto x1 = x.index({Slice(), t, i}), x2 = x.index({Slice(), t, i + half});
      out.index_put_({Slice(), t, i}, x1 * std::cos(a) - x2 * std::sin(a));
      out.index_put_({Slice(), t, i + half}, x2 * std::cos(a) + x1 * std::sin(a));
    }
  return out;
}

torch::Tensor rms_ref(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  return x * torch::rsqrt(x.pow(2).mean(-1, true) + eps) * w;
}

// Logits [T, V] of one unpadded sequence, every head's softmax over [causal context | memory].
torch::Tensor reference_logits(const Model& m, const torch::Tensor& ids, const torch::Tensor& head_mask) {
  const auto& cfg = m.config();
  const int64_t T = ids.size(0), dh = cfg.d_head;
  const int64_t N = cfg.arch_opts.value("memory_slots", int64_t{0});
  auto x = P(m, "model.embed_tokens.weight").index_select(0, ids);  // [T, d]
  for (int il = 0; il < cfg.n_layer; ++il) {
    const int64_t H = cfg.layers[il].n_head;
    if (H == 0) continue;
    const std::string p = "model.layers." + std::to_string(il) + ".";
    auto h = rms_ref(x, P(m, p + "input_layernorm.weight"), cfg.ln_eps);
    auto heads = [&](const char* w) {
      return torch::matmul(h, P(m, p + w).t()).view({T, H, dh}).permute({1, 0, 2});  // [H, T, dh]
    };
    auto q = heads("self_attn.q_proj.weight"), k = heads("self_attn.k_proj.weight"),
         v = heads("self_attn.v_proj.weight");
    auto qr = rope_ref(q, 10000.0), kr = rope_ref(k, 10000.0);
    auto mk = P(m, p + "self_attn.memory_key") * std::sqrt(double(dh));   // [H, N, dh]
    auto mv = P(m, p + "self_attn.memory_value") * std::sqrt(double(N));
    auto ctx = torch::zeros({H, T, dh}, torch::kFloat64);
    for (int64_t hh = 0; hh < H; ++hh)
      for (int64_t t = 0; t < T; ++t) {
        // Context keys 0..t (causal) with rotation; every memory key, unrotated query.
        auto sc = torch::matmul(kr[hh].narrow(0, 0, t + 1), qr[hh][t]) / std::sqrt(double(dh));
        auto sm = torch::matmul(mk[hh], q[hh][t]) / std::sqrt(double(dh));
        auto p_all = torch::softmax(torch::cat({sc, sm}), 0);
        auto o = torch::matmul(p_all.narrow(0, 0, t + 1), v[hh].narrow(0, 0, t + 1)) +
                 torch::matmul(p_all.narrow(0, t + 1, N), mv[hh]);
        ctx.index_put_({hh, t}, o * head_mask[il][hh].item<double>());
      }
    auto units = ctx.permute({1, 0, 2}).reshape({T, H * dh});
    x = x + torch::matmul(units, P(m, p + "self_attn.o_proj.weight").t());
  }
  x = rms_ref(x, P(m, "model.norm.weight"), cfg.ln_eps);
  return torch::matmul(x, P(m, "lm_head.weight").t());
}

}  // namespace

TEST(AllAttn, ForwardMatchesHeadByHeadReferenceWithMemory) {
  auto cfg = tiny();
  auto m = hp_test::spread_model(cfg, 5);
  torch::manual_seed(6);
  const int64_t T = 7;
  auto ids = torch::randint(0, cfg.vocab_size, {T}, torch::kInt64);
  ForwardInput in;
  in.input_ids = ids.view({1, T});
  const auto& specs = m->sublayers();
  ASSERT_EQ(specs.size(), static_cast<size_t>(cfg.n_layer));  // attention only: no FFN sublayer
  for (const auto& sp : specs) {
    EXPECT_TRUE(is_attention(sp.kind));
    EXPECT_EQ(sp.memory_slots, 6);
  }
  for (bool masked : {false, true}) {
    MaskSet masks = MaskSet::dense(specs);
    auto hm = torch::ones({cfg.n_layer, cfg.n_head_dense}, torch::kFloat64);
    if (masked) {
      masks[1] = torch::tensor({0.f, 1.f, 0.5f, 0.f});
      hm[1] = torch::tensor({0.0, 1.0, 0.5, 0.0});
    }
    torch::NoGradGuard ng;
    auto got = m->forward(in, &masks)[0].to(torch::kFloat64);
    auto want = reference_logits(*m, ids, hm);
    EXPECT_LE((got - want).abs().max().item<double>(), 1e-4) << (masked ? "masked" : "dense");
    EXPECT_GT(want.abs().max().item<double>(), 1.0);
  }
  // The memory matters: zeroing one layer's memory values changes the logits, and the first
  // position (one context key) depends on it too, so memory is visible to every position.
  torch::NoGradGuard ng;
  auto base = m->forward(in)[0];
  m->param("model.layers.2.self_attn.memory_value").zero_();
  auto nomem = m->forward(in)[0];
  EXPECT_GT((base[0] - nomem[0]).abs().max().item<double>(), 1e-2);
}

TEST(AllAttn, PruningAHeadRemovesItsMemoryAndItsCost) {
  auto cfg = tiny();
  auto m = hp_test::spread_model(cfg, 7);
  const auto& specs = m->sublayers();
  MaskSet masks = MaskSet::ones(specs);
  masks[0] = torch::tensor({1.f, 0.f, 1.f, 0.f});  // layer 0 keeps heads 0 and 2
  masks[3].zero_();                                  // layer 3 loses every head
  auto res = prune_model(*m, masks);
  EXPECT_EQ(res.config.layers[0].n_head, 2);
  EXPECT_EQ(res.config.layers[0].n_head_kv, 2);
  EXPECT_EQ(res.config.layers[3].n_head, 0);
  const auto& mk = res.tensors.at("model.layers.0.self_attn.memory_key");
  ASSERT_EQ(mk.sizes(), (std::vector<int64_t>{2, 6, 4}));
  EXPECT_TRUE(mk[1].equal(m->param("model.layers.0.self_attn.memory_key")[2]));  // head 2 kept
  EXPECT_TRUE(res.tensors.at("model.layers.0.self_attn.memory_value")[0].equal(
      m->param("model.layers.0.self_attn.memory_value")[0]));
  EXPECT_EQ(res.tensors.count("model.layers.3.self_attn.memory_key"), 0u);
  EXPECT_EQ(res.tensors.count("model.layers.3.input_layernorm.weight"), 0u);
  // Parameters: a head owns 4 d dh projection weights and 2 N dh memory values.
  auto count = [](const TensorMap& t) {
    int64_t n = 0;
    for (const auto& [k, v] : t) n += v.numel();
    return n;
  };
  const int64_t d = cfg.d_model, dh = cfg.d_head, N = 6;
  const int64_t per_head = 4 * d * dh + 2 * N * dh;
  EXPECT_EQ(count(m->state()) - count(res.tensors), 6 * per_head + d);  // + layer 3's norm gain
  // FLOPs: memory slots are keys every query attends over.
  auto nomem = cfg;
  nomem.arch_opts["memory_slots"] = 0;
  const double T = 32;
  EXPECT_DOUBLE_EQ(Budget(cfg, T).total() - Budget(nomem, T).total(),
                   cfg.n_layer * cfg.n_head_dense * 4.0 * T * N * dh);
}

TEST(AllAttn, ConfigRoundTripsAndRefusesWhatTheModelLacks) {
  auto cfg = tiny();
  cfg.layers[1].n_head = cfg.layers[1].n_head_kv = 2;
  auto j = config_to_hf(cfg, nullptr);
  EXPECT_EQ(j.at("model_type"), "headprune_allattn");
  EXPECT_EQ(j.at("memory_slots"), 6);
  EXPECT_EQ(j.at("headprune").at("layers")[1].at("n_head"), 2);
  auto back = config_from_hf(j, "cfg");
  EXPECT_EQ(back.arch, "allattn");
  EXPECT_EQ(back.layers, cfg.layers);
  EXPECT_EQ(back.arch_opts.value("memory_slots", 0), 6);
  EXPECT_FALSE(hf_loadable(back));  // transformers has no such model
  auto bad = [&](const char* key, nlohmann::json v, const char* what) {
    auto b = j;
    b[key] = v;
    try {
      config_from_hf(b, "cfg.json");
      ADD_FAILURE() << key << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  bad("intermediate_size", 64, "no FFN");
  bad("num_key_value_heads", 2, "grouped-query");
  bad("memory_slots", -1, "memory_slots");
  bad("rope_scaling", {{"rope_type", "linear"}, {"factor", 2.0}}, "rope_scaling");
  auto nomem = j;
  nomem.erase("memory_slots");
  EXPECT_THROW(config_from_hf(nomem, "cfg.json"), Error);
}

TEST(AllAttn, PrunedModelSavesAndReloadsWithItsMemory) {
  auto cfg = tiny();
  auto m = hp_test::spread_model(cfg, 9);
  MaskSet masks = MaskSet::ones(m->sublayers());
  masks[2] = torch::tensor({0.f, 0.f, 1.f, 0.f});
  auto res = prune_model(*m, masks);
  auto pruned = make_model(res.config);
  pruned->load_state(res.tensors, "surgery");
  pruned->eval();
  auto dir = std::filesystem::temp_directory_path() / ("hp_allattn_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  save_model_dir(dir.string(), *pruned, {});
  auto back = load_model_dir(dir.string(), torch::kCPU, false);
  back.model->eval();
  ForwardInput in;
  in.input_ids = torch::randint(0, cfg.vocab_size, {2, 8}, torch::kInt64);
  torch::NoGradGuard ng;
  EXPECT_TRUE(back.model->forward(in).equal(pruned->forward(in)));
  EXPECT_TRUE(m->forward(in, &masks).allclose(pruned->forward(in), 1e-5, 1e-5));
  std::filesystem::remove_all(dir);
}

// attention_bias (what FLAP's bias compensation adds): biases on q, k, v and o are sliced with
// their heads; masked == pruned holds with them, and an emptied layer loses its output bias.
TEST(AllAttn, AttentionBiasesAreSlicedWithTheirHeads) {
  auto cfg = tiny();
  ASSERT_TRUE(architecture("allattn").add_output_biases(cfg));
  EXPECT_FALSE(architecture("allattn").add_output_biases(cfg));  // already there
  auto m = hp_test::spread_model(cfg, 13);
  MaskSet masks = MaskSet::ones(m->sublayers());
  masks[0] = torch::tensor({0.f, 1.f, 1.f, 0.f});
  masks[2].zero_();
  auto res = prune_model(*m, masks);
  EXPECT_EQ(res.tensors.at("model.layers.0.self_attn.q_proj.bias").numel(), 2 * cfg.d_head);
  EXPECT_EQ(res.tensors.count("model.layers.2.self_attn.o_proj.bias"), 0u);
  auto pruned = make_model(res.config);
  pruned->load_state(res.tensors, "surgery");
  pruned->eval();
  ForwardInput in;
  in.input_ids = torch::randint(0, cfg.vocab_size, {2, 8}, torch::kInt64);
  torch::NoGradGuard ng;
  auto want = m->forward(in, &masks), got = pruned->forward(in);
  EXPECT_LE((want - got).abs().max().item<double>(), 1e-5);
  EXPECT_EQ(config_from_hf(config_to_hf(res.config, nullptr), "cfg").arch_opts.value("attention_bias", false), true);
}
