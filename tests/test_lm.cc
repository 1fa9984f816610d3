// Causal-LM data and evaluation: strided windows, next-token targets, perplexity against a direct
// computation, and calibration batches of a decoder.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "data/lm.h"
#include "eval/evaluate.h"
#include "eval/generate.h"
#include "model/model.h"
#include "score/calib.h"
#include "task/task.h"
#include "test_util.h"
#include "train/trainer.h"

using hp::EncodedExample;

namespace {

std::vector<int64_t> iota_stream(int n) {
  std::vector<int64_t> s(n);
  for (int i = 0; i < n; ++i) s[i] = 5 + (i * 7) % 31;
  return s;
}

// Stream positions each window scores, and the left context each scored position had.
void scored_positions(const std::vector<EncodedExample>& w, int stride, std::vector<int>& times,
                      std::vector<int>& context) {
  for (size_t k = 0; k < w.size(); ++k) {
    const int begin = static_cast<int>(k) * stride;
    for (size_t j = std::max(1, w[k].first_target); j < w[k].ids.size(); ++j) {
      times.at(begin + j) += 1;
      context.at(begin + j) = static_cast<int>(j);
    }
  }
}

}  // namespace

TEST(LmData, StridedWindowsScoreEveryTokenOnceWithEnoughContext) {
  for (int n : {2, 9, 10, 33, 64, 101}) {
    for (auto [ctx, stride] : {std::pair{8, 4}, {8, 1}, {8, 7}, {16, 5}, {10, 10}}) {
      auto s = iota_stream(n);
      auto w = hp::lm_windows(s, ctx, stride);
      std::vector<int> times(n, 0), context(n, 0);
      scored_positions(w, stride, times, context);
      for (size_t k = 0; k < w.size(); ++k) {
        ASSERT_LE(w[k].ids.size(), static_cast<size_t>(ctx));
        for (size_t j = 0; j < w[k].ids.size(); ++j) ASSERT_EQ(w[k].ids[j], s[k * stride + j]);
      }
      EXPECT_EQ(times[0], 0) << "the first token has no context";
      for (int p = 1; p < n; ++p) {
        const int window_start = p - context[p];
        if (stride < ctx) {
          ASSERT_EQ(times[p], 1) << "n " << n << " ctx " << ctx << " stride " << stride << " pos " << p;
          // Context: everything before p inside the window, at least ctx - stride once the
          // stream is long enough to have filled a window.
          EXPECT_GE(context[p], std::min(p, ctx - stride)) << "pos " << p;
        } else {
          // Disjoint windows: a window's first token is not scored, every other token once.
          ASSERT_EQ(times[p], p % ctx == 0 ? 0 : 1) << "pos " << p;
        }
        EXPECT_GE(window_start, 0);
      }
    }
  }
  EXPECT_TRUE(hp::lm_windows({7}, 8, 4).empty());
  EXPECT_THROW(hp::lm_windows(iota_stream(10), 8, 9), hp::Error);
  EXPECT_THROW(hp::lm_windows(iota_stream(10), 8, 0), hp::Error);
}

TEST(LmData, TargetsAreTheNextTokenFromFirstTarget) {
  EncodedExample a, b;
  a.ids = {10, 11, 12, 13};
  a.first_target = 0;
  b.ids = {20, 21, 22};
  b.first_target = 2;
  auto y = hp::lm_targets({&a, &b});
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 4}));
  std::vector<int64_t> want = {11, 12, 13, -100, -100, 22, -100, -100};
  auto yc = y.contiguous();
  EXPECT_EQ(std::vector<int64_t>(yc.data_ptr<int64_t>(), yc.data_ptr<int64_t>() + 8), want);
}

TEST(LmData, JoinPutsTheSeparatorAfterEveryDocument) {
  auto s = hp::join_documents({{1, 2}, {}, {3}}, 9);
  EXPECT_EQ(s, (std::vector<int64_t>{1, 2, 9, 3, 9}));
}

namespace {

// A LLaMA-layout decoder (the registry's tiny config) with a deterministic stream as its data.
struct TinyDecoder {
  std::shared_ptr<hp::Model> model;
  hp_test::SpecialsTokenizer tok;
  hp::TaskData data;
  std::vector<int64_t> stream;
};

TinyDecoder tiny_decoder(int n_tokens, int context, int stride) {
  torch::manual_seed(3);
  TinyDecoder t;
  auto cfg = hp::architecture("llama").tiny("lm");
  t.model = hp::make_model(cfg);
  t.model->eval();
  t.stream = iota_stream(n_tokens);
  t.data.task = "lm";
  t.data.path = "stream";
  t.data.context = context;
  t.data.stride = stride;
  t.data.items = hp::lm_windows(t.stream, context, stride);
  return t;
}

}  // namespace

TEST(LmEval, PerplexityOfOneWindowIsTheFullForwardCrossEntropy) {
  auto t = tiny_decoder(20, 32, 16);  // the whole stream fits one window
  ASSERT_EQ(t.data.items.size(), 1u);
  auto r = hp::evaluate(*t.model, t.data, t.tok, nullptr, torch::kCPU, 4, 0, false);
  torch::NoGradGuard ng;
  hp::ForwardInput in;
  in.input_ids = torch::tensor(t.stream, torch::kInt64).view({1, -1});
  auto logits = t.model->forward(in).squeeze(0);  // [T, V]
  auto y = in.input_ids.squeeze(0).narrow(0, 1, 19);
  double nll = torch::cross_entropy_loss(logits.narrow(0, 0, 19), y).item<double>();
  EXPECT_EQ(r.metric, "perplexity");
  EXPECT_EQ(r.extra["tokens"].get<int64_t>(), 19);
  EXPECT_NEAR(r.loss, nll, 1e-5);
  EXPECT_NEAR(r.value, std::exp(nll), 1e-4 * std::exp(nll));
  EXPECT_EQ(r.extra["context"].get<int>(), 32);
  EXPECT_EQ(r.extra["stride"].get<int>(), 16);
}

TEST(LmEval, StridedPerplexityScoresEachTokenWithItsWindowContext) {
  // Direct computation: token p scored by the window that first holds it, given that window's
  // prefix; windows of 8 every 3 tokens, a stream of 23 tokens.
  auto t = tiny_decoder(23, 8, 3);
  auto r = hp::evaluate(*t.model, t.data, t.tok, nullptr, torch::kCPU, 2, 0, false);
  torch::NoGradGuard ng;
  double nll = 0;
  int count = 0, scored_until = 1;
  for (int begin = 0;; begin += 3) {
    const int end = std::min<int>(begin + 8, t.stream.size());
    hp::ForwardInput in;
    std::vector<int64_t> w(t.stream.begin() + begin, t.stream.begin() + end);
    in.input_ids = torch::tensor(w, torch::kInt64).view({1, -1});
    auto lp = torch::log_softmax(t.model->forward(in).squeeze(0), -1);
    for (int p = std::max(scored_until, begin + 1); p < end; ++p, ++count)
      nll -= lp[p - begin - 1][t.stream[p]].item<double>();
    scored_until = end;
    if (end == static_cast<int>(t.stream.size())) break;
  }
  EXPECT_EQ(count, 22);
  EXPECT_EQ(r.extra["tokens"].get<int64_t>(), 22);
  EXPECT_NEAR(r.loss, nll / count, 1e-5);
  // A different stride scores the same tokens with other contexts: a different number.
  auto t2 = tiny_decoder(23, 8, 8);
  auto r2 = hp::evaluate(*t2.model, t2.data, t2.tok, nullptr, torch::kCPU, 2, 0, false);
  EXPECT_NE(r2.extra["tokens"].get<int64_t>(), 22);  // disjoint windows skip each first token
}

TEST(LmCalib, BatchesPredictTheScoredPositions) {
  auto t = tiny_decoder(40, 8, 8);
  auto calib = hp::make_calib_set(t.data, t.tok, torch::kCPU, 2);
  int64_t n = 0;
  for (const auto& b : calib.batches) {
    ASSERT_TRUE(b.predict.defined());
    EXPECT_EQ(b.predict.sum().item<int64_t>(), b.targets.numel());
    auto read = hp::head_read_mask("lm", b);
    EXPECT_TRUE(read.equal(b.predict));
    // The logits at the predicted positions are those of the full [B, T, V] forward there.
    torch::NoGradGuard ng;
    auto rows = hp::calib_logits(*t.model, b, nullptr);
    auto full = t.model->forward(b.in);
    EXPECT_TRUE(torch::allclose(rows, full.index({b.predict}), 1e-5, 1e-6));
    n += b.targets.numel();
  }
  EXPECT_EQ(n, 40 - 5);  // 5 windows of 8, each first token unscored
  EXPECT_EQ(calib.n_items, n);
}

TEST(LmData, TokenizerWithoutEndOfTextIsRefused) {
  hp_test::SpecialsTokenizer tok;  // no eos, no bos
  EXPECT_THROW(hp::lm_separator(tok), hp::Error);
  tok.bos_id = 7;
  EXPECT_EQ(hp::lm_separator(tok), 7);
  tok.eos_id = 8;
  EXPECT_EQ(hp::lm_separator(tok), 8);
}

TEST(Train, CosineScheduleWarmsUpThenFallsToZero) {
  EXPECT_DOUBLE_EQ(hp::warmup_cosine_decay(0, 4, 20), 0.25);
  EXPECT_DOUBLE_EQ(hp::warmup_cosine_decay(3, 4, 20), 1.0);
  EXPECT_NEAR(hp::warmup_cosine_decay(11, 4, 20), 0.5, 1e-12);  // half-way through the decay
  EXPECT_NEAR(hp::warmup_cosine_decay(19, 4, 20), 0.0, 1e-12);
  double prev = 2;
  for (int s = 4; s < 20; ++s) {
    double v = hp::warmup_cosine_decay(s, 4, 20);
    EXPECT_LT(v, prev);
    prev = v;
  }
}

TEST(Generate, GreedyWithTheCacheEqualsArgmaxOfFullForwards) {
  auto t = tiny_decoder(8, 8, 8);
  hp::GenerateOptions g;
  g.max_new_tokens = 10;
  std::vector<int64_t> prompt = {5, 9, 13};
  auto r = hp::generate(*t.model, prompt, g);
  ASSERT_EQ(r.ids.size(), 10u);
  torch::NoGradGuard ng;
  std::vector<int64_t> seq = prompt;
  for (int k = 0; k < 10; ++k) {  // no cache: the whole sequence every step
    hp::ForwardInput in;
    in.input_ids = torch::tensor(seq, torch::kInt64).view({1, -1});
    auto next = t.model->forward(in)[0][-1].argmax().item<int64_t>();
    ASSERT_EQ(next, r.ids[k]) << "step " << k;
    seq.push_back(next);
  }
}

TEST(Generate, SamplingFollowsTheSeedAndTheCuts) {
  hp::GenerateOptions g;
  g.temperature = 1.0;
  auto logits = torch::tensor({0.0f, 3.0f, 2.9f, -1.0f, 2.8f});
  auto draw = [&](const hp::GenerateOptions& o, uint64_t seed, int n) {
    auto gen = at::detail::createCPUGenerator(seed);
    std::vector<int64_t> v;
    for (int i = 0; i < n; ++i) v.push_back(hp::pick_token(logits, o, gen));
    return v;
  };
  EXPECT_EQ(draw(g, 7, 50), draw(g, 7, 50));
  EXPECT_NE(draw(g, 7, 50), draw(g, 8, 50));
  auto k1 = g;
  k1.top_k = 1;
  for (auto id : draw(k1, 1, 20)) EXPECT_EQ(id, 1);  // top-1 = greedy
  auto k2 = g;
  k2.top_k = 2;
  for (auto id : draw(k2, 1, 200)) EXPECT_TRUE(id == 1 || id == 2);
  auto p = g;
  p.top_p = 0.5;  // probabilities ~0.36, 0.33, 0.30, ...: the first two reach 0.5
  std::set<int64_t> seen;
  for (auto id : draw(p, 3, 300)) seen.insert(id);
  EXPECT_EQ(seen, (std::set<int64_t>{1, 2}));
  auto greedy = g;
  greedy.temperature = 0;
  EXPECT_EQ(draw(greedy, 0, 3), (std::vector<int64_t>{1, 1, 1}));
}
