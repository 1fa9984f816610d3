#include "model/model_dir.h"

#include <filesystem>

#include "core/check.h"
#include "io/checkpoint.h"

namespace hp {

LoadedModel load_model_dir(const std::string& dir, torch::Device device, bool need_tokenizer) {
  HP_CHECK(std::filesystem::is_directory(dir), dir, ": model directory does not exist");
  Checkpoint ck = load_checkpoint(dir);
  LoadedModel lm;
  lm.dir = dir;
  lm.model = make_model(ck.config);
  lm.model->load_state(ck.tensors, dir + "/model.safetensors");
  lm.model->to(device);
  lm.model->eval();
  lm.aux_files = read_aux_files(dir);
  // Training state belongs to the run that made the model, not to models derived from it.
  for (const char* f : {"optimizer.pt", "trainer_state.json"}) lm.aux_files.erase(f);
  bool has_tok = false;
  for (const char* f : {"tokenizer.json", "vocab.txt", "spm.model", "tokenizer.model", "encoder.json",
                        "vocab.json"})
    has_tok |= std::filesystem::exists(std::filesystem::path(dir) / f);
  if (has_tok) lm.tokenizer = load_tokenizer(dir);
  HP_CHECK(lm.tokenizer || !need_tokenizer, dir,
           ": no tokenizer files (tokenizer.json, vocab.txt, spm.model, tokenizer.model, "
           "encoder.json+vocab.bpe)");
  return lm;
}

std::shared_ptr<Model> load_model_for_bench(const std::string& dir, torch::Device device, torch::Dtype dtype,
                                            bool shape_only) {
  std::shared_ptr<Model> m;
  if (shape_only) {
    torch::manual_seed(0);
    m = make_model(load_config(dir));
  } else {
    m = load_model_dir(dir, device, false).model;
  }
  m->to(device, dtype);
  m->eval();
  return m;
}

void save_model_dir(const std::string& dir, const Model& model,
                    const std::map<std::string, std::string>& aux_files) {
  TensorMap state;
  for (const auto& [k, v] : model.state()) state[k] = v.detach().to(torch::kCPU, torch::kFloat32);
  save_checkpoint(dir, model.config(), state, aux_files);
}

}  // namespace hp
