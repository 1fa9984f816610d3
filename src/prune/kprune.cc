// Kprune (reference: snudm-starlab/K-prune, src/prune.py). Differences from the reference, all
// deliberate:
//  - the threshold search includes τ = -inf and uses "fits" (≤ remaining budget) rather than
//    "strictly below", so keep_flops = 1 keeps every unit (the reference always drops the lowest);
//  - scoring restarts from the cached residual stream at the current sublayer (the lower
//    sublayers are final by then), which gives the same scores as the reference's full forward
//    at about half the cost;
//  - dense targets are recomputed from a cached dense residual stream one sublayer at a time
//    instead of being stored for all 2L sublayers (same values, 1/2L of the memory);
//  - a sublayer is only re-fitted once something at or below it was pruned: before that, the
//    student equals the dense model and the fit would return the same weights up to rounding;
//  - the masked-LM predictive term uses the rows the task predicts (masked tokens) as the KL's
//    batch, and divides by sequences as the reference does for GLUE/SQuAD.
#include "prune/kprune.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <optional>

#include "core/check.h"
#include "core/log.h"
#include "eval/flops.h"
#include "score/knowledge.h"
#include "score/lstsq.h"

namespace hp {

namespace {

constexpr double kBudgetSlack = 1e-10;  // relative; absorbs rounding in FLOPs sums only

// Independent copy of a model (same config, dtype, device, weights), built without disturbing
// the global RNG that make_model's random init draws from.
std::shared_ptr<Model> clone_model(const Model& src, torch::Device device) {
  at::Generator gen = at::detail::getDefaultCPUGenerator();  // a handle to the global one
  torch::Tensor rng_state;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    rng_state = gen.get_state();
  }
  auto m = make_model(src.config());
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(rng_state);
  }
  m->to(device, model_dtype(src));
  m->load_state(src.state(), "kprune student copy");
  m->eval();
  for (auto& p : m->parameters()) p.requires_grad_(false);
  return m;
}

std::string out_proj_name(const Model& m, int s) {
  auto nm = m.names(s / 2);
  return s % 2 ? nm.w_down : nm.wo;
}

}  // namespace

torch::Tensor kprune_search_step(const ModelConfig& cfg, int s,
                                 const std::vector<torch::Tensor>& head_scores,
                                 const std::vector<torch::Tensor>& neuron_scores, double fh,
                                 double fn, double remaining) {
  struct U {
    double score, cost;
    bool current;
    int idx;
  };
  std::vector<U> pool;
  for (int t = s; t < n_sublayers(cfg); ++t) {
    const int il = t / 2;
    const int64_t n = sublayer_units(cfg, t);
    if (n == 0) continue;
    auto sc = (t % 2 ? neuron_scores : head_scores).at(il).to(torch::kCPU, torch::kDouble)
                  .contiguous();
    HP_CHECK(sc.numel() == n, "kprune search: sublayer ", t, " has ", n, " units but ",
             sc.numel(), " scores");
    HP_CHECK(torch::isfinite(sc).all().item<bool>(), "kprune search: non-finite scores in "
             "sublayer ", t);
    for (int64_t j = 0; j < n; ++j)
      pool.push_back({sc.data_ptr<double>()[j], t % 2 ? fn : fh, t == s, static_cast<int>(j)});
  }
  std::stable_sort(pool.begin(), pool.end(), [](const U& a, const U& b) { return a.score > b.score; });
  // Keeping the top i units corresponds to a threshold τ = score[i] (τ = -inf for i = n) only at
  // tie boundaries; take the largest such i whose cost fits.
  std::vector<double> cost(pool.size() + 1, 0);
  for (size_t i = 0; i < pool.size(); ++i) cost[i + 1] = cost[i] + pool[i].cost;
  size_t keep_top = 0;
  for (size_t i = pool.size() + 1; i-- > 0;) {
    const bool boundary = i == pool.size() || i == 0 || pool[i - 1].score > pool[i].score;
    if (boundary && cost[i] <= remaining) {
      keep_top = i;
      break;
    }
  }
  auto keep = torch::zeros({sublayer_units(cfg, s)}, torch::kFloat32);
  for (size_t i = 0; i < keep_top; ++i)
    if (pool[i].current) keep[pool[i].idx] = 1;
  return keep;
}

KpruneTuneResult kprune_tune_sublayer(Model& student, const CalibSet& calib, int s,
                                      const MaskSet& masks, StreamCache& teacher,
                                      const StreamCache& stream) {
  const auto& cfg = student.config();
  HP_CHECK(teacher.position() == s && stream.position() == s, "kprune tuning of sublayer ", s,
           ": streams are at ", teacher.position(), " (teacher) and ", stream.position(),
           " (student)");
  masks.check_against(cfg);
  torch::NoGradGuard ng;
  const int il = s / 2;
  const bool ffn = s % 2;
  const auto& m = ffn ? masks.layers[il].neuron : masks.layers[il].head;
  auto kept = m.defined() ? m.detach().cpu().ne(0).nonzero().view(-1)
                          : torch::arange(sublayer_units(cfg, s));  // [k]
  KpruneTuneResult res;
  if (kept.numel() == 0 || calib.batches.empty()) {
    teacher.advance(student, calib, nullptr);
    return res;
  }
  const int64_t w = ffn ? 1 : cfg.d_head;
  auto cols = (kept.view({-1, 1}) * w + torch::arange(w).view({1, -1})).view(-1);  // [k*w]
  auto nm = student.names(il);
  auto wout = model_param(student, ffn ? nm.w_down : nm.wo);  // [d, n*w]
  const std::string bname = ffn ? nm.b_down : nm.bo;
  torch::Tensor bias;
  if (!bname.empty()) bias = model_param(student, bname).detach();  // [d]
  const auto dev = calib.batches[0].in.input_ids.device();
  const MaskSet mdev = masks.to(dev, model_dtype(student));
  auto cols_dev = cols.to(dev);
  NormalEquations ne;
  for (size_t b = 0; b < calib.batches.size(); ++b) {
    const auto& cb = calib.batches[b];
    auto st = begin_stack(student, cb);
    auto xt = teacher.get(b, dev), xs = stream.get(b, dev);  // [B, T, d]
    auto pair = teacher_student_sublayer(student, s, xt, xs, st.ctx, nullptr, &mdev, bias);
    teacher.set(b, pair.teacher_next);
    auto x = pair.units.index({cb.token_mask}).index_select(1, cols_dev);  // [N, k*w]
    ne.add(x, pair.target.index({cb.token_mask}));                         // R: [N, d]
  }
  teacher.step();
  res.rows = ne.rows;
  auto w0 = wout.detach().index_select(1, cols_dev).t();  // [k*w, d]
  res.err_before = ne.error(w0);
  auto wn = solve_weights(ne);  // [k*w, d]
  if (wn.defined()) {
    res.solved = true;
    res.err_after = ne.error(wn);
    wout.index_copy_(1, cols_dev, wn.t().to(wout.options()));
  }
  return res;
}

PruneOutput prune_kprune(PruneContext& ctx) {
  HP_CHECK(ctx.calib && ctx.tok, "kprune needs calibration data and a tokenizer");
  HP_CHECK(ctx.keep_flops > 0 && ctx.keep_flops <= 1, "kprune: keep_flops must be in (0, 1], got ",
           ctx.keep_flops);
  Timer timer;
  const auto& cfg = ctx.model.config();
  const auto& p = ctx.params;
  const double lam_pred = param_number(p, "lambda_pred", 1.0);
  const double lam_rep = param_number(p, "lambda_rep", 2.5e-4);
  const double mu = param_number(p, "mu", 64.0);
  const double temp = param_number(p, "temperature", 2.0);
  const bool tune = param_number(p, "tune", 1) != 0;
  const int batch = static_cast<int>(param_number(p, "batch_size", 32));

  // The student is a deep copy: its weights change step by step while ctx.model stays the dense
  // reference until the end.
  auto student = clone_model(ctx.model, ctx.device);
  CalibSet calib = make_calib_set(*ctx.calib, *ctx.tok, ctx.device, batch, 0, ctx.seed);
  auto teacher_logits = teacher_outputs(*student, calib);  // dense predictions, CPU
  const auto dtype = model_dtype(*student);

  StreamCache ss, ts;  // student / dense residual streams at the current sublayer
  ss.init(*student, calib);
  if (tune) ts.init(*student, calib);

  const double fh = flops_per_head(cfg, ctx.seq_len), fn = flops_per_neuron(cfg, ctx.seq_len);
  const double budget = ctx.keep_flops * count_flops(cfg, ctx.seq_len).total() * (1 + kBudgetSlack);
  int64_t kept_heads = 0, kept_neurons = 0;  // in decided sublayers
  bool pruned_any = false;
  MaskSet masks = MaskSet::ones(cfg);
  std::vector<int> tuned;
  nlohmann::json steps = nlohmann::json::array();
  std::optional<Progress> bar;
  if (ctx.progress) bar.emplace("kprune", n_sublayers(cfg));
  for (int s = 0; s < n_sublayers(cfg); ++s) {
    const int il = s / 2;
    const bool ffn = s % 2;
    const int64_t n = sublayer_units(cfg, s);
    if (n > 0) {
      Knowledge k = measure_knowledge(*student, calib, ss, teacher_logits, temp, "");
      std::vector<torch::Tensor> hs(cfg.n_layer), ns(cfg.n_layer);
      for (int l = 0; l < cfg.n_layer; ++l) {
        hs[l] = mu * (lam_rep * k.head_rep[l] + lam_pred * k.head_pred[l]) / fh;
        ns[l] = (lam_rep * k.neuron_rep[l] + lam_pred * k.neuron_pred[l]) / fn;
      }
      const double remaining = budget - (kept_heads * fh + kept_neurons * fn);
      auto keep = kprune_search_step(cfg, s, hs, ns, fh, fn, remaining);  // [n] 0/1
      const int64_t kept = keep.sum().item<int64_t>();
      (ffn ? masks.layers[il].neuron : masks.layers[il].head) = keep;
      (ffn ? kept_neurons : kept_heads) += kept;
      pruned_any = pruned_any || kept < n;
      nlohmann::json step = {{"sublayer", s}, {"kind", ffn ? "ffn" : "attn"}, {"layer", il},
                             {"kept", kept}, {"units", n}};
      if (tune && kept > 0 && pruned_any) {
        auto r = kprune_tune_sublayer(*student, calib, s, masks, ts, ss);
        step["err_before"] = r.err_before;
        if (r.solved) {
          step["err_after"] = r.err_after;
          tuned.push_back(s);
        }
      } else if (tune) {
        ts.advance(*student, calib, nullptr);  // dense sublayer s (its weights are untouched)
      }
      steps.push_back(step);
    } else if (tune) {
      ts.advance(*student, calib, nullptr);
    }
    const MaskSet mdev = masks.to(ctx.device, dtype);
    ss.advance(*student, calib, &mdev);  // the decided, tuned sublayer s
    if (bar) bar->step(1);
  }
  if (bar) bar->finish();

  // ctx.model belongs to the prune command, which hands it to surgery right after this returns:
  // writing the tuned output projections into it is how the new weights reach the pruned model.
  {
    torch::NoGradGuard ng;
    for (int s : tuned) {
      const auto name = out_proj_name(ctx.model, s);
      model_param(ctx.model, name).copy_(model_param(*student, name));
    }
  }
  nlohmann::json info = {{"calib_samples", calib.n_seq},
                         {"calib_tokens", calib.n_tokens},
                         {"lambda_pred", lam_pred},
                         {"lambda_rep", lam_rep},
                         {"mu", mu},
                         {"temperature", temp},
                         {"tuned_sublayers", tuned.size()},
                         {"steps", steps},
                         {"seconds", timer.seconds()}};
  return {masks, info};
}

}  // namespace hp
