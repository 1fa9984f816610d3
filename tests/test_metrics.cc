// Metrics against values worked out by hand (and cross-checked with scikit-learn / scipy
// formulas), plus the documented edge cases.
#include <gtest/gtest.h>

#include <cmath>

#include "core/check.h"
#include "eval/metrics.h"

using namespace hp;

TEST(Metrics, Accuracy) {
  EXPECT_DOUBLE_EQ(accuracy({0, 1, 1, 2}, {0, 1, 0, 2}), 0.75);
  EXPECT_THROW(accuracy({}, {}), Error);
  EXPECT_THROW(accuracy({0, 1}, {0}), Error);
}

TEST(Metrics, F1Binary) {
  // tp = 2 (pos 1, 3), fp = 1 (pos 4), fn = 1 (pos 2): F1 = 2*2 / (2*2 + 1 + 1) = 2/3.
  EXPECT_NEAR(f1_binary({0, 1, 0, 1, 1}, {0, 1, 1, 1, 0}), 2.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(f1_binary({0, 0}, {0, 0}), 0.0);  // no positives at all: 0 by convention
  EXPECT_DOUBLE_EQ(f1_binary({1, 1}, {1, 1}), 1.0);
  EXPECT_THROW(f1_binary({0, 2}, {0, 1}), Error);
}

TEST(Metrics, F1Macro) {
  // gold 0 0 1 1 2 2 / pred 0 1 1 1 2 0:
  // class 0: tp1 fp1 fn1 -> 0.5; class 1: tp2 fp1 fn0 -> 0.8; class 2: tp1 fp0 fn1 -> 2/3.
  std::vector<int> gold = {0, 0, 1, 1, 2, 2}, pred = {0, 1, 1, 1, 2, 0};
  EXPECT_NEAR(f1_macro(pred, gold, 3), (0.5 + 0.8 + 2.0 / 3.0) / 3, 1e-12);
  // A 4th class absent from both sides is not averaged in.
  EXPECT_NEAR(f1_macro(pred, gold, 4), (0.5 + 0.8 + 2.0 / 3.0) / 3, 1e-12);
  EXPECT_THROW(f1_macro(pred, gold, 2), Error);
}

TEST(Metrics, MatthewsBinaryByHand) {
  // Confusion: tp = 6, tn = 3, fp = 1, fn = 2 (12 examples).
  // MCC = (6*3 - 1*2) / sqrt(7 * 8 * 4 * 5) = 16 / sqrt(1120) = 0.478091...
  std::vector<int> gold, pred;
  auto add = [&](int g, int p, int n) {
    for (int i = 0; i < n; ++i) gold.push_back(g), pred.push_back(p);
  };
  add(1, 1, 6), add(0, 0, 3), add(0, 1, 1), add(1, 0, 2);
  EXPECT_NEAR(matthews_corr(pred, gold, 2), 16.0 / std::sqrt(1120.0), 1e-12);
  EXPECT_NEAR(matthews_corr(pred, gold), 16.0 / std::sqrt(1120.0), 1e-12);  // classes inferred
  EXPECT_NEAR(matthews_corr(gold, gold), 1.0, 1e-12);
  std::vector<int> flipped;
  for (int g : gold) flipped.push_back(1 - g);
  EXPECT_NEAR(matthews_corr(flipped, gold), -1.0, 1e-12);
}

TEST(Metrics, MatthewsMulticlassByHand) {
  // gold 0 0 1 1 2 2 / pred 0 1 1 1 2 0: c = 4, s = 6, p = (2, 3, 1), t = (2, 2, 2).
  // (4*6 - (4 + 6 + 2)) / sqrt((36 - 14) * (36 - 12)) = 12 / sqrt(528) = 0.522232...
  EXPECT_NEAR(matthews_corr({0, 1, 1, 1, 2, 0}, {0, 0, 1, 1, 2, 2}, 3), 12.0 / std::sqrt(528.0),
              1e-12);
}

TEST(Metrics, MatthewsUndefinedIsZero) {
  EXPECT_DOUBLE_EQ(matthews_corr({1, 1, 1, 1}, {0, 1, 0, 1}, 2), 0.0);  // constant prediction
  EXPECT_DOUBLE_EQ(matthews_corr({0, 1, 0, 1}, {1, 1, 1, 1}, 2), 0.0);  // constant gold
  EXPECT_THROW(matthews_corr({}, {}, 2), Error);
}

TEST(Metrics, Pearson) {
  // x = 1..5, y = 2 4 5 4 5: means 3 and 4; sxy = 6, sxx = 10, syy = 6 -> r = 6 / sqrt(60).
  EXPECT_NEAR(pearson({1, 2, 3, 4, 5}, {2, 4, 5, 4, 5}), 6.0 / std::sqrt(60.0), 1e-12);
  EXPECT_DOUBLE_EQ(pearson({1, 2, 3}, {-2, -4, -6}), -1.0);
  EXPECT_DOUBLE_EQ(pearson({1, 1, 1}, {1, 2, 3}), 0.0);  // zero variance: 0 by convention
  EXPECT_DOUBLE_EQ(pearson({4}, {7}), 0.0);
  EXPECT_THROW(pearson({1, NAN}, {1, 2}), Error);
  EXPECT_THROW(pearson({1, 2}, {1}), Error);
}

TEST(Metrics, SpearmanWithTies) {
  EXPECT_EQ(average_ranks({10, 20, 20, 5, 20}), (std::vector<double>{2, 4, 4, 1, 4}));
  // x = 1 2 2 3 -> ranks 1 2.5 2.5 4; y = 1 3 2 4 -> ranks 1 3 2 4.
  // Pearson on ranks: means 2.5; dx = -1.5 0 0 1.5, dy = -1.5 .5 -.5 1.5;
  // sxy = 4.5, sxx = 4.5, syy = 5 -> 4.5 / sqrt(22.5) = 0.948683...
  EXPECT_NEAR(spearman({1, 2, 2, 3}, {1, 3, 2, 4}), 4.5 / std::sqrt(22.5), 1e-12);
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {1, 8, 27, 64}), 1.0, 1e-12);  // monotone, not linear
  EXPECT_DOUBLE_EQ(spearman({3, 3, 3}, {1, 2, 3}), 0.0);
}

TEST(Metrics, Perplexity) {
  EXPECT_NEAR(perplexity(std::log(50.0) * 10, 10), 50.0, 1e-9);
  EXPECT_DOUBLE_EQ(perplexity(0, 3), 1.0);
  EXPECT_THROW(perplexity(1.0, 0), Error);
  EXPECT_THROW(perplexity(NAN, 3), Error);
  EXPECT_THROW(perplexity(-1.0, 3), Error);
}
