#include "train/trainer.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <cmath>
#include <filesystem>
#include <optional>
#include <fstream>
#include <sstream>

#include "core/check.h"
#include "core/log.h"
#include "data/batch.h"
#include "eval/evaluate.h"
#include "io/checkpoint.h"
#include "task/task.h"

namespace hp {

namespace fs = std::filesystem;

static bool no_decay(const std::string& name) {
  return name.find("LayerNorm") != std::string::npos || name.find("norm") != std::string::npos ||
         (name.size() > 5 && name.substr(name.size() - 5) == ".bias") || name == "cls.predictions.bias";
}

static void set_lr(torch::optim::AdamW& optim, double lr) {
  for (auto& g : optim.param_groups())
    static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
}

double warmup_linear_decay(int64_t step, int64_t warm, int64_t total) {
  return step < warm ? double(step + 1) / double(warm)
                     : std::max(0.0, double(total - step) / double(std::max<int64_t>(1, total - warm)));
}

double warmup_cosine_decay(int64_t step, int64_t warm, int64_t total) {
  if (step < warm) return double(step + 1) / double(warm);
  const double span = double(std::max<int64_t>(1, total - warm));
  const double progress = std::min(1.0, double(step - warm + 1) / span);
  return 0.5 * (1.0 + std::cos(M_PI * progress));
}

// bf16 autocast on CUDA for one training step (LibTorch >= 2.4 has the per-device switches).
class CudaBf16Autocast {
 public:
  explicit CudaBf16Autocast(bool on) : on_(on) {
    if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    fail("--bf16 needs LibTorch >= 2.4 (this build has " TORCH_VERSION ")");
#endif
  }
  ~CudaBf16Autocast() {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    if (on_) {
      at::autocast::set_autocast_enabled(at::kCUDA, false);
      at::autocast::clear_cache();
    }
#endif
  }
  CudaBf16Autocast(const CudaBf16Autocast&) = delete;
  CudaBf16Autocast& operator=(const CudaBf16Autocast&) = delete;

 private:
  bool on_;
};

std::unique_ptr<torch::optim::AdamW> make_model_optimizer(Model& model, double lr, double weight_decay,
                                                          std::vector<torch::Tensor>* params) {
  std::vector<torch::Tensor> decay, plain;
  for (const auto& p : model.named_parameters(true))
    if (p.value().requires_grad()) (no_decay(p.key()) ? plain : decay).push_back(p.value());
  if (params) {
    *params = decay;
    params->insert(params->end(), plain.begin(), plain.end());
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                                 torch::optim::AdamWOptions(lr).weight_decay(weight_decay)));
  groups.emplace_back(plain, std::make_unique<torch::optim::AdamWOptions>(
                                 torch::optim::AdamWOptions(lr).weight_decay(0.0)));
  return std::make_unique<torch::optim::AdamW>(std::move(groups));
}

nlohmann::json train_model(const std::shared_ptr<Model>& model, const Tokenizer& tok,
                           const std::map<std::string, std::string>& aux_files,
                           const TrainOptions& opt) {
  HP_CHECK(!opt.out_dir.empty(), "train: --out is required");
  HP_CHECK(opt.epochs > 0 && opt.batch > 0 && opt.lr > 0, "train: epochs, batch and lr must be > 0");
  HP_CHECK(opt.schedule == "linear" || opt.schedule == "cosine", "train: schedule must be linear or cosine, got '",
           opt.schedule, "'");
  HP_CHECK(std::isfinite(opt.clip) && opt.clip >= 0, "train: clip must be >= 0, got ", opt.clip);
  torch::Device device(opt.device);
  const auto& cfg = model->config();
  torch::manual_seed(opt.seed);
  Timer timer;

  TaskData train = load_task_data(opt.train_path, cfg, tok, opt.max_len);
  std::optional<TaskData> dev;
  if (!opt.eval_path.empty())
    dev = load_task_data(opt.eval_path, cfg, tok, opt.max_len, 0, 0, default_eval_stride(opt.max_len));
  log_info(str("train: ", train.items.size(), " sequences from ", opt.train_path,
               ", mean length ", train.mean_len(), " tokens"));

  auto optim_ptr = make_model_optimizer(*model, opt.lr, opt.weight_decay);
  torch::optim::AdamW& optim = *optim_ptr;

  std::vector<int> lengths;
  for (const auto& e : train.items) lengths.push_back(e.ids.size());
  const int64_t steps_per_epoch = (train.items.size() + opt.batch - 1) / opt.batch;
  int64_t total_steps = steps_per_epoch * opt.epochs;
  if (opt.max_steps > 0) total_steps = std::min(total_steps, opt.max_steps);
  const int64_t warm = std::max<int64_t>(1, static_cast<int64_t>(opt.warmup * total_steps));

  nlohmann::json log = {{"epochs", nlohmann::json::array()},
                        {"precision", opt.bf16 ? "bf16-autocast" : "fp32"},
                        {"schedule", opt.schedule}};
  int start_epoch = 0;
  int64_t step = 0;
  const std::string state_path = opt.out_dir + "/trainer_state.json";
  if (opt.resume && fs::exists(state_path)) {
    std::ifstream f(state_path);
    auto st = nlohmann::json::parse(f);
    start_epoch = st.at("epoch").get<int>();
    step = st.at("step").get<int64_t>();
    log = st.at("log");
    std::ifstream of(opt.out_dir + "/optimizer.pt", std::ios::binary);
    HP_CHECK(of.good(), opt.out_dir, "/optimizer.pt missing: cannot resume");
    torch::serialize::InputArchive ar;
    ar.load_from(of, device);
    optim.load(ar);
    log_info(str("train: resuming after epoch ", start_epoch, " (step ", step, ")"));
  }
  model->to(device);
  // Optimizer state follows the parameters when resuming on another device.

  for (int epoch = start_epoch; epoch < opt.epochs && step < total_steps; ++epoch) {
    model->train();
    auto batches = make_length_bucketed_batches(lengths, opt.batch, true, opt.seed + epoch);
    std::optional<Progress> bar;
    if (opt.progress) bar.emplace(str("epoch ", epoch + 1, "/", opt.epochs), batches.size());
    double loss_sum = 0;
    int64_t n_loss = 0;
    for (const auto& idx : batches) {
      if (step >= total_steps) break;
      double lr = opt.lr * (opt.schedule == "cosine" ? warmup_cosine_decay(step, warm, total_steps)
                                                     : warmup_linear_decay(step, warm, total_steps));
      set_lr(optim, lr);
      Batch b = make_batch(train, idx, tok);
      optim.zero_grad();
      LossOut out;
      {
        CudaBf16Autocast autocast(opt.bf16);
        out = task_loss(*model, b, tok, nullptr, opt.seed * 7919ULL + step, device);
        out.loss.backward();
      }
      if (opt.clip > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), opt.clip);
      optim.step();
      ++step;
      double l = out.loss.item<double>();
      HP_CHECK(std::isfinite(l), "train: loss became ", l, " at step ", step,
               " (try a lower --lr)");
      loss_sum += l;
      ++n_loss;
      if (bar) bar->step(1, str("loss ", l, " lr ", lr));
    }
    if (bar) bar->finish(str("mean loss ", loss_sum / std::max<int64_t>(1, n_loss)));
    nlohmann::json ep = {{"epoch", epoch + 1}, {"step", step},
                         {"train_loss", loss_sum / std::max<int64_t>(1, n_loss)},
                         {"seconds", timer.seconds()}};
    if (dev) {
      auto r = evaluate(*model, *dev, tok, nullptr, device, 64, 1234, opt.progress);
      ep["eval"] = r.to_json();
      log_info(str("epoch ", epoch + 1, ": eval ", r.metric, " ", r.value));
    }
    log["epochs"].push_back(ep);
    bool last = epoch + 1 == opt.epochs || step >= total_steps;
    if ((epoch + 1) % std::max(1, opt.save_every) != 0 && !last) continue;
    // Atomic checkpoint of model + optimizer + trainer state: a killed run resumes from here.
    auto files = aux_files;
    std::ostringstream os;
    torch::serialize::OutputArchive ar;
    optim.save(ar);
    ar.save_to(os);
    files["optimizer.pt"] = os.str();
    files["trainer_state.json"] =
        nlohmann::json({{"epoch", epoch + 1}, {"step", step}, {"log", log}}).dump(1);
    TensorMap state;
    auto dt = opt.save_dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;
    for (const auto& [k, v] : model->state()) state[k] = v.detach().to(torch::kCPU, dt);
    ModelConfig saved = cfg;
    saved.passthrough["headprune_max_len"] = opt.max_len;
    save_checkpoint(opt.out_dir, saved, state, files,
                    opt.pruned_heads.empty() ? nullptr : &opt.pruned_heads);
  }
  // The finished model does not need optimizer state (it is 2x the model).
  fs::remove(opt.out_dir + "/optimizer.pt");
  log["seconds"] = timer.seconds();
  if (!log["epochs"].empty() && log["epochs"].back().contains("eval"))
    log["final"] = log["epochs"].back()["eval"];
  return log;
}

}  // namespace hp
