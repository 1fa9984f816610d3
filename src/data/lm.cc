#include "data/lm.h"

#include <algorithm>

#include "core/check.h"

namespace hp {

std::vector<int64_t> join_documents(const std::vector<std::vector<int64_t>>& docs, int64_t separator) {
  size_t n = 0;
  for (const auto& d : docs) n += d.empty() ? 0 : d.size() + 1;
  std::vector<int64_t> out;
  out.reserve(n);
  for (const auto& d : docs) {
    if (d.empty()) continue;
    out.insert(out.end(), d.begin(), d.end());
    out.push_back(separator);
  }
  return out;
}

std::vector<EncodedExample> lm_windows(const std::vector<int64_t>& stream, int context, int stride) {
  HP_CHECK(context >= 2, "lm windows: context must be >= 2 tokens, got ", context);
  HP_CHECK(stride >= 1 && stride <= context, "lm windows: stride must be in [1, context ", context,
           "], got ", stride);
  std::vector<EncodedExample> out;
  const int64_t n = static_cast<int64_t>(stream.size());
  if (n < 2) return out;
  int64_t scored_until = 0;  // stream positions [0, scored_until) are scored (or the first token)
  for (int64_t begin = 0;; begin += stride) {
    const int64_t end = std::min<int64_t>(begin + context, n);
    EncodedExample e;
    e.ids.assign(stream.begin() + begin, stream.begin() + end);
    e.first_target = static_cast<int>(std::max<int64_t>(1, scored_until - begin));
    scored_until = end;
    if (e.first_target < end - begin) out.push_back(std::move(e));  // it scores something
    if (end == n) break;
  }
  return out;
}

torch::Tensor lm_targets(const std::vector<const EncodedExample*>& items) {
  HP_CHECK(!items.empty(), "lm targets: empty batch");
  int64_t T = 0;
  for (const auto* e : items) T = std::max<int64_t>(T, static_cast<int64_t>(e->ids.size()));
  const int64_t B = static_cast<int64_t>(items.size());
  auto y = torch::full({B, T}, -100, torch::kInt64);
  auto acc = y.accessor<int64_t, 2>();
  for (int64_t r = 0; r < B; ++r) {
    const auto& ids = items[r]->ids;
    const int64_t from = std::max<int64_t>(1, items[r]->first_target);
    for (int64_t j = from; j < static_cast<int64_t>(ids.size()); ++j) acc[r][j - 1] = ids[j];
  }
  return y;
}

}  // namespace hp
