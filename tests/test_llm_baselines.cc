// The retraining-free LLM baselines flap, wanda-sp and depth (src/prune/{flap,wanda_sp,depth}.cc)
// and their statistics (src/score/act_stats.h), each checked against a computation written here
// from a Recorder's tensors, on tiny random BERTs and on a test-only pre-norm decoder with
// grouped-query attention and no FFN output bias. The comment above each test says which wrong
// implementation it catches.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "model/cost.h"
#include "model/layers.h"
#include "model/model.h"
#include "prune/depth.h"
#include "prune/flap.h"
#include "prune/method.h"
#include "prune/wanda_sp.h"
#include "score/act_stats.h"
#include "score/calib.h"
#include "surgery/surgery.h"

#include "test_util.h"

using namespace hp;

namespace {

using TestTokenizer = hp_test::SpecialsTokenizer;

ModelConfig lb_cfg(const std::string& task = "classify", int64_t n_layer = 2) {
  ModelConfig c = hp_test::tiny_bert_config(task, 40, 16, 4, n_layer, 24, 3);
  if (task == "classify") c.labels = {"a", "b", "c"};
  return c;
}

std::shared_ptr<Model> lb_model(const ModelConfig& cfg, uint64_t seed,
                                torch::Dtype dtype = torch::kFloat32, double bias_noise = 0.0) {
  return hp_test::scaled_model(cfg, seed, dtype, bias_noise);
}

TaskData lb_data(int n, uint64_t seed, const std::string& task = "classify") {
  return hp_test::synthetic_data(n, seed, task);
}

double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).norm().item<double>() / std::max(1e-300, b.norm().item<double>());
}

// Real-token rows of one recorded [B, T, D] tensor per batch, concatenated: [N, D] double.
torch::Tensor real_rows(const std::vector<torch::Tensor>& per_batch, const CalibSet& calib) {
  std::vector<torch::Tensor> r;
  for (size_t b = 0; b < calib.batches.size(); ++b)
    r.push_back(per_batch[b].index({calib.batches[b].token_mask}).to(torch::kDouble));
  return torch::cat(r);
}
torch::Tensor all_rows(const std::vector<torch::Tensor>& per_batch) {
  std::vector<torch::Tensor> r;
  for (const auto& t : per_batch) r.push_back(t.reshape({-1, t.size(-1)}).to(torch::kDouble));
  return torch::cat(r);
}

// Per sublayer, per batch: the dense model's recorded units / inputs, and the final stream.
struct Recorded {
  std::vector<std::vector<torch::Tensor>> units, inputs;  // [s][b]
  std::vector<torch::Tensor> final_stream;                // [b]
};
Recorded record(Model& m, const CalibSet& calib, const MaskSet* masks = nullptr) {
  torch::NoGradGuard ng;
  Recorded r;
  r.units.resize(m.n_sublayers());
  r.inputs.resize(m.n_sublayers());
  for (const auto& cb : calib.batches) {
    Recorder rec;
    rec.keep_units = rec.keep_inputs = true;
    ForwardState st = begin_stack(m, cb);
    for (int s = 0; s < m.n_sublayers(); ++s) apply_sublayer(m, s, st, masks, &rec);
    for (int s = 0; s < m.n_sublayers(); ++s) {
      r.units[s].push_back(static_cast<int>(rec.units.size()) > s ? rec.units[s] : torch::Tensor());
      r.inputs[s].push_back(rec.inputs.at(s));
    }
    r.final_stream.push_back(st.x(m.sublayers().back().stack));
  }
  return r;
}

// Greedy fill written out: units in descending score (stable in sublayer, unit order), each
// taken when its cost (plus its K/V group's, for the group's first head) still fits.
MaskSet greedy_fill(const Budget& budget, const std::vector<torch::Tensor>& scores, double keep) {
  const auto& specs = budget.sublayers();
  struct U {
    double sc;
    int s;
    int64_t u;
  };
  std::vector<U> all;
  for (size_t s = 0; s < specs.size(); ++s)
    for (int64_t u = 0; u < specs[s].units; ++u)
      all.push_back({scores[s][u].item<double>(), static_cast<int>(s), u});
  std::stable_sort(all.begin(), all.end(), [](const U& a, const U& b) { return a.sc > b.sc; });
  const double limit = keep * budget.total() * (1 + kBudgetSlack);
  MaskSet m = MaskSet::zeros(specs);
  std::set<std::pair<int, int64_t>> groups;
  double used = 0;
  for (const auto& x : all) {
    const auto& sp = specs[x.s];
    const bool new_group = is_attention(sp.kind) && !groups.count({x.s, sp.group_of(x.u)});
    const double c = budget.unit_cost(x.s) + (new_group ? budget.group_cost(x.s) : 0.0);
    if (used + c > limit) continue;
    used += c;
    if (new_group) groups.insert({x.s, sp.group_of(x.u)});
    m.sub[x.s][x.u] = 1;
  }
  return m;
}

struct RunResult {
  PruneOutput out;
  ModelConfig pruned;
};
// Runs a method through the registry on a fresh model, checks the caller's model is untouched,
// and applies surgery.
RunResult run_method(const std::string& name, const ModelConfig& cfg, const TaskData& data,
                     const Tokenizer& tok, double keep, nlohmann::json params) {
  auto m = lb_model(cfg, 7, torch::kFloat32, 0.05);
  const TensorMap before = hp_test::snapshot(*m);
  auto ctx = hp_test::prune_ctx(*m, tok, data, keep, params);
  RunResult r;
  r.out = prune_methods().at(name).fn(ctx);
  for (const auto& [k, v] : m->state()) EXPECT_TRUE(torch::equal(v, before.at(k))) << name << " wrote " << k;
  EXPECT_FALSE(m->is_training());
  r.pruned = prune_model(*m, r.out.masks, 1, r.out.weights).config;
  return r;
}

// ---- A test-only pre-norm decoder: causal attention with 8 query heads in 2 K/V groups and an
// output bias, an FFN without output bias (LLaMA-style), LayerNorm before each sublayer. ----
class PreNormToy : public Model {
 public:
  explicit PreNormToy(const ModelConfig& cfg) : Model(cfg) {
    const int64_t d = cfg_.d_model, dh = cfg_.d_head;
    emb_ = add("emb.weight", init_normal({cfg_.vocab_size, d}, 0.7));
    for (int il = 0; il < cfg_.n_layer; ++il) {
      const auto& l = cfg_.layers[il];
      const std::string p = "blk." + std::to_string(il) + ".";
      L y;
      y.ln1 = add(p + "ln1.weight", torch::ones({d}));
      y.ln2 = add(p + "ln2.weight", torch::ones({d}));
      y.wq = add(p + "q.weight", init_normal({l.n_head * dh, d}, 0.4));
      y.wk = add(p + "k.weight", init_normal({l.n_head_kv * dh, d}, 0.4));
      y.wv = add(p + "v.weight", init_normal({l.n_head_kv * dh, d}, 0.4));
      y.wo = add(p + "o.weight", init_normal({d, l.n_head * dh}, 0.4));
      y.bo = add(p + "o.bias", init_normal({d}, 0.2));
      y.up = add(p + "up.weight", init_normal({l.n_ff, d}, 0.4));
      y.down = add(p + "down.weight", init_normal({d, l.n_ff}, 0.4));
      layers_.push_back(y);
    }
    head_ = add("head.weight", init_normal({cfg_.n_labels, d}, 0.4));
    std::vector<SublayerSpec> out;
    for (int il = 0; il < cfg_.n_layer; ++il) {
      const auto& l = cfg_.layers[il];
      const std::string p = "blk." + std::to_string(il) + ".";
      SublayerSpec a = make_spec(static_cast<int>(out.size()), SublayerKind::CausalAttn,
                                 Stack::Decoder, il, NormPlace::PreLN, l.n_head, l.n_head_kv, d, dh);
      a.out_proj = {p + "o.weight", 1, 0, dh};
      a.unit_slices = {{p + "q.weight", 0, 0, dh}, a.out_proj};
      a.group_slices = {{p + "k.weight", 0, 0, dh}, {p + "v.weight", 0, 0, dh}};
      a.out_bias = p + "o.bias";
      a.whole = {p + "ln1.weight"};
      out.push_back(a);
      SublayerSpec f = make_spec(static_cast<int>(out.size()), SublayerKind::Ffn, Stack::Decoder,
                                 il, NormPlace::PreLN, l.n_ff, 0, d, 1);
      f.out_proj = {p + "down.weight", 1, 0, 1};
      f.unit_slices = {{p + "up.weight", 0, 0, 1}, f.out_proj};
      f.whole = {p + "ln2.weight"};
      out.push_back(f);
    }
    set_sublayers(out);
  }
  ForwardState begin(const ForwardInput& in) override {
    ForwardState st;
    st.x(Stack::Decoder) = torch::embedding(emb_, in.input_ids);
    st.token_mask = in.attention_mask.defined() ? in.attention_mask.to(torch::kBool)
                                                : torch::ones_like(in.input_ids).to(torch::kBool);
    return st;
  }
  // Right padding and causal attention: real tokens never attend to padding.
  void apply(int s, ForwardState& st, const torch::Tensor& mask, Probe* probe) override {
    const auto& sp = sublayers()[s];
    const auto& y = layers_[sp.layer];
    auto& x = st.x(Stack::Decoder);
    if (probe) probe->on_input(s, x);
    if (sp.units == 0 || mask_all_zero(mask)) return;
    if (sp.kind == SublayerKind::Ffn) {
      auto h = torch::gelu(torch::linear(torch::layer_norm(x, {x.size(-1)}, y.ln2), y.up));
      if (mask.defined()) h = h * mask.to(h.scalar_type());
      if (probe) probe->on_units(s, h);
      auto o = torch::linear(h, y.down);
      if (probe) probe->on_output(s, o);
      x = x + o;
      return;
    }
    auto hn = torch::layer_norm(x, {x.size(-1)}, y.ln1);
    auto q = split_heads(torch::linear(hn, y.wq), sp.units);
    auto k = split_heads(torch::linear(hn, y.wk), sp.groups);
    auto v = split_heads(torch::linear(hn, y.wv), sp.groups);
    auto c = attention(q, k, v, {}, 0.0, false, /*is_causal=*/true);
    if (mask.defined()) c = c * mask.to(c.scalar_type()).view({1, sp.units, 1, 1});
    auto u = merge_heads(c);
    if (probe) probe->on_units(s, u);
    auto o = torch::linear(u, y.wo, y.bo);
    if (probe) probe->on_output(s, o);
    x = x + o;
  }
  torch::Tensor head(const ForwardState& st) override {
    return torch::linear(st.x(Stack::Decoder).mean(1), head_);
  }

 private:
  struct L {
    torch::Tensor ln1, ln2, wq, wk, wv, wo, bo, up, down;
  };
  torch::Tensor emb_, head_;
  std::vector<L> layers_;
};

ModelConfig toy_cfg() {
  ModelConfig c = hp_test::tiny_bert_config("classify", 40, 16, 2, 3, 20, 3);
  c.labels = {"a", "b", "c"};
  c.arch = "prenorm-toy";
  c.set_dense_layers();
  for (auto& l : c.layers) l.n_head_kv = 2;  // 8 query heads in 2 K/V groups of 4
  return c;
}

std::shared_ptr<PreNormToy> toy_model(uint64_t seed) {
  torch::manual_seed(seed);
  auto m = std::make_shared<PreNormToy>(toy_cfg());
  m->eval();
  return m;
}

}  // namespace

// =====================================================================================
// Moments over uneven batches with a large common offset == the two-pass statistics of all rows.
// Catches: a merge that weights batches equally, a variance from Σx² − n·mean² (cancellation at
// an offset of 1e6), a biased (÷n) variance and a running mean updated with the wrong counts.
// =====================================================================================
TEST(LlmActStats, MomentsMatchTwoPassStatistics) {
  torch::manual_seed(1);
  std::vector<torch::Tensor> batches = {torch::randn({7, 5}, torch::kDouble) * 3 + 1e6,
                                        torch::randn({1, 5}, torch::kDouble) + 1e6,
                                        torch::randn({30, 5}, torch::kDouble) * 0.5 + 1e6 + 2,
                                        torch::randn({4, 5}, torch::kFloat32) + 1e6};
  ChannelMoments m;
  for (const auto& b : batches) m.add(b);
  auto all = torch::cat({batches[0], batches[1], batches[2], batches[3].to(torch::kDouble)});
  ASSERT_EQ(m.count, 42);
  const auto mean = all.mean(0);
  const auto var = (all - mean).pow(2).sum(0) / 41.0;
  EXPECT_LT(rel_diff(m.mean, mean), 1e-14);
  EXPECT_LT(rel_diff(m.variance(), var), 1e-9) << m.variance() << "\n" << var;
  EXPECT_LT(rel_diff(m.l2(), all.pow(2).sum(0).sqrt()), 1e-12);
  // A single row has no variance (zeros, not NaN).
  ChannelMoments one;
  one.add(torch::ones({1, 3}));
  EXPECT_TRUE(one.variance().eq(0).all().item<bool>());
}

// =====================================================================================
// FLAP scores and masks == a direct computation from the dense model's recorded units.
// Catches: padding tokens in the variance, a metric without ‖W_out[:, c]‖² (or with the row
// norms), attention channels not squared, z-scores over the whole model instead of per sublayer,
// a head scored by the sum (not the mean) of its channel z-scores, per-FLOP ranking, and a
// per-sublayer (uniform) ranking instead of the global one.
// =====================================================================================
TEST(LlmFlap, ScoresAndMasksMatchDirectComputation) {
  auto cfg = lb_cfg("classify", 2);
  auto model = lb_model(cfg, 31, torch::kDouble, 0.1);
  TestTokenizer tok;
  auto data = lb_data(23, 32);
  auto calib = make_calib_set(data, tok, torch::kCPU, 5);  // 5 batches, padded
  ASSERT_GT(calib.batches.size(), 3u);
  const auto& specs = model->sublayers();
  auto rec = record(*model, calib);
  for (const std::string metric : {"wifv", "ifv", "wifn"}) {
    SCOPED_TRACE(metric);
    FlapScores sc = flap_scores(*model, calib, metric);
    ASSERT_EQ(sc.unit.size(), specs.size());
    std::vector<torch::Tensor> direct_unit;
    for (size_t s = 0; s < specs.size(); ++s) {
      const auto& sp = specs[s];
      auto x = real_rows(rec.units[s], calib);                              // [N, D]
      auto w = out_proj_weight(*model, sp).detach().to(torch::kDouble);  // [d, D]
      auto var = x.var(0, /*unbiased=*/true);
      torch::Tensor m;
      if (metric == "wifv") m = var * w.pow(2).sum(0);
      else if (metric == "ifv") m = var;
      else m = (w.abs() * x.pow(2).sum(0).sqrt().view({1, -1})).mean(0);
      if (is_attention(sp.kind)) m = m.pow(2);
      auto z = (m - m.mean()) / m.std();
      auto unit = z.view({sp.units, sp.unit_width}).mean(1);
      EXPECT_LT(rel_diff(sc.channel[s], m), 1e-9) << sp.name();
      EXPECT_LT(rel_diff(sc.unit[s], unit), 1e-9) << sp.name() << "\n" << sc.unit[s] << "\n" << unit;
      EXPECT_LT(rel_diff(sc.mean[s], x.mean(0)), 1e-12) << sp.name();
      direct_unit.push_back(unit);
      // Discrimination: the same metric with padding rows counted is measurably different.
      if (metric == "wifv") {
        auto xa = all_rows(rec.units[s]);
        auto ma = xa.var(0, true) * w.pow(2).sum(0);
        if (is_attention(sp.kind)) ma = ma.pow(2);
        EXPECT_GT(rel_diff(ma, m), 1e-3) << "padding makes no difference in " << sp.name();
        if (is_attention(sp.kind)) {
          auto unsq = var * w.pow(2).sum(0);
          auto zu = ((unsq - unsq.mean()) / unsq.std()).view({sp.units, sp.unit_width}).mean(1);
          EXPECT_GT(rel_diff(zu, unit), 1e-3) << "squaring makes no difference in " << sp.name();
        }
      }
    }
    // Masks: the global greedy fill of these scores, unit order (not per FLOP).
    for (double keep : {0.6, 0.3}) {
      auto ctx = hp_test::prune_ctx(*model, tok, data, keep,
                                    {{"metric", metric}, {"batch_size", 5}, {"calib_samples", 0}});
      auto out = prune_flap(ctx);
      const Budget budget(specs, ctx.seq_len);
      auto want = greedy_fill(budget, direct_unit, keep);
      for (size_t s = 0; s < specs.size(); ++s)
        EXPECT_TRUE(torch::equal(out.masks[s], want[s])) << "keep " << keep << " " << specs[s].name()
                                                        << "\n" << out.masks[s] << "\n" << want[s];
      // The fill is global: within a family of equal unit costs, no removed unit outscores a
      // kept one, across sublayers.
      for (int fam = 0; fam < 2; ++fam) {
        double min_kept = 1e300, max_removed = -1e300;
        for (size_t s = 0; s < specs.size(); ++s) {
          if (is_attention(specs[s].kind) != (fam == 0)) continue;
          for (int64_t u = 0; u < specs[s].units; ++u) {
            const double v = direct_unit[s][u].item<double>();
            if (out.masks[s][u].item<float>() != 0) min_kept = std::min(min_kept, v);
            else max_removed = std::max(max_removed, v);
          }
        }
        EXPECT_GE(min_kept, max_removed) << "family " << fam << " keep " << keep;
      }
      if (metric == "wifv") {
        // Discrimination: a per-sublayer (uniform) fill of the same scores keeps another set.
        bool differs = false;
        for (size_t s = 0; s < specs.size(); ++s) {
          SublayerSpec one = specs[s];
          one.index = 0;
          auto uni = greedy_fill(Budget({one}, ctx.seq_len), {direct_unit[s]}, keep).sub[0];
          differs = differs || !torch::equal(uni, out.masks[s]);
        }
        EXPECT_TRUE(differs) << "the global fill equals the uniform one at keep " << keep;
      }
    }
  }
}

// =====================================================================================
// Bias compensation: on dense inputs, every pruned sublayer's mean output over the calibration
// tokens equals the dense sublayer's after compensation and not before; the returned tensors are
// exactly the output biases of the sublayers that lost units.
// Catches: compensating with the kept channels, with the mean over padded positions, a sign
// error, a bias replaced instead of shifted, and a compensation that is not returned.
// =====================================================================================
TEST(LlmFlap, BiasCompensationRestoresTheMeanOutput) {
  auto cfg = lb_cfg("classify", 2);
  auto dense = lb_model(cfg, 41, torch::kDouble, 0.2);
  TestTokenizer tok;
  auto data = lb_data(30, 42);
  auto ctx = hp_test::prune_ctx(*dense, tok, data, 0.5, {{"batch_size", 7}, {"calib_samples", 0}});
  auto out = prune_flap(ctx);
  auto calib = make_calib_set(data, tok, torch::kCPU, 7);
  const auto& specs = dense->sublayers();
  auto comp = clone_model(*dense, torch::kCPU);
  {
    TensorMap merged = dense->state();
    for (const auto& [k, v] : out.weights) {
      ASSERT_TRUE(merged.count(k)) << k;
      merged[k] = v;
    }
    comp->load_state(merged, "compensated");
    comp->eval();
  }
  std::set<std::string> expect_biases;
  int checked = 0;
  torch::NoGradGuard ng;
  for (size_t s = 0; s < specs.size(); ++s) {
    const auto& sp = specs[s];
    const int64_t kept = out.masks.kept(specs, s);
    if (kept == sp.units) continue;
    if (kept > 0 || sp.bias_survives_empty) expect_biases.insert(sp.out_bias);
    if (kept == 0) continue;
    // Mean over real tokens of the sublayer's output (before the residual add), on dense inputs.
    torch::Tensor sum_d, sum_m, sum_c;
    int64_t n = 0;
    for (const auto& cb : calib.batches) {
      ForwardState st = begin_stack(*dense, cb);
      for (size_t t = 0; t < s; ++t) apply_sublayer(*dense, static_cast<int>(t), st, nullptr, nullptr);
      auto run = [&](Model& m, const MaskSet* masks) {
        Recorder r;
        r.keep_outputs = true;
        ForwardState copy = st;
        apply_sublayer(m, static_cast<int>(s), copy, masks, &r);
        return r.outputs.at(s).index({cb.token_mask}).sum(0);
      };
      const MaskSet md = out.masks.to(torch::kCPU, torch::kDouble);
      auto d = run(*dense, nullptr), m = run(*dense, &md), c = run(*comp, &md);
      sum_d = sum_d.defined() ? sum_d + d : d;
      sum_m = sum_m.defined() ? sum_m + m : m;
      sum_c = sum_c.defined() ? sum_c + c : c;
      n += cb.n_tokens;
    }
    auto mean_d = sum_d / n, mean_m = sum_m / n, mean_c = sum_c / n;
    const double scale = mean_d.norm().item<double>() + 1.0;
    const double err_before = (mean_m - mean_d).norm().item<double>() / scale;
    const double err_after = (mean_c - mean_d).norm().item<double>() / scale;
    std::printf("flap %s: %lld of %lld units kept, mean output error %.3e -> %.3e\n",
                sp.name().c_str(), (long long)kept, (long long)sp.units, err_before, err_after);
    EXPECT_GT(err_before, 1e-3) << sp.name();
    EXPECT_LT(err_after, 1e-10) << sp.name();
    ++checked;
  }
  EXPECT_GT(checked, 0);
  std::set<std::string> got;
  for (const auto& [k, v] : out.weights) {
    got.insert(k);
    EXPECT_EQ(v.sizes(), dense->param(k).sizes()) << k;
    EXPECT_EQ(v.scalar_type(), dense->param(k).scalar_type()) << k;
  }
  EXPECT_EQ(got, expect_biases);
  // bias_compensation=0: same masks, no weights.
  auto ctx0 = hp_test::prune_ctx(*dense, tok, data, 0.5,
                                 {{"batch_size", 7}, {"calib_samples", 0}, {"bias_compensation", 0}});
  auto out0 = prune_flap(ctx0);
  EXPECT_TRUE(out0.weights.empty());
  for (size_t s = 0; s < specs.size(); ++s) EXPECT_TRUE(torch::equal(out0.masks[s], out.masks[s]));
}

// =====================================================================================
// Wanda-sp scores == |W_out|·‖x‖ written out, per-sublayer fills, sequential statistics.
// Catches: norms over padded positions, a sum instead of a mean over the output rows (a different
// value, not only a different scale), input projections ignored with inputs=1 (or K/V rows not
// shared per group), a global fill instead of the per-sublayer one, and dense statistics when the
// default sequential mode should measure each sublayer on the model pruned below it.
// =====================================================================================
TEST(LlmWandaSp, ScoresMasksAndSequentialStatistics) {
  auto cfg = lb_cfg("classify", 2);
  auto model = lb_model(cfg, 51, torch::kDouble, 0.1);
  TestTokenizer tok;
  auto data = lb_data(26, 52);
  auto calib = make_calib_set(data, tok, torch::kCPU, 6);
  const auto& specs = model->sublayers();
  const double T = data.mean_len();
  auto direct = [&](size_t s, const Recorded& rec, bool inputs) {
    const auto& sp = specs[s];
    auto x = real_rows(rec.units[s], calib);
    auto w = out_proj_weight(*model, sp).detach().to(torch::kDouble);
    auto sc = (w.abs() * x.pow(2).sum(0).sqrt().view({1, -1})).mean(0).view({sp.units, -1}).sum(1);
    if (!inputs) return sc;
    auto xin = real_rows(rec.inputs[s], calib).pow(2).sum(0).sqrt();  // [d]
    // BERT: query rows per head (+ that head's K and V rows: MHA has one head per group), FFN
    // up rows per neuron.
    std::vector<std::string> names;
    if (is_attention(sp.kind)) names = {"attention.self.query.weight", "attention.self.key.weight",
                                        "attention.self.value.weight"};
    else names = {"intermediate.dense.weight"};
    for (const auto& n : names) {
      auto wi = model->param(str("bert.encoder.layer.", sp.layer, ".", n)).detach();  // [units*w, d]
      sc = sc + (wi.abs() * xin.view({1, -1})).mean(1).view({sp.units, -1}).sum(1);
    }
    return sc;
  };
  auto per_sublayer_fill = [&](size_t s, const torch::Tensor& sc, double keep) {
    SublayerSpec one = specs[s];
    one.index = 0;
    return greedy_fill(Budget({one}, T), {sc}, keep).sub[0];
  };
  for (bool inputs : {false, true}) {
    SCOPED_TRACE(inputs ? "inputs=1" : "inputs=0");
    // Dense statistics (sequential=0).
    auto rec = record(*model, calib);
    for (size_t s = 0; s < specs.size(); ++s) {
      ChannelMoments mu, mi;
      for (size_t b = 0; b < calib.batches.size(); ++b) {
        mu.add(rec.units[s][b].index({calib.batches[b].token_mask}));
        mi.add(rec.inputs[s][b].index({calib.batches[b].token_mask}));
      }
      auto got = wanda_sp_scores(*model, static_cast<int>(s), mu, inputs ? &mi : nullptr);
      auto want = direct(s, rec, inputs);
      EXPECT_LT(rel_diff(got, want), 1e-10) << specs[s].name() << "\n" << got << "\n" << want;
      if (inputs) {
        EXPECT_GT(rel_diff(got, direct(s, rec, false)), 1e-2) << "inputs ignored";
      }
    }
    for (double keep : {0.6, 0.3}) {
      auto ctx = hp_test::prune_ctx(*model, tok, data, keep,
                                    {{"batch_size", 6}, {"calib_samples", 0}, {"sequential", 0},
                                     {"inputs", inputs}});
      auto out = prune_wanda_sp(ctx);
      for (size_t s = 0; s < specs.size(); ++s)
        EXPECT_TRUE(torch::equal(out.masks[s], per_sublayer_fill(s, direct(s, rec, inputs), keep)))
            << "dense statistics, keep " << keep << " " << specs[s].name();
      // Sequential (default): sublayer s is measured with the returned masks applied below it.
      ctx.params = {{"batch_size", 6}, {"calib_samples", 0}, {"inputs", inputs}};
      auto seq = prune_wanda_sp(ctx);
      bool differs_from_dense = false;
      for (size_t s = 0; s < specs.size(); ++s) {
        MaskSet below = MaskSet::ones(specs);
        for (size_t t = 0; t < s; ++t) below.sub[t] = seq.masks.sub[t];
        const MaskSet bd = below.to(torch::kCPU, torch::kDouble);
        auto rs = record(*model, calib, &bd);
        EXPECT_TRUE(torch::equal(seq.masks[s], per_sublayer_fill(s, direct(s, rs, inputs), keep)))
            << "sequential, keep " << keep << " " << specs[s].name();
        differs_from_dense = differs_from_dense || !torch::equal(seq.masks[s], out.masks[s]);
        // Uniform: each sublayer within keep of its own FLOPs.
        const Budget b(specs, T);
        EXPECT_LE(b.cost_of_sublayer(seq.masks, static_cast<int>(s)),
                  keep * b.per_sublayer()[s] * (1 + 1e-12));
      }
      if (keep == 0.3) {
        EXPECT_TRUE(differs_from_dense) << "sequential statistics equal dense ones";
      }
    }
  }
}

// =====================================================================================
// Block influence == 1 − mean cos over real tokens of the recorded streams, per sublayer and per
// layer; the last sublayer is measured against the stream handed to the head.
// Catches: cosine with the sublayer output instead of the stream leaving it, padding counted,
// a mean of per-sequence means, and a layer BI built from one of its sublayers only.
// =====================================================================================
TEST(LlmDepth, BlockInfluenceMatchesDirectComputation) {
  auto cfg = lb_cfg("classify", 3);
  auto model = lb_model(cfg, 61, torch::kDouble, 0.1);
  TestTokenizer tok;
  auto data = lb_data(21, 62);
  auto calib = make_calib_set(data, tok, torch::kCPU, 4);
  const auto& specs = model->sublayers();
  auto rec = record(*model, calib);
  auto stream_after = [&](int s) {  // per batch: the stream leaving sublayer s
    return s + 1 < static_cast<int>(specs.size()) ? rec.inputs[s + 1] : rec.final_stream;
  };
  auto bi_direct = [&](int first, int last, bool with_padding) {
    auto a = with_padding ? all_rows(rec.inputs[first]) : real_rows(rec.inputs[first], calib);
    auto b = with_padding ? all_rows(stream_after(last)) : real_rows(stream_after(last), calib);
    auto cos = (a * b).sum(1) / (a.norm(2, 1) * b.norm(2, 1));
    return 1.0 - cos.mean().item<double>();
  };
  const MaskSet ones = MaskSet::ones(specs);
  auto sub_blocks = depth_blocks(specs, false);
  ASSERT_EQ(sub_blocks.size(), specs.size());
  auto bi = block_influence(*model, calib, ones, sub_blocks);
  for (size_t i = 0; i < specs.size(); ++i) {
    const double want = bi_direct(static_cast<int>(i), static_cast<int>(i), false);
    EXPECT_NEAR(bi[i], want, 1e-12 + 1e-9 * want) << specs[i].name();
    EXPECT_GT(std::abs(bi_direct(static_cast<int>(i), static_cast<int>(i), true) - want), 1e-6)
        << "padding makes no difference";
    EXPECT_GT(bi[i], 1e-4) << specs[i].name();
  }
  auto layer_blocks = depth_blocks(specs, true);
  ASSERT_EQ(layer_blocks.size(), static_cast<size_t>(cfg.n_layer));
  auto bl = block_influence(*model, calib, ones, layer_blocks);
  for (int il = 0; il < cfg.n_layer; ++il) {
    const int a = hp_test::attn_of(specs, il), f = hp_test::ffn_of(specs, il);
    EXPECT_EQ(layer_blocks[il].members, (std::vector<int>{a, f}));
    const double want = bi_direct(a, f, false);
    EXPECT_NEAR(bl[il], want, 1e-12 + 1e-9 * want) << "layer " << il;
    EXPECT_GT(std::abs(bl[il] - bi[a]), 1e-6);
    EXPECT_GT(std::abs(bl[il] - bi[f]), 1e-6);
  }
  // Under masks: a removed sublayer is skipped by the forward the BI is measured on.
  MaskSet m = ones;
  m.sub[hp_test::ffn_of(specs, 0)] = torch::zeros({cfg.n_ff_dense});
  const MaskSet md = m.to(torch::kCPU, torch::kDouble);
  rec = record(*model, calib, &md);
  auto bm = block_influence(*model, calib, m, sub_blocks);
  const int a1 = hp_test::attn_of(specs, 1);
  EXPECT_NEAR(bm[a1], bi_direct(a1, a1, false), 1e-12);
  EXPECT_GT(std::abs(bm[a1] - bi[a1]), 1e-6);
}

// =====================================================================================
// A sublayer whose output projection and bias are zero leaves the (post-LN, unit-gain) stream
// unchanged: BI ≈ 0, so depth removes it first, in every mode, and removes nothing more than the
// budget needs.
// Catches: removing the highest BI first, a BI taken on the sublayer output, and a removal loop
// that overshoots (removes another sublayer although the budget already fits).
// =====================================================================================
TEST(LlmDepth, ZeroedSublayerIsRemovedFirst) {
  auto cfg = lb_cfg("classify", 2);
  TestTokenizer tok;
  auto data = lb_data(24, 72);
  for (const bool zero_ffn : {true, false}) {
    auto model = lb_model(cfg, 71, torch::kFloat32);
    const auto& specs = model->sublayers();
    const int z = zero_ffn ? hp_test::ffn_of(specs, 0) : hp_test::attn_of(specs, 1);
    {
      torch::NoGradGuard ng;
      out_proj_weight(*model, specs[z]).zero_();
      model->param(specs[z].out_bias).zero_();
    }
    const Budget budget(specs, data.mean_len());
    // Room for everything but half of sublayer z: exactly one removal is needed.
    const double keep = 1.0 - 0.5 * budget.per_sublayer()[z] / budget.total();
    for (const nlohmann::json& params : {nlohmann::json::object(), nlohmann::json{{"iterative", 1}}}) {
      SCOPED_TRACE(params.dump());
      auto ctx = hp_test::prune_ctx(*model, tok, data, keep, params);
      auto out = prune_depth(ctx);
      ASSERT_EQ(out.info["removed"].size(), 1u) << out.info.dump();
      EXPECT_EQ(out.info["removed"][0]["sublayers"][0].get<int>(), z);
      for (size_t s = 0; s < specs.size(); ++s) {
        if (static_cast<int>(s) == z) EXPECT_TRUE(mask_all_zero(out.masks[s]));
        else EXPECT_TRUE(out.masks[s].eq(1).all().item<bool>()) << specs[s].name();
      }
      const auto& scores = out.info["scores"];
      for (size_t s = 0; s < specs.size(); ++s) {
        const double b = scores[s]["score"].get<double>();
        if (static_cast<int>(s) == z) EXPECT_LT(b, 1e-6);
        else EXPECT_GT(b, 1e-3) << specs[s].name();
      }
    }
  }
}

// =====================================================================================
// criterion=loss (SLEB's score): each removal is the candidate whose removal gives the lowest
// calibration task loss, computed here with the model's forward and the task loss; iterative
// mode re-scores with the earlier removals applied, one-shot mode ranks once.
// Catches: the highest loss removed first, a loss measured without the candidate removed (or
// with the earlier removals forgotten in iterative mode), and one-shot mode re-scoring.
// =====================================================================================
TEST(LlmDepth, LossCriterionRemovesTheCheapestCandidate) {
  auto cfg = lb_cfg("classify", 3);
  TestTokenizer tok;
  auto data = lb_data(20, 76);
  auto calib = make_calib_set(data, tok, torch::kCPU, 32);
  const auto specs = sublayers_of(cfg);
  // Greedy by loss, written out: at each step the sublayer whose removal (with the earlier ones)
  // gives the lowest loss; one-shot: the order of single removals.
  auto pick_order = [&](Model& model, bool iterative, int steps) {
    auto loss_with = [&](const MaskSet& m) {
      torch::NoGradGuard ng;
      const MaskSet md = m.to(torch::kCPU, torch::kDouble);
      double sum = 0;
      int64_t n = 0;
      for (const auto& cb : calib.batches) {
        sum += task_loss_of(calib.task, calib_logits(model, cb, &md), cb).item<double>() * cb.n_items;
        n += cb.n_items;
      }
      return sum / n;
    };
    std::vector<int> order;
    MaskSet m = MaskSet::ones(specs);
    for (int k = 0; k < steps; ++k) {
      int best = -1;
      double bl = 0;
      for (size_t s = 0; s < specs.size(); ++s) {
        if (std::find(order.begin(), order.end(), static_cast<int>(s)) != order.end()) continue;
        MaskSet t = m;
        t.sub[s] = torch::zeros({specs[s].units});
        const double l = loss_with(t);
        if (best < 0 || l < bl) best = static_cast<int>(s), bl = l;
      }
      order.push_back(best);
      if (iterative) m.sub[best] = torch::zeros({specs[best].units});
    }
    return order;
  };
  // A model on which the two orders differ, so the check tells the modes apart.
  std::shared_ptr<Model> model;
  for (uint64_t seed = 75; seed < 95 && !model; ++seed) {
    auto m = lb_model(cfg, seed, torch::kDouble, 0.1);
    if (pick_order(*m, false, 3) != pick_order(*m, true, 3)) model = m;
  }
  ASSERT_TRUE(model) << "no seed gives different one-shot and iterative orders";
  for (int iterative : {0, 1}) {
    auto ctx = hp_test::prune_ctx(*model, tok, data, 0.3,
                                  {{"criterion", "loss"}, {"iterative", iterative}, {"calib_samples", 0}});
    auto out = prune_depth(ctx);
    std::vector<int> got;
    for (const auto& r : out.info["removed"]) got.push_back(r["sublayers"][0].get<int>());
    ASSERT_GE(got.size(), 3u);
    EXPECT_EQ(got, pick_order(*model, iterative, static_cast<int>(got.size()))) << "iterative " << iterative;
  }
}

// =====================================================================================
// Layer granularity: blocks are found by (stack, layer) from the specs, never by position; the
// removed blocks lose all their sublayers together.
// Catches: pairing sublayers 2i and 2i+1, ignoring the stack, dropping a block whose member is
// absent, and accepting a block that is not consecutive in its stack.
// =====================================================================================
TEST(LlmDepth, LayerGranularityRemovesWholeBlocks) {
  auto hs = [](int i, SublayerKind k, Stack st, int layer, int64_t units) {
    return make_spec(i, k, st, layer, NormPlace::PreLN, units, is_attention(k) ? units : 0, 16,
                     is_attention(k) ? 4 : 1);
  };
  using K = SublayerKind;
  const Stack E = Stack::Encoder, D = Stack::Decoder;
  // Encoder-decoder list: the decoder layers have three sublayers, and layer 0 of both stacks.
  std::vector<SublayerSpec> ed = {hs(0, K::SelfAttn, E, 0, 4),   hs(1, K::Ffn, E, 0, 8),
                                  hs(2, K::SelfAttn, E, 1, 4),   hs(3, K::Ffn, E, 1, 0),
                                  hs(4, K::CausalAttn, D, 0, 4), hs(5, K::CrossAttn, D, 0, 4),
                                  hs(6, K::Ffn, D, 0, 8),        hs(7, K::CausalAttn, D, 1, 0),
                                  hs(8, K::CrossAttn, D, 1, 0),  hs(9, K::Ffn, D, 1, 0)};
  auto blocks = depth_blocks(ed, true);
  ASSERT_EQ(blocks.size(), 3u);  // decoder layer 1 has no present sublayer
  EXPECT_EQ(blocks[0].members, (std::vector<int>{0, 1}));
  EXPECT_EQ(blocks[1].members, (std::vector<int>{2, 3}));  // the absent FFN stays in the span
  EXPECT_EQ(blocks[2].members, (std::vector<int>{4, 5, 6}));
  EXPECT_EQ(blocks[2].stack, D);
  EXPECT_EQ(depth_blocks(ed, false).size(), 6u);  // present sublayers
  // Attention sublayers of every layer first, then the FFNs: blocks are not consecutive.
  std::vector<SublayerSpec> split = {hs(0, K::SelfAttn, E, 0, 4), hs(1, K::SelfAttn, E, 1, 4),
                                     hs(2, K::Ffn, E, 0, 8), hs(3, K::Ffn, E, 1, 8)};
  try {
    depth_blocks(split, true);
    ADD_FAILURE() << "non-consecutive block accepted";
  } catch (const hp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("consecutive"), std::string::npos) << e.what();
  }

  // On a model: every sublayer is either kept dense or removed with its layer partner.
  auto cfg = lb_cfg("classify", 3);
  TestTokenizer tok;
  auto data = lb_data(24, 81);
  for (double keep : {0.6, 0.3}) {
    for (int iterative : {0, 1}) {
      auto r = run_method("depth", cfg, data, tok, keep, {{"granularity", "layer"}, {"iterative", iterative}});
      const auto specs = sublayers_of(cfg);
      int removed_layers = 0;
      for (int il = 0; il < cfg.n_layer; ++il) {
        const int a = hp_test::attn_of(specs, il), f = hp_test::ffn_of(specs, il);
        const bool ra = mask_all_zero(r.out.masks[a]), rf = mask_all_zero(r.out.masks[f]);
        EXPECT_EQ(ra, rf) << "layer " << il << " split at keep " << keep;
        if (!ra) {
          EXPECT_TRUE(r.out.masks[a].eq(1).all().item<bool>() && r.out.masks[f].eq(1).all().item<bool>());
        }
        removed_layers += ra;
        EXPECT_EQ(r.pruned.layers[il].n_head == 0, ra);
        EXPECT_EQ(r.pruned.layers[il].n_ff == 0, rf);
      }
      EXPECT_GE(removed_layers, 1);
      EXPECT_EQ(r.out.info["removed"].size(), static_cast<size_t>(removed_layers));
    }
  }
}

// =====================================================================================
// Budgets met on the surviving shapes after surgery, determinism, the caller's model untouched,
// for every method and a few of their options, on classification and masked-LM data.
// Catches: a method over budget, one that leaves budget unused by more than its granularity
// (unit methods) or removes a block more than needed (depth), and run-to-run differences.
// =====================================================================================
TEST(LlmBaselines, MeetBudgetAndDeterministic) {
  TestTokenizer tok;
  const std::vector<std::pair<std::string, nlohmann::json>> runs = {
      {"flap", nlohmann::json::object()},
      {"flap", {{"metric", "wifn"}}},
      {"flap", {{"metric", "ifv"}, {"bias_compensation", 0}}},
      {"wanda-sp", nlohmann::json::object()},
      {"wanda-sp", {{"inputs", 1}, {"sequential", 0}}},
      {"depth", nlohmann::json::object()},
      {"depth", {{"granularity", "layer"}}},
      {"depth", {{"iterative", 1}, {"criterion", "loss"}}},
  };
  for (const std::string task : {"classify", "mlm"}) {
    auto cfg = lb_cfg(task, 3);
    auto data = lb_data(40, 91, task);
    const double T = data.mean_len();
    for (const auto& [name, params] : runs) {
      for (double keep : {0.6, 0.3}) {
        SCOPED_TRACE(task + " " + name + " " + params.dump() + " keep " + std::to_string(keep));
        auto a = run_method(name, cfg, data, tok, keep, params);
        auto b = run_method(name, cfg, data, tok, keep, params);
        const double ratio = Budget(a.pruned, T).total() / dense_flops(cfg, T);
        std::printf("%s/%s %s keep %.2f: kept_flops_ratio %.4f (%lld heads, %lld neurons)\n",
                    task.c_str(), name.c_str(), params.dump().c_str(), keep, ratio,
                    (long long)a.pruned.total_heads(), (long long)a.pruned.total_neurons());
        EXPECT_LE(ratio, keep + 1e-9);
        const auto specs = sublayers_of(cfg);
        const Budget budget(specs, T);
        if (name == "depth") {
          // The last removal was needed: putting its block back exceeds the budget.
          ASSERT_GT(a.out.info["removed"].size(), 0u);
          MaskSet back = a.out.masks;
          for (const auto& s : a.out.info["removed"].back()["sublayers"])
            back.sub[s.get<int>()] = torch::ones({specs[s.get<int>()].units});
          EXPECT_GT(budget.cost(back), budget.target(keep));
        } else {
          EXPECT_GT(ratio, keep - 0.15);
        }
        EXPECT_NEAR(budget.cost(a.out.masks.binarized()) / budget.total(), ratio, 1e-9);
        for (size_t s = 0; s < a.out.masks.size(); ++s)
          EXPECT_TRUE(torch::equal(a.out.masks[s], b.out.masks[s])) << "sublayer " << s;
        ASSERT_EQ(a.out.weights.size(), b.out.weights.size());
        for (const auto& [k, v] : a.out.weights) EXPECT_TRUE(torch::equal(v, b.out.weights.at(k))) << k;
        if (name != "flap" || params.contains("bias_compensation")) EXPECT_TRUE(a.out.weights.empty());
        else EXPECT_FALSE(a.out.weights.empty());
      }
    }
  }
}

// keep_flops = 1 keeps every unit and changes no weight.
TEST(LlmBaselines, FullBudgetKeepsEverything) {
  TestTokenizer tok;
  auto cfg = lb_cfg();
  auto data = lb_data(20, 95);
  for (const std::string name : {"flap", "wanda-sp", "depth"}) {
    auto r = run_method(name, cfg, data, tok, 1.0, nlohmann::json::object());
    for (const auto& t : r.out.masks.sub) EXPECT_TRUE(t.eq(1).all().item<bool>()) << name;
    EXPECT_TRUE(r.out.weights.empty()) << name;
  }
}

// =====================================================================================
// A pre-norm decoder with grouped-query attention and no FFN output bias.
// Catches: flap silently skipping (or inventing) a missing bias, wanda-sp inputs=1 scoring a
// pre-norm sublayer on the un-normalised stream, and any method that assumes BERT's layout (the
// toy's sublayers are decoder-stack, causal, fused nowhere but grouped).
// =====================================================================================
TEST(LlmBaselines, PreNormDecoderWithGqaAndNoFfnBias) {
  auto model = toy_model(5);
  const auto& specs = model->sublayers();
  ASSERT_EQ(specs[0].group_size(), 4);
  TestTokenizer tok;
  auto data = lb_data(24, 96);
  const TensorMap before = hp_test::snapshot(*model);
  auto run = [&](const std::string& name, double keep, nlohmann::json params) {
    auto ctx = hp_test::prune_ctx(*model, tok, data, keep, std::move(params));
    return prune_methods().at(name).fn(ctx);
  };
  try {
    run("flap", 0.5, nlohmann::json::object());
    ADD_FAILURE() << "flap compensated into a bias that does not exist";
  } catch (const hp::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bias_compensation=0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("ffn"), std::string::npos) << msg;
  }
  try {
    run("wanda-sp", 0.5, {{"inputs", 1}});
    ADD_FAILURE() << "wanda-sp inputs=1 accepted a pre-norm sublayer";
  } catch (const hp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("inputs=0"), std::string::npos) << e.what();
  }
  const Budget budget(specs, data.mean_len());
  for (double keep : {0.6, 0.3}) {
    for (const auto& [name, params] : std::vector<std::pair<std::string, nlohmann::json>>{
             {"flap", {{"bias_compensation", 0}}},
             {"wanda-sp", nlohmann::json::object()},
             {"depth", nlohmann::json::object()},
             {"depth", {{"granularity", "layer"}, {"iterative", 1}}}}) {
      SCOPED_TRACE(name + " " + params.dump() + " keep " + std::to_string(keep));
      auto out = run(name, keep, params);
      out.masks.check_against(specs);
      EXPECT_LE(budget.cost(out.masks), budget.target(keep));
      if (keep > 0.5) {
        EXPECT_GT(budget.cost(out.masks), 0.0);
      }
      EXPECT_TRUE(out.weights.empty());
      if (params.value("granularity", "") == "layer")
        for (int il = 0; il < 3; ++il) {
          const int a = hp_test::sub_index(specs, SublayerKind::CausalAttn, il, Stack::Decoder);
          const int f = hp_test::sub_index(specs, SublayerKind::Ffn, il, Stack::Decoder);
          EXPECT_EQ(mask_all_zero(out.masks[a]), mask_all_zero(out.masks[f])) << "layer " << il;
        }
    }
  }
  for (const auto& [k, v] : model->state()) EXPECT_TRUE(torch::equal(v, before.at(k))) << k;
}

// =====================================================================================
// Strict parameters: unknown keys rejected with the valid keys and their defaults, bad values
// rejected naming the key.
// =====================================================================================
TEST(LlmBaselines, ParamsTyposRejected) {
  auto cfg = lb_cfg();
  TestTokenizer tok;
  auto data = lb_data(12, 97);
  auto model = lb_model(cfg, 98);
  const std::map<std::string, std::vector<std::string>> expect = {
      {"flap", {"metric=wifv", "bias_compensation=1", "calib_samples=1024", "batch_size=32"}},
      {"wanda-sp", {"calib_samples=128", "batch_size=32", "sequential=1", "inputs=0"}},
      {"depth", {"granularity=sublayer", "iterative=0", "criterion=bi", "calib_samples=128",
                 "batch_size=32"}},
  };
  for (const auto& [name, keys] : expect) {
    SCOPED_TRACE(name);
    for (const char* typo : {"bogus_key", "bias_compenstion", "granulariy"}) {
      auto ctx = hp_test::prune_ctx(*model, tok, data, 0.5, {{typo, 1}});
      try {
        prune_methods().at(name).fn(ctx);
        ADD_FAILURE() << name << " accepted " << typo;
      } catch (const hp::Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find(typo), std::string::npos) << msg;
        EXPECT_NE(msg.find(name), std::string::npos) << msg;
        for (const auto& k : keys) EXPECT_NE(msg.find(k), std::string::npos) << "'" << k << "' missing: " << msg;
      }
    }
  }
  const std::vector<std::pair<std::string, nlohmann::json>> bad = {
      {"flap", {{"metric", "wfiv"}}},        {"flap", {{"bias_compensation", 2}}},
      {"wanda-sp", {{"sequential", "yes"}}}, {"depth", {{"granularity", "block"}}},
      {"depth", {{"criterion", "ppl"}}},     {"depth", {{"calib_samples", -1}}}};
  for (const auto& [name, params] : bad) {
    auto ctx = hp_test::prune_ctx(*model, tok, data, 0.5, params);
    const std::string key = params.begin().key();
    try {
      prune_methods().at(name).fn(ctx);
      ADD_FAILURE() << name << " accepted " << params.dump();
    } catch (const hp::Error& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
  // keep_flops validated by every method.
  for (const std::string name : {"flap", "wanda-sp", "depth"}) {
    auto ctx = hp_test::prune_ctx(*model, tok, data, 1.5, nlohmann::json::object());
    EXPECT_THROW(prune_methods().at(name).fn(ctx), hp::Error) << name;
  }
}

// =====================================================================================
// Every registered architecture (and each of its tasks): the statistics and scores the three
// methods are built on run through the sublayer contract alone, with padded batches, and give
// finite values of the right sizes; the FLAP fill meets the budget. Calibration batches are built
// here (token ids and a padding mask), so tasks without calibration support are covered too.
// Catches: code that assumes BERT's layout, post-LN, one K/V group per head or an output bias.
// =====================================================================================
TEST(LlmBaselines, ScoresRunOnEveryArchitecture) {
  for (const auto& arch : architectures()) {
    for (const auto& task : arch.tasks) {
      SCOPED_TRACE(arch.name + "/" + task);
      ModelConfig cfg = arch.tiny(task);
      std::printf("llm baselines on %s/%s\n", arch.name.c_str(), task.c_str());
      torch::manual_seed(3);
      auto model = make_model(cfg);
      model->eval();
      CalibSet calib;
      calib.task = task;
      for (int b = 0; b < 2; ++b) {
        CalibBatch cb;
        const int64_t B = 3, T = 9;
        cb.in.input_ids = torch::randint(5, cfg.vocab_size, {B, T}, torch::kLong);
        auto am = torch::ones({B, T}, torch::kLong);
        am.index_put_({1, torch::indexing::Slice(6, torch::indexing::None)}, 0);  // right padding
        am.index_put_({2, torch::indexing::Slice(4 + b, torch::indexing::None)}, 0);
        cb.in.attention_mask = am;
        cb.token_mask = am.to(torch::kBool);
        cb.n_seq = B;
        cb.n_tokens = am.sum().item<int64_t>();
        calib.n_seq += cb.n_seq;
        calib.n_tokens += cb.n_tokens;
        calib.batches.push_back(cb);
      }
      const auto& specs = model->sublayers();
      for (const std::string metric : {"wifv", "ifv", "wifn"}) {
        auto sc = flap_scores(*model, calib, metric);
        ASSERT_EQ(sc.unit.size(), specs.size());
        for (size_t s = 0; s < specs.size(); ++s) {
          EXPECT_EQ(sc.unit[s].numel(), specs[s].units) << specs[s].name();
          EXPECT_EQ(sc.mean[s].numel(), specs[s].units * specs[s].unit_width) << specs[s].name();
          EXPECT_TRUE(torch::isfinite(sc.unit[s]).all().item<bool>()) << specs[s].name();
        }
        const Budget budget(specs, 7.0);
        auto m = keep_best_under_budget(budget, sc.unit, 0.5, false);
        EXPECT_LE(budget.cost(m), budget.target(0.5));
        EXPECT_GT(budget.cost(m), 0.3 * budget.total());
      }
      ChannelStatsProbe probe;
      collect_channel_stats(*model, calib, nullptr, probe);
      for (int s = 0; s < model->n_sublayers(); ++s) {
        if (!specs[s].present()) continue;
        ASSERT_EQ(probe.unit_stats.at(s).count, calib.n_tokens) << specs[s].name();
        auto w = wanda_sp_scores(*model, s, probe.unit_stats[s]);
        EXPECT_EQ(w.numel(), specs[s].units);
        EXPECT_TRUE(torch::isfinite(w).all().item<bool>() && (w > 0).all().item<bool>());
      }
      for (bool layers : {false, true}) {
        auto blocks = depth_blocks(specs, layers);
        ASSERT_FALSE(blocks.empty());
        auto bi = block_influence(*model, calib, MaskSet::ones(specs), blocks);
        for (double v : bi) {
          EXPECT_TRUE(std::isfinite(v));
          EXPECT_GE(v, -1e-9);
          EXPECT_LE(v, 2.0);
        }
      }
    }
  }
}
