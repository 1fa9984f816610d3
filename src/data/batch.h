// Batching of already-tokenized examples: index batches (plain or length-bucketed, seeded) and
// collation into padded tensors. Knows nothing about tokenizers; the caller passes the pad id.
// Shuffles use std::mt19937_64 with our own bounded draws (not std::shuffle / distributions,
// whose results differ between standard libraries), so a seed gives the same batches everywhere.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <random>
#include <vector>

namespace hp {

struct EncodedExample {
  std::vector<int64_t> ids;
  std::vector<int64_t> type_ids;  // same length as ids, or empty (= all segment 0)
  int label = -1;
  float target = 0;
  // Causal LM windows: the first index whose token this window scores (earlier ids are left
  // context only, see data/lm.h); 0 or 1 = every token after the first.
  int first_target = 0;
};

struct Batch {
  torch::Tensor input_ids;       // [B, T] int64, pad id after each sequence
  torch::Tensor attention_mask;  // [B, T] int64, 1 = token, 0 = padding
  torch::Tensor token_type_ids;  // [B, T] int64, 0 on padding
  torch::Tensor labels;          // [B] int64 (class id) or float32 (regression target)
};

// Pads to the longest sequence of the batch. Throws on an empty batch, an empty sequence or
// type_ids whose length differs from ids.
Batch collate(const std::vector<const EncodedExample*>& items, int64_t pad_id, bool regression);

// Batches of indices 0..n-1 (last one may be short), shuffled when `shuffle`.
std::vector<std::vector<int>> make_batches(int64_t n, int batch_size, bool shuffle, uint64_t seed);

// Batches of similar length so little padding is computed: indices (shuffled when `shuffle`) are cut
// into chunks of 100 batches, each chunk is sorted by length and cut into batches, and the batch
// order is shuffled. Without `shuffle` the same is done on 0..n-1 and the batch order kept.
std::vector<std::vector<int>> make_length_bucketed_batches(const std::vector<int>& lengths,
                                                           int batch_size, bool shuffle,
                                                           uint64_t seed);

// Uniform integer in [0, n) from a 64-bit generator without modulo bias (shared by data/ code).
uint64_t uniform_below(std::mt19937_64& rng, uint64_t n);
// Uniform double in [0, 1) from the top 53 bits.
double uniform_unit(std::mt19937_64& rng);
// Fisher-Yates shuffle with uniform_below.
void shuffle_indices(std::vector<int>& v, std::mt19937_64& rng);

}  // namespace hp
