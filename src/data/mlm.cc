#include "data/mlm.h"

#include <algorithm>
#include <random>

#include "core/check.h"
#include "data/batch.h"

namespace hp {

std::vector<std::vector<int64_t>> chunk_stream(const std::vector<std::vector<int64_t>>& docs,
                                               int max_len_without_specials) {
  const size_t max_len = static_cast<size_t>(max_len_without_specials);
  HP_CHECK(max_len_without_specials > 0, "chunk_stream: chunk length must be positive, got ",
           max_len_without_specials);
  std::vector<std::vector<int64_t>> out;
  std::vector<int64_t> cur;
  for (const auto& doc : docs) {
    if (doc.empty()) continue;
    if (!cur.empty() && cur.size() + doc.size() > max_len) out.push_back(std::move(cur)), cur.clear();
    // Only a doc longer than a whole chunk is cut; the cut pieces are full chunks.
    size_t pos = 0;
    while (doc.size() - pos > max_len - cur.size()) {
      size_t take = max_len - cur.size();
      cur.insert(cur.end(), doc.begin() + pos, doc.begin() + pos + take);
      pos += take;
      out.push_back(std::move(cur)), cur.clear();
    }
    cur.insert(cur.end(), doc.begin() + pos, doc.end());
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

MlmMasked mlm_mask(const torch::Tensor& input_ids, const torch::Tensor& attention_mask, double prob,
                   int64_t mask_id, int64_t vocab_size, const std::vector<int64_t>& special_ids,
                   uint64_t seed) {
  HP_CHECK(input_ids.dim() == 2, "mlm_mask: input_ids must be [B, T], got ", input_ids.sizes());
  HP_CHECK(attention_mask.sizes() == input_ids.sizes(), "mlm_mask: attention_mask ",
           attention_mask.sizes(), " does not match input_ids ", input_ids.sizes());
  HP_CHECK(prob >= 0 && prob <= 1, "mlm_mask: probability must be in [0, 1], got ", prob);
  HP_CHECK(vocab_size > 0, "mlm_mask: vocab_size must be positive, got ", vocab_size);
  HP_CHECK(mask_id >= 0 && mask_id < vocab_size, "mlm_mask: mask id ", mask_id,
           " outside the vocabulary [0, ", vocab_size, ")");
  std::vector<bool> special(vocab_size, false);
  for (auto id : special_ids)
    if (id >= 0 && id < vocab_size) special[id] = true;
  const int64_t n_normal = std::count(special.begin(), special.end(), false);

  auto ids = input_ids.to(torch::kCPU, torch::kInt64).contiguous().clone();  // [B, T]
  auto keep = attention_mask.to(torch::kCPU, torch::kInt64).contiguous();    // [B, T]
  auto labels = torch::full_like(ids, -100);                                  // [B, T]
  int64_t* x = ids.data_ptr<int64_t>();
  const int64_t* m = keep.data_ptr<int64_t>();
  int64_t* y = labels.data_ptr<int64_t>();

  std::mt19937_64 rng(seed);
  for (int64_t i = 0, n = ids.numel(); i < n; ++i) {
    const int64_t id = x[i];
    if (m[i] == 0 || (id >= 0 && id < vocab_size && special[id])) continue;
    if (uniform_unit(rng) >= prob) continue;
    y[i] = id;
    const double r = uniform_unit(rng);
    if (r < 0.8) {
      x[i] = mask_id;
    } else if (r < 0.9) {
      HP_CHECK(n_normal > 0, "mlm_mask: every vocabulary id is special; no random replacement");
      int64_t t;
      do t = static_cast<int64_t>(uniform_below(rng, vocab_size));
      while (special[t]);
      x[i] = t;
    }
  }
  return {ids.to(input_ids.device()), labels.to(input_ids.device())};
}

}  // namespace hp
