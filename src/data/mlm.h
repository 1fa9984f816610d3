// Masked-LM data helpers on token id sequences (tokenizer-agnostic): packing text lines into
// training chunks and BERT-style random masking. Masking is seeded and runs on CPU data with
// std::mt19937_64, so the same seed masks the same positions on every machine and device.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace hp {

// Packs consecutive docs (lines) greedily into chunks of at most `max_len_without_specials` ids,
// keeping lines whole when they fit; a line longer than that is cut into max-length pieces, the
// last piece opening the next chunk. Empty docs are skipped. Order is preserved.
std::vector<std::vector<int64_t>> chunk_stream(const std::vector<std::vector<int64_t>>& docs,
                                               int max_len_without_specials);

struct MlmMasked {
  torch::Tensor input_ids;  // [B, T] int64, corrupted copy of the input
  torch::Tensor labels;     // [B, T] int64, original id where predicted, -100 elsewhere
};

// Chooses each real (attention_mask != 0), non-special token with probability `prob`; a chosen
// token becomes `mask_id` (80%), a random non-special id in [0, vocab_size) (10%) or stays (10%).
// Padding and special ids are never chosen. Positions are visited row-major with one generator
// seeded by `seed`. Results are on the device of `input_ids`.
MlmMasked mlm_mask(const torch::Tensor& input_ids, const torch::Tensor& attention_mask, double prob,
                   int64_t mask_id, int64_t vocab_size, const std::vector<int64_t>& special_ids,
                   uint64_t seed);

}  // namespace hp
