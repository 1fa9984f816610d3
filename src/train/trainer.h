// Training loop shared by every task: AdamW with decoupled weight decay (none on biases and
// LayerNorm), linear warm-up then linear or cosine decay, optional CUDA bf16 autocast, gradient clipping, evaluation and an atomic
// checkpoint after every epoch, and resumption from the last complete epoch.
#pragma once
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/tokenizer.h"
#include "model/model.h"

namespace hp {

struct TrainOptions {
  std::string train_path, eval_path, out_dir;
  int epochs = 3;
  int batch = 32;
  double lr = 5e-5;
  double warmup = 0.06;        // fraction of total steps
  double weight_decay = 0.01;
  double clip = 1.0;           // gradient-norm clipping, 0 = none
  std::string schedule = "linear";  // decay after warm-up: linear | cosine
  bool bf16 = false;           // CUDA bf16 autocast (fp32 weights and optimizer state)
  int max_len = 128;
  uint64_t seed = 42;
  bool resume = false;
  int64_t max_steps = 0;       // 0 = epochs decide
  std::string device = "cpu";
  bool progress = true;
  std::string save_dtype = "fp32";  // fp32 | bf16
  int save_every = 1;                // checkpoint every N epochs (and after the last one)
  // Original-numbering heads removed per layer when the model is a pruned one: written to
  // config.json's pruned_heads so that Hugging Face loads the trained checkpoint too.
  std::vector<std::vector<int>> pruned_heads;
};

// Learning-rate multiplier at `step` (0-based) of `total`: linear warm-up over the first `warm`
// steps, then linear decay to 0 at the last step. Every training loop uses this schedule.
double warmup_linear_decay(int64_t step, int64_t warm, int64_t total);
// The same warm-up, then half a cosine from 1 to 0 at the last step.
double warmup_cosine_decay(int64_t step, int64_t warm, int64_t total);

// AdamW over the model's trainable parameters with decoupled weight decay `weight_decay`, except
// LayerNorm weights and biases (no decay): the optimizer every training loop uses. `params`, if
// given, receives the same parameters (for gradient clipping).
std::unique_ptr<torch::optim::AdamW> make_model_optimizer(Model& model, double lr, double weight_decay,
                                                          std::vector<torch::Tensor>* params = nullptr);

// Trains `model` in place. `aux_files` (tokenizer etc.) are written beside every checkpoint.
// Returns {"epochs": [{epoch, train_loss, eval...}], "final": eval, "seconds"}.
nlohmann::json train_model(const std::shared_ptr<Model>& model, const Tokenizer& tok,
                           const std::map<std::string, std::string>& aux_files,
                           const TrainOptions& opt);

}  // namespace hp
