// Task metrics on plain vectors (no torch), as used by GLUE-style evaluation: accuracy, F1,
// Matthews correlation, Pearson/Spearman correlation and perplexity.
// Conventions (so every caller reports the same thing):
//  - Arguments are (pred, gold); sizes must match and be non-empty, else hp::Error.
//  - Class ids must lie in [0, n_classes); n_classes <= 0 means "max id + 1".
//  - Undefined ratios are 0, as in scikit-learn with zero_division=0: F1 of a class that is
//    neither predicted nor present, MCC when a confusion-matrix margin is constant (e.g. a model
//    predicting one class), Pearson/Spearman when either side has zero variance (incl. n = 1).
//    A constant predictor thus scores 0 correlation rather than NaN, which JSON cannot hold.
#pragma once
#include <cstdint>
#include <vector>

namespace hp {

// Fraction of positions where pred == gold.
double accuracy(const std::vector<int>& pred, const std::vector<int>& gold);

// Binary F1 of the positive class, which is label id 1; both inputs must be 0/1.
double f1_binary(const std::vector<int>& pred, const std::vector<int>& gold);

// Unweighted mean of per-class F1 over the classes that occur in pred or gold (scikit-learn's
// average="macro" with labels=None).
double f1_macro(const std::vector<int>& pred, const std::vector<int>& gold, int n_classes = 0);

// Matthews correlation, multiclass form (Gorodkin 2004), equal to the usual formula for 2 classes:
// (c*s - sum_k p_k t_k) / sqrt((s^2 - sum_k p_k^2) (s^2 - sum_k t_k^2)), c = correct, s = total,
// p_k / t_k = predicted / true count of class k.
double matthews_corr(const std::vector<int>& pred, const std::vector<int>& gold, int n_classes = 0);

// Pearson correlation coefficient. Non-finite inputs are an error.
double pearson(const std::vector<double>& pred, const std::vector<double>& gold);

// Spearman rank correlation: Pearson on ranks, tied values sharing their average rank.
double spearman(const std::vector<double>& pred, const std::vector<double>& gold);

// exp(sum_nll / count): perplexity from a summed natural-log negative log-likelihood over `count`
// predicted tokens. count must be > 0 and sum_nll finite and >= 0.
double perplexity(double sum_nll, int64_t count);

// Average ranks (1-based; ties share the mean of their positions), exposed for tests and reports.
std::vector<double> average_ranks(const std::vector<double>& v);

}  // namespace hp
