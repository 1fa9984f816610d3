// Model behaviour: shapes, mask semantics, empty sublayers, save/load, HF golden logits.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/check.h"
#include "io/checkpoint.h"
#include "model/model_dir.h"
#include "model/model.h"
#include "test_util.h"

using namespace hp;

namespace {

ModelConfig tiny(const std::string& task = "classify") {
  return hp_test::tiny_bert_config(task, 50, 16, 4, 3, 24, 3);
}

ForwardInput inputs(int64_t B = 2, int64_t T = 7) {
  torch::manual_seed(3);
  ForwardInput in;
  in.input_ids = torch::randint(5, 50, {B, T}, torch::kInt64);
  in.attention_mask = torch::ones({B, T}, torch::kInt64);
  in.attention_mask[1].narrow(0, 4, T - 4).fill_(0);
  return in;
}

}  // namespace

TEST(Model, ShapesPerTask) {
  torch::manual_seed(0);
  auto in = inputs();
  EXPECT_EQ(make_model(tiny("classify"))->forward(in).sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(make_model(tiny("regress"))->forward(in).sizes(), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(make_model(tiny("mlm"))->forward(in).sizes(), (std::vector<int64_t>{2, 7, 50}));
  auto pos = torch::zeros({2, 7}, torch::kBool);
  pos[0][2] = true;
  pos[1][1] = true;
  EXPECT_EQ(make_model(tiny("mlm"))->forward(in, nullptr, nullptr, pos).sizes(),
            (std::vector<int64_t>{2, 50}));
}

TEST(Model, PaddingDoesNotLeak) {
  // Changing ids at padded positions must not change the logits of real tokens.
  torch::manual_seed(0);
  auto m = make_model(tiny("mlm"));
  m->eval();
  auto in = inputs();
  auto a = m->forward(in);
  in.input_ids[1].narrow(0, 4, 3).fill_(7);
  auto b = m->forward(in);
  EXPECT_LT((a[1].narrow(0, 0, 4) - b[1].narrow(0, 0, 4)).abs().max().item<float>(), 1e-6);
}

TEST(Model, OnesMaskEqualsNoMask) {
  torch::manual_seed(0);
  auto m = make_model(tiny());
  auto in = inputs();
  auto masks = MaskSet::ones(m->sublayers());
  EXPECT_LT((m->forward(in) - m->forward(in, &masks)).abs().max().item<float>(), 1e-6);
}

TEST(Model, HeadMaskIsLinearInContext) {
  // Scaling a head's mask by 0.5 halves its contribution: output(0.5) is the midpoint between
  // output(0) and output(1) *before* the LayerNorm; check through the trace of the sublayer output.
  torch::manual_seed(0);
  auto m = make_model(tiny());
  auto in = inputs();
  const int s = hp_test::attn_of(m->sublayers(), 1);
  auto run = [&](float v) {
    auto masks = MaskSet::ones(m->sublayers());
    masks[s][2] = v;
    Recorder t;
    t.keep_outputs = true;
    m->forward(in, &masks, &t);
    return t.outputs[s];
  };
  auto o0 = run(0), o1 = run(1), oh = run(0.5);
  EXPECT_LT((oh - 0.5 * (o0 + o1)).abs().max().item<float>(), 1e-5);
}

TEST(Model, AllZeroMaskSkipsSublayer) {
  torch::manual_seed(0);
  auto m = make_model(tiny());
  auto in = inputs();
  const auto& specs = m->sublayers();
  auto masks = MaskSet::ones(specs);
  masks[hp_test::attn_of(specs, 0)].zero_();
  masks[hp_test::ffn_of(specs, 2)].zero_();
  Recorder t;
  t.keep_outputs = true;
  t.keep_inputs = true;
  m->forward(in, &masks, &t);
  t.outputs.resize(specs.size());
  EXPECT_FALSE(t.outputs[hp_test::attn_of(specs, 0)].defined());
  EXPECT_FALSE(t.outputs[hp_test::ffn_of(specs, 2)].defined());
  EXPECT_TRUE(t.outputs[hp_test::attn_of(specs, 1)].defined());
  // The probe still sees the stream entering a skipped sublayer.
  EXPECT_TRUE(t.inputs[hp_test::attn_of(specs, 0)].defined());
}

TEST(Model, RejectsMismatchedMasks) {
  auto m = make_model(tiny());
  auto masks = MaskSet::ones(m->sublayers());
  masks[hp_test::attn_of(m->sublayers(), 1)] = torch::ones({3});
  EXPECT_THROW(m->forward(inputs(), &masks), Error);
}

TEST(Model, LoadStateChecksShapesAndKeys) {
  auto m = make_model(tiny());
  auto st = m->state();
  auto bad = st;
  bad["bert.encoder.layer.1.intermediate.dense.weight"] = torch::zeros({5, 16});
  try {
    m->load_state(bad, "x.safetensors");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("intermediate.dense.weight"), std::string::npos);
  }
  auto missing = st;
  missing.erase("classifier.weight");
  EXPECT_THROW(m->load_state(missing, "x"), Error);
  auto extra = st;
  extra["bert.encoder.layer.9.foo"] = torch::zeros({1});
  EXPECT_THROW(m->load_state(extra, "x"), Error);
}

TEST(Model, SaveLoadIdenticalLogits) {
  torch::manual_seed(0);
  auto cfg = tiny();
  cfg.layers[1].n_head = 2;  // uneven shapes must survive the round trip
  cfg.layers[1].n_head_kv = 2;
  cfg.layers[2].n_ff = 0;
  auto m = make_model(cfg);
  m->eval();
  auto dir = (std::filesystem::temp_directory_path() / "hp_model_saveload").string();
  std::filesystem::remove_all(dir);
  save_model_dir(dir, *m, {});
  auto lm = load_model_dir(dir, torch::kCPU, false);
  auto in = inputs();
  EXPECT_EQ(lm.model->config().layers[1].n_head, 2);
  EXPECT_EQ(lm.model->config().layers[2].n_ff, 0);
  EXPECT_EQ((m->forward(in) - lm.model->forward(in)).abs().max().item<float>(), 0.0f);
  std::filesystem::remove_all(dir);
}
