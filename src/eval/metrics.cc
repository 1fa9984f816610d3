#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/check.h"

namespace hp {

namespace {

void check_pair(const char* metric, size_t n_pred, size_t n_gold) {
  HP_CHECK(n_pred == n_gold, metric, ": ", n_pred, " predictions but ", n_gold, " gold labels");
  HP_CHECK(n_pred > 0, metric, ": no examples");
}

// Validates ids and returns the class count to use.
int class_count(const char* metric, const std::vector<int>& pred, const std::vector<int>& gold,
                int n_classes) {
  int max_id = -1;
  for (const auto* v : {&pred, &gold}) {
    for (size_t i = 0; i < v->size(); ++i) {
      int c = (*v)[i];
      HP_CHECK(c >= 0, metric, ": negative class id ", c, " at position ", i);
      HP_CHECK(n_classes <= 0 || c < n_classes, metric, ": class id ", c, " at position ", i,
               " is not below the class count ", n_classes);
      max_id = std::max(max_id, c);
    }
  }
  return n_classes > 0 ? n_classes : max_id + 1;
}

double f1_from_counts(double tp, double fp, double fn) {
  double denom = 2 * tp + fp + fn;
  return denom > 0 ? 2 * tp / denom : 0.0;
}

double pearson_unchecked(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy, sxx += dx * dx, syy += dy * dy;
  }
  if (sxx <= 0 || syy <= 0) return 0.0;
  // Rounding can push |r| a hair past 1 for perfectly correlated data.
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

void check_finite(const char* metric, const std::vector<double>& v, const char* side) {
  for (size_t i = 0; i < v.size(); ++i)
    HP_CHECK(std::isfinite(v[i]), metric, ": non-finite ", side, " value ", v[i], " at position ", i);
}

}  // namespace

double accuracy(const std::vector<int>& pred, const std::vector<int>& gold) {
  check_pair("accuracy", pred.size(), gold.size());
  size_t correct = 0;
  for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == gold[i];
  return static_cast<double>(correct) / pred.size();
}

double f1_binary(const std::vector<int>& pred, const std::vector<int>& gold) {
  check_pair("f1_binary", pred.size(), gold.size());
  class_count("f1_binary", pred, gold, 2);
  double tp = 0, fp = 0, fn = 0;
  for (size_t i = 0; i < pred.size(); ++i) {
    tp += pred[i] == 1 && gold[i] == 1;
    fp += pred[i] == 1 && gold[i] == 0;
    fn += pred[i] == 0 && gold[i] == 1;
  }
  return f1_from_counts(tp, fp, fn);
}

double f1_macro(const std::vector<int>& pred, const std::vector<int>& gold, int n_classes) {
  check_pair("f1_macro", pred.size(), gold.size());
  const int k = class_count("f1_macro", pred, gold, n_classes);
  std::vector<double> tp(k, 0), fp(k, 0), fn(k, 0);
  std::vector<bool> seen(k, false);
  for (size_t i = 0; i < pred.size(); ++i) {
    seen[pred[i]] = seen[gold[i]] = true;
    if (pred[i] == gold[i]) {
      tp[pred[i]] += 1;
    } else {
      fp[pred[i]] += 1;
      fn[gold[i]] += 1;
    }
  }
  double sum = 0;
  int used = 0;
  for (int c = 0; c < k; ++c) {
    if (!seen[c]) continue;
    sum += f1_from_counts(tp[c], fp[c], fn[c]);
    ++used;
  }
  return sum / used;
}

double matthews_corr(const std::vector<int>& pred, const std::vector<int>& gold, int n_classes) {
  check_pair("matthews_corr", pred.size(), gold.size());
  const int k = class_count("matthews_corr", pred, gold, n_classes);
  std::vector<double> p(k, 0), t(k, 0);
  double correct = 0;
  for (size_t i = 0; i < pred.size(); ++i) {
    p[pred[i]] += 1;
    t[gold[i]] += 1;
    correct += pred[i] == gold[i];
  }
  const double s = static_cast<double>(pred.size());
  double pt = 0, pp = 0, tt = 0;
  for (int c = 0; c < k; ++c) pt += p[c] * t[c], pp += p[c] * p[c], tt += t[c] * t[c];
  const double denom = (s * s - pp) * (s * s - tt);
  if (denom <= 0) return 0.0;
  return (correct * s - pt) / std::sqrt(denom);
}

double pearson(const std::vector<double>& pred, const std::vector<double>& gold) {
  check_pair("pearson", pred.size(), gold.size());
  check_finite("pearson", pred, "predicted");
  check_finite("pearson", gold, "gold");
  return pearson_unchecked(pred, gold);
}

std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double avg = (static_cast<double>(i) + static_cast<double>(j)) / 2 + 1;
    for (size_t q = i; q <= j; ++q) rank[order[q]] = avg;
    i = j + 1;
  }
  return rank;
}

double spearman(const std::vector<double>& pred, const std::vector<double>& gold) {
  check_pair("spearman", pred.size(), gold.size());
  check_finite("spearman", pred, "predicted");
  check_finite("spearman", gold, "gold");
  return pearson_unchecked(average_ranks(pred), average_ranks(gold));
}

double perplexity(double sum_nll, int64_t count) {
  HP_CHECK(count > 0, "perplexity: no predicted tokens (count ", count, ")");
  HP_CHECK(std::isfinite(sum_nll) && sum_nll >= 0, "perplexity: summed NLL must be finite and >= 0, got ",
           sum_nll);
  return std::exp(sum_nll / static_cast<double>(count));
}

}  // namespace hp
