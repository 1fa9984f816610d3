// Text generation with a decoder's KV cache: the prompt is run once (prefill), then one token per
// step attends to the cached keys/values. Greedy at temperature 0, otherwise sampling with
// temperature, top-k and top-p (nucleus), from a seeded generator so a seed repeats its output.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "model/model.h"

namespace hp {

struct GenerateOptions {
  int max_new_tokens = 32;
  double temperature = 0;  // 0 = greedy (argmax)
  int top_k = 0;           // 0 = no top-k cut
  double top_p = 1.0;      // 1 = no nucleus cut
  uint64_t seed = 0;
  int64_t stop_id = -1;    // stop after emitting this id (eos), -1 = never
  torch::Device device = torch::kCPU;
};

struct GenerateResult {
  std::vector<int64_t> ids;       // the new tokens (the stop id included when it was emitted)
  double prefill_ms = 0, decode_ms = 0;  // wall time of the prompt pass and of all later steps
};

// Continues one prompt (non-empty ids). The model must be a decoder (task lm) in eval mode on
// opt.device; the prompt plus the new tokens must fit its max positions.
GenerateResult generate(Model& model, const std::vector<int64_t>& prompt, const GenerateOptions& opt);

// The next token from last-position logits [V] under the options (exposed for tests).
int64_t pick_token(const torch::Tensor& logits, const GenerateOptions& opt, torch::Generator& gen);

}  // namespace hp
