// Golden logits from the reference implementation: random-init HF transformers models (saved with
// save_pretrained, one with pruned heads) and their logits, made by scripts/gpu/hf_parity.py on the
// GPU machine (transformers 5.17). headprune must load them and reproduce the logits.
#include <gtest/gtest.h>

#include <fstream>

#include "model/model_dir.h"

using namespace hp;

namespace {

std::string fixture(const std::string& rel) { return std::string(HP_SOURCE_DIR) + "/tests/data/hf_tiny/" + rel; }

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  EXPECT_TRUE(f.good()) << path;
  return nlohmann::json::parse(f);
}

torch::Tensor ids(const nlohmann::json& j, const char* key) {
  std::vector<int64_t> flat;
  for (const auto& row : j[key])
    for (const auto& v : row) flat.push_back(v.get<int64_t>());
  return torch::tensor(flat, torch::kInt64).view({(int64_t)j[key].size(), -1});
}

void check_model(const std::string& name) {
  auto lm = load_model_dir(fixture(name), torch::kCPU, false);
  auto in_j = read_json(fixture("inputs.json"));
  ForwardInput in{ids(in_j, "input_ids"), ids(in_j, "attention_mask"), ids(in_j, "token_type_ids")};
  torch::NoGradGuard ng;
  auto got = lm.model->forward(in).to(torch::kFloat32).contiguous().view(-1);
  auto ref_j = read_json(fixture(name + "/hf_logits.json"));
  auto ref = torch::tensor(ref_j["logits"].get<std::vector<float>>());
  ASSERT_EQ(got.numel(), ref.numel());
  float diff = (got - ref).abs().max().item<float>();
  std::printf("HF golden %s: max|diff| = %.3e over %lld logits\n", name.c_str(), diff, (long long)ref.numel());
  EXPECT_LE(diff, 1e-4);
}

}  // namespace

TEST(HfGolden, PrunedHeadsClassifier) {
  check_model("cls_pruned");
  auto lm = load_model_dir(fixture("cls_pruned"), torch::kCPU, false);
  EXPECT_EQ(lm.model->config().layers[0].n_head, 3);
  EXPECT_EQ(lm.model->config().layers[1].n_head, 4);
  EXPECT_EQ(lm.model->config().layers[2].n_head, 2);
}

TEST(HfGolden, Regression) { check_model("reg"); }
