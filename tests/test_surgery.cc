// Surgery invariants, parameterised over every architecture in the model registry (a new
// architecture is covered by its registry line): masked-dense output == physically pruned output
// (fp32, random masks with emptied sublayers and real-valued scales), save -> load identical,
// FLOPs of the result == FLOPs the masks imply. A test-only model with a GPT-2-style fused,
// [in, out]-stored Q/K/V and grouped-query attention checks that surgery handles layouts BERT
// does not have, with no code of its own.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/check.h"
#include "model/cost.h"
#include "model/layers.h"
#include "model/model.h"
#include "model/model_dir.h"
#include "surgery/surgery.h"
#include "test_util.h"
#include "train/trainer.h"

using namespace hp;

namespace {

ForwardInput batch(int64_t B, int64_t T, int64_t V) {
  ForwardInput in;
  in.input_ids = torch::randint(1, V, {B, T}, torch::kInt64);
  in.attention_mask = torch::ones({B, T}, torch::kInt64);
  in.attention_mask[0].narrow(0, T - 3, 3).fill_(0);
  return in;
}

// Random masks over any sublayer list: about half the units removed, kept units optionally
// scaled, sublayers `empty` emptied. In grouped-query attention each surviving K/V group keeps the
// same number of query heads (what surgery can express).
MaskSet random_masks(const std::vector<SublayerSpec>& specs, const std::vector<int>& empty,
                     bool scales) {
  MaskSet m = MaskSet::ones(specs);
  for (const auto& sp : specs) {
    if (sp.units == 0) continue;
    auto& t = m[sp.index];
    if (is_attention(sp.kind) && sp.group_size() > 1) {
      const int64_t per = 1 + torch::randint(sp.group_size(), {1}).item<int64_t>() % sp.group_size();
      t.zero_();
      for (int64_t g = 0; g < sp.groups; ++g) {
        if (g > 0 && torch::rand({1}).item<float>() < 0.4) continue;  // group 0 always survives
        auto perm = torch::randperm(sp.group_size());
        for (int64_t i = 0; i < per; ++i) t[g * sp.group_size() + perm[i].item<int64_t>()] = 1;
      }
    } else {
      t = (torch::rand({sp.units}) > 0.5).to(torch::kFloat32);
      t[0] = 1;  // at least one unit so the sublayer survives unless emptied below
    }
    if (scales) t = t * (0.5 + torch::rand({sp.units}));
  }
  for (int s : empty) m[s].zero_();
  return m;
}

void expect_same_logits(Model& a, Model& b, const ForwardInput& in, const MaskSet* masks_a,
                        double tol, const std::string& what) {
  torch::NoGradGuard ng;
  auto want = a.forward(in, masks_a);
  auto got = b.forward(in);
  ASSERT_EQ(want.sizes(), got.sizes()) << what;
  EXPECT_LE((want - got).abs().max().item<double>(), tol) << what;
}

struct Case {
  std::string arch, task;
};

std::vector<Case> registry_cases() {
  std::vector<Case> c;
  for (const auto& a : architectures())
    for (const auto& t : a.tasks) c.push_back({a.name, t});
  return c;
}

class EveryArchitecture : public ::testing::TestWithParam<Case> {
 protected:
  ModelConfig config() const {
    auto cfg = architecture(GetParam().arch).tiny(GetParam().task);
    cfg.passthrough["hidden_dropout_prob"] = 0.0;
    cfg.passthrough["attention_probs_dropout_prob"] = 0.0;
    return cfg;
  }
};

}  // namespace

TEST_P(EveryArchitecture, MaskedEqualsPruned) {
  for (int seed = 0; seed < 4; ++seed) {
    torch::manual_seed(100 + seed);
    auto cfg = config();
    auto dense = make_model(cfg);
    dense->eval();
    const auto& specs = dense->sublayers();
    // Empty one attention and one FFN sublayer (different ones per seed; All-attention models
    // have no FFN).
    std::vector<int> attn, ffn;
    for (const auto& sp : specs) (is_attention(sp.kind) ? attn : ffn).push_back(sp.index);
    std::vector<int> empty = {attn[seed % attn.size()]};
    if (!ffn.empty()) empty.push_back(ffn[(seed + 1) % ffn.size()]);
    auto masks = random_masks(specs, empty, seed > 0);
    auto in = batch(3, 11, cfg.vocab_size);
    auto res = prune_model(*dense, masks);
    auto pruned = make_model(res.config);
    pruned->load_state(res.tensors, "surgery");
    pruned->eval();
    expect_same_logits(*dense, *pruned, in, &masks, 1e-5, "seed " + std::to_string(seed));
    // Shapes: what survives is exactly what the masks kept.
    auto bin = masks.binarized();
    for (const auto& sp : pruned->sublayers())
      EXPECT_EQ(sp.units, bin.kept(specs, sp.index)) << sp.name();
    for (int s : empty) EXPECT_EQ(pruned->sublayers()[s].units, 0);
    // FLOPs of the pruned model == FLOPs the masks imply (K/V groups included).
    for (double T : {37.5, 128.0}) {
      const double implied = Budget(specs, T).cost(bin);
      EXPECT_DOUBLE_EQ(Budget(pruned->sublayers(), T).total(), implied);
      EXPECT_DOUBLE_EQ(Budget(res.config, T).total(), implied);
      EXPECT_LT(implied, dense_flops(cfg, T));
    }
  }
}

TEST_P(EveryArchitecture, SaveLoadIdentical) {
  torch::manual_seed(3);
  auto cfg = config();
  auto dense = make_model(cfg);
  auto masks = random_masks(dense->sublayers(), {1}, true);
  auto res = prune_model(*dense, masks);
  auto pruned = make_model(res.config);
  pruned->load_state(res.tensors, "surgery");
  pruned->eval();
  auto dir = std::filesystem::temp_directory_path() /
             ("hp_saveload_" + GetParam().arch + GetParam().task + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  save_model_dir(dir.string(), *pruned, {});
  auto back = load_model_dir(dir.string(), torch::kCPU, false);
  back.model->eval();
  EXPECT_EQ(back.model->config().layers, res.config.layers);
  expect_same_logits(*pruned, *back.model, batch(2, 9, cfg.vocab_size), nullptr, 0.0, "reload");
  std::filesystem::remove_all(dir);
}

TEST_P(EveryArchitecture, AllOnesMasksChangeNothingAndRepruningComposes) {
  torch::manual_seed(7);
  auto cfg = config();
  auto m = make_model(cfg);
  auto res = prune_model(*m, random_masks(m->sublayers(), {}, false));
  auto p = make_model(res.config);
  p->load_state(res.tensors, "x");
  auto again = prune_model(*p, MaskSet::ones(p->sublayers()));
  for (const auto& [k, v] : res.tensors) EXPECT_TRUE(v.equal(again.tensors.at(k))) << k;
}

INSTANTIATE_TEST_SUITE_P(Registry, EveryArchitecture, ::testing::ValuesIn(registry_cases()),
                         [](const auto& info) { return info.param.arch + "_" + info.param.task; });

// ---- A layout BERT does not have: fused Q/K/V stored [in, out] with grouped-query attention ----
namespace {

// Pre-LN decoder-style block: x += c_proj(attn(LN(x) @ c_attn)); x += down(gelu(LN(x) @ up)).
// c_attn.weight [d, (H + 2G)*dh] holds Q | K | V columns (Conv1D layout); c_proj.weight [H*dh, d];
// up [d, F]; down [F, d]. Written only through the sublayer contract.
class FusedToy : public Model {
 public:
  explicit FusedToy(const ModelConfig& cfg) : Model(cfg) {
    const int64_t d = cfg_.d_model, dh = cfg_.d_head;
    emb_ = add("wte.weight", init_normal({cfg_.vocab_size, d}, 0.5));
    for (int il = 0; il < cfg_.n_layer; ++il) {
      const auto& l = cfg_.layers[il];
      const std::string p = "h." + std::to_string(il) + ".";
      L layer;
      layer.ln1 = add(p + "ln_1.weight", torch::ones({d}));
      layer.ln2 = add(p + "ln_2.weight", torch::ones({d}));
      if (l.n_head > 0) {
        layer.attn_w = add(p + "attn.c_attn.weight", init_normal({d, (l.n_head + 2 * l.n_head_kv) * dh}, 0.3));
        layer.attn_b = add(p + "attn.c_attn.bias", init_normal({(l.n_head + 2 * l.n_head_kv) * dh}, 0.3));
        layer.proj_w = add(p + "attn.c_proj.weight", init_normal({l.n_head * dh, d}, 0.3));
        layer.proj_b = add(p + "attn.c_proj.bias", init_normal({d}, 0.3));
      }
      if (l.n_ff > 0) {
        layer.up = add(p + "mlp.c_fc.weight", init_normal({d, l.n_ff}, 0.3));
        layer.down = add(p + "mlp.c_proj.weight", init_normal({l.n_ff, d}, 0.3));
      }
      layers_.push_back(layer);
    }
    head_ = add("lm_head.weight", init_normal({cfg_.n_labels, d}, 0.3));
    set_sublayers(describe(cfg_));
  }
  static std::vector<SublayerSpec> describe(const ModelConfig& cfg) {
    std::vector<SublayerSpec> out;
    const int64_t dh = cfg.d_head;
    for (int il = 0; il < cfg.n_layer; ++il) {
      const auto& l = cfg.layers[il];
      const std::string p = "h." + std::to_string(il) + ".";
      SublayerSpec a;
      a.index = static_cast<int>(out.size());
      a.kind = SublayerKind::CausalAttn;
      a.stack = Stack::Decoder;
      a.layer = il;
      a.norm = NormPlace::PreLN;
      a.units = l.n_head;
      a.groups = l.n_head_kv;
      a.d_model = cfg.d_model;
      a.unit_width = dh;
      a.head_dim = dh;
      const std::string w = p + "attn.c_attn.weight", b = p + "attn.c_attn.bias";
      a.out_proj = {p + "attn.c_proj.weight", 0, 0, dh};
      a.unit_slices = {{w, 1, 0, dh}, {b, 0, 0, dh}, a.out_proj};
      a.group_slices = {{w, 1, l.n_head * dh, dh}, {b, 0, l.n_head * dh, dh},
                        {w, 1, (l.n_head + l.n_head_kv) * dh, dh},
                        {b, 0, (l.n_head + l.n_head_kv) * dh, dh}};
      a.out_bias = p + "attn.c_proj.bias";
      out.push_back(a);
      SublayerSpec f;
      f.index = static_cast<int>(out.size());
      f.kind = SublayerKind::Ffn;
      f.stack = Stack::Decoder;
      f.layer = il;
      f.norm = NormPlace::PreLN;
      f.units = l.n_ff;
      f.d_model = cfg.d_model;
      f.out_proj = {p + "mlp.c_proj.weight", 0, 0, 1};
      f.unit_slices = {{p + "mlp.c_fc.weight", 1, 0, 1}, f.out_proj};
      f.may_pad = true;
      out.push_back(f);
    }
    return out;
  }
  ForwardState begin(const ForwardInput& in) override {
    ForwardState st;
    st.x(Stack::Decoder) = torch::embedding(emb_, in.input_ids);
    st.token_mask = torch::ones_like(in.input_ids).to(torch::kBool);
    return st;
  }
  void apply(int s, ForwardState& st, const torch::Tensor& mask, Probe* probe) override {
    const auto& sp = sublayers()[s];
    const auto& L = layers_[sp.layer];
    auto& x = st.x(Stack::Decoder);
    if (probe) probe->on_input(s, x);
    if (sp.units == 0 || mask_all_zero(mask)) return;  // pre-LN: the residual passes unchanged
    const int64_t dh = cfg_.d_head, H = sp.units, G = sp.groups;
    if (sp.kind == SublayerKind::Ffn) {
      auto h = torch::gelu(torch::matmul(torch::layer_norm(x, {x.size(-1)}, L.ln2), L.up));
      if (mask.defined()) h = h * mask;
      if (probe) probe->on_units(s, h);
      auto y = torch::matmul(h, L.down);
      if (probe) probe->on_output(s, y);
      x = x + y;
      return;
    }
    auto qkv = torch::matmul(torch::layer_norm(x, {x.size(-1)}, L.ln1), L.attn_w) + L.attn_b;
    auto q = split_heads(qkv.narrow(-1, 0, H * dh), H);
    auto k = split_heads(qkv.narrow(-1, H * dh, G * dh), G);
    auto v = split_heads(qkv.narrow(-1, (H + G) * dh, G * dh), G);
    auto c = attention(q, k, v, {}, 0.0, false, /*is_causal=*/true);  // [B, H, T, dh]
    if (mask.defined()) c = c * mask.view({1, H, 1, 1});
    auto u = merge_heads(c);
    if (probe) probe->on_units(s, u);
    auto y = torch::matmul(u, L.proj_w) + L.proj_b;
    if (probe) probe->on_output(s, y);
    x = x + y;
  }
  torch::Tensor head(const ForwardState& st) override {
    return torch::linear(st.x(Stack::Decoder).select(1, -1), head_);
  }

 private:
  struct L {
    torch::Tensor ln1, ln2, attn_w, attn_b, proj_w, proj_b, up, down;
  };
  torch::Tensor emb_, head_;
  std::vector<L> layers_;
};

ModelConfig fused_cfg() {
  ModelConfig c = hp_test::tiny_bert_config("classify", 30, 16, 2, 3, 12, 3);
  c.arch = "fused-toy";
  c.set_dense_layers();
  for (auto& l : c.layers) l.n_head_kv = 2;  // 8 query heads in 2 K/V groups of 4
  return c;
}

}  // namespace

TEST(Surgery, FusedInOutLayoutWithGroupedQueryAttention) {
  for (int seed = 0; seed < 4; ++seed) {
    torch::manual_seed(40 + seed);
    auto cfg = fused_cfg();
    FusedToy dense(cfg);
    auto specs = dense.sublayers();
    auto masks = random_masks(specs, {seed % 2 ? 0 : 3}, seed > 0);
    // Remove one K/V group of layer 1 entirely.
    const int a1 = hp_test::sub_index(specs, SublayerKind::CausalAttn, 1, Stack::Decoder);
    masks[a1].narrow(0, 4, 4).zero_();
    auto res = prune_model(dense, masks, seed == 3 ? 4 : 1);
    FusedToy pruned(res.config);
    pruned.load_state(res.tensors, "fused surgery");
    auto in = batch(2, 7, cfg.vocab_size);
    in.attention_mask = torch::Tensor();
    expect_same_logits(dense, pruned, in, &masks, 1e-5, "fused seed " + std::to_string(seed));
    EXPECT_EQ(res.config.layers[1].n_head_kv, 1);  // the emptied group's K and V columns are gone
    EXPECT_EQ(res.kept_groups[a1], (std::vector<int64_t>{0}));
    const auto bin = masks.binarized();
    const double implied = Budget(specs, 64).cost(bin), stored = Budget(pruned.sublayers(), 64).total();
    if (seed == 3) EXPECT_GE(stored, implied);  // FFN padding to a multiple of 4
    else EXPECT_DOUBLE_EQ(stored, implied);
  }
}

TEST(Surgery, UnequalHeadsPerGroupIsRefusedWithAClearMessage) {
  auto cfg = fused_cfg();
  FusedToy dense(cfg);
  auto masks = MaskSet::ones(dense.sublayers());
  masks[0] = torch::tensor({1.f, 1.f, 0.f, 0.f, 1.f, 0.f, 0.f, 0.f});  // groups keep 2 and 1
  try {
    prune_model(dense, masks);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("same number of query heads"), std::string::npos) << e.what();
  }
}

TEST(Surgery, SlicesThatDoNotTileATensorAreRefused) {
  // A spec bug (a slice that leaves part of a tensor unassigned) must not silently drop weights.
  struct Broken : FusedToy {
    explicit Broken(const ModelConfig& c) : FusedToy(c) {
      auto specs = sublayers();
      specs[0].group_slices.pop_back();  // V bias no longer covered
      set_sublayers(specs);
    }
  };
  Broken m(fused_cfg());
  auto masks = MaskSet::ones(m.sublayers());
  masks[0][0] = 0;
  EXPECT_THROW(prune_model(m, masks), Error);
}

// ---- BERT specifics ----
namespace {
ModelConfig bert_cfg(const std::string& task) { return hp_test::tiny_bert_config(task, 61, 24, 6, 4, 32, 2); }
}  // namespace

TEST(Surgery, KeptIndicesAndIdempotence) {
  torch::manual_seed(7);
  auto cfg = bert_cfg("classify");
  auto m = make_model(cfg);
  const auto& specs = m->sublayers();
  MaskSet masks = MaskSet::ones(specs);
  masks[hp_test::attn_of(specs, 1)] = torch::tensor({0.f, 1.f, 0.f, 1.f});
  auto res = prune_model(*m, masks);
  EXPECT_EQ(res.kept_units[hp_test::attn_of(specs, 1)], (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(res.kept_units[hp_test::attn_of(specs, 0)], (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(res.tensors.at("bert.encoder.layer.1.attention.self.query.weight").size(0), 2 * 6);
  EXPECT_EQ(res.tensors.at("bert.encoder.layer.1.attention.self.key.weight").size(0), 2 * 6);
  EXPECT_EQ(res.tensors.at("bert.encoder.layer.1.attention.output.dense.weight").size(1), 2 * 6);
}

TEST(Surgery, EmptiedSublayerLosesItsTensorsButKeepsItsNorm) {
  auto cfg = bert_cfg("classify");
  auto m = make_model(cfg);
  const auto& specs = m->sublayers();
  MaskSet masks = MaskSet::ones(specs);
  masks[hp_test::attn_of(specs, 2)].zero_();
  masks[hp_test::ffn_of(specs, 0)].zero_();
  auto res = prune_model(*m, masks);
  for (const char* gone : {"bert.encoder.layer.2.attention.self.query.weight",
                           "bert.encoder.layer.2.attention.self.value.bias",
                           "bert.encoder.layer.2.attention.output.dense.bias",
                           "bert.encoder.layer.0.intermediate.dense.weight",
                           "bert.encoder.layer.0.output.dense.bias"})
    EXPECT_EQ(res.tensors.count(gone), 0u) << gone;
  EXPECT_EQ(res.tensors.count("bert.encoder.layer.2.attention.output.LayerNorm.weight"), 1u);
  EXPECT_EQ(res.config.layers[2].n_head, 0);
  EXPECT_EQ(res.config.layers[0].n_ff, 0);
}

TEST(Surgery, WeightUpdatesAreAppliedBeforeCutting) {
  torch::manual_seed(2);
  auto cfg = bert_cfg("classify");
  auto m = make_model(cfg);
  const auto& specs = m->sublayers();
  MaskSet masks = MaskSet::ones(specs);
  masks[hp_test::ffn_of(specs, 1)] = torch::cat({torch::ones({8}), torch::zeros({24})});
  const std::string name = "bert.encoder.layer.1.output.dense.weight";
  auto upd = torch::randn({24, 32});
  auto res = prune_model(*m, masks, 1, {{name, upd}});
  EXPECT_TRUE(res.tensors.at(name).equal(upd.narrow(1, 0, 8)));
  EXPECT_THROW(prune_model(*m, masks, 1, {{name, torch::randn({3, 3})}}), Error);
  EXPECT_THROW(prune_model(*m, masks, 1, {{"no.such.tensor", upd}}), Error);
  // The model itself is untouched.
  EXPECT_FALSE(m->param(name).equal(upd));
}

TEST(Surgery, RejectsWrongMaskSizes) {
  auto m = make_model(bert_cfg("classify"));
  MaskSet masks = MaskSet::ones(m->sublayers());
  masks[hp_test::ffn_of(m->sublayers(), 2)] = torch::ones({5});
  EXPECT_THROW(prune_model(*m, masks), Error);
}

TEST(Surgery, FfnAlignmentPadsWithZeroNeuronsAndKeepsOutputs) {
  torch::manual_seed(11);
  auto cfg = bert_cfg("classify");
  auto dense = make_model(cfg);
  dense->eval();
  const auto& specs = dense->sublayers();
  auto masks = random_masks(specs, {hp_test::attn_of(specs, 0), hp_test::ffn_of(specs, 1)}, true);
  auto in = batch(2, 9, cfg.vocab_size);
  auto res = prune_model(*dense, masks, 8);
  auto bin = masks.binarized();
  for (const auto& sp : specs) {
    if (sp.kind != SublayerKind::Ffn) continue;
    int64_t kept = bin.kept(specs, sp.index);
    int64_t width = res.config.layers[sp.layer].n_ff;
    if (kept == 0) {
      EXPECT_EQ(width, 0);  // an empty FFN stays skipped, never padded
      continue;
    }
    EXPECT_EQ(width % 8, 0) << sp.name();
    EXPECT_GE(width, kept);
    EXPECT_LT(width - kept, 8);
    EXPECT_EQ(res.padded_units[sp.index], width - kept);
    EXPECT_EQ((int64_t)res.kept_units[sp.index].size(), kept);  // padding is not a kept neuron
  }
  auto pruned = make_model(res.config);
  pruned->load_state(res.tensors, "padded surgery");
  pruned->eval();
  expect_same_logits(*dense, *pruned, in, &masks, 1e-5, "padded");
}

TEST(Model, NoAttentionMaskEqualsAllOnesMask) {
  torch::manual_seed(5);
  auto cfg = bert_cfg("mlm");
  auto m = make_model(cfg);
  m->eval();
  torch::NoGradGuard ng;
  ForwardInput in;
  in.input_ids = torch::randint(1, cfg.vocab_size, {2, 7}, torch::kInt64);
  auto without = m->forward(in);
  in.attention_mask = torch::ones({2, 7}, torch::kInt64);
  EXPECT_LE((without - m->forward(in)).abs().max().item<float>(), 1e-6);
}

// A pruned model trained further (train --init) keeps HF's pruned_heads in config.json and
// reloads with the pruned shapes.
TEST(Surgery, TrainedPrunedModelKeepsPrunedHeadsAndReloads) {
  torch::manual_seed(5);
  auto cfg = bert_cfg("classify");
  cfg.labels = {"a", "b"};
  auto dense = make_model(cfg);
  MaskSet masks = MaskSet::ones(dense->sublayers());
  masks[hp_test::attn_of(dense->sublayers(), 2)] = torch::tensor({1.f, 0.f, 1.f, 0.f});
  auto res = prune_model(*dense, masks);
  auto pruned = make_model(res.config);
  pruned->load_state(res.tensors, "pruned");

  const auto dir = std::filesystem::temp_directory_path() / ("hp_test_train_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  { std::ofstream f(dir / "train.tsv"); f << "sentence\tlabel\nx\ta\ny\tb\nz\ta\n"; }
  hp_test::SpecialsTokenizer tok;
  TrainOptions t;
  t.train_path = (dir / "train.tsv").string();
  t.out_dir = (dir / "out").string();
  t.epochs = 1;
  t.batch = 2;
  t.max_len = 16;
  t.progress = false;
  t.pruned_heads = {{}, {}, {1, 3}, {}};
  train_model(pruned, tok, {{"pruning.json", "{}"}}, t);

  std::ifstream cf(dir / "out/config.json");
  auto j = nlohmann::json::parse(cf);
  EXPECT_EQ(j.at("pruned_heads"), (nlohmann::json{{"2", {1, 3}}}));
  EXPECT_TRUE(std::filesystem::exists(dir / "out/pruning.json"));
  auto back = load_model_dir(t.out_dir, torch::kCPU, /*need_tokenizer=*/false);
  EXPECT_EQ(back.model->config().layers[2].n_head, 2);
  EXPECT_EQ(back.model->config().layers[1].n_head, 4);
  std::filesystem::remove_all(dir);
}

// ModelConfig::empty_keeps_bias: an emptied sublayer computes LayerNorm(x + b_out) instead of
// LayerNorm(x), in the masked model and in the pruned one (which keeps the bias), and the setting
// survives save -> load.
TEST(Surgery, EmptiedSublayerKeepingItsBias) {
  torch::manual_seed(21);
  auto cfg = bert_cfg("classify");
  cfg.empty_keeps_bias = true;
  auto dense = make_model(cfg);
  {
    torch::NoGradGuard ng;  // non-zero biases so that keeping them matters
    for (auto& [k, v] : dense->state())
      if (k.find("output.dense.bias") != std::string::npos) v.normal_(0, 0.5);
  }
  dense->eval();
  const auto& specs = dense->sublayers();
  MaskSet masks = random_masks(specs, {hp_test::attn_of(specs, 1), hp_test::ffn_of(specs, 2)}, true);
  auto in = batch(2, 9, cfg.vocab_size);
  auto res = prune_model(*dense, masks);
  EXPECT_EQ(res.tensors.count("bert.encoder.layer.1.attention.output.dense.bias"), 1u);
  EXPECT_EQ(res.tensors.count("bert.encoder.layer.1.attention.output.dense.weight"), 0u);
  EXPECT_EQ(res.tensors.count("bert.encoder.layer.2.output.dense.bias"), 1u);
  auto pruned = make_model(res.config);
  pruned->load_state(res.tensors, "bias-keeping surgery");
  pruned->eval();
  expect_same_logits(*dense, *pruned, in, &masks, 1e-5, "empty_keeps_bias");
  // The other definition gives other logits on the same weights and masks.
  auto cfg0 = cfg;
  cfg0.empty_keeps_bias = false;
  auto other = make_model(cfg0);
  other->load_state(dense->state(), "same weights");
  other->eval();
  {
    torch::NoGradGuard ng;
    EXPECT_GT((other->forward(in, &masks) - dense->forward(in, &masks)).abs().max().item<double>(), 1e-3);
  }
  auto dir = std::filesystem::temp_directory_path() / ("hp_bias_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  save_model_dir(dir.string(), *pruned, {});
  auto back = load_model_dir(dir.string(), torch::kCPU, false);
  back.model->eval();
  EXPECT_TRUE(back.model->config().empty_keeps_bias);
  expect_same_logits(*pruned, *back.model, in, nullptr, 0.0, "reload");
  std::filesystem::remove_all(dir);
}
