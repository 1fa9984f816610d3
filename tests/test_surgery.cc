// Surgery invariants: masked-dense output == physically pruned output (fp32), for random masks
// with empty sublayers and real-valued scales; FLOPs of the result == FLOPs implied by the masks.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/check.h"
#include "eval/flops.h"
#include "io/model_dir.h"
#include "model/model.h"
#include "surgery/surgery.h"
#include "train/trainer.h"
#include "test_util.h"

using namespace hp;

namespace {

ModelConfig tiny_cfg(const std::string& arch, const std::string& task) {
  ModelConfig c = hp_test::tiny_bert_config(task, 61, 24, 6, 4, 32, 2);
  c.arch = arch;
  return c;
}

ForwardInput batch(int64_t B, int64_t T, int64_t V) {
  ForwardInput in;
  in.input_ids = torch::randint(1, V, {B, T}, torch::kInt64);
  in.attention_mask = torch::ones({B, T}, torch::kInt64);
  in.attention_mask[0].narrow(0, T - 3, 3).fill_(0);
  return in;
}

// Random mask: ~half the units removed, some kept units scaled, layer `empty_attn` has no heads
// left and layer `empty_ffn` no neurons.
MaskSet random_masks(const ModelConfig& cfg, int empty_attn, int empty_ffn, bool scales) {
  MaskSet m = MaskSet::ones(cfg);
  for (int il = 0; il < cfg.n_layer; ++il) {
    auto& L = m.layers[il];
    L.head = (torch::rand({cfg.layers[il].n_head}) > 0.5).to(torch::kFloat32);
    L.head[0] = 1;  // at least one head so the sublayer survives unless emptied below
    L.neuron = (torch::rand({cfg.layers[il].n_ff}) > 0.5).to(torch::kFloat32);
    L.neuron[3] = 1;
    if (scales) {
      L.head = L.head * (0.5 + torch::rand({cfg.layers[il].n_head}));
      L.neuron = L.neuron * (0.5 + torch::rand({cfg.layers[il].n_ff}));
    }
  }
  m.layers[empty_attn].head.zero_();
  m.layers[empty_ffn].neuron.zero_();
  return m;
}

struct Case {
  std::string arch, task;
};

class SurgeryInvariant : public ::testing::TestWithParam<Case> {};

}  // namespace

TEST_P(SurgeryInvariant, MaskedEqualsPruned) {
  for (int seed = 0; seed < 3; ++seed) {
    torch::manual_seed(100 + seed);
    auto cfg = tiny_cfg(GetParam().arch, GetParam().task);
    auto dense = make_model(cfg);
    dense->eval();
    auto masks = random_masks(cfg, seed % cfg.n_layer, (seed + 2) % cfg.n_layer, seed > 0);
    auto in = batch(3, 11, cfg.vocab_size);
    torch::NoGradGuard ng;
    auto want = dense->forward(in, &masks);
    auto res = prune_model(*dense, masks);
    auto pruned = make_model(res.config);
    pruned->load_state(res.tensors, "surgery");
    pruned->eval();
    auto got = pruned->forward(in);
    float diff = (want - got).abs().max().item<float>();
    EXPECT_LE(diff, 1e-5) << "seed " << seed;
    // Shapes: what survives is exactly what the masks kept.
    EXPECT_EQ(res.config.layers[seed % cfg.n_layer].n_head, 0);
    EXPECT_EQ(res.config.layers[(seed + 2) % cfg.n_layer].n_ff, 0);
    auto bin = masks.binarized();
    EXPECT_EQ(res.config.total_heads(), bin.kept_heads());
    EXPECT_EQ(res.config.total_neurons(), bin.kept_neurons());
    // FLOPs of the pruned model == FLOPs implied by the masks.
    double s = 37.5, implied = 0;
    for (int il = 0; il < cfg.n_layer; ++il) {
      int64_t h = bin.layers[il].head.sum().item<int64_t>();
      int64_t f = bin.layers[il].neuron.sum().item<int64_t>();
      implied += h * flops_per_head(cfg, s) + f * flops_per_neuron(cfg, s);
    }
    EXPECT_DOUBLE_EQ(count_flops(res.config, s).total(), implied);
    EXPECT_LT(count_flops(res.config, s).total(), dense_flops(cfg, s));
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, SurgeryInvariant,
                         ::testing::Values(Case{"bert", "classify"}, Case{"bert", "mlm"}),
                         [](const auto& info) { return info.param.arch + "_" + info.param.task; });

TEST(Surgery, KeptIndicesAndIdempotence) {
  torch::manual_seed(7);
  auto cfg = tiny_cfg("bert", "classify");
  auto m = make_model(cfg);
  MaskSet masks = MaskSet::ones(cfg);
  masks.layers[1].head = torch::tensor({0.f, 1.f, 0.f, 1.f});
  auto res = prune_model(*m, masks);
  EXPECT_EQ(res.kept_heads[1], (std::vector<int>{1, 3}));
  EXPECT_EQ(res.kept_heads[0], (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(res.tensors.at("bert.encoder.layer.1.attention.self.query.weight").size(0), 2 * 6);
  EXPECT_EQ(res.tensors.at("bert.encoder.layer.1.attention.output.dense.weight").size(1), 2 * 6);
  // Pruning the pruned model with all-ones masks changes nothing.
  auto p = make_model(res.config);
  p->load_state(res.tensors, "x");
  auto again = prune_model(*p, MaskSet::ones(res.config));
  for (const auto& [k, v] : res.tensors) EXPECT_TRUE(v.equal(again.tensors.at(k))) << k;
}

TEST(Surgery, RejectsWrongMaskSizes) {
  auto cfg = tiny_cfg("bert", "classify");
  auto m = make_model(cfg);
  MaskSet masks = MaskSet::ones(cfg);
  masks.layers[2].neuron = torch::ones({5});
  EXPECT_THROW(prune_model(*m, masks), Error);
}

TEST(Surgery, FfnAlignmentPadsWithZeroNeuronsAndKeepsOutputs) {
  torch::manual_seed(11);
  auto cfg = tiny_cfg("bert", "classify");
  auto dense = make_model(cfg);
  dense->eval();
  auto masks = random_masks(cfg, 0, 1, true);
  auto in = batch(2, 9, cfg.vocab_size);
  torch::NoGradGuard ng;
  auto want = dense->forward(in, &masks);
  auto res = prune_model(*dense, masks, 8);
  auto bin = masks.binarized();
  for (int il = 0; il < cfg.n_layer; ++il) {
    int64_t kept = bin.layers[il].neuron.sum().item<int64_t>();
    int64_t width = res.config.layers[il].n_ff;
    if (kept == 0) {
      EXPECT_EQ(width, 0);  // an empty FFN stays skipped, never padded
      continue;
    }
    EXPECT_EQ(width % 8, 0) << "layer " << il;
    EXPECT_GE(width, kept);
    EXPECT_LT(width - kept, 8);
    EXPECT_EQ(res.padded_neurons[il], width - kept);
    EXPECT_EQ((int64_t)res.kept_neurons[il].size(), kept);  // padding is not a kept neuron
  }
  auto pruned = make_model(res.config);
  pruned->load_state(res.tensors, "padded surgery");
  pruned->eval();
  EXPECT_LE((want - pruned->forward(in)).abs().max().item<float>(), 1e-5);
}

TEST(Model, NoAttentionMaskEqualsAllOnesMask) {
  torch::manual_seed(5);
  auto cfg = tiny_cfg("bert", "mlm");
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
  auto cfg = tiny_cfg("bert", "classify");
  cfg.labels = {"a", "b"};
  auto dense = make_model(cfg);
  MaskSet masks = MaskSet::ones(cfg);
  masks.layers[2].head = torch::tensor({1.f, 0.f, 1.f, 0.f});
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
