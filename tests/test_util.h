// Helpers shared by several test files.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "io/tokenizer.h"
#include "config/model_config.h"
#include "core/check.h"
#include "data/lm.h"
#include "model/model.h"
#include "model/sublayer.h"
#include "prune/method.h"
#include "task/task.h"

namespace hp_test {

// Test-only tokenizer: the ids headprune's models use for specials, vocabulary of 40, nothing to
// encode (tests build token ids directly).
class SpecialsTokenizer : public hp::Tokenizer {
 public:
  SpecialsTokenizer() {
    pad_id = 0;
    unk_id = 1;
    cls_id = 2;
    sep_id = 3;
    mask_id = 4;
  }
  std::vector<int64_t> encode(const std::string&) const override { return {}; }
  int64_t vocab_size() const override { return 40; }
  std::string kind() const override { return "test"; }
  Pieces pieces() const override { return Pieces::WordPiece; }
  std::string id_to_piece(int64_t id) const override { return "t" + std::to_string(id); }
};

// A small BERT-style config with every layer dense (n_head = d_model / d_head, max_pos 32).
// Dropout is off unless `dropout` is false (then the model's defaults apply).
inline hp::ModelConfig tiny_bert_config(const std::string& task, int64_t vocab, int64_t d_model,
                                        int64_t d_head, int64_t n_layer, int64_t n_ff,
                                        int64_t n_labels, bool dropout_off = true) {
  hp::ModelConfig c;
  c.arch = "bert";
  c.task = task;
  c.vocab_size = vocab;
  c.d_model = d_model;
  c.d_head = d_head;
  c.n_layer = n_layer;
  c.n_head_dense = d_model / d_head;
  c.n_ff_dense = n_ff;
  c.max_pos = 32;
  c.n_labels = n_labels;
  if (dropout_off) {
    c.passthrough["hidden_dropout_prob"] = 0.0;
    c.passthrough["attention_probs_dropout_prob"] = 0.0;
  }
  c.set_dense_layers();
  return c;
}

// Synthetic data for the specials above: [CLS] 4..12 random ids [SEP]; classification label =
// first id mod 3 (labels a, b, c); for mlm the same texts, unlabelled. Variable lengths: batches
// are padded.
inline hp::TaskData synthetic_data(int n, uint64_t seed, const std::string& task = "classify") {
  hp::TaskData d;
  d.task = task;
  d.path = "synthetic";
  if (task == "classify") d.labels = {"a", "b", "c"};
  std::mt19937_64 rng(seed);
  for (int i = 0; i < n; ++i) {
    const int len = 4 + static_cast<int>(rng() % 9);
    std::vector<int64_t> ids = {2};
    for (int j = 0; j < len; ++j) ids.push_back(5 + static_cast<int64_t>(rng() % 35));
    ids.push_back(3);
    std::vector<int64_t> types(ids.size(), 0);
    const int label = task == "classify" ? static_cast<int>(ids[1] % 3) : -1;
    d.items.push_back({ids, types, label, 0.f});
  }
  return d;
}

// A random model with its matrices scaled x5 (BERT's init spread is so small that single units
// barely move the logits), optionally with random non-zero biases (BERT starts them at zero, which
// hides a bias left in a fit). Eval mode, in `dtype`.
inline std::shared_ptr<hp::Model> scaled_model(const hp::ModelConfig& cfg, uint64_t seed,
                                               torch::Dtype dtype = torch::kFloat32,
                                               double bias_noise = 0.0) {
  torch::manual_seed(seed);
  auto m = hp::make_model(cfg);
  {
    torch::NoGradGuard ng;
    for (auto& p : m->parameters())
      if (p.dim() == 2) p.mul_(5.0);
    if (bias_noise > 0)
      for (auto& p : m->named_parameters())
        if (p.key().size() > 4 && p.key().compare(p.key().size() - 4, 4, "bias") == 0)
          p.value().add_(bias_noise * torch::randn(p.value().sizes()));
  }
  m->to(dtype);
  m->eval();
  return m;
}

// Random weights with a spread that makes every head and neuron matter (the HF-style init is so
// small that decoder logits barely depend on the inputs): N(0, 0.25) everywhere, norm gains (1-D
// ".weight" tensors) around 1. Eval mode.
inline std::shared_ptr<hp::Model> spread_model(const hp::ModelConfig& cfg, uint64_t seed) {
  torch::manual_seed(seed);
  auto m = hp::make_model(cfg);
  torch::NoGradGuard ng;
  for (auto& p : m->named_parameters()) {
    auto& t = p.value();
    t.normal_(0, 0.25);
    const std::string& k = p.key();
    const bool norm_gain = t.dim() == 1 && k.size() > 7 && k.compare(k.size() - 7, 7, ".weight") == 0;
    if (norm_gain) t.add_(1.0);
  }
  m->eval();
  return m;
}

// A causal-LM data set: windows of 16 over a pseudo-random stream of ids 5..39 (the vocabulary of
// SpecialsTokenizer and of the registry's tiny decoder configs).
inline hp::TaskData lm_stream_data(int n_tokens, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> stream;
  for (int i = 0; i < n_tokens; ++i) stream.push_back(5 + static_cast<int64_t>(rng() % 35));
  hp::TaskData d;
  d.task = "lm";
  d.path = "stream";
  d.context = 16;
  d.stride = 16;
  d.items = hp::lm_windows(stream, 16, 16);
  return d;
}

// Deep copy of a model's tensors (Model::state() returns the live parameters themselves).
inline hp::TensorMap snapshot(const hp::Model& m) {
  hp::TensorMap out;
  for (const auto& [k, v] : m.state()) out[k] = v.detach().clone();
  return out;
}

// The context a prune job would give a method, quiet, with seed 0 and FLOPs counted at the
// data's mean length.
inline hp::PruneContext prune_ctx(hp::Model& m, const hp::Tokenizer& tok, const hp::TaskData& data,
                                  double keep, nlohmann::json params) {
  hp::PruneContext ctx{m};
  ctx.tok = &tok;
  ctx.calib = &data;
  ctx.keep_flops = keep;
  ctx.seq_len = data.mean_len();
  ctx.seed = 0;
  ctx.progress = false;
  ctx.params = std::move(params);
  return ctx;
}

// Index of the sublayer of `kind` in `layer` (tests address sublayers by what they are, never by
// position arithmetic).
inline int sub_index(const std::vector<hp::SublayerSpec>& specs, hp::SublayerKind kind, int layer,
                     hp::Stack stack = hp::Stack::Encoder) {
  for (const auto& s : specs)
    if (s.kind == kind && s.layer == layer && s.stack == stack) return s.index;
  hp::fail(hp::str("no ", hp::to_string(kind), " sublayer in layer ", layer));
}
inline int attn_of(const std::vector<hp::SublayerSpec>& specs, int layer) {
  return sub_index(specs, hp::SublayerKind::SelfAttn, layer);
}
inline int ffn_of(const std::vector<hp::SublayerSpec>& specs, int layer) {
  return sub_index(specs, hp::SublayerKind::Ffn, layer);
}

}  // namespace hp_test
