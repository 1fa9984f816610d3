#include "task/task.h"

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <numeric>
#include <random>

#include "core/check.h"
#include "data/lm.h"
#include "data/mlm.h"
#include "data/readers.h"

namespace hp {

double TaskData::mean_len() const {
  if (items.empty()) return 0;
  double s = 0;
  for (const auto& e : items) s += e.ids.size();
  return s / items.size();
}

std::vector<int64_t> special_ids(const Tokenizer& tok) {
  std::vector<int64_t> s;
  for (auto id : {tok.cls_id, tok.sep_id, tok.pad_id, tok.mask_id, tok.unk_id, tok.bos_id,
                  tok.eos_id})
    if (id >= 0) s.push_back(id);
  return s;
}

std::vector<std::vector<int64_t>> encode_documents(const std::string& path, const Tokenizer& tok) {
  std::vector<std::string> lines;
  std::stringstream paths(path);
  for (std::string p; std::getline(paths, p, ',');) {
    if (p.empty()) continue;
    auto ext = std::filesystem::path(p).extension().string();
    if (ext == ".tsv" || ext == ".jsonl") {  // the text columns of labelled files
      for (const auto& ex : read_classification(p).examples) {
        lines.push_back(ex.text_a);
        if (ex.has_b) lines.push_back(ex.text_b);
      }
    } else {
      auto l = read_text_lines(p);
      lines.insert(lines.end(), l.begin(), l.end());
    }
  }
  std::vector<std::vector<int64_t>> docs;
  docs.reserve(lines.size());
  for (const auto& l : lines) docs.push_back(tok.encode(l));
  return docs;
}

int64_t lm_separator(const Tokenizer& tok) {
  if (tok.eos_id >= 0) return tok.eos_id;
  if (tok.bos_id >= 0) return tok.bos_id;
  fail(str("a causal LM needs a tokenizer with an end-of-text (eos) or begin-of-text (bos) token to "
           "separate documents; this ", tok.kind(), " tokenizer has neither"));
}

TaskData load_task_data(const std::string& path, const ModelConfig& cfg, const Tokenizer& tok,
                        int max_len, int64_t limit_tokens, uint64_t seed, int lm_stride) {
  TaskData out;
  out.task = cfg.task;
  out.path = path;
  HP_CHECK(max_len >= 8, "max sequence length must be >= 8, got ", max_len);
  HP_CHECK(max_len <= cfg.max_pos, "max sequence length ", max_len,
           " exceeds the model's max_position_embeddings ", cfg.max_pos);
  const TaskInfo& task = task_info(cfg.task);
  if (task.labelled_files) {
    Dataset ds = read_classification(path, cfg.labels, task.regression);
    out.labels = ds.labels;
    out.items.reserve(ds.examples.size());
    for (const auto& ex : ds.examples) {
      auto enc = encode_pair_for_encoder(tok, ex.text_a, ex.has_b ? &ex.text_b : nullptr, max_len);
      out.items.push_back({enc.ids, enc.type_ids, ex.label, ex.target});
    }
  } else if (task.masked_inputs) {
    HP_CHECK(tok.mask_id >= 0 && tok.cls_id >= 0 && tok.sep_id >= 0,
             "masked-LM needs a tokenizer with [MASK], [CLS] and [SEP] ids");
    for (auto& chunk : chunk_stream(encode_documents(path, tok), max_len - 2)) {
      std::vector<int64_t> ids;
      ids.reserve(chunk.size() + 2);
      ids.push_back(tok.cls_id);
      ids.insert(ids.end(), chunk.begin(), chunk.end());
      ids.push_back(tok.sep_id);
      std::vector<int64_t> types(ids.size(), 0);
      out.items.push_back({std::move(ids), std::move(types), -1, 0.f});
    }
  } else if (task.causal) {
    const int64_t sep = lm_separator(tok);
    HP_CHECK(lm_stride >= 0 && lm_stride <= max_len, "stride ", lm_stride,
             " must be in [1, context length ", max_len, "] (0 = the context length)");
    out.context = max_len;
    out.stride = lm_stride > 0 ? lm_stride : max_len;
    out.items = lm_windows(join_documents(encode_documents(path, tok), sep), max_len, out.stride);
  } else {
    fail(str("task '", cfg.task, "' has no data loader yet"));
  }
  HP_CHECK(!out.items.empty(), path, ": no examples");
  if (limit_tokens > 0) {
    std::vector<int> order(out.items.size());
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<EncodedExample> kept;
    int64_t n = 0;
    for (int i : order) {
      if (n >= limit_tokens) break;
      n += out.items[i].ids.size();
      kept.push_back(std::move(out.items[i]));
    }
    out.items = std::move(kept);
  }
  return out;
}

Batch make_batch(const TaskData& data, const std::vector<int>& idx, const Tokenizer& tok) {
  std::vector<const EncodedExample*> items;
  items.reserve(idx.size());
  for (int i : idx) items.push_back(&data.items.at(i));
  const TaskInfo& task = task_info(data.task);
  Batch b = collate(items, tok.pad_id >= 0 ? tok.pad_id : 0, task.regression);
  if (task.causal) b.labels = lm_targets(items);  // [B, T], -100 where not scored
  return b;
}

MlmEvalSet make_mlm_eval_set(const TaskData& data, const Tokenizer& tok, uint64_t seed) {
  const std::vector<int64_t> specials = special_ids(tok);
  MlmEvalSet set;
  for (size_t i = 0; i < data.items.size(); ++i) {
    const auto& ids = data.items[i].ids;
    auto t = torch::tensor(ids, torch::kInt64).view({1, -1});
    auto m = mlm_mask(t, torch::ones_like(t), 0.15, tok.mask_id, tok.vocab_size(), specials,
                      seed * 1000003ULL + i);
    auto in = m.input_ids.view(-1), lab = m.labels.view(-1);
    set.inputs.emplace_back(in.data_ptr<int64_t>(), in.data_ptr<int64_t>() + in.numel());
    set.targets.emplace_back(lab.data_ptr<int64_t>(), lab.data_ptr<int64_t>() + lab.numel());
  }
  return set;
}

Batch collate_mlm(const MlmEvalSet& set, const std::vector<int>& idx, int64_t pad_id,
                  torch::Tensor* targets) {
  int64_t T = 0;
  for (int i : idx) T = std::max<int64_t>(T, set.inputs[i].size());
  const int64_t B = idx.size();
  Batch b;
  b.input_ids = torch::full({B, T}, pad_id, torch::kInt64);
  b.attention_mask = torch::zeros({B, T}, torch::kInt64);
  b.token_type_ids = torch::zeros({B, T}, torch::kInt64);
  *targets = torch::full({B, T}, -100, torch::kInt64);
  for (int64_t r = 0; r < B; ++r) {
    const auto& in = set.inputs[idx[r]];
    const auto& tg = set.targets[idx[r]];
    int64_t n = in.size();
    b.input_ids[r].narrow(0, 0, n).copy_(torch::tensor(in, torch::kInt64));
    targets->index_put_({r, torch::indexing::Slice(0, n)}, torch::tensor(tg, torch::kInt64));
    b.attention_mask[r].narrow(0, 0, n).fill_(1);
  }
  return b;
}

LossOut task_loss(Model& model, const Batch& batch, const Tokenizer& tok, const MaskSet* masks,
                  uint64_t mask_seed, torch::Device device, Probe* probe) {
  const auto& cfg = model.config();
  LossOut out;
  ForwardInput in;
  in.attention_mask = batch.attention_mask.to(device);
  in.token_type_ids = batch.token_type_ids.to(device);
  const TaskInfo& task = task_info(cfg.task);
  if (task.masked_inputs) {
    auto m = mlm_mask(batch.input_ids, batch.attention_mask, 0.15, tok.mask_id, tok.vocab_size(),
                      special_ids(tok), mask_seed);
    in.input_ids = m.input_ids.to(device);
    auto labels = m.labels.to(device);
    auto pos = labels.ne(-100);  // [B, T]
    out.logits = model.forward(in, masks, probe, pos);  // [N, V]
    out.targets = labels.index({pos});
    out.count = out.targets.numel();
    out.loss = out.count > 0 ? torch::cross_entropy_loss(out.logits.to(torch::kFloat32), out.targets)
                             : out.logits.sum() * 0;
    return out;
  }
  in.input_ids = batch.input_ids.to(device);
  if (task.causal) {
    auto labels = batch.labels.to(device);  // [B, T] next-token targets (make_batch)
    auto pos = labels.ne(-100);
    out.logits = model.forward(in, masks, probe, pos);  // [N, V]
    out.targets = labels.index({pos});
    out.count = out.targets.numel();
    out.loss = out.count > 0 ? torch::cross_entropy_loss(out.logits.to(torch::kFloat32), out.targets)
                             : out.logits.sum() * 0;
    return out;
  }
  out.logits = model.forward(in, masks, probe);
  out.targets = batch.labels.to(device);
  out.count = out.targets.size(0);
  if (task.regression) {
    out.logits = out.logits.squeeze(-1);
    out.loss = torch::mse_loss(out.logits.to(torch::kFloat32), out.targets.to(torch::kFloat32));
  } else {
    out.loss = torch::cross_entropy_loss(out.logits.to(torch::kFloat32), out.targets);
  }
  return out;
}

}  // namespace hp
