// headprune forward: raw logits of a model for given token ids (parity checks against other
// implementations, debugging). Input: JSON {"input_ids": [[..]], "attention_mask": [[..]],
// "token_type_ids": [[..]]}; output: JSON {"shape": [..], "logits": [flat row-major]}.
#include <fstream>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/check.h"
#include "io/checkpoint.h"
#include "model/model_dir.h"

namespace hp {

static torch::Tensor ids_tensor(const nlohmann::json& j, const std::string& key, const std::string& where) {
  HP_CHECK(j.contains(key) && j[key].is_array() && !j[key].empty(), where, ": '", key,
           "' must be a non-empty list of lists");
  std::vector<int64_t> flat;
  size_t T = j[key][0].size();
  for (const auto& row : j[key]) {
    HP_CHECK(row.size() == T, where, ": rows of '", key, "' differ in length");
    for (const auto& v : row) flat.push_back(v.get<int64_t>());
  }
  return torch::tensor(flat, torch::kInt64).view({(int64_t)j[key].size(), (int64_t)T});
}

int cmd_forward(const Args& args) {
  Options o("forward", "Run one forward pass on given token ids and write the logits as JSON.");
  o.add("model", "", "model directory", true)
      .add("input", "", "JSON file with input_ids (+ attention_mask, token_type_ids)", true)
      .add("out", "", "output JSON file (default: stdout)");
  add_common(o);
  if (!o.parse(args)) return 0;
  std::string device = apply_common(o);
  auto lm = load_model_dir(o.str("model"), torch::Device(device), false);
  std::ifstream f(o.str("input"));
  HP_CHECK(f.good(), o.str("input"), ": cannot read");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    fail(str(o.str("input"), ": invalid JSON: ", e.what()));
  }
  ForwardInput in;
  in.input_ids = ids_tensor(j, "input_ids", o.str("input")).to(device);
  if (j.contains("attention_mask")) in.attention_mask = ids_tensor(j, "attention_mask", o.str("input")).to(device);
  if (j.contains("token_type_ids")) in.token_type_ids = ids_tensor(j, "token_type_ids", o.str("input")).to(device);
  torch::NoGradGuard ng;
  auto logits = lm.model->forward(in).to(torch::kFloat32).cpu().contiguous();
  std::vector<float> flat(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
  nlohmann::json out = {{"shape", logits.sizes().vec()}, {"logits", flat}};
  if (o.given("out")) write_file_atomic(o.str("out"), out.dump());
  else print_json(out);
  return 0;
}

}  // namespace hp
