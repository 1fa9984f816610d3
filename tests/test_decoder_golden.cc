// Golden logits of decoder LMs from the reference implementation: tiny random-init Hugging Face
// models (GPT-2, OPT pre-LN and OPT-350m style, LLaMA MHA/GQA/llama3-rope/biases) saved with
// save_pretrained, with their HF logits, made by `scripts/gpu/decoder_parity.py goldens` on the
// GPU machine (layout: tests/data/decoders/README.md). headprune must load every model dir and
// reproduce (a) the full forward at the real (attention_mask = 1) positions of a right-padded
// batch and (b) HF's incremental decoding with a KV cache: row 0's prefix, then one token at a
// time with an attention_mask over cached + new positions.
// HEADPRUNE_DECODER_GOLDENS=DIR reads the model dirs from DIR instead of tests/data/decoders.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "model/model_dir.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace hp;

namespace {

// HEADPRUNE_DECODER_GOLDENS=DIR checks goldens elsewhere (e.g. freshly made, before copying them in).
const fs::path kDir = std::getenv("HEADPRUNE_DECODER_GOLDENS")
                          ? fs::path(std::getenv("HEADPRUNE_DECODER_GOLDENS"))
                          : fs::path(HP_SOURCE_DIR) / "tests" / "data" / "decoders";
constexpr float kTol = 1e-4f;

json read_json(const fs::path& p) {
  std::ifstream f(p);
  if (!f.good()) throw std::runtime_error(p.string() + ": cannot read");
  return json::parse(f);
}

// Every model dir with a golden.json, sorted by name.
std::vector<std::string> golden_models() {
  std::vector<std::string> out;
  if (!fs::is_directory(kDir)) return out;
  for (const auto& e : fs::directory_iterator(kDir))
    if (e.is_directory() && fs::is_regular_file(e.path() / "golden.json"))
      out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

#define SKIP_WITHOUT_GOLDENS(models)                                                            \
  if ((models).empty())                                                                         \
  GTEST_SKIP() << "no golden.json under " << kDir.string()                                      \
               << ": run `python3 scripts/gpu/decoder_parity.py goldens --out DIR` on the GPU " \
                  "machine and copy DIR/* there (see tests/data/decoders/README.md)"

torch::Tensor ids_of(const json& rows) {
  std::vector<int64_t> flat;
  size_t T = rows.at(0).size();
  for (const auto& row : rows) {
    if (row.size() != T) throw std::runtime_error("rows differ in length");
    for (const auto& v : row) flat.push_back(v.get<int64_t>());
  }
  return torch::tensor(flat, torch::kInt64).view({(int64_t)rows.size(), (int64_t)T});
}

torch::Tensor floats(const json& flat, std::vector<int64_t> shape) {
  auto t = torch::tensor(flat.get<std::vector<float>>());
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  if (t.numel() != n)
    throw std::runtime_error("golden has " + std::to_string(t.numel()) + " logits, expected " +
                             std::to_string(n));
  return t.view(shape);
}

float max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat32) - b.to(torch::kFloat32)).abs().max().item<float>();
}

struct Golden {
  std::string name;
  LoadedModel lm;
  json g;
  torch::Tensor ids, mask;  // [B, T]
  int64_t V = 0;
};

Golden load_golden(const std::string& name) {
  Golden out;
  out.name = name;
  out.g = read_json(kDir / name / "golden.json");
  out.lm = load_model_dir((kDir / name).string(), torch::kCPU, false);
  out.ids = ids_of(out.g.at("input_ids"));
  out.mask = ids_of(out.g.at("attention_mask"));
  out.V = out.g.at("shape").at(2).get<int64_t>();
  EXPECT_EQ(out.lm.model->config().vocab_size, out.V) << name;
  return out;
}

// Full forward of the padded batch: logits at every real position match HF's.
void check_full_forward(const std::string& name) {
  Golden G = load_golden(name);
  const int64_t B = G.ids.size(0), T = G.ids.size(1);
  auto ref = floats(G.g.at("logits"), {B, T, G.V});
  torch::NoGradGuard ng;
  ForwardInput in;
  in.input_ids = G.ids;
  in.attention_mask = G.mask;
  auto got = G.lm.model->forward(in).to(torch::kFloat32);
  ASSERT_EQ(got.sizes(), ref.sizes()) << name;
  auto valid = G.mask.to(torch::kBool);  // [B, T]: padded positions are not compared
  const float diff = max_diff(got.index({valid}), ref.index({valid}));
  std::cout << "[ golden   ] " << name << ": max |diff| " << diff << " over "
            << valid.sum().item<int64_t>() * G.V << " logits (full forward, B=" << B << " T=" << T
            << ")\n";
  EXPECT_LE(diff, kTol) << name << ": full forward";
}

// Incremental decoding of row 0 with a KV cache: the prefix in one call, then one token per call
// with an attention_mask over cached + new positions; every step matches HF's own cached decoding
// (use_cache=True, past_key_values), which must itself agree with HF's full forward.
void check_kv_decoding(const std::string& name) {
  Golden G = load_golden(name);
  const json& d = G.g.at("decode");
  const int64_t row = d.value("row", 0);
  const int64_t k = d.at("prefix_len").get<int64_t>();
  const json& steps = d.at("logits_steps");
  const int64_t n_steps = static_cast<int64_t>(steps.size());
  ASSERT_GT(k, 0) << name;
  ASSERT_LE(k + n_steps, G.ids.size(1)) << name;
  ASSERT_EQ(G.mask[row].sum().item<int64_t>(), G.ids.size(1)) << name << ": decode row is padded";
  auto seq = G.ids.narrow(0, row, 1);  // [1, T]
  auto prefix_ref = floats(d.at("prefix_logits"), {1, k, G.V});

  // The golden itself: HF's cached decoding agrees with HF's full forward.
  auto full_ref = floats(G.g.at("logits"), {G.ids.size(0), G.ids.size(1), G.V}).narrow(0, row, 1);
  float self_diff = max_diff(prefix_ref, full_ref.narrow(1, 0, k));
  for (int64_t i = 0; i < n_steps; ++i)
    self_diff = std::max(self_diff, max_diff(floats(steps[i], {G.V}), full_ref[0][k + i]));
  EXPECT_LE(self_diff, kTol) << name << ": the golden's HF decoding disagrees with its full forward";

  torch::NoGradGuard ng;
  KvCache cache;
  ForwardInput in;
  in.input_ids = seq.narrow(1, 0, k);
  in.attention_mask = torch::ones({1, k}, torch::kInt64);
  in.cache = &cache;
  auto got = G.lm.model->forward(in).to(torch::kFloat32);  // [1, k, V]
  ASSERT_EQ(got.sizes(), prefix_ref.sizes()) << name;
  float diff = max_diff(got, prefix_ref);
  EXPECT_LE(diff, kTol) << name << ": prefix of " << k << " tokens";
  EXPECT_EQ(cache.length, k) << name;
  for (int64_t i = 0; i < n_steps; ++i) {
    const int64_t pos = k + i;
    ForwardInput step;
    step.input_ids = seq.narrow(1, pos, 1);
    step.attention_mask = torch::ones({1, pos + 1}, torch::kInt64);
    step.cache = &cache;
    auto logits = G.lm.model->forward(step).to(torch::kFloat32);  // [1, 1, V]
    ASSERT_EQ(logits.numel(), G.V) << name << ": step " << i;
    const float d_step = max_diff(logits.view({G.V}), floats(steps[i], {G.V}));
    EXPECT_LE(d_step, kTol) << name << ": decoding step " << i << " (position " << pos << ")";
    diff = std::max(diff, d_step);
  }
  EXPECT_EQ(cache.length, k + n_steps) << name;
  std::cout << "[ golden   ] " << name << ": max |diff| " << diff << " (KV-cache decoding: prefix "
            << k << " + " << n_steps << " steps; HF decode vs HF full " << self_diff << ")\n";
}

// Runs `check` on every golden model; an exception fails that model only.
void for_each_model(const std::vector<std::string>& models, void (*check)(const std::string&)) {
  for (const auto& name : models) {
    SCOPED_TRACE(name);
    try {
      check(name);
    } catch (const std::exception& e) {
      ADD_FAILURE() << name << ": " << e.what();
    }
  }
}

}  // namespace

TEST(DecoderGolden, FullForward) {
  const auto models = golden_models();
  SKIP_WITHOUT_GOLDENS(models);
  for_each_model(models, check_full_forward);
}

TEST(DecoderGolden, KvCacheDecoding) {
  const auto models = golden_models();
  SKIP_WITHOUT_GOLDENS(models);
  for_each_model(models, check_kv_decoding);
}
