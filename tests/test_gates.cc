// Gate-trained head pruning (src/gates/): Hard Concrete sampling statistics vs the closed forms,
// gradients of the sparsity losses vs finite differences (double), PASS's lambda schedule, clip
// and reopen, the concentrator coefficient against a direct evaluation, DSP soft top-K limits,
// l0-layerwise output scaling, and short training runs on a tiny random BERT: exact K heads,
// determinism, gates.csv contents (also read back by the report's reader).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "core/check.h"
#include "gates/gate_train.h"
#include "gates/hard_concrete.h"
#include "gates/losses.h"
#include "prune/gate_methods.h"
#include "gates/topk.h"
#include "model/model.h"
#include "prune/method.h"
#include "report/html_report.h"

#include "test_util.h"

using namespace hp;

namespace {

using TestTokenizer = hp_test::SpecialsTokenizer;

ModelConfig tiny_cfg() {  // dropout at the model's defaults: gate training sees noise
  ModelConfig c = hp_test::tiny_bert_config("classify", 40, 16, 4, 2, 24, 3, /*dropout_off=*/false);
  c.labels = {"a", "b", "c"};
  return c;
}

std::shared_ptr<Model> tiny_model(uint64_t seed) {
  torch::manual_seed(seed);
  auto m = make_model(tiny_cfg());
  m->train();
  return m;
}

TaskData tiny_data(int n, uint64_t seed) { return hp_test::synthetic_data(n, seed); }

struct Run {
  PruneOutput out;
  std::shared_ptr<Model> model;
};

Run run_method(PruneFn fn, nlohmann::json params, uint64_t seed = 3) {
  static TestTokenizer tok;
  static TaskData data = tiny_data(48, 11);
  Run r;
  r.model = tiny_model(1);
  PruneContext ctx{*r.model};
  ctx.tok = &tok;
  ctx.calib = &data;  // no "data" param: the methods train on ctx.calib
  ctx.seed = seed;
  ctx.progress = false;
  ctx.params = std::move(params);
  r.out = fn(ctx);
  return r;
}

double sig(double x) { return 1 / (1 + std::exp(-x)); }

}  // namespace

// (1) Empirical P(z == 0), P(z == 1) over 200k samples vs the closed forms, within 4.5 standard errors.
TEST(GatesHardConcrete, SamplingMatchesClosedForms) {
  HardConcrete hc;
  torch::manual_seed(7);
  const int64_t n = 200000;
  for (double la : {-3.0, -1.0, 0.0, 0.7, 2.5}) {
    auto z = hc.sample(torch::full({n}, la, torch::kFloat64));
    double p0_hat = z.eq(0).to(torch::kFloat64).mean().item<double>();
    double p1_hat = z.eq(1).to(torch::kFloat64).mean().item<double>();
    auto t = torch::tensor({la}, torch::kFloat64);
    double p0 = hc.p_closed(t).item<double>(), p1 = hc.p_open(t).item<double>();
    EXPECT_NEAR(p0, sig(hc.beta * std::log(-hc.gamma / hc.zeta) - la), 1e-12);
    EXPECT_NEAR(p1, sig(la - hc.beta * std::log((1 - hc.gamma) / (hc.zeta - 1))), 1e-12);
    EXPECT_NEAR(p0_hat, p0, 4.5 * std::sqrt(p0 * (1 - p0) / n) + 1e-4) << "log_alpha " << la;
    EXPECT_NEAR(p1_hat, p1, 4.5 * std::sqrt(p1 * (1 - p1) / n) + 1e-4) << "log_alpha " << la;
    EXPECT_GE(z.min().item<double>(), 0.0);
    EXPECT_LE(z.max().item<double>(), 1.0);
  }
  // Deterministic gate: stretched sigmoid, clamped; 0.5 exactly at log_alpha = 0.
  auto det = hc.deterministic(torch::tensor({-3.0, 0.0, 3.0}, torch::kFloat64));
  EXPECT_DOUBLE_EQ(det[0].item<double>(), 0.0);
  EXPECT_NEAR(det[1].item<double>(), 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(det[2].item<double>(), 1.0);
  // Fixed uniforms: z = clamp(sigmoid((logit(u) + log_alpha) / beta) * (zeta - gamma) + gamma, 0, 1).
  auto la = torch::tensor({-0.4, 0.9, 0.1}, torch::kFloat64);
  auto u = torch::tensor({0.5, 0.3, 0.999}, torch::kFloat64);
  auto z = hc.sample_from_uniform(la, u);
  for (int i = 0; i < 3; ++i) {
    double ui = u[i].item<double>(), li = la[i].item<double>();
    double s = sig((std::log(ui / (1 - ui)) + li) / hc.beta);
    EXPECT_NEAR(z[i].item<double>(), std::min(1.0, std::max(0.0, s * 1.2 - 0.1)), 1e-12) << i;
  }
  EXPECT_EQ(z[2].item<double>(), 1.0);
}

// (2) Gradients of the PASS loss, the concentrator and the L0 penalty vs central differences.
TEST(GatesLosses, GradientsMatchFiniteDifferences) {
  HardConcrete hc;
  auto base = torch::tensor({0.3, -1.2, 2.1, 0.8, -0.5, 1.7, -2.4, 0.1}, torch::kFloat64);
  const std::vector<int64_t> groups = {3, 5};
  using LossFn = std::function<torch::Tensor(const torch::Tensor&)>;
  std::vector<std::pair<std::string, LossFn>> losses = {
      {"pass", [&](const torch::Tensor& x) { return pass_loss(hc, x, 6); }},
      {"pass_low", [&](const torch::Tensor& x) { return pass_loss(hc, x, 1); }},
      {"concentrator", [&](const torch::Tensor& x) { return concentrator_loss(hc, x, groups); }},
      {"l0", [&](const torch::Tensor& x) { return l0_penalty(hc, x); }},
  };
  const double eps = 1e-6;
  for (const auto& [name, f] : losses) {
    auto x = base.clone().set_requires_grad(true);
    f(x).backward();
    auto g = x.grad();
    for (int64_t i = 0; i < base.numel(); ++i) {
      auto xp = base.clone(), xm = base.clone();
      xp[i] += eps;
      xm[i] -= eps;
      double fd = (f(xp).item<double>() - f(xm).item<double>()) / (2 * eps);
      EXPECT_NEAR(g[i].item<double>(), fd, 1e-7 + 1e-6 * std::abs(fd)) << name << " gate " << i;
    }
    EXPECT_GT(g.abs().sum().item<double>(), 1e-3) << name << ": gradient vanished";
  }
  // Values against a direct evaluation.
  double p0s = 0, p1s = 0, nb = 0;
  double a = hc.beta * std::log(-hc.gamma / hc.zeta), b = hc.beta * std::log((1 - hc.gamma) / (hc.zeta - 1));
  std::vector<double> p0(8);
  for (int i = 0; i < 8; ++i) {
    double x = base[i].item<double>();
    p0[i] = sig(a - x);
    double p1 = sig(x - b);
    p0s += p0[i], p1s += p1, nb += 1 - p0[i] - p1;
  }
  EXPECT_NEAR(pass_loss(hc, base, 6).item<double>(), std::abs(6 - p0s) + std::abs(2 - p1s) + nb, 1e-12);
  double conc = (1 - p0[0] * p0[1] * p0[2]) + (1 - p0[3] * p0[4] * p0[5] * p0[6] * p0[7]);
  EXPECT_NEAR(concentrator_loss(hc, base, groups).item<double>(), conc, 1e-12);
}

// Concentrator coefficient vs the definition, evaluated naively.
TEST(GatesLosses, ConcentratorCoefficientMatchesDefinition) {
  HardConcrete hc;
  const double a = hc.beta * std::log(-hc.gamma / hc.zeta);
  std::vector<double> la = {-5, 1.0, 3.0, -5, -5, 0.5, 4.0};
  std::vector<int64_t> groups = {3, 4};
  double best = 3000;
  int64_t off = 0;
  for (int64_t g : groups) {
    for (int64_t i = off; i < off + g; ++i) {
      if (la[i] <= -5) continue;
      double x = la[i];
      double r = std::max(1.0, sig(a + x) * sig(-a - x) / (sig(a - x) * sig(-a + x)));
      double prod = 1;
      for (int64_t j = off; j < off + g; ++j)
        if (j != i) prod *= sig(a - la[j]);
      best = std::min(best, 2 * r / std::max(1e-8, prod));
    }
    off += g;
  }
  double got = concentrator_coeff(hc, la, groups, -5, 3000);
  EXPECT_NEAR(got, best, 1e-9 * best);
  EXPECT_LT(got, 3000);
  EXPECT_GT(got, 2);
  // No open gate: the cap.
  EXPECT_DOUBLE_EQ(concentrator_coeff(hc, {-5, -6, -5}, {3}, -5, 3000), 3000);
}

// (3) Lambda schedule: the counter moves only while the counts miss the target.
TEST(GatesSchedule, LambdaAdvancesOnlyWhileTargetMissed) {
  LambdaSchedule s;
  s.lambda0 = 1e-5;
  s.growth = 1000;
  s.period = 10;
  EXPECT_DOUBLE_EQ(s.value(), 1e-5);
  s.update(/*closed*/ 3, /*open*/ 5, /*total*/ 10, /*target closed*/ 4);  // miss (closed)
  s.update(4, 5, 10, 4);                                                  // miss (open: 5 != 6)
  EXPECT_EQ(s.k, 2);
  double at = s.update(4, 6, 10, 4);  // at target: frozen
  EXPECT_EQ(s.k, 2);
  EXPECT_NEAR(at, 1e-5 * std::pow(1000.0, 0.2), 1e-18);
  for (int i = 0; i < 8; ++i) s.update(0, 0, 10, 4);
  EXPECT_EQ(s.k, 10);
  EXPECT_NEAR(s.value(), 1e-2, 1e-15);
}

TEST(GatesSchedule, ClipAndReopen) {
  std::vector<double> la = {-7.0, -5.0, -4.9, 6.0, 0.3, -5.2, 12.0};
  EXPECT_EQ(clip_values(la, -5, 5), 4);
  EXPECT_EQ(la, (std::vector<double>{-5, -5, -4.9, 5, 0.3, -5, 5}));
  // Probabilities: factor * conf / max, clamped to [0, 1].
  auto p = reopen_probabilities({2, 4, 1, 0, -1}, 0.9);
  ASSERT_EQ(p.size(), 5u);
  EXPECT_NEAR(p[0], 0.45, 1e-15);
  EXPECT_NEAR(p[1], 0.9, 1e-15);
  EXPECT_NEAR(p[2], 0.225, 1e-15);
  EXPECT_EQ(p[3], 0.0);
  EXPECT_EQ(p[4], 0.0);
  EXPECT_EQ(reopen_probabilities({0, 0}, 1.0), (std::vector<double>{0, 0}));
  // Crafted confidence: only gate 5 (closed) is confident -> exactly it reopens; the open and
  // half-open gates are never touched.
  std::mt19937_64 rng(1);
  auto probs = reopen_probabilities({0, 0, 0, 0, 0, 3.0, 0}, 1.0);
  auto re = reopen_closed(la, probs, -5, 5, rng);
  EXPECT_EQ(re, (std::vector<int64_t>{5}));
  EXPECT_EQ(la, (std::vector<double>{-5, -5, -4.9, 5, 0.3, 5, 5}));
  // Statistics: closed gates reopen with their probability (20k trials, 4.5 SE).
  const int trials = 20000;
  std::vector<double> pr = {0.1, 0.5, 0.85, 1.0};
  std::vector<int> hits(4, 0);
  std::mt19937_64 rng2(42);
  for (int t = 0; t < trials; ++t) {
    std::vector<double> g = {-5, -5, -5, -5};
    for (int64_t i : reopen_closed(g, pr, -5, 5, rng2)) ++hits[size_t(i)];
  }
  for (size_t i = 0; i < pr.size(); ++i)
    EXPECT_NEAR(double(hits[i]) / trials, pr[i], 4.5 * std::sqrt(pr[i] * (1 - pr[i]) / trials) + 1e-9);
  // Same seed, same outcome.
  std::vector<double> g1 = {-5, -5, -5, -5}, g2 = g1;
  std::mt19937_64 ra(9), rb(9);
  EXPECT_EQ(reopen_closed(g1, pr, -5, 5, ra), reopen_closed(g2, pr, -5, 5, rb));
}

// DSP soft top-K: sums to K, tends to the hard top-K as tau -> 0, gradient vs finite differences
// at tau = 1; STE passes the gradient through unchanged.
TEST(GatesTopK, SoftTopKLimitsAndGradient) {
  auto w = torch::tensor({0.3, -1.0, 2.0, 0.9, 1.1, -0.2}, torch::kFloat64);
  for (double tau : {1000.0, 1.0, 0.1})
    EXPECT_NEAR(soft_topk(w, 3, tau, false).sum().item<double>(), 3.0, 1e-9) << "tau " << tau;
  auto hard = soft_topk(w, 3, 1e-8, false);
  EXPECT_TRUE(torch::equal(hard.to(torch::kFloat32), hard_topk(w, 3)));
  EXPECT_EQ(topk_indices(w, 3), (std::vector<int64_t>{2, 4, 3}));
  // Ties go to the lower index: always exactly K.
  EXPECT_EQ(hard_topk(torch::zeros({5}), 2).sum().item<double>(), 2.0);
  EXPECT_EQ(topk_indices(torch::zeros({5}), 2), (std::vector<int64_t>{0, 1}));
  // Fixed Gumbel uniforms: gradient vs central differences.
  auto u = torch::tensor({0.2, 0.7, 0.4, 0.9, 0.1, 0.5}, torch::kFloat64);
  auto c = torch::tensor({1.0, -2.0, 0.5, 3.0, -1.0, 2.0}, torch::kFloat64);
  auto f = [&](const torch::Tensor& x) { return (soft_topk(x, 3, 1.0, true, u) * c).sum(); };
  auto x = w.clone().set_requires_grad(true);
  f(x).backward();
  for (int64_t i = 0; i < 6; ++i) {
    auto xp = w.clone(), xm = w.clone();
    xp[i] += 1e-6;
    xm[i] -= 1e-6;
    double fd = (f(xp).item<double>() - f(xm).item<double>()) / 2e-6;
    EXPECT_NEAR(x.grad()[i].item<double>(), fd, 1e-6 + 1e-5 * std::abs(fd)) << "logit " << i;
  }
  auto s = w.clone().set_requires_grad(true);
  auto y = ste_topk(s, 2);
  EXPECT_TRUE(torch::equal(y.detach(), hard_topk(w, 2).to(torch::kFloat64)));
  (y * c).sum().backward();
  EXPECT_TRUE(torch::allclose(s.grad(), c));
}

// (5) l0-layerwise final masks: output scale clamp(H/(H-n_closed+1e-3), 1, H) on open heads, 0 on closed.
TEST(GatesL0Layerwise, OutputScaling) {
  HardConcrete hc;
  hc.beta = 0.333;
  GateLayout layout;
  layout.sizes = {4, 4, 4, 4};
  layout.offsets = {0, 4, 8, 12};
  layout.total = 16;
  layout.sublayer = {0, 1, 2, 3};  // a layout of four attention sublayers only
  layout.n_sublayers = 4;
  // Layer 0 all open; layer 1 two closed; layer 2 all closed; layer 3 three closed.
  auto la = torch::tensor({3.0, 2.0, 0.5, 4.0, 3.0, -3.0, 1.0, -0.2, -3.0, -2.0, -1.0, -4.0, 2.0, -1.0, -1.0, -1.0},
                          torch::kFloat64);
  auto m = l0_layerwise_final_masks(layout, hc, la, true, -1);
  ASSERT_EQ(m.size(), 4u);
  auto v = [&](int l, int h) { return m[size_t(l)][h].item<double>(); };
  for (int h = 0; h < 4; ++h) EXPECT_DOUBLE_EQ(v(0, h), 1.0);  // 4/4.001 clamped up to 1
  const double s1 = 4.0 / (4.0 - 2.0 + 1e-3);
  EXPECT_NEAR(v(1, 0), s1, 1e-6);
  EXPECT_NEAR(v(1, 2), s1, 1e-6);
  EXPECT_EQ(v(1, 1), 0.0);
  EXPECT_EQ(v(1, 3), 0.0);
  EXPECT_TRUE(mask_all_zero(m[2]));  // whole attention module removed
  EXPECT_NEAR(v(3, 0), std::min(4.0, 4.0 / (1 + 1e-3)), 1e-6);
  for (int h = 1; h < 4; ++h) EXPECT_EQ(v(3, h), 0.0);
  EXPECT_DOUBLE_EQ(output_scale(4, 4), 4.0);  // clamp at H
  EXPECT_DOUBLE_EQ(output_scale(8, 0), 1.0);
  EXPECT_NEAR(output_scale(8, 5), 8.0 / 3.001, 1e-12);
  // scaling=0 (ablation): binary.
  auto b = l0_layerwise_final_masks(layout, hc, la, false, -1);
  const auto specs4 = [] {
    std::vector<SublayerSpec> v(4);
    for (int i = 0; i < 4; ++i) v[i].index = i, v[i].kind = SublayerKind::SelfAttn, v[i].units = 4, v[i].groups = 4;
    return v;
  }();
  EXPECT_EQ(b[1][0].item<double>(), 1.0);
  EXPECT_EQ(b.kept_heads(specs4), 4 + 2 + 0 + 1);
  // Voita: threshold 0.5 with the deterministic gate folded; top-K when asked.
  auto vm = voita_final_masks(layout, hc, la, 0.5, true, -1);
  EXPECT_EQ(vm.kept_heads(specs4), 7);
  EXPECT_NEAR(vm[0][2].item<double>(), hc.deterministic(torch::tensor(0.5)).item<double>(), 1e-6);
  EXPECT_EQ(voita_final_masks(layout, hc, la, 0.5, true, 5).kept_heads(specs4), 5);
}

// (4) + (6) Short runs on a tiny BERT: exactly K heads, deterministic, gates.csv well formed.
TEST(GatesTraining, ExactKAndGatesCsv) {
  const int64_t K = 3, steps = 40;
  nlohmann::json params = {{"keep_heads", K}, {"steps", steps}, {"batch", 8}, {"lr", 1e-3}, {"log_every", 10}};
  for (auto [name, fn] : std::vector<std::pair<std::string, PruneFn>>{
           {"pass", prune_pass}, {"passconc", prune_passconc}, {"dsp", prune_dsp}, {"ste", prune_ste}}) {
    SCOPED_TRACE(name);
    auto r = run_method(fn, params);
    const auto& m = r.out.masks;
    const auto& specs = r.model->sublayers();
    ASSERT_EQ(m.size(), specs.size());
    EXPECT_EQ(m.kept_heads(specs), K);
    for (const auto& sp : specs) {
      const auto& t = m[sp.index];
      if (sp.kind == SublayerKind::Ffn) {
        EXPECT_FALSE(t.defined());
      } else {
        EXPECT_TRUE(torch::equal(t, t.ne(0).to(torch::kFloat32)));  // binary
      }
    }
    EXPECT_EQ(r.out.info["steps"], steps);
    EXPECT_EQ(r.out.info["kept_heads"], K);
    // gates.csv: header, 8 gates at steps 0, 10, 20, 30, 40.
    ASSERT_TRUE(r.out.files.count("gates.csv"));
    std::istringstream csv(r.out.files.at("gates.csv"));
    std::string line;
    std::getline(csv, line);
    EXPECT_EQ(line, "step,layer,head,log_alpha,p_closed,p_open");
    std::map<int64_t, int> per_step;
    while (std::getline(csv, line)) {
      int64_t st;
      int layer, head;
      double la, pc, po;
      ASSERT_EQ(std::sscanf(line.c_str(), "%lld,%d,%d,%lf,%lf,%lf", (long long*)&st, &layer, &head, &la, &pc, &po), 6)
          << line;
      EXPECT_TRUE(layer >= 0 && layer < 2 && head >= 0 && head < 4) << line;
      EXPECT_TRUE(pc >= 0 && pc <= 1 && po >= 0 && po <= 1 && std::isfinite(la)) << line;
      ++per_step[st];
    }
    EXPECT_EQ(per_step, (std::map<int64_t, int>{{0, 8}, {10, 8}, {20, 8}, {30, 8}, {40, 8}}));
    if (name == "dsp") {
      EXPECT_NEAR(r.out.info["tau"].get<double>(), 1e-8, 1e-20);  // annealed by 0.7 T
    }
  }
  // The report reads the file back.
  auto r = run_method(prune_pass, params);
  auto dir = std::filesystem::temp_directory_path() / "hp_test_gates";
  std::filesystem::create_directories(dir);
  { std::ofstream(dir / "gates.csv") << r.out.files.at("gates.csv"); }
  auto pts = read_gates_csv((dir / "gates.csv").string());
  EXPECT_EQ(pts.size(), 40u);
  EXPECT_EQ(pts.back().step, steps);
  std::filesystem::remove_all(dir);
}

TEST(GatesTraining, PassReachesExactKAndIsDeterministic) {
  // Enough steps for the schedule: period 12, reopens at 24/36/48, then 72 steps to settle.
  nlohmann::json params = {{"keep_heads", 3}, {"steps", 120}, {"batch", 8}, {"lr", 1e-3}};
  auto a = run_method(prune_pass, params);
  EXPECT_TRUE(a.out.info["exact_k_reached"].get<bool>()) << a.out.info.dump();
  EXPECT_EQ(a.out.info["closed"], 5);
  EXPECT_EQ(a.out.info["open"], 3);
  EXPECT_EQ(a.out.info["reopen_events"].size(), 3u);
  auto b = run_method(prune_pass, params);
  EXPECT_EQ(a.out.files.at("gates.csv"), b.out.files.at("gates.csv"));
  for (size_t s = 0; s < a.out.masks.size(); ++s)
    if (a.out.masks[s].defined()) EXPECT_TRUE(torch::equal(a.out.masks[s], b.out.masks[s]));
  // The trained weights come back identically, the caller's model untouched.
  ASSERT_EQ(a.out.weights.size(), a.model->state().size());
  auto fresh = tiny_model(1)->state();
  bool changed = false;
  for (const auto& [k, v] : a.out.weights) {
    EXPECT_TRUE(torch::equal(v, b.out.weights.at(k))) << k;
    EXPECT_TRUE(torch::equal(a.model->state().at(k), fresh.at(k))) << "model written: " << k;
    changed |= !torch::equal(v, fresh.at(k));
  }
  EXPECT_TRUE(changed);  // training did move the weights
  // Another seed gives another trajectory.
  auto c = run_method(prune_pass, params, 4);
  EXPECT_NE(a.out.files.at("gates.csv"), c.out.files.at("gates.csv"));
}

TEST(GatesTraining, VoitaAndL0LayerwiseRun) {
  // Without penalty some gates stay open; the L0 penalty closes them (the random tiny model's task
  // gradient on the gates is weak, so even a small lambda closes every gate within 30 steps).
  auto v = run_method(prune_voita, {{"l0", 0.0}, {"steps", 30}, {"batch", 8}, {"gate_lr", 0.1}});
  const auto& specs = v.model->sublayers();
  int64_t kept = v.out.masks.kept_heads(specs);
  EXPECT_GT(kept, 0);
  auto v2 = run_method(prune_voita, {{"l0", 0.001}, {"steps", 30}, {"batch", 8}, {"gate_lr", 0.1}});
  EXPECT_LT(v2.out.masks.kept_heads(specs), kept);
  EXPECT_LT(v2.out.info["open_deterministic"].get<int64_t>(), v.out.info["open_deterministic"].get<int64_t>());
  EXPECT_EQ(v.out.info["kept_heads"], kept);
  for (const auto& h : v.out.masks.sub) {  // folded deterministic gates: 0 or in (0.5, 1]
    if (!h.defined()) continue;
    EXPECT_TRUE(torch::logical_or(h.eq(0), torch::logical_and(h.gt(0.5), h.le(1))).all().item<bool>());
  }
  auto vk = run_method(prune_voita, {{"keep_heads", 5}, {"steps", 10}, {"batch", 8}});
  EXPECT_EQ(vk.out.masks.kept_heads(specs), 5);
  // A strong penalty closes gates; values are 0 or the layer's output scale (>= 1).
  auto l = run_method(prune_l0_layerwise, {{"l0", 2.0}, {"steps", 40}, {"batch", 8}, {"gate_lr", 0.3}});
  EXPECT_LT(l.out.masks.kept_heads(specs), 8);
  for (const auto& h : l.out.masks.sub) {
    if (!h.defined()) continue;
    EXPECT_TRUE(torch::logical_or(h.eq(0), h.ge(1)).all().item<bool>());
  }
  // Misspelt parameters are errors, not silent defaults.
  EXPECT_THROW(run_method(prune_l0_layerwise, {{"l0", 0.1}, {"steps", 2}, {"scalng", 0}}), hp::Error);
  EXPECT_THROW(run_method(prune_pass, {{"steps", 2}}), hp::Error);  // pass needs keep_heads
}
