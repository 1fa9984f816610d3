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
// --uniform (not in the reference): the search is replaced by uniform_counts fixed up front; at
// sublayer s the best counts[s] units by the same scores are kept, and the tuning is unchanged.
#include "prune/kprune.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "core/check.h"
#include "core/log.h"
#include "score/knowledge.h"
#include "score/lstsq.h"

namespace hp {

namespace {


}  // namespace

torch::Tensor kprune_search_step(const Budget& budget, int s, const std::vector<torch::Tensor>& scores,
                                 double remaining) {
  const auto& specs = budget.sublayers();
  HP_CHECK(scores.size() == specs.size(), "kprune search: ", scores.size(), " score tensors for ",
           specs.size(), " sublayers");
  struct U {
    double score, cost;
    bool current;
    int idx;  // unit, or bundle rank in a sublayer of query heads inside groups
  };
  std::vector<U> pool;
  GroupBundles current;  // sublayer s's bundles when its units are query heads inside groups
  for (int t = s; t < static_cast<int>(specs.size()); ++t) {
    const int64_t n = specs[t].units;
    if (n == 0) continue;
    auto sc = scores[t].to(torch::kCPU, torch::kDouble).contiguous();
    HP_CHECK(sc.numel() == n, "kprune search: sublayer ", t, " has ", n, " units but ",
             sc.numel(), " scores");
    HP_CHECK(torch::isfinite(sc).all().item<bool>(), "kprune search: non-finite scores in "
             "sublayer ", t);
    if (selection_step(specs[t]) > 1) {
      // Bundles (one query head per group) at their exact marginal cost: the first one brings
      // every group's K/V projections; they enter the pool in rank order.
      auto b = group_bundles(specs[t], sc);
      const double G = static_cast<double>(specs[t].groups);
      for (size_t r = 0; r < b.mean.size(); ++r)
        pool.push_back({b.mean[r], G * budget.unit_cost(t) + (r == 0 ? G * budget.group_cost(t) : 0.0),
                        t == s, static_cast<int>(r)});
      if (t == s) current = std::move(b);
      continue;
    }
    const double cost = budget.amortized_cost(t);
    for (int64_t j = 0; j < n; ++j)
      pool.push_back({sc.data_ptr<double>()[j], cost, t == s, static_cast<int>(j)});
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
  auto keep = torch::zeros({specs.at(s).units}, torch::kFloat32);
  for (size_t i = 0; i < keep_top; ++i) {
    if (!pool[i].current) continue;
    if (current.members.empty()) keep[pool[i].idx] = 1;
    else
      for (int64_t u : current.members[pool[i].idx]) keep[u] = 1;
  }
  return keep;
}

KpruneTuneResult kprune_tune_sublayer(Model& student, const CalibSet& calib, int s,
                                      const MaskSet& masks, StreamCache& teacher,
                                      const StreamCache& stream) {
  const auto& sp = student.sublayers().at(s);
  HP_CHECK(teacher.position() == s && stream.position() == s, "kprune tuning of sublayer ", s,
           ": streams are at ", teacher.position(), " (teacher) and ", stream.position(),
           " (student)");
  masks.check_against(student.sublayers());
  torch::NoGradGuard ng;
  const auto keep = kept_indices(masks.sub[s], sp.units);
  auto kept = torch::tensor(keep, torch::kInt64);  // [k]
  KpruneTuneResult res;
  if (keep.empty() || calib.batches.empty()) {
    teacher.advance(student, calib, nullptr);
    return res;
  }
  const int64_t w = sp.unit_width;
  auto cols = (kept.view({-1, 1}) * w + torch::arange(w).view({1, -1})).view(-1);  // [k*w]
  auto wout = out_proj_weight(student, sp);  // [d, n*w], a view of the student's parameter
  torch::Tensor bias;
  if (!sp.out_bias.empty()) bias = student.param(sp.out_bias).detach();  // [d]
  const auto dev = calib.batches[0].in.input_ids.device();
  const MaskSet mdev = masks.to(dev, model_dtype(student));
  auto cols_dev = cols.to(dev);
  NormalEquations ne;
  for (size_t b = 0; b < calib.batches.size(); ++b) {
    const auto& cb = calib.batches[b];
    auto ts = teacher.get(student, calib, b);
    auto ss = stream.with_streams(ts, b);
    auto pair = teacher_student_sublayer(student, s, ts, ss, nullptr, &mdev, bias);
    teacher.set(b, ts);
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

PruneOutput prune_kprune(const PruneContext& ctx) {
  HP_CHECK(ctx.calib && ctx.tok, "kprune needs calibration data and a tokenizer");
  Params p(ctx.params, "kprune");
  const auto& specs = ctx.model.sublayers();
  // Representational knowledge is a unit's absolute output energy. In a post-LN encoder (the
  // reference's setting) every sublayer reads a normalised stream of about unit scale, so energies
  // compare across layers. In a model whose sublayers are all pre-norm the stream is never
  // normalised and grows with depth, and absolute energy ranks the bottom sublayers lowest: on the
  // reference decoder layer 0's attention was emptied at keep 0.9 (docs/methods.md, "kprune on
  // pre-norm models"). rep_norm divides each pre-norm sublayer's K_rep by the mean energy per
  // dimension of the stream it reads, i.e. measures a contribution relative to the stream it is
  // added to; it is the default when every sublayer is pre-norm (never for post-LN sublayers,
  // which keep the reference's numbers). The setting used is recorded in pruning.json.
  const bool all_prenorm = std::all_of(specs.begin(), specs.end(),
                                       [](const SublayerSpec& sp) { return sp.norm != NormPlace::PostLN; });
  const double lam_pred = p.num("lambda_pred", 1.0);
  const double lam_rep = p.num("lambda_rep", 2.5e-4);
  const bool rep_norm = p.flag("rep_norm", all_prenorm);
  const double mu = p.num("mu", 64.0);
  const double temp = p.num("temperature", 2.0);
  const bool tune = p.flag("tune", true);
  const int batch = static_cast<int>(p.integer("batch_size", 32));
  p.finish();
  Timer timer;
  const Budget budget(specs, ctx.seq_len);
  const double limit = budget.target(ctx.keep_flops);
  // --uniform: the counts are fixed up front; each sublayer keeps its best by the same scores.
  const std::vector<int64_t> counts =
      ctx.uniform ? uniform_counts(budget, ctx.keep_flops) : std::vector<int64_t>();

  // The student is a deep copy: its weights change step by step while ctx.model stays the dense
  // reference (and untouched).
  auto student = clone_model(ctx.model, ctx.device);
  student->eval();
  for (auto& prm : student->parameters()) prm.requires_grad_(false);
  CalibSet calib = make_calib_set(*ctx.calib, *ctx.tok, ctx.device, batch, 0, ctx.seed);
  auto teacher_logits = teacher_outputs(*student, calib);  // dense predictions, CPU
  const auto dtype = model_dtype(*student);

  StreamCache ss, ts;  // student / dense residual streams at the current sublayer
  ss.init(*student, calib);
  if (tune) ts.init(*student, calib);

  double used = 0;  // FLOPs of the decided sublayers
  bool pruned_any = false;
  MaskSet masks = MaskSet::ones(specs);
  std::vector<int> tuned;
  nlohmann::json steps = nlohmann::json::array();
  std::optional<Progress> bar;
  if (ctx.progress) bar.emplace("kprune", specs.size());
  for (int s = 0; s < static_cast<int>(specs.size()); ++s) {
    const auto& sp = specs[s];
    if (sp.present()) {
      Knowledge k = measure_knowledge(*student, calib, ss, teacher_logits, temp, "");
      std::vector<torch::Tensor> scores(specs.size());
      std::vector<torch::Tensor> rep_part, pred_part;  // the two terms, units of s and above
      for (size_t t = 0; t < specs.size(); ++t) {
        const double c = budget.amortized_cost(static_cast<int>(t));
        // Kprune weighs a head's knowledge by mu; neurons by 1 (both per FLOP).
        const double w = is_attention(specs[t].kind) ? mu : 1.0;
        auto rep = k.rep[t];
        if (rep_norm && specs[t].norm != NormPlace::PostLN && k.stream_energy[t] > 0)
          rep = rep / k.stream_energy[t];
        scores[t] = w * (lam_rep * rep + lam_pred * k.pred[t]) / c;
        if (specs[t].units > 0 && static_cast<int>(t) >= s) {
          rep_part.push_back(lam_rep * rep);
          pred_part.push_back(lam_pred * k.pred[t]);
        }
      }
      double share = 0;  // median over units of the representational part of their scores
      if (!rep_part.empty()) {
        auto r = torch::cat(rep_part), total = r + torch::cat(pred_part);
        auto sh = torch::where(total > 0, r / total, torch::zeros_like(r));
        share = std::get<0>(sh.sort()).index({sh.numel() / 2}).item<double>();
      }
      auto keep = ctx.uniform ? keep_top_k(sp, scores[s], counts[s])
                              : kprune_search_step(budget, s, scores, limit - used);  // [n] 0/1
      const int64_t kept = keep.sum().item<int64_t>();
      masks.sub[s] = keep;
      used += budget.cost_of_sublayer(masks, s);
      pruned_any = pruned_any || kept < sp.units;
      nlohmann::json step = {{"sublayer", s}, {"kind", to_string(sp.kind)}, {"layer", sp.layer},
                             {"kept", kept}, {"units", sp.units}, {"rep_share", share}};
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

  PruneOutput out;
  out.masks = masks;
  for (int s : tuned) {
    const auto& name = specs[s].out_proj.tensor;
    out.weights[name] = student->param(name).detach().to(torch::kCPU).clone();
  }
  out.info = {{"calib_samples", calib.n_seq},
              {"calib_tokens", calib.n_tokens},
              {"lambda_pred", lam_pred},
              {"lambda_rep", lam_rep},
              {"mu", mu},
              {"temperature", temp},
              {"rep_norm", rep_norm},
              {"tuned_sublayers", tuned.size()},
              {"steps", steps},
              {"seconds", timer.seconds()}};
  return out;
}

}  // namespace hp
