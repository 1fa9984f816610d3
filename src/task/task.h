// Tasks: turn a data file into encoded examples for a model's task, and compute the task loss
// on a batch. Classification/regression read TSV/JSONL; masked-LM reads plain text packed into
// fixed-length chunks. Every trainer, evaluator and pruning method goes through here, so a new
// task (LM, translation) is added in one place.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "data/batch.h"
#include "io/tokenizer.h"
#include "config/task_info.h"
#include "model/model.h"

namespace hp {

struct TaskData {
  std::string task;                    // a task of config/task_info.h
  std::string path;
  std::vector<EncodedExample> items;
  std::vector<std::string> labels;     // classification label names (index = class id)
  int context = 0, stride = 0;         // lm: window length and stride (data/lm.h)
  double mean_len() const;             // mean tokenized length (specials included)
};

// Reads and encodes `path` for `cfg.task`. For classification, `cfg.labels` (if non-empty) fixes
// the label set; otherwise it is collected from the file. `limit_tokens` > 0 keeps only the first
// examples (in a seeded random order) whose lengths sum to about that many tokens.
// Plain-text tasks (mlm, lm) read .txt lines, or the text columns of .tsv/.jsonl files, from a
// comma-separated list of files; every line is a document. lm: the documents, each followed by
// the tokenizer's eos (else bos) id, form one stream cut into windows of `max_len` tokens every
// `lm_stride` tokens (0 = max_len, disjoint windows; see data/lm.h).
TaskData load_task_data(const std::string& path, const ModelConfig& cfg, const Tokenizer& tok,
                        int max_len, int64_t limit_tokens = 0, uint64_t seed = 0, int lm_stride = 0);

// The documents of a plain-text data path (see load_task_data), encoded without specials.
std::vector<std::vector<int64_t>> encode_documents(const std::string& path, const Tokenizer& tok);
// The id a causal LM puts after every document: eos, else bos; throws when the tokenizer has neither.
int64_t lm_separator(const Tokenizer& tok);
// Stride of causal-LM evaluation when none is given: half the context, so every scored token has
// at least half a window of left context (the strided method of docs/formats.md).
inline int default_eval_stride(int context) { return context > 1 ? context / 2 : 1; }

struct LossOut {
  torch::Tensor loss;      // mean loss over predicted items (scalar, differentiable)
  torch::Tensor logits;    // classify: [B, C]; regress: [B]; mlm: [N, V] at masked positions;
                           // lm: [N, V] at the positions that have a scored next token
  torch::Tensor targets;   // labels aligned with logits
  int64_t count = 0;       // number of predicted items (examples or masked tokens)
};

// Forward + loss on one collated batch. For mlm, tokens are masked (15%, 80/10/10) with a
// generator seeded by `mask_seed`, so evaluation masking is reproducible. `probe` (optional) is
// passed to the forward pass (e.g. gate training asks for per-head attention confidence).
LossOut task_loss(Model& model, const Batch& batch, const Tokenizer& tok, const MaskSet* masks,
                  uint64_t mask_seed, torch::Device device, Probe* probe = nullptr);

// Ids a masked-LM must never mask or predict ([CLS], [SEP], [PAD], ...).
std::vector<int64_t> special_ids(const Tokenizer& tok);

// Fixed masking of a masked-LM evaluation set: per sequence, input ids with [MASK] etc. applied
// and the target ids (-100 where not predicted).
struct MlmEvalSet {
  std::vector<std::vector<int64_t>> inputs, targets;
};
MlmEvalSet make_mlm_eval_set(const TaskData& data, const Tokenizer& tok, uint64_t seed);
Batch collate_mlm(const MlmEvalSet& set, const std::vector<int>& idx, int64_t pad_id,
                  torch::Tensor* targets /* out: [B, T] */);

// Collates items[idx] for the model's task.
Batch make_batch(const TaskData& data, const std::vector<int>& idx, const Tokenizer& tok);

}  // namespace hp
