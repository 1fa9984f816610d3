// Causal-LM data helpers on token id sequences (tokenizer-agnostic): one token stream from many
// documents, cut into windows of a context length with a stride, and the next-token targets of a
// batch of windows. A window scores only the tokens the windows before it did not (the strided
// perplexity of docs/formats.md, "Perplexity"): with stride < context every token of the stream
// after the first is scored exactly once, with at least context - stride tokens of left context
// (evaluation); stride == context gives disjoint windows whose first token has no context and is
// not scored (training, calibration).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "data/batch.h"

namespace hp {

// Documents joined into one stream, `separator` after each (every document, the last included,
// so a model learns where a document ends); empty documents are skipped.
std::vector<int64_t> join_documents(const std::vector<std::vector<int64_t>>& docs, int64_t separator);

// Windows of at most `context` ids starting every `stride` ids (1 <= stride <= context), the last
// one ending at the end of the stream; each window's first_target is the first index whose token
// it scores. A stream shorter than 2 tokens gives no window.
std::vector<EncodedExample> lm_windows(const std::vector<int64_t>& stream, int context, int stride);

// [B, T] int64 next-token targets of collated windows: row r, position t holds
// items[r]->ids[t + 1] when t + 1 >= max(1, first_target), else -100 (not scored). T is the
// longest window.
torch::Tensor lm_targets(const std::vector<const EncodedExample*>& items);

}  // namespace hp
