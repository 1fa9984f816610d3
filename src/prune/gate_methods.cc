// Method entry points: parameter reading, the GateMethod of each method (gate values per step,
// sparsity loss, schedules) and the final masks. The math lives in hard_concrete / losses / topk,
// the loop in gate_train.
#include "prune/gate_methods.h"

#include <cmath>
#include <random>
#include <set>

#include "core/check.h"
#include "core/log.h"
#include "gates/hard_concrete.h"
#include "gates/losses.h"
#include "gates/topk.h"

namespace hp {

namespace {

using json = nlohmann::json;

GateTrainOptions read_train_options(Params& p, const PruneContext& ctx, double gate_lr, const std::string& name) {
  // Every gate method calls this first: structures the gates cannot produce fail before any work.
  HP_CHECK(!ctx.uniform, name, ": --uniform is not supported: gate training keeps the --keep-heads "
           "(or L0-selected) heads wherever the trained gates put them, so layers cannot be made to "
           "keep equal counts; use a FLOPs-budget method (e.g. kprune, flap) with --uniform");
  for (const auto& sp : ctx.model.sublayers())
    HP_CHECK(selection_step(sp) == 1, name, ": --gqa query is not supported: the gates select "
             "single query heads, which cannot keep the same number in every K/V group of ",
             sp.name(), " (grouped-query attention requires it); use --gqa group (gates on whole "
             "K/V groups)");
  GateTrainOptions o;
  // reference_training=1: the PASS / DSP reference trainers' choices as defaults: no warm-up, no
  // weight decay, linearly decayed gate learning rate, one gradient clip over model and gates.
  const bool ref = p.flag("reference_training", false);
  o.epochs = int(p.integer("epochs", 3));
  o.steps = p.integer("steps", 0);
  o.batch = int(p.integer("batch", 32));
  o.lr = p.num("lr", 2e-5);
  o.gate_lr = p.num("gate_lr", gate_lr);
  o.lr_warmup = p.num("lr_warmup", ref ? 0.0 : 0.06);
  o.gate_lr_schedule = p.flag("gate_lr_schedule", ref);
  o.weight_decay = p.num("weight_decay", ref ? 0.0 : 0.01);
  o.clip = p.num("clip", 1.0);
  o.clip_gates = p.flag("clip_gates", ref);
  o.log_every = p.integer("log_every", 0);
  o.seed = ctx.seed;
  o.progress = ctx.progress;
  o.label = name;
  HP_CHECK(o.steps >= 0 && o.log_every >= 0, name, ": steps and log_every must be >= 0");
  return o;
}

// The L0 penalty coefficient (--l0) of voita and l0-layerwise.
double read_l0(Params& p, const std::string& name, double def) {
  const double lambda = p.num("l0", def);
  HP_CHECK(lambda >= 0, name, ": --l0 must be >= 0, got ", lambda);
  return lambda;
}

HardConcrete read_hard_concrete(Params& p, double beta) {
  HardConcrete hc;
  hc.beta = p.num("beta", beta);
  hc.gamma = p.num("gamma", -0.1);
  hc.zeta = p.num("zeta", 1.1);
  hc.closed_shift();  // validates
  return hc;
}

// The whole training file (ctx.data_path, encoded at ctx.max_len), or the calibration sample.
TaskData training_data(const PruneContext& ctx, const std::string& name) {
  if (!ctx.data_path.empty()) {
    HP_CHECK(ctx.tok, name, ": needs the model's tokenizer to read ", ctx.data_path);
    return load_task_data(ctx.data_path, ctx.model.config(), *ctx.tok, ctx.max_len);
  }
  HP_CHECK(ctx.calib && !ctx.calib->items.empty(), name, ": needs training data (--data)");
  return *ctx.calib;
}

int64_t read_keep_heads(Params& p, int64_t total, const std::string& name, bool required) {
  if (!p.has("keep_heads")) {
    HP_CHECK(!required, name, ": needs --keep-heads K (the exact number of heads to keep)");
    return -1;
  }
  int64_t k = p.integer("keep_heads", -1);
  HP_CHECK(k >= 1 && k <= total, name, ": --keep-heads must be in [1, ", total, "], got ", k);
  return k;
}

// PASS's Xavier-uniform init of a [1, H, 1, 1] gate tensor, per module: U(-b, b), b = sqrt(6/(H+1)).
std::vector<double> xavier_init(const GateLayout& layout) {
  std::vector<double> v(size_t(layout.total));
  for (size_t g = 0; g < layout.sizes.size(); ++g) {
    if (layout.sizes[g] == 0) continue;
    double b = std::sqrt(6.0 / double(layout.sizes[g] + 1));
    auto u = torch::rand({layout.sizes[g]}, torch::kFloat64);
    for (int64_t h = 0; h < layout.sizes[g]; ++h)
      v[size_t(layout.offsets[g] + h)] = (2 * u[h].item<double>() - 1) * b;
  }
  return v;
}

uint64_t init_seed(uint64_t seed) { return seed ^ 0x9E3779B97F4A7C15ULL; }

std::vector<double> to_vector(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// Gates as one flat leaf tensor [total] (float32) on the training device.
class FlatGates : public GateMethod {
 public:
  FlatGates(GateLayout layout, const std::vector<double>& init, torch::Device device) : layout_(std::move(layout)) {
    w_ = torch::tensor(init, torch::kFloat64).to(device, torch::kFloat32).set_requires_grad(true);
  }
  std::vector<torch::Tensor> parameters() override { return {w_}; }
  std::vector<double> values() const { return to_vector(w_); }
  void set_values(const std::vector<double>& v) {
    torch::NoGradGuard ng;
    w_.copy_(torch::tensor(v, torch::kFloat64).to(w_.device(), w_.scalar_type()));
  }
  const torch::Tensor& tensor() const { return w_; }
  const GateLayout& layout() const { return layout_; }

 protected:
  GateLayout layout_;
  torch::Tensor w_;
};

class HardConcreteGates : public FlatGates {
 public:
  HardConcreteGates(GateLayout layout, HardConcrete hc, const std::vector<double>& init, torch::Device device)
      : FlatGates(std::move(layout), init, device), hc_(hc) {}
  void log_values(std::vector<double>& la, std::vector<double>& pc, std::vector<double>& po) const override {
    torch::NoGradGuard ng;
    la = to_vector(w_);
    pc = to_vector(hc_.p_closed(w_));
    po = to_vector(hc_.p_open(w_));
  }
  const HardConcrete& hc() const { return hc_; }

 protected:
  HardConcrete hc_;
};

class VoitaGates : public HardConcreteGates {
 public:
  VoitaGates(GateLayout layout, HardConcrete hc, const std::vector<double>& init, torch::Device device, double lambda)
      : HardConcreteGates(std::move(layout), hc, init, device), lambda_(lambda) {}
  void begin(int64_t, int64_t) override {}
  torch::Tensor train_gates(const GateStep&) override { return hc_.sample(w_); }
  torch::Tensor penalty(const GateStep&) override {
    auto l0 = l0_penalty(hc_, w_);
    last_l0_ = l0.item<double>();
    return lambda_ * l0;
  }
  void after_step(const GateStep&, const std::vector<double>*) override {}
  std::string progress_note() const override { return str("E[L0] ", std::lround(last_l0_)); }

 private:
  double lambda_, last_l0_ = 0;
};

class PassGates : public HardConcreteGates {
 public:
  struct Config {
    int64_t keep = 1;
    bool concentrator = false;
    double lambda0 = 1e-5, growth = 1000, period_frac = 0.1, clip_at = 5, reopen_decay = 1, conc_cap = 3000;
    double lambda_max = 1e6;  // float32 guard: lambda * loss must stay finite on long misses
    int64_t period = 0, reopen_first = 2, reopen_last = 4;
    uint64_t seed = 0;
  };
  PassGates(GateLayout layout, HardConcrete hc, const std::vector<double>& init, torch::Device device, Config c)
      : HardConcreteGates(std::move(layout), hc, init, device), c_(c), rng_(c.seed ^ 0x5EED5EEDULL) {
    n_close_ = layout_.total - c_.keep;
    conf_sum_.assign(size_t(layout_.total), 0.0);
  }
  void begin(int64_t total, int64_t) override {
    period_ = c_.period > 0 ? c_.period : std::max<int64_t>(1, std::llround(c_.period_frac * double(total)));
    sched_.lambda0 = c_.lambda0;
    sched_.growth = c_.growth;
    sched_.period = double(period_);
    lambda_ = std::min(c_.lambda_max, sched_.value());
    if (c_.reopen_last * period_ >= total)
      log_warn(str("pass: the last clip & reopen (step ", c_.reopen_last * period_, ") is not before the end (",
                   total, " steps); exact K may not be reached"));
  }
  torch::Tensor train_gates(const GateStep&) override { return hc_.sample(w_); }
  torch::Tensor penalty(const GateStep&) override {
    torch::Tensor loss = lambda_ * pass_loss(hc_, w_, n_close_);
    if (c_.concentrator && lambda_c_ > 0)
      loss = loss + lambda_ * lambda_c_ * concentrator_loss(hc_, w_, layout_.sizes);
    return loss;
  }
  bool wants_confidence() const override { return true; }
  void after_step(const GateStep& s, const std::vector<double>* conf) override {
    if (conf)
      for (size_t i = 0; i < conf_sum_.size(); ++i) conf_sum_[i] += (*conf)[i];
    auto la = values();
    count(la);
    lambda_ = std::min(c_.lambda_max, sched_.update(n_closed_, n_open_, layout_.total, n_close_));
    const int64_t r = s.step / period_;
    const bool reopen_now = s.step % period_ == 0 && r >= c_.reopen_first && r <= c_.reopen_last;
    double candidate = c_.conc_cap;
    if (reopen_now) {
      clip_values(la, -c_.clip_at, c_.clip_at);
      double factor = std::pow(c_.reopen_decay, double(n_reopens_));
      auto reopened = reopen_closed(la, reopen_probabilities(conf_sum_, factor), -c_.clip_at, c_.clip_at, rng_);
      candidate = concentrator_coeff(hc_, la, layout_.sizes, -c_.clip_at, c_.conc_cap);
      set_values(la);
      std::fill(conf_sum_.begin(), conf_sum_.end(), 0.0);
      ++n_reopens_;
      count(la);
      events_.push_back({{"step", s.step}, {"reopened", reopened.size()}, {"closed_after", n_closed_},
                         {"open_after", n_open_}, {"lambda", lambda_}, {"lambda_c_candidate", candidate}});
    }
    if (c_.concentrator) {
      if (n_closed_ >= n_close_) lambda_c_ = 0;
      else if (reopen_now) lambda_c_ = candidate;
    }
    bool at_target = n_closed_ == n_close_ && n_open_ == layout_.total - n_close_;
    if (!at_target) target_since_ = -1;
    else if (target_since_ < 0) target_since_ = s.step;
  }
  std::string progress_note() const override {
    char buf[128];
    std::snprintf(buf, sizeof buf, "lambda %.3g%s closed %lld/%lld open %lld/%lld", lambda_,
                  c_.concentrator ? str(" lambda_c ", lambda_c_).c_str() : "", (long long)n_closed_,
                  (long long)n_close_, (long long)n_open_, (long long)(layout_.total - n_close_));
    return buf;
  }
  json info() const {
    return {{"lambda", lambda_},
            {"lambda_c", lambda_c_},
            {"lambda_counter", sched_.k},
            {"period_steps", period_},
            {"closed", n_closed_},
            {"open", n_open_},
            {"target_closed", n_close_},
            {"exact_k_reached", target_since_ >= 0},
            {"exact_k_since_step", target_since_},
            {"reopen_events", events_}};
  }

 private:
  void count(const std::vector<double>& la) {
    n_closed_ = n_open_ = 0;
    for (double v : la) {
      n_closed_ += v <= -c_.clip_at;
      n_open_ += v >= c_.clip_at;
    }
  }
  Config c_;
  std::mt19937_64 rng_;
  LambdaSchedule sched_;
  int64_t n_close_ = 0, period_ = 1, n_closed_ = 0, n_open_ = 0, target_since_ = -1;
  int n_reopens_ = 0;
  double lambda_ = 0, lambda_c_ = 0;
  std::vector<double> conf_sum_;
  json events_ = json::array();
};

class SubsetGates : public FlatGates {
 public:
  struct Config {
    int64_t keep = 1;
    bool ste = false, noise = true;
    double tau0 = 1000, tau_end = 1e-8, anneal_frac = 0.7;
    int64_t anneal_steps = 0;
  };
  SubsetGates(GateLayout layout, const std::vector<double>& init, torch::Device device, Config c)
      : FlatGates(std::move(layout), init, device), c_(c) {
    HP_CHECK(c_.tau0 > 0 && c_.tau_end > 0, "dsp: tau0 and tau_end must be > 0");
  }
  void begin(int64_t total, int64_t) override {
    anneal_ = c_.anneal_steps > 0 ? c_.anneal_steps
                                  : std::max<int64_t>(1, std::llround(c_.anneal_frac * double(total)));
    tau_ = c_.tau0;
  }
  double tau_at(int64_t step) const {
    double f = std::min(1.0, double(step) / double(anneal_));
    return c_.tau0 * std::pow(c_.tau_end / c_.tau0, f);  // exponential decay tau0 -> tau_end
  }
  torch::Tensor train_gates(const GateStep& s) override {
    if (c_.ste) {
      auto scores = c_.noise ? w_.to(torch::kFloat64) + gumbel_noise(w_.numel(), w_.device()) : w_;
      return ste_topk(scores, c_.keep).to(torch::kFloat32);
    }
    tau_ = tau_at(s.step);
    return soft_topk(w_, c_.keep, tau_, c_.noise).to(torch::kFloat32);
  }
  void after_step(const GateStep&, const std::vector<double>*) override {}
  void log_values(std::vector<double>& la, std::vector<double>& pc, std::vector<double>& po) const override {
    torch::NoGradGuard ng;
    la = to_vector(w_);
    po = to_vector(c_.ste ? hard_topk(w_, c_.keep) : soft_topk(w_, c_.keep, tau_, false));
    pc.resize(po.size());
    for (size_t i = 0; i < po.size(); ++i) pc[i] = 1 - po[i];
  }
  std::string progress_note() const override {
    if (c_.ste) return "";
    char buf[32];
    std::snprintf(buf, sizeof buf, "tau %.3g", tau_);
    return buf;
  }
  json info() const {
    if (c_.ste) return json::object();
    return {{"tau", tau_}, {"anneal_steps", anneal_}};
  }

 private:
  Config c_;
  int64_t anneal_ = 1;
  double tau_ = 1;
};

class L0LayerwiseGates : public HardConcreteGates {
 public:
  L0LayerwiseGates(GateLayout layout, HardConcrete hc, const std::vector<double>& init, torch::Device device,
                   double lambda, bool warmup, int64_t warmup_steps, bool scaling)
      : HardConcreteGates(std::move(layout), hc, init, device),
        lambda_(lambda), warmup_(warmup), warmup_steps_(warmup_steps), scaling_(scaling) {}
  void begin(int64_t, int64_t steps_per_epoch) override {
    if (warmup_steps_ <= 0) warmup_steps_ = std::max<int64_t>(1, steps_per_epoch);
  }
  torch::Tensor train_gates(const GateStep&) override {
    auto z = hc_.sample(w_);
    auto hard = z.gt(0.5).to(z.scalar_type());
    auto g = hard + (z - z.detach());  // straight-through: hard forward, Hard Concrete gradient
    if (!scaling_) return g;
    auto closed = to_vector(hard);
    std::vector<double> scale(closed.size(), 1.0);
    for (size_t l = 0; l < layout_.sizes.size(); ++l) {
      int64_t n = layout_.sizes[l], nc = 0;
      for (int64_t h = 0; h < n; ++h) nc += closed[size_t(layout_.offsets[l] + h)] == 0;
      for (int64_t h = 0; h < n; ++h) scale[size_t(layout_.offsets[l] + h)] = output_scale(n, nc);
    }
    return g * torch::tensor(scale, torch::kFloat64).to(g.device(), g.scalar_type());  // scale is a constant
  }
  torch::Tensor penalty(const GateStep& s) override {
    coef_ = warmup_ ? lambda_ * std::min(1.0, double(s.step) / double(warmup_steps_)) : lambda_;
    return coef_ * l0_penalty(hc_, w_);
  }
  void after_step(const GateStep&, const std::vector<double>*) override {}
  std::string progress_note() const override {
    char buf[48];
    std::snprintf(buf, sizeof buf, "l0 coef %.3g", coef_);
    return buf;
  }
  json info() const { return {{"l0_coef", coef_}, {"warmup_steps", warmup_ ? warmup_steps_ : 0}}; }

 private:
  double lambda_;
  bool warmup_;
  int64_t warmup_steps_;
  bool scaling_;
  double coef_ = 0;
};

// Common result fields: kept heads per layer, attention layers alive, training figures, gates.csv.
// The method's own copy of the model, in train mode: gate training changes its weights, which
// reach the pruned model through PruneOutput::weights; ctx.model is never written.
std::shared_ptr<Model> trainable_copy(const PruneContext& ctx) {
  auto m = clone_model(ctx.model, ctx.device);
  m->train();
  return m;
}

PruneOutput finish(const GateLayout& layout, MaskSet masks, const GateTrainResult& tr, json info,
                   const Model& trained) {
  PruneOutput out;
  json per_layer = json::array();
  int alive = 0;
  int64_t kept = 0;
  for (size_t g = 0; g < layout.sizes.size(); ++g) {
    const auto& t = masks.sub[layout.sublayer[g]];
    int64_t k = t.defined() ? t.ne(0).sum().item<int64_t>() : 0;
    per_layer.push_back(k);
    alive += k > 0;
    kept += k;
  }
  info["kept_heads"] = kept;
  info["total_heads"] = layout.total;
  info["kept_heads_per_layer"] = per_layer;
  info["attn_layers_alive"] = alive;
  if (!info.contains("closed")) info["closed"] = layout.total - kept;  // heads the final mask removes
  if (!info.contains("open")) info["open"] = kept;
  info["steps"] = tr.steps;
  info["steps_per_epoch"] = tr.steps_per_epoch;
  info["log_every"] = tr.log_every;
  info["train_seconds"] = tr.seconds;
  info["last_task_loss"] = tr.last_task_loss;
  info["nonfinite_gate_grads"] = tr.nonfinite_gate_grads;
  if (kept == 0) log_warn("gate training closed every head: the pruned model has no attention left");
  out.masks = std::move(masks);
  out.info = std::move(info);
  out.files["gates.csv"] = tr.gates_csv;
  torch::NoGradGuard ng;
  for (const auto& [name, t] : trained.state()) out.weights[name] = t.detach().to(torch::kCPU).clone();
  return out;
}

MaskSet masks_from_values(const GateLayout& layout, const std::vector<double>& v) {
  return layout.to_masks(torch::tensor(v, torch::kFloat64).to(torch::kFloat32));
}

}  // namespace

MaskSet topk_head_masks(const GateLayout& layout, const torch::Tensor& scores, int64_t k) {
  return layout.to_masks(hard_topk(scores.detach().to(torch::kCPU).reshape({-1}), k));
}

MaskSet voita_final_masks(const GateLayout& layout, const HardConcrete& hc, const torch::Tensor& log_alpha,
                          double threshold, bool fold, int64_t keep_heads) {
  auto la = log_alpha.detach().to(torch::kCPU, torch::kFloat64).reshape({-1});
  if (keep_heads > 0) return topk_head_masks(layout, la, keep_heads);
  auto det = hc.deterministic(la);
  auto keep = det.gt(threshold).to(torch::kFloat64);
  return layout.to_masks((fold ? det * keep : keep).to(torch::kFloat32));
}

MaskSet l0_layerwise_final_masks(const GateLayout& layout, const HardConcrete& hc, const torch::Tensor& log_alpha,
                                 bool scaling, int64_t keep_heads) {
  auto la = log_alpha.detach().to(torch::kCPU, torch::kFloat64).reshape({-1});
  std::vector<double> keep = keep_heads > 0 ? to_vector(hard_topk(la, keep_heads))
                                            : to_vector(hc.deterministic(la).gt(0.5));
  if (scaling)
    for (size_t l = 0; l < layout.sizes.size(); ++l) {
      int64_t n = layout.sizes[l], nc = 0;
      for (int64_t h = 0; h < n; ++h) nc += keep[size_t(layout.offsets[l] + h)] == 0;
      if (n == 0) continue;
      double s = output_scale(n, nc);
      for (int64_t h = 0; h < n; ++h) keep[size_t(layout.offsets[l] + h)] *= s;
    }
  return masks_from_values(layout, keep);
}

PruneOutput prune_voita(const PruneContext& ctx) {
  const std::string name = "voita";
  Params p(ctx.params, name);
  auto layout = GateLayout::heads_of(ctx.model.sublayers());
  auto opt = read_train_options(p, ctx, 0.1, name);
  auto hc = read_hard_concrete(p, 0.33);
  double lambda = read_l0(p, name, 0.0015);
  int64_t keep = read_keep_heads(p, layout.total, name, false);
  double threshold = p.num("threshold", 0.5);
  bool fold = p.flag("fold", true);
  p.finish();  // a misspelt option fails before the data file is read
  auto data = training_data(ctx, name);
  torch::manual_seed(init_seed(ctx.seed));
  VoitaGates gates(layout, hc, xavier_init(layout), ctx.device, lambda);
  auto model = trainable_copy(ctx);
  auto tr = train_gates(*model, data, *ctx.tok, gates, layout, opt, ctx.device);
  auto masks = voita_final_masks(layout, hc, gates.tensor(), threshold, fold, keep);
  auto det = to_vector(hc.deterministic(gates.tensor().detach()));
  int64_t closed = 0;
  for (double d : det) closed += d == 0;
  json info = {{"lambda", lambda}, {"selection", keep > 0 ? "top-k" : "threshold"}, {"threshold", threshold},
               {"fold", fold}, {"closed_deterministic", closed}, {"open_deterministic", int64_t(det.size()) - closed}};
  return finish(layout, std::move(masks), tr, info, *model);
}

static PruneOutput run_pass(const PruneContext& ctx, bool concentrator) {
  const std::string name = concentrator ? "passconc" : "pass";
  Params p(ctx.params, name);
  auto layout = GateLayout::heads_of(ctx.model.sublayers());
  auto opt = read_train_options(p, ctx, 0.5, name);
  auto hc = read_hard_concrete(p, 0.33);
  PassGates::Config c;
  c.keep = read_keep_heads(p, layout.total, name, true);
  c.concentrator = concentrator;
  c.lambda0 = p.num("lambda0", 1e-5);
  c.growth = p.num("lambda_growth", 1000);
  c.lambda_max = p.num("lambda_max", 1e6);
  c.period_frac = p.num("period_frac", 0.1);
  c.period = p.integer("period", 0);
  c.reopen_first = p.integer("reopen_first", 2);
  c.reopen_last = p.integer("reopen_last", 4);
  c.reopen_decay = p.num("reopen_decay", 1.0);
  c.clip_at = p.num("la_clip", 5.0);
  if (concentrator) c.conc_cap = p.num("conc_cap", 3000);
  c.seed = ctx.seed;
  p.finish();  // a misspelt option fails before the data file is read
  auto data = training_data(ctx, name);
  HP_CHECK(c.lambda0 > 0 && c.growth >= 1 && c.period_frac > 0 && c.clip_at > 0, name,
           ": need lambda0 > 0, lambda_growth >= 1, period_frac > 0, la_clip > 0");
  torch::manual_seed(init_seed(ctx.seed));
  PassGates gates(layout, hc, xavier_init(layout), ctx.device, c);
  auto model = trainable_copy(ctx);
  auto tr = train_gates(*model, data, *ctx.tok, gates, layout, opt, ctx.device);
  // Final mask: the K largest log_alpha (= the K largest deterministic gates, the map being
  // monotone). Binary: at exact K the open gates sit at log_alpha >= la_clip where the
  // deterministic gate is exactly 1 anyway.
  auto masks = topk_head_masks(layout, gates.tensor(), c.keep);
  json info = gates.info();
  if (!info["exact_k_reached"].get<bool>())
    log_warn(str(name, ": the gates did not settle at exactly ", c.keep, " open / ", layout.total - c.keep,
                 " closed (", info["open"].get<int64_t>(), " open, ", info["closed"].get<int64_t>(),
                 " closed at the end); the mask keeps the top-", c.keep,
                 " log_alpha. More steps or a smaller period_frac give the schedule more room."));
  return finish(layout, std::move(masks), tr, info, *model);
}

PruneOutput prune_pass(const PruneContext& ctx) { return run_pass(ctx, false); }
PruneOutput prune_passconc(const PruneContext& ctx) { return run_pass(ctx, true); }

static PruneOutput run_subset(const PruneContext& ctx, bool ste) {
  const std::string name = ste ? "ste" : "dsp";
  Params p(ctx.params, name);
  auto layout = GateLayout::heads_of(ctx.model.sublayers());
  auto opt = read_train_options(p, ctx, 0.5, name);
  SubsetGates::Config c;
  c.keep = read_keep_heads(p, layout.total, name, true);
  c.ste = ste;
  c.noise = p.flag("noise", !ste);
  if (!ste) {
    c.tau0 = p.num("tau0", 1000);
    c.tau_end = p.num("tau_end", 1e-8);
    c.anneal_frac = p.num("anneal_frac", 0.7);
    c.anneal_steps = p.integer("anneal_steps", 0);
  }
  p.finish();  // a misspelt option fails before the data file is read
  auto data = training_data(ctx, name);
  torch::manual_seed(init_seed(ctx.seed));
  SubsetGates gates(layout, xavier_init(layout), ctx.device, c);
  auto model = trainable_copy(ctx);
  auto tr = train_gates(*model, data, *ctx.tok, gates, layout, opt, ctx.device);
  auto masks = topk_head_masks(layout, gates.tensor(), c.keep);
  json info = gates.info();
  info["noise"] = c.noise;
  return finish(layout, std::move(masks), tr, info, *model);
}

PruneOutput prune_dsp(const PruneContext& ctx) { return run_subset(ctx, false); }
PruneOutput prune_ste(const PruneContext& ctx) { return run_subset(ctx, true); }

PruneOutput prune_l0_layerwise(const PruneContext& ctx) {
  const std::string name = "l0-layerwise";
  Params p(ctx.params, name);
  auto layout = GateLayout::heads_of(ctx.model.sublayers());
  auto opt = read_train_options(p, ctx, 0.1, name);
  auto hc = read_hard_concrete(p, 0.333);
  double lambda = read_l0(p, name, 0.02);
  int64_t keep = read_keep_heads(p, layout.total, name, false);
  bool warmup = p.flag("warmup", true);
  int64_t warmup_steps = p.integer("warmup_steps", 0);
  bool init = p.flag("init", true);
  double init_value = p.num("init_value", 2.0);
  bool scaling = p.flag("scaling", true);
  p.finish();  // a misspelt option fails before the data file is read
  auto data = training_data(ctx, name);
  torch::manual_seed(init_seed(ctx.seed));
  auto init_v = init ? std::vector<double>(size_t(layout.total), init_value) : xavier_init(layout);
  L0LayerwiseGates gates(layout, hc, init_v, ctx.device, lambda, warmup, warmup_steps, scaling);
  auto model = trainable_copy(ctx);
  auto tr = train_gates(*model, data, *ctx.tok, gates, layout, opt, ctx.device);
  auto masks = l0_layerwise_final_masks(layout, hc, gates.tensor(), scaling, keep);
  json info = gates.info();
  info["lambda"] = lambda;
  info["warmup"] = warmup;
  info["init"] = init ? json(init_value) : json("xavier");
  info["scaling"] = scaling;
  info["selection"] = keep > 0 ? "top-k" : "threshold";
  json scales = json::array();
  for (size_t g = 0; g < layout.sizes.size(); ++g) {
    const auto& t = masks.sub[layout.sublayer[g]];
    scales.push_back(t.defined() && t.numel() > 0 ? t.max().item<double>() : 0.0);
  }
  info["output_scale_per_layer"] = scales;
  return finish(layout, std::move(masks), tr, info, *model);
}

}  // namespace hp
