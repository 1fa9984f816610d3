#include "data/batch.h"

#include <algorithm>
#include <numeric>

#include "core/check.h"

namespace hp {

uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  HP_CHECK(n > 0, "uniform_below: empty range");
  // Reject the top partial block of the 2^64 outputs so every residue is equally likely.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % n + 1) % n;
  uint64_t x;
  do x = rng();
  while (x > limit);
  return x % n;
}

double uniform_unit(std::mt19937_64& rng) { return (rng() >> 11) * 0x1.0p-53; }

void shuffle_indices(std::vector<int>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[uniform_below(rng, i)]);
}

Batch collate(const std::vector<const EncodedExample*>& items, int64_t pad_id, bool regression) {
  HP_CHECK(!items.empty(), "collate: empty batch");
  const int64_t B = static_cast<int64_t>(items.size());
  int64_t T = 0;
  for (int64_t r = 0; r < B; ++r) {
    const auto* e = items[r];
    HP_CHECK(e != nullptr, "collate: item ", r, " is null");
    HP_CHECK(!e->ids.empty(), "collate: item ", r, " has no tokens");
    HP_CHECK(e->type_ids.empty() || e->type_ids.size() == e->ids.size(), "collate: item ", r,
             " has ", e->ids.size(), " ids but ", e->type_ids.size(), " type ids");
    T = std::max<int64_t>(T, static_cast<int64_t>(e->ids.size()));
  }
  Batch b;
  b.input_ids = torch::full({B, T}, pad_id, torch::kInt64);   // [B, T]
  b.attention_mask = torch::zeros({B, T}, torch::kInt64);     // [B, T]
  b.token_type_ids = torch::zeros({B, T}, torch::kInt64);     // [B, T]
  b.labels = regression ? torch::empty({B}, torch::kFloat32) : torch::empty({B}, torch::kInt64);
  auto ids = b.input_ids.accessor<int64_t, 2>();
  auto mask = b.attention_mask.accessor<int64_t, 2>();
  auto types = b.token_type_ids.accessor<int64_t, 2>();
  for (int64_t r = 0; r < B; ++r) {
    const auto& e = *items[r];
    for (size_t t = 0; t < e.ids.size(); ++t) {
      ids[r][t] = e.ids[t];
      mask[r][t] = 1;
      if (!e.type_ids.empty()) types[r][t] = e.type_ids[t];
    }
    if (regression)
      b.labels.data_ptr<float>()[r] = e.target;
    else
      b.labels.data_ptr<int64_t>()[r] = e.label;
  }
  return b;
}

std::vector<std::vector<int>> make_batches(int64_t n, int batch_size, bool shuffle, uint64_t seed) {
  HP_CHECK(batch_size > 0, "batch size must be positive, got ", batch_size);
  HP_CHECK(n >= 0 && n <= INT32_MAX, "make_batches: bad example count ", n);
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  if (shuffle) {
    std::mt19937_64 rng(seed);
    shuffle_indices(order, rng);
  }
  std::vector<std::vector<int>> out;
  for (int64_t s = 0; s < n; s += batch_size)
    out.emplace_back(order.begin() + s, order.begin() + std::min<int64_t>(n, s + batch_size));
  return out;
}

std::vector<std::vector<int>> make_length_bucketed_batches(const std::vector<int>& lengths,
                                                           int batch_size, bool shuffle,
                                                           uint64_t seed) {
  HP_CHECK(batch_size > 0, "batch size must be positive, got ", batch_size);
  const int64_t n = static_cast<int64_t>(lengths.size());
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  if (shuffle) shuffle_indices(order, rng);
  // Sorting only within chunks keeps batches of similar length while each epoch still mixes
  // different examples together; a global sort would give the same batches every epoch.
  const int64_t chunk = int64_t{100} * batch_size;
  std::vector<std::vector<int>> out;
  for (int64_t c = 0; c < n; c += chunk) {
    auto first = order.begin() + c, last = order.begin() + std::min(n, c + chunk);
    std::stable_sort(first, last, [&](int a, int b) { return lengths[a] < lengths[b]; });
    for (auto it = first; it < last; it += std::min<int64_t>(batch_size, last - it))
      out.emplace_back(it, it + std::min<int64_t>(batch_size, last - it));
  }
  if (shuffle) {
    // Otherwise every chunk would run from its shortest to its longest batch in turn.
    for (size_t i = out.size(); i > 1; --i) std::swap(out[i - 1], out[uniform_below(rng, i)]);
  }
  return out;
}

}  // namespace hp
