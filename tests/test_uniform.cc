// prune --uniform and --gqa query (docs/methods.md, "Uniform and GQA units"): the uniform counts
// fit the budget and are maximal; every method that supports --uniform keeps equal counts per
// family on a tiny LLaMA with grouped-query attention (by K/V group and by query head), every
// method keeps equal numbers of query heads per group in query mode, masked == pruned throughout;
// a uniform LLaMA is saved with plain HF sizes and reloads with the same logits; depth and the
// gate methods refuse --uniform; the --gqa settings rebuild the model or fail clearly; and
// hf_loadable answers per architecture.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/files.h"
#include "data/lm.h"
#include "io/checkpoint.h"
#include "io/hf_config.h"
#include "model/model.h"
#include "prune/method.h"
#include "prune/settings.h"
#include "score/calib.h"
#include "score/knowledge.h"
#include "surgery/surgery.h"
#include "test_util.h"

using namespace hp;
using json = nlohmann::json;

namespace {

// LLaMA with grouped-query attention: 3 layers of 8 query heads in 2 K/V groups (4 per group),
// d_head 4, FFN 40, projection biases on (FLAP compensates into them).
ModelConfig gqa_llama(const std::string& unit = "group") {
  ModelConfig c = architecture("llama").tiny("lm");
  c.d_model = 32;
  c.d_head = 4;
  c.n_layer = 3;
  c.n_head_dense = 8;
  c.n_kv_dense = 2;
  c.n_ff_dense = 40;
  c.arch_opts["attention_bias"] = true;
  c.arch_opts["mlp_bias"] = true;
  c.gqa_unit = unit;
  c.set_dense_layers();
  return c;
}

// Weights spread so that every unit matters; norm gains around 1; biases non-zero. Eval mode.
std::shared_ptr<Model> random_model(const ModelConfig& cfg, uint64_t seed) {
  return hp_test::spread_model(cfg, seed);
}
TaskData lm_data(int n_tokens, uint64_t seed) { return hp_test::lm_stream_data(n_tokens, seed); }

ForwardInput batch(int64_t B, int64_t T, int64_t V, uint64_t seed) {
  torch::manual_seed(seed);
  ForwardInput in;
  in.input_ids = torch::randint(5, V, {B, T}, torch::kInt64);
  in.attention_mask = torch::ones({B, T}, torch::kInt64);
  in.attention_mask[1].narrow(0, T - 3, 3).fill_(0);  // one right-padded row
  return in;
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}
bool mentions(const std::string& msg, const std::string& what) {
  return msg.find(what) != std::string::npos;
}

// Kept units per sublayer (binarized).
std::vector<int64_t> kept_counts(const MaskSet& m, const std::vector<SublayerSpec>& specs) {
  std::vector<int64_t> k;
  for (size_t s = 0; s < specs.size(); ++s) k.push_back(m.kept(specs, s));
  return k;
}

// True when every K/V group of every query-heads-in-groups sublayer keeps the same number.
bool equal_per_group(const MaskSet& m, const std::vector<SublayerSpec>& specs) {
  for (const auto& sp : specs) {
    if (selection_step(sp) == 1 || sp.units == 0) continue;
    auto b = m[sp.index].ne(0).to(torch::kLong).view({sp.groups, sp.group_size()}).sum(1);
    if (!b.eq(b[0]).all().item<bool>()) return false;
  }
  return true;
}

// The masked model with a method's weight updates applied (what the pruned model must equal).
std::shared_ptr<Model> with_updates(const Model& model, const TensorMap& weights) {
  auto m = clone_model(model, torch::kCPU);
  torch::NoGradGuard ng;
  for (const auto& [k, v] : weights) m->param(k).copy_(v);
  m->eval();
  return m;
}

// Family level of a count vector: counts[s] / selection_step, which must be one value over the
// live sublayers of the family (-1 = not equal, -2 = no live sublayer).
int64_t family_level(const std::vector<int64_t>& counts, const std::vector<SublayerSpec>& specs,
                     bool attention) {
  int64_t level = -2;
  for (const auto& sp : specs) {
    if (is_attention(sp.kind) != attention || sp.units == 0) continue;
    if (counts[sp.index] % selection_step(sp) != 0) return -1;
    const int64_t l = counts[sp.index] / selection_step(sp);
    if (level == -2) level = l;
    else if (l != level) return -1;
  }
  return level;
}

// Counts of every live sublayer at the given family levels.
std::vector<int64_t> at_levels(const std::vector<SublayerSpec>& specs, int64_t la, int64_t lf) {
  std::vector<int64_t> c(specs.size(), 0);
  for (const auto& sp : specs)
    if (sp.units > 0) c[sp.index] = (is_attention(sp.kind) ? la : lf) * selection_step(sp);
  return c;
}

std::vector<torch::Tensor> random_scores(const std::vector<SublayerSpec>& specs) {
  std::vector<torch::Tensor> sc;
  for (const auto& sp : specs) sc.push_back(torch::rand({sp.units}, torch::kDouble));
  return sc;
}

}  // namespace

// =====================================================================================
// uniform_counts: one level per family, within the budget at exact costs (K/V groups once), at
// least the per-family default split, and maximal (one more level of either family exceeds the
// target), on MHA, GQA by group, GQA by query head and an uneven model with an absent sublayer.
// Catches: group costs left out or charged per head, a leftover that is not given out, counts
// that differ between sublayers or are not multiples of the group count, absent sublayers
// counted, a level above the smallest sublayer.
// =====================================================================================
TEST(Uniform, CountsFitTheBudgetAndAreMaximal) {
  std::vector<std::pair<std::string, std::vector<SublayerSpec>>> lists = {
      {"llama group", sublayers_of(gqa_llama("group"))},
      {"llama query", sublayers_of(gqa_llama("query"))},
      {"bert", sublayers_of(hp_test::tiny_bert_config("classify", 40, 16, 4, 3, 24, 3))}};
  {
    // Uneven (already pruned) and with an emptied FFN: levels are capped by the smallest
    // sublayer, the absent one keeps 0.
    ModelConfig c = gqa_llama("query");
    c.layers[0] = {6, 2, 40};
    c.layers[1] = {8, 2, 0};
    c.layers[2] = {4, 2, 24};
    lists.push_back({"llama query uneven", sublayers_of(c)});
  }
  torch::manual_seed(1);
  for (const auto& [name, specs] : lists) {
    for (double T : {7.0, 16.5, 128.0}) {
      const Budget b(specs, T);
      for (int i = 0; i <= 40; ++i) {
        const double keep = i == 40 ? 1.0 : 0.02 + 0.97 * i / 40.0;
        SCOPED_TRACE(name + " T " + std::to_string(T) + " keep " + std::to_string(keep));
        const auto counts = uniform_counts(b, keep);
        ASSERT_EQ(counts.size(), specs.size());
        const int64_t la = family_level(counts, specs, true), lf = family_level(counts, specs, false);
        ASSERT_GE(la, 0) << "attention counts differ between sublayers";
        ASSERT_GE(lf, 0) << "FFN counts differ between sublayers";
        for (const auto& sp : specs)
          if (sp.units == 0) {
            EXPECT_EQ(counts[sp.index], 0);
          }
        auto cost_at = [&](int64_t a, int64_t f) {
          return b.cost(keep_top_k_per_sublayer(b, random_scores(specs), at_levels(specs, a, f)));
        };
        // Fits.
        const MaskSet m = keep_top_k_per_sublayer(b, random_scores(specs), counts);
        EXPECT_EQ(kept_counts(m, specs), counts);
        EXPECT_LE(b.cost(m), b.target(keep));
        // Maximal: one more level of either family does not fit.
        int64_t max_a = INT64_MAX, max_f = INT64_MAX;
        double fam_a = 0, fam_f = 0;
        const auto per = b.per_sublayer();
        for (const auto& sp : specs) {
          if (sp.units == 0) continue;
          (is_attention(sp.kind) ? max_a : max_f) =
              std::min(is_attention(sp.kind) ? max_a : max_f, sp.units / selection_step(sp));
          (is_attention(sp.kind) ? fam_a : fam_f) += per[sp.index];
        }
        if (la < max_a) {
          EXPECT_GT(cost_at(la + 1, lf), b.target(keep)) << "attention could grow";
        }
        if (lf < max_f) {
          EXPECT_GT(cost_at(la, lf + 1), b.target(keep)) << "FFN could grow";
        }
        // At least the default split: each family's largest level within keep of its own FLOPs.
        auto fam_cost = [&](bool attention, int64_t level) {
          double c = 0;
          const auto mm = keep_top_k_per_sublayer(b, random_scores(specs),
                                                  at_levels(specs, attention ? level : 0, attention ? 0 : level));
          for (const auto& sp : specs)
            if (is_attention(sp.kind) == attention) c += b.cost_of_sublayer(mm, sp.index);
          return c;
        };
        int64_t base_a = 0, base_f = 0;
        while (base_a < max_a && fam_cost(true, base_a + 1) <= keep * fam_a * (1 + 1e-10)) ++base_a;
        while (base_f < max_f && fam_cost(false, base_f + 1) <= keep * fam_f * (1 + 1e-10)) ++base_f;
        EXPECT_GE(la, base_a);
        EXPECT_GE(lf, base_f);
        if (keep == 1.0) {
          EXPECT_EQ(la, max_a);
          EXPECT_EQ(lf, max_f);
        }
        // The exported per-sublayer cost agrees with Budget::cost of such a selection.
        for (const auto& sp : specs)
          EXPECT_NEAR(selected_cost(b, sp.index, counts[sp.index]), b.cost_of_sublayer(m, sp.index),
                      1e-9 * b.total());
      }
    }
  }
  EXPECT_THROW(uniform_counts(Budget(lists[0].second, 8.0), 0.0), Error);
  EXPECT_THROW(uniform_counts(Budget(lists[0].second, 8.0), 1.5), Error);
}

// keep_top_k: the best by score (lower index on ties); per K/V group for query heads in groups;
// counts that cannot be equal per group refused.
TEST(Uniform, KeepTopKPerSublayerAndPerGroup) {
  const auto q = sublayers_of(gqa_llama("query"));
  const auto& a = q[0];  // 8 query heads, 2 groups
  ASSERT_EQ(selection_step(a), 2);
  ASSERT_EQ(selection_step(q[1]), 1);
  auto sc = torch::tensor({0.1, 0.9, 0.5, 0.5, 0.8, 0.7, 0.2, 0.3}, torch::kDouble);
  EXPECT_TRUE(torch::equal(keep_top_k(a, sc, 4), torch::tensor({0.f, 1.f, 1.f, 0.f, 1.f, 1.f, 0.f, 0.f})));
  EXPECT_TRUE(torch::equal(keep_top_k(a, sc, 2), torch::tensor({0.f, 1.f, 0.f, 0.f, 1.f, 0.f, 0.f, 0.f})));
  EXPECT_EQ(keep_top_k(a, sc, 8).sum().item<float>(), 8.f);
  EXPECT_EQ(keep_top_k(a, sc, 0).sum().item<float>(), 0.f);
  EXPECT_TRUE(mentions(error_of([&] { keep_top_k(a, sc, 3); }), "equal numbers"));
  EXPECT_THROW(keep_top_k(a, sc, 10), Error);
  // A plain sublayer (FFN) ranks all its units together.
  auto f = torch::rand({q[1].units}, torch::kDouble);
  auto m = keep_top_k(q[1], f, 7);
  EXPECT_EQ(m.sum().item<float>(), 7.f);
  const double kth = std::get<0>(f.sort(0, true))[6].item<double>();
  EXPECT_TRUE(f.masked_select(m.to(torch::kBool)).ge(kth).all().item<bool>());
  // Bundles: the r-th best head of each group, means decreasing.
  auto gb = group_bundles(a, sc);
  ASSERT_EQ(gb.members.size(), 4u);
  EXPECT_EQ(gb.members[0], (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(gb.members[1], (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(gb.members[2], (std::vector<int64_t>{3, 7}));
  EXPECT_DOUBLE_EQ(gb.mean[0], 0.85);
  for (size_t r = 1; r < gb.mean.size(); ++r) EXPECT_LE(gb.mean[r], gb.mean[r - 1]);
}

// =====================================================================================
// Every unit method on a tiny GQA LLaMA, by K/V group and by query head, with and without
// --uniform: within budget; uniform runs keep the uniform counts (equal per family; Michel, which
// re-scores round by round, at least equal); query-head runs keep equal numbers per K/V group;
// masked == pruned (with the method's weight updates); uniform results have one width per family
// and are HF-loadable. Catches: a method that ignores PruneContext::uniform, a selection that
// breaks the per-group rule (surgery would refuse it), kwon's rearrangement moving heads between
// groups, kprune's search or tuning on the wrong units.
// =====================================================================================
TEST(Uniform, EveryUnitMethodHonoursUniformAndQueryUnits) {
  hp_test::SpecialsTokenizer tok;
  const TaskData data = lm_data(640, 5);
  const std::vector<std::pair<std::string, json>> methods = {
      {"random", json::object()},
      {"magnitude", json::object()},
      {"flap", {{"calib_samples", 0}, {"batch_size", 8}}},
      {"wanda-sp", {{"calib_samples", 0}, {"batch_size", 8}}},
      {"michel", {{"batch_size", 8}, {"step", 0.25}}},
      {"kwon", {{"calib_samples", 40}, {"batch_size", 8}}},
      {"kprune", {{"batch_size", 8}}},
  };
  int uneven_plain = 0;
  for (const std::string unit : {"group", "query"}) {
    auto model = random_model(gqa_llama(unit), 11);
    const auto& specs = model->sublayers();
    ASSERT_EQ(selection_step(specs[0]), unit == "query" ? 2 : 1);
    const Budget budget(specs, data.mean_len());
    const auto in = batch(3, 12, 40, 12);
    for (const auto& [name, params] : methods) {
      for (bool uniform : {false, true}) {
        for (double keep : {0.6, 0.35}) {
          SCOPED_TRACE(str(name, " ", unit, uniform ? " uniform" : "", " keep ", keep));
          auto ctx = hp_test::prune_ctx(*model, tok, data, keep, params);
          ctx.uniform = uniform;
          PruneOutput out = prune_methods().at(name).fn(ctx);
          out.masks.check_against(specs);
          const MaskSet bin = out.masks.binarized();
          EXPECT_LE(budget.cost(bin), budget.target(keep));
          // Coarse units (a whole K/V group is half a layer's attention) may leave some unused.
          EXPECT_GT(budget.cost(bin), 0.15 * budget.total()) << "budget left unused";
          EXPECT_TRUE(equal_per_group(bin, specs)) << "unequal query heads per K/V group";
          const auto counts = kept_counts(bin, specs);
          if (uniform) {
            EXPECT_GE(family_level(counts, specs, true), 0) << "attention counts differ";
            EXPECT_GE(family_level(counts, specs, false), 0) << "FFN counts differ";
            if (name != "michel") {
              EXPECT_EQ(counts, uniform_counts(budget, keep));
            }
          } else if (family_level(counts, specs, true) < 0 || family_level(counts, specs, false) < 0) {
            ++uneven_plain;
          }
          // masked == pruned.
          auto res = prune_model(*model, out.masks, 8, out.weights);
          auto pruned = make_model(res.config);
          pruned->load_state(res.tensors, "surgery");
          pruned->eval();
          auto ref = with_updates(*model, out.weights);
          torch::NoGradGuard ng;
          EXPECT_LE(max_diff(ref->forward(in, &out.masks), pruned->forward(in)), 2e-5);
          for (const auto& l : res.config.layers)
            if (l.n_head > 0) {
              EXPECT_EQ(l.n_head % l.n_head_kv, 0);
              if (unit == "query") {
                EXPECT_EQ(l.n_head_kv, 2) << "query mode drops no group";
              }
            }
          if (uniform) {
            EXPECT_TRUE(res.config.same_widths());
            EXPECT_EQ(hf_loadable(res.config),
                      res.config.layers[0].n_head > 0 && res.config.layers[0].n_ff > 0);
          }
        }
      }
    }
  }
  // The plain (non-uniform) runs are not uniform by accident: the checks above can tell.
  EXPECT_GT(uneven_plain, 0);
}

// =====================================================================================
// A uniform-pruned GQA LLaMA saved with save_checkpoint: config.json carries plain HF sizes
// (num_attention_heads = kept heads, num_key_value_heads = kept groups, intermediate_size = kept
// neurons plus padding, head_dim unchanged), loads with the same logits, and also loads from the
// HF fields alone (the headprune block removed), as transformers would read it. An uneven result
// keeps the dense HF sizes and is not HF-loadable.
// =====================================================================================
TEST(Uniform, SavedLlamaHasPlainHfSizesAndReloads) {
  hp_test::SpecialsTokenizer tok;
  const TaskData data = lm_data(480, 7);
  int n = 0;
  for (const std::string unit : {"group", "query"}) {
    auto model = random_model(gqa_llama(unit), 21);
    const auto& specs = model->sublayers();
    auto ctx = hp_test::prune_ctx(*model, tok, data, 0.6, {{"calib_samples", 0}, {"batch_size", 8}});
    ctx.uniform = true;
    auto out = prune_methods().at("flap").fn(ctx);
    const auto counts = kept_counts(out.masks, specs);
    const int64_t heads = counts[0] * specs[0].heads_per_unit;
    const int64_t groups = unit == "group" ? counts[0] : specs[0].groups;
    const int64_t neurons = std::min<int64_t>(40, (counts[1] + 7) / 8 * 8);
    ASSERT_GT(heads, 0);
    ASSERT_LT(heads * 1.0 + neurons, 8.0 + 40.0) << "nothing pruned";
    auto res = prune_model(*model, out.masks, 8, out.weights);
    ASSERT_TRUE(hf_loadable(res.config));
    EXPECT_FALSE(hf_writes_pruned_heads(res.config));
    auto pruned = make_model(res.config);
    pruned->load_state(res.tensors, "surgery");
    pruned->eval();
    const auto dir = (std::filesystem::temp_directory_path() /
                      str("hp_uniform_", ::getpid(), "_", n++)).string();
    save_checkpoint(dir, res.config, res.tensors);
    std::ifstream f(dir + "/config.json");
    const json j = json::parse(f);
    SCOPED_TRACE(unit + ": " + j.dump());
    EXPECT_EQ(j["num_attention_heads"].get<int64_t>(), heads);
    EXPECT_EQ(j["num_key_value_heads"].get<int64_t>(), groups);
    EXPECT_EQ(j["intermediate_size"].get<int64_t>(), neurons);
    EXPECT_EQ(j["head_dim"].get<int64_t>(), 4);
    EXPECT_EQ(j["hidden_size"].get<int64_t>(), 32);
    EXPECT_FALSE(j.contains("pruned_heads"));
    const auto in = batch(3, 10, 40, 22);
    torch::NoGradGuard ng;
    auto ref = with_updates(*model, out.weights)->forward(in, &out.masks);
    auto ck = load_checkpoint(dir);
    auto back = make_model(ck.config);
    back->load_state(ck.tensors, dir);
    back->eval();
    EXPECT_LE(max_diff(ref, back->forward(in)), 2e-5);
    // The HF fields alone describe it.
    json plain = j;
    plain.erase("headprune");
    auto hf_cfg = config_from_hf(plain, "plain HF config");
    EXPECT_EQ(hf_cfg.layers, res.config.layers);
    auto hf_model = make_model(hf_cfg);
    hf_model->load_state(ck.tensors, "plain HF config");
    hf_model->eval();
    EXPECT_LE(max_diff(ref, hf_model->forward(in)), 2e-5);
    remove_tree(dir);
  }
  // Uneven: dense HF sizes, the real ones in the headprune block only.
  ModelConfig c = gqa_llama();
  c.layers[1] = {4, 1, 24};
  EXPECT_FALSE(hf_loadable(c));
  const json j = config_to_hf(c);
  EXPECT_EQ(j["num_attention_heads"], 8);
  EXPECT_EQ(j["intermediate_size"], 40);
  EXPECT_EQ(j["headprune"]["layers"][1]["n_head"], 4);
}

// depth and the gate-trained methods refuse --uniform before any work (no calibration data is
// needed to get the error), naming the method and the reason; gate methods refuse query units.
TEST(Uniform, DepthAndGateMethodsRefuseUniform) {
  auto model = random_model(gqa_llama(), 31);
  hp_test::SpecialsTokenizer tok;
  const TaskData data = lm_data(200, 8);
  auto ctx = hp_test::prune_ctx(*model, tok, data, 0.5, json::object());
  ctx.uniform = true;
  ctx.calib = nullptr;  // before any work: not even the data is looked at
  std::string e = error_of([&] { prune_methods().at("depth").fn(ctx); });
  EXPECT_TRUE(mentions(e, "depth") && mentions(e, "--uniform") && mentions(e, "whole sublayers")) << e;
  for (const std::string g : {"ste", "voita"}) {
    auto gctx = hp_test::prune_ctx(*model, tok, data, 0.5, {{"keep_heads", 2}});
    gctx.uniform = true;
    e = error_of([&] { prune_methods().at(g).fn(gctx); });
    EXPECT_TRUE(mentions(e, g + ": --uniform is not supported") && mentions(e, "gate")) << e;
  }
  auto query = random_model(gqa_llama("query"), 32);
  auto qctx = hp_test::prune_ctx(*query, tok, data, 0.5, {{"keep_heads", 4}});
  e = error_of([&] { prune_methods().at("dsp").fn(qctx); });
  EXPECT_TRUE(mentions(e, "dsp: --gqa query is not supported") && mentions(e, "--gqa group")) << e;
  for (const auto& [name, info] : prune_methods()) {
    if (!info.trains) continue;
    auto c = hp_test::prune_ctx(*model, tok, data, 0.5, {{"keep_heads", 2}});
    c.uniform = true;
    EXPECT_TRUE(mentions(error_of([&] { info.fn(c); }), name + ": --uniform")) << name;
  }
}

// --gqa through apply_prune_settings: query rebuilds the model with query-head units and the same
// weights and logits; group on a group model is the model itself; bad values, query without GQA
// and a unit other than the parent map's fail with clear messages.
TEST(Uniform, GqaSettingsRebuildOrFailClearly) {
  auto model = random_model(gqa_llama(), 41);
  EXPECT_TRUE(gqa_units_differ(model->config()));
  PruneSettings st;
  EXPECT_EQ(apply_prune_settings(model, st, nullptr, "m", torch::kCPU), model);
  st.gqa_unit = "group";
  EXPECT_EQ(apply_prune_settings(model, st, nullptr, "m", torch::kCPU), model);
  st.gqa_unit = "query";
  auto q = apply_prune_settings(model, st, nullptr, "m", torch::kCPU);
  ASSERT_NE(q, model);
  EXPECT_EQ(q->config().gqa_unit, "query");
  EXPECT_EQ(q->sublayers()[0].units, 8);
  EXPECT_EQ(q->sublayers()[0].groups, 2);
  EXPECT_EQ(model->sublayers()[0].units, 2);  // the original is untouched
  const auto in = batch(2, 9, 40, 42);
  {
    torch::NoGradGuard ng;
    EXPECT_TRUE(model->forward(in).equal(q->forward(in)));
  }
  st.gqa_unit = "heads";
  std::string e = error_of([&] { apply_prune_settings(model, st, nullptr, "m", torch::kCPU); });
  EXPECT_TRUE(mentions(e, "--gqa must be group or query, got 'heads'")) << e;
  // Without grouped-query attention the two units coincide: query is refused, group accepted.
  for (auto cfg : {hp_test::tiny_bert_config("classify", 40, 16, 4, 2, 24, 3), architecture("gpt2").tiny("lm")}) {
    auto m = make_model(cfg);
    EXPECT_FALSE(gqa_units_differ(cfg));
    st.gqa_unit = "query";
    e = error_of([&] { apply_prune_settings(m, st, nullptr, "dir", torch::kCPU); });
    EXPECT_TRUE(mentions(e, "--gqa query: dir has no grouped-query attention")) << cfg.arch << ": " << e;
    st.gqa_unit = "group";
    EXPECT_EQ(apply_prune_settings(m, st, nullptr, "dir", torch::kCPU), m);
  }
  ModelConfig mha = gqa_llama();
  mha.n_kv_dense = 8;
  mha.set_dense_layers();
  EXPECT_FALSE(gqa_units_differ(mha));
  // The parent's pruning.json numbers its units; a different unit cannot compose with it.
  const json by_query = {{"gqa_unit", "query"}}, old_map = json::object();
  st.gqa_unit = "";
  e = error_of([&] { apply_prune_settings(model, st, &by_query, "p", torch::kCPU); });
  EXPECT_TRUE(mentions(e, "p was pruned with --gqa query")) << e;
  st.gqa_unit = "query";
  e = error_of([&] { apply_prune_settings(model, st, &old_map, "p", torch::kCPU); });
  EXPECT_TRUE(mentions(e, "p was pruned with --gqa group")) << e;
  EXPECT_NE(apply_prune_settings(model, st, &by_query, "p", torch::kCPU), model);
}

// Output biases for FLAP's compensation (PruneSettings::output_biases): a LLaMA (and an OPT with
// enable_bias false) without them is rebuilt with zero biases and the same logits, as a config HF
// expresses (attention_bias / mlp_bias; enable_bias); flap then compensates into them and the
// pruned result restores each sublayer's mean output better than without compensation; a model
// that has its biases is returned as is.
// Catches: added biases that are not zero (logits change), biases added on only some sublayers,
// a rebuild that loses weights, and flap through the job silently skipping the compensation.
TEST(Uniform, OutputBiasesAddedForFlap) {
  ModelConfig cfg = gqa_llama();
  cfg.arch_opts["attention_bias"] = false;
  cfg.arch_opts["mlp_bias"] = false;
  auto model = random_model(cfg, 51);
  ASSERT_TRUE(lacks_output_bias(*model));
  PruneSettings st;
  st.output_biases = true;
  st.output_biases_for = "flap";
  auto b = apply_prune_settings(model, st, nullptr, "m", torch::kCPU);
  ASSERT_NE(b, model);
  EXPECT_FALSE(lacks_output_bias(*b));
  EXPECT_TRUE(lacks_output_bias(*model));  // the original is untouched
  EXPECT_TRUE(b->config().arch_opts.value("attention_bias", false));
  EXPECT_TRUE(b->config().arch_opts.value("mlp_bias", false));
  for (const auto& sp : b->sublayers()) EXPECT_TRUE(b->param(sp.out_bias).eq(0).all().item<bool>());
  const auto in = batch(2, 9, 40, 52);
  {
    torch::NoGradGuard ng;
    EXPECT_TRUE(model->forward(in).equal(b->forward(in)));
  }
  EXPECT_EQ(apply_prune_settings(b, st, nullptr, "m", torch::kCPU), b);
  // flap on the rebuilt model compensates every sublayer that lost (but kept some) units, and the
  // compensated model is closer to the dense logits than the uncompensated one.
  hp_test::SpecialsTokenizer tok;
  const TaskData data = lm_data(640, 53);
  auto ctx = hp_test::prune_ctx(*b, tok, data, 0.6, json::object());
  auto out = prune_methods().at("flap").fn(ctx);
  ASSERT_FALSE(out.weights.empty());
  for (const auto& [k, v] : out.weights) EXPECT_NE(k.find(".bias"), std::string::npos) << k;
  auto uncomp = prune_model(*b, out.masks, 1, {});
  auto comp = prune_model(*b, out.masks, 1, out.weights);
  auto mu = make_model(uncomp.config), mc = make_model(comp.config);
  mu->load_state(uncomp.tensors, "uncompensated");
  mc->load_state(comp.tensors, "compensated");
  mu->eval();
  mc->eval();
  {
    torch::NoGradGuard ng;
    const auto dense = b->forward(in), lu = mu->forward(in), lc = mc->forward(in);
    const double eu = (lu - dense).norm().item<double>(), ec = (lc - dense).norm().item<double>();
    std::printf("flap on LLaMA: logits error %.4f uncompensated, %.4f compensated\n", eu, ec);
    EXPECT_LT(ec, eu);
  }
  // OPT without biases: enable_bias turns them on.
  ModelConfig opt = architecture("opt").tiny("lm");
  opt.arch_opts["enable_bias"] = false;
  auto o = random_model(opt, 54);
  ASSERT_TRUE(lacks_output_bias(*o));
  auto ob = apply_prune_settings(o, st, nullptr, "opt", torch::kCPU);
  EXPECT_FALSE(lacks_output_bias(*ob));
  EXPECT_TRUE(ob->config().arch_opts.value("enable_bias", false));
  {
    torch::NoGradGuard ng;
    EXPECT_TRUE(o->forward(in).equal(ob->forward(in)));
  }
}

// hf_loadable asks each architecture's HF mapping.
TEST(Uniform, HfLoadablePerArchitecture) {
  ModelConfig bert = hp_test::tiny_bert_config("classify", 40, 16, 4, 2, 24, 3);
  EXPECT_TRUE(hf_loadable(bert));
  EXPECT_TRUE(hf_writes_pruned_heads(bert));
  bert.layers[0].n_head = bert.layers[0].n_head_kv = 2;  // per-layer heads: pruned_heads
  EXPECT_TRUE(hf_loadable(bert));
  bert.layers[1].n_ff = 16;  // HF BERT has one FFN width
  EXPECT_FALSE(hf_loadable(bert));

  ModelConfig llama = gqa_llama();
  EXPECT_TRUE(hf_loadable(llama));
  EXPECT_FALSE(hf_writes_pruned_heads(llama));
  for (auto& l : llama.layers) l = {4, 1, 24};
  EXPECT_TRUE(hf_loadable(llama));
  llama.layers[2].n_ff = 16;
  EXPECT_FALSE(hf_loadable(llama));
  for (auto& l : llama.layers) l = {4, 1, 0};  // every FFN emptied: HF cannot express it
  EXPECT_FALSE(hf_loadable(llama));

  for (const std::string arch : {"gpt2", "opt"}) {
    ModelConfig c = architecture(arch).tiny("lm");
    EXPECT_TRUE(hf_loadable(c)) << arch;
    EXPECT_FALSE(hf_writes_pruned_heads(c)) << arch;
    for (auto& l : c.layers) l.n_ff = 8;
    EXPECT_TRUE(hf_loadable(c)) << arch << ": one FFN width is written as the HF size";
    c.layers[0].n_head = c.layers[0].n_head_kv = c.n_head_dense - 1;
    EXPECT_FALSE(hf_loadable(c)) << arch << ": the head size derives from the head count";
  }
}

// kprune on a model whose sublayers are all pre-norm measures representational knowledge relative
// to the stream each sublayer reads (rep_norm, the default there): scaling the stream a sublayer
// reads (here: layer 0's attention reads the embeddings, scaled by 8) leaves its output and so its
// absolute knowledge unchanged (RMSNorm), while that fixed contribution is 64x smaller relative to
// the stream it is added to; rep_norm=0 restores the reference's absolute measure. Settings and per-step representational shares are recorded.
TEST(Uniform, KprunePreNormMeasuresRelativeRepresentationalKnowledge) {
  hp_test::SpecialsTokenizer tok;
  const TaskData data = lm_data(640, 5);
  auto model = random_model(gqa_llama("group"), 11);
  auto run = [&](nlohmann::json params) {
    params["batch_size"] = 8;
    auto ctx = hp_test::prune_ctx(*model, tok, data, 0.6, params);
    return prune_methods().at("kprune").fn(ctx).info;
  };
  auto rel = run(json::object());
  EXPECT_TRUE(rel.at("rep_norm").get<bool>());
  EXPECT_EQ(rel.at("lambda_rep").get<double>(), 2.5e-4);
  auto abs = run({{"rep_norm", 0}});
  EXPECT_FALSE(abs.at("rep_norm").get<bool>());
  for (const auto& st : rel.at("steps")) {
    const double sh = st.at("rep_share").get<double>();
    EXPECT_GE(sh, 0.0);
    EXPECT_LE(sh, 1.0);
  }
  // Knowledge directly, with the embeddings scaled by 8.
  CalibSet calib = make_calib_set(data, tok, torch::kCPU, 8);
  auto teacher = teacher_outputs(*model, calib);
  StreamCache sc;
  sc.init(*model, calib);
  Knowledge k1 = measure_knowledge(*model, calib, sc, teacher, 2.0, "");
  {
    torch::NoGradGuard ng;
    model->param("model.embed_tokens.weight").mul_(8.0);
  }
  StreamCache sc2;
  sc2.init(*model, calib);
  Knowledge k2 = measure_knowledge(*model, calib, sc2, teacher, 2.0, "");
  EXPECT_NEAR(k2.stream_energy[0] / k1.stream_energy[0], 64.0, 1e-6);
  EXPECT_LE(((k1.rep[0] - k2.rep[0]).abs() / k1.rep[0]).max().item<double>(), 1e-3);  // absolute: unchanged
  EXPECT_GT(k1.rep[0].min().item<double>(), 0.0);
}
