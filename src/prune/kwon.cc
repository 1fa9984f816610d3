// Kwon et al. 2022 (reference: WoosukKwon/retraining-free-pruning, main.py and prune/*.py).
// Differences from the reference, all deliberate:
//  - FLOPs come from model/cost.h at ctx.seq_len; they are twice Kwon's MACs, so budgets match.
//  - the search also tries h = 0 heads and breaks ties toward more heads (so keep_flops = 1 keeps
//    everything); neuron counts are checked against the budget after rounding.
//  - the mask-tuning teacher is the dense model by default; the reference distils from the mask
//    found at sqrt(target), which params teacher=sqrt reproduces. On en-mlm the dense teacher gave
//    0.5-2.7 points lower perplexity (results/reference_fidelity.jsonl, docs/methods.md).
//  - the damped least squares is solved exactly (lstsq on [A; damp·I]) instead of by LSMR
//    iterations, also for a single unknown (the reference divides undamped there).
// --uniform (not in the reference): the search is replaced by uniform_counts, each sublayer keeping
// its units of largest Fisher importance; rearrangement and tuning are unchanged (both keep the
// per-sublayer counts). Query heads inside K/V groups are searched as bundles and rearranged within
// their group, so every group keeps the same number.
#include "prune/kwon.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "core/check.h"
#include "core/log.h"
#include "score/lstsq.h"

namespace hp {

namespace {


struct RankedUnit {
  double score, cost;
  int s, idx;       // unit, or bundle rank in a sublayer of query heads inside groups
  double total;     // importance it keeps (its score, or the bundle's sum)
  int64_t n = 1;    // units it holds
};

// Units of one family (attention or FFN) sorted by importance, descending (stable: lower
// sublayer/index first on ties). Query heads inside K/V groups come as bundles (method.h): ranked
// by their mean importance, at their exact marginal cost (the first one brings every group's K/V
// projections), their members in (*bundles)[s].
std::vector<RankedUnit> rank_units(const Budget& budget, const UnitScores& imp, bool attention,
                                   std::vector<GroupBundles>* bundles) {
  const auto& specs = budget.sublayers();
  bundles->resize(specs.size());
  std::vector<RankedUnit> u;
  for (size_t s = 0; s < specs.size(); ++s) {
    if (is_attention(specs[s].kind) != attention || specs[s].units == 0) continue;
    auto t = imp[s].to(torch::kCPU, torch::kDouble).contiguous();
    HP_CHECK(t.numel() == specs[s].units, "kwon: sublayer ", s, " has ", specs[s].units,
             " units but ", t.numel(), " scores");
    if (selection_step(specs[s]) > 1) {
      auto& b = (*bundles)[s] = group_bundles(specs[s], t);
      const double G = static_cast<double>(specs[s].groups);
      const double cu = budget.unit_cost(static_cast<int>(s)), cg = budget.group_cost(static_cast<int>(s));
      for (size_t r = 0; r < b.mean.size(); ++r)
        u.push_back({b.mean[r], G * cu + (r == 0 ? G * cg : 0.0), static_cast<int>(s),
                     static_cast<int>(r), b.sum[r], specs[s].groups});
      continue;
    }
    const double c = budget.amortized_cost(static_cast<int>(s));
    for (int64_t j = 0; j < t.numel(); ++j) {
      const double v = t.data_ptr<double>()[j];
      u.push_back({v, c, static_cast<int>(s), static_cast<int>(j), v});
    }
  }
  std::stable_sort(u.begin(), u.end(),
                   [](const RankedUnit& a, const RankedUnit& b) { return a.score > b.score; });
  return u;
}

torch::Tensor nonzero_idx(const torch::Tensor& m) {
  return m.detach().to(torch::kCPU).ne(0).nonzero().view(-1);  // [k] int64
}

}  // namespace

MaskSet kwon_search(const Budget& budget, const UnitScores& importance, double keep_flops,
                    nlohmann::json* info) {
  const auto& specs = budget.sublayers();
  HP_CHECK(importance.size() == specs.size(), "kwon: importance has ", importance.size(),
           " sublayers, model ", specs.size());
  const double limit = budget.target(keep_flops);
  std::vector<GroupBundles> bundles, no_bundles;
  auto heads = rank_units(budget, importance, true, &bundles);
  auto neurons = rank_units(budget, importance, false, &no_bundles);
  // Prefix sums of importance and cost.
  std::vector<double> ph(heads.size() + 1, 0), pn(neurons.size() + 1, 0);
  std::vector<double> ch(heads.size() + 1, 0), cn(neurons.size() + 1, 0);
  for (size_t i = 0; i < heads.size(); ++i)
    ph[i + 1] = ph[i] + heads[i].total, ch[i + 1] = ch[i] + heads[i].cost;
  for (size_t i = 0; i < neurons.size(); ++i)
    pn[i + 1] = pn[i] + neurons[i].total, cn[i + 1] = cn[i] + neurons[i].cost;
  int64_t best_h = -1, best_n = 0;
  double best = -1;
  for (int64_t h = 0; h <= static_cast<int64_t>(heads.size()); ++h) {
    const double rest = limit - ch[h];
    if (rest < 0) break;
    // The most neurons whose prefix cost fits the rest (costs are positive: cn is increasing).
    const int64_t n = static_cast<int64_t>(std::upper_bound(cn.begin(), cn.end(), rest) - cn.begin()) - 1;
    const double total = ph[h] + pn[n];
    if (total >= best) best = total, best_h = h, best_n = n;
  }
  HP_CHECK(best_h >= 0, "kwon: no head count fits the budget (keep_flops ", keep_flops, ")");
  MaskSet m = MaskSet::zeros(specs);
  int64_t kept_heads = 0;
  for (int64_t i = 0; i < best_h; ++i) {
    const auto& h = heads[i];
    kept_heads += h.n;
    if (bundles[h.s].members.empty()) m.sub[h.s][h.idx] = 1;
    else
      for (int64_t u : bundles[h.s].members[h.idx]) m.sub[h.s][u] = 1;
  }
  for (int64_t i = 0; i < best_n; ++i) m.sub[neurons[i].s][neurons[i].idx] = 1;
  if (info) {
    (*info)["heads"] = kept_heads;
    (*info)["neurons"] = best_n;
    const double all = ph.back() + pn.back();
    (*info)["importance_kept"] = all > 0 ? best / all : 1.0;
  }
  return m;
}

torch::Tensor kwon_rearrange(const torch::Tensor& mask, const torch::Tensor& grads) {
  auto m = mask.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  const int64_t n = m.numel();
  HP_CHECK(grads.dim() == 2 && grads.size(1) == n, "kwon rearrange: grads ", grads.sizes(),
           " for a mask of ", n, " units");
  const int64_t n_pruned = m.eq(0).sum().item<int64_t>();
  if (n_pruned == 0 || n_pruned == n) return m;
  auto g = grads.detach().to(torch::kCPU, torch::kDouble).t().contiguous();  // [n, n_batches]
  auto fisher = g.pow(2).sum(1);                                             // [n]
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  const double* f = fisher.data_ptr<double>();
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return f[a] < f[b]; });
  std::vector<int64_t> pruned(order.begin(), order.begin() + n_pruned);
  auto sum = g.index_select(0, torch::tensor(pruned)).sum(0);  // [n_batches]
  for (int64_t i = n_pruned; i < n; ++i) {
    // Candidate set = pruned ∪ {order[i]}; drop the member whose removal leaves the smallest
    // ||Σ g||² (first on ties, as the reference's argmin).
    pruned.push_back(order[i]);
    sum = sum + g[order[i]];
    auto gs = g.index_select(0, torch::tensor(pruned));  // [P+1, n_batches]
    auto left = (sum.unsqueeze(0) - gs).pow(2).sum(1);   // [P+1]
    const int64_t r = left.argmin().item<int64_t>();
    sum = sum - g[pruned[r]];
    pruned.erase(pruned.begin() + r);
  }
  auto out = torch::ones({n}, torch::kFloat32);
  for (int64_t j : pruned) out[j] = 0;
  return out;
}

MaskSet kwon_tune_masks(Model& model, const CalibSet& calib, const MaskSet* teacher,
                        const MaskSet& student, const KwonTuneOptions& opt, nlohmann::json* info,
                        bool progress) {
  const auto& specs = model.sublayers();
  student.check_against(specs);
  if (teacher) teacher->check_against(specs);
  HP_CHECK(!calib.batches.empty(), "kwon tuning: empty calibration set");
  torch::NoGradGuard ng;
  const auto dev = calib.batches[0].in.input_ids.device();
  const auto dtype = model_dtype(model);
  std::optional<MaskSet> teacher_dev;
  if (teacher) teacher_dev = teacher->to(dev, dtype);
  const MaskSet* tmask = teacher ? &*teacher_dev : nullptr;
  MaskSet tuned = student.to(torch::kCPU, torch::kDouble);
  for (size_t s = 0; s < specs.size(); ++s)
    if (!tuned.sub[s].defined()) tuned.sub[s] = torch::ones({specs[s].units}, torch::kDouble);
  int first_attn = -1;
  for (size_t s = 0; s < specs.size() && first_attn < 0; ++s)
    if (is_attention(specs[s].kind)) first_attn = static_cast<int>(s);
  StreamCache ts, ss;
  ts.init(model, calib);
  ss.init(model, calib);
  nlohmann::json steps = nlohmann::json::array();
  std::string stop;
  std::optional<Progress> bar;
  if (progress) bar.emplace("kwon tune", specs.size());
  const int n_sub = static_cast<int>(specs.size());
  for (int s = 0; s < n_sub && stop.empty(); ++s) {
    const auto& sp = specs[s];
    auto& sm = tuned.sub[s];
    auto kept = sp.units > 0 ? nonzero_idx(sm) : torch::zeros({0}, torch::kInt64);
    const int64_t k = kept.numel();
    const bool tune = k > 0 && !(s == first_attn && opt.skip_first_attn);
    if (!tune) {
      ts.advance(model, calib, tmask);
    } else {
      const int64_t w = sp.unit_width;  // unit width at the output-projection input
      auto wout = out_proj_weight(model, sp).detach();  // [d, n*w]
      torch::Tensor bias;
      if (!sp.out_bias.empty()) bias = model.param(sp.out_bias).detach();  // [d]
      auto cols = (kept.view({-1, 1}) * w + torch::arange(w).view({1, -1})).view(-1);  // [k*w]
      auto wk = wout.index_select(1, cols.to(wout.device())).to(torch::kDouble);      // [d, k*w]
      auto gw = wk.t().mm(wk);                                                         // [k*w, k*w]
      const bool read_only = s == n_sub - 1 && opt.cls_only_last_ffn;
      // Constant shift column: a post-LN LayerNorm removes it (the reference fits it for
      // attention); pre-norm residuals carry it to the output, so it would change the model.
      const bool offset = is_attention(sp.kind) && sp.norm == NormPlace::PostLN;
      const MaskSet smask = tuned.to(dev, dtype);
      NormalEquations ne;
      for (size_t b = 0; b < calib.batches.size(); ++b) {
        const auto& cb = calib.batches[b];
        auto xt = ts.get(model, calib, b), xs = ss.with_streams(xt, b);
        auto pair = teacher_student_sublayer(model, s, xt, xs, tmask, &smask, bias);
        ts.set(b, xt);
        auto head_rows = read_only ? head_read_mask(calib.task, cb) : torch::Tensor();
        auto rows = head_rows.defined() ? cb.token_mask.logical_and(head_rows) : cb.token_mask;  // [B, T]
        auto u = pair.units.index({rows}).index_select(1, cols.to(pair.units.device())).to(torch::kDouble);
        auto r = pair.target.index({rows}).to(torch::kDouble);  // [N, d]
        const int64_t N = u.size(0);
        // Column h of A = unit h's output over all (token, dim) pairs: A^T A and A^T r in
        // closed form from U^T U and R W (no [N, k, d] tensor).
        auto ata = (u.t().mm(u) * gw).view({k, w, k, w}).sum(at::IntArrayRef{1, 3});  // [k, k]
        auto atb = (u * r.mm(wk)).sum(0).view({k, w}).sum(1);          // [k]
        if (offset) {
          auto col = (u.sum(0) * wk.sum(0)).view({k, w}).sum(1);  // A^T 1
          auto full = torch::zeros({k + 1, k + 1}, ata.options());
          full.narrow(0, 0, k).narrow(1, 0, k).copy_(ata);
          full.narrow(0, 0, k).select(1, k).copy_(col);
          full.select(0, k).narrow(0, 0, k).copy_(col);
          full[k][k] = static_cast<double>(N * r.size(1));
          ata = full;
          atb = torch::cat({atb, r.sum().view({1})});
        }
        ne.add_stats(ata, atb, r.pow(2).sum().item<double>(), N);
      }
      ts.step();
      auto scale = solve_scales(ne, opt.damp);  // [k (+1)]
      auto before = torch::ones({ne.xtx.size(0)}, torch::kDouble);
      if (offset) before[k] = 0;
      nlohmann::json step = {{"sublayer", s}, {"kind", to_string(sp.kind)}, {"layer", sp.layer},
                             {"units", k}, {"rows", ne.rows}, {"err_before", ne.error(before)}};
      if (!scale.defined()) {
        stop = str("sublayer ", s, ": least squares did not give a finite solution");
      } else {
        auto unit_scale = scale.narrow(0, 0, k);
        const double amax = unit_scale.abs().max().item<double>();
        if (amax > opt.max_scale) {
          stop = str("sublayer ", s, ": |scale| ", amax, " > ", opt.max_scale);
        } else {
          step["err_after"] = ne.error(scale);
          sm.index_put_({kept}, sm.index({kept}) * unit_scale);
        }
      }
      steps.push_back(step);
    }
    if (stop.empty()) {
      const MaskSet sdev = tuned.to(dev, dtype);  // with this sublayer's new scales
      ss.advance(model, calib, &sdev);
    }
    if (bar) bar->step(1);
  }
  if (bar) bar->finish();
  if (info) {
    (*info)["steps"] = steps;
    if (!stop.empty()) (*info)["stopped"] = stop;
  }
  return tuned.to(torch::kCPU, torch::kFloat32);
}

PruneOutput prune_kwon(const PruneContext& ctx) {
  HP_CHECK(ctx.calib && ctx.tok, "kwon needs calibration data and a tokenizer");
  Params p(ctx.params, "kwon");
  const int64_t n_samples = p.integer("calib_samples", 2048);
  const int batch = static_cast<int>(p.integer("batch_size", 32));
  const bool rearrange = p.flag("rearrange", true);
  const bool tune = p.flag("tune", true);
  const std::string teacher_kind = p.string("teacher", "dense");
  KwonTuneOptions topt;
  topt.damp = p.num("damp", 1.0);
  topt.max_scale = p.num("max_scale", 10.0);
  p.finish();
  HP_CHECK(teacher_kind == "dense" || teacher_kind == "sqrt", "kwon: parameter teacher must be "
           "'dense' or 'sqrt', got '", teacher_kind, "'");
  HP_CHECK(n_samples > 0, "kwon: calib_samples must be > 0, got ", n_samples);
  Timer timer;
  Model& model = ctx.model;  // forward passes only; kwon changes no weight
  const auto& specs = model.sublayers();
  const Budget budget(specs, ctx.seq_len);
  budget.target(ctx.keep_flops);  // validates keep_flops before any work

  CalibSet calib = make_calib_set(*ctx.calib, *ctx.tok, ctx.device, batch, n_samples, ctx.seed);
  nlohmann::json info = {{"calib_samples", calib.n_seq}, {"calib_tokens", calib.n_tokens},
                         {"calib_samples_requested", n_samples}, {"teacher", teacher_kind}};
  if (calib.n_seq < n_samples)
    log_warn(str("kwon: only ", calib.n_seq, " calibration sequences (calib_samples asks for ",
                 n_samples, ") are in the --calib-tokens sample; raise --calib-tokens to draw them all"));
  auto grads = collect_task_loss_grads(model, calib, nullptr, ctx.progress ? "kwon fisher" : "");
  UnitScores fisher = sum_squares(grads);
  const double t_fisher = timer.seconds();

  // --uniform: the counts are fixed up front, each sublayer keeps its most important units.
  auto select = [&](double keep, nlohmann::json* sinfo) {
    if (!ctx.uniform) return kwon_search(budget, fisher, keep, sinfo);
    const auto counts = uniform_counts(budget, keep);
    MaskSet m = keep_top_k_per_sublayer(budget, fisher, counts);
    if (sinfo)
      *sinfo = {{"uniform_counts", counts}, {"heads", m.kept_heads(specs)},
                {"neurons", m.kept_neurons(specs)}};
    return m;
  };
  nlohmann::json search_info;
  MaskSet masks = select(ctx.keep_flops, &search_info);
  info["search"] = search_info;

  int64_t moved = 0;
  if (rearrange) {
    for (size_t s = 0; s < specs.size(); ++s) {
      auto& m = masks.sub[s];
      if (m.numel() == 0) continue;
      std::vector<torch::Tensor> gb;
      for (const auto& g : grads) gb.push_back(g[s]);
      const auto gm = torch::stack(gb);  // [n_batches, n]
      torch::Tensor r;                   // [n]
      if (selection_step(specs[s]) > 1) {
        // Query heads inside groups: rearranged within each group, which keeps its count.
        const int64_t gs = specs[s].group_size();
        std::vector<torch::Tensor> parts;
        for (int64_t g = 0; g < specs[s].groups; ++g)
          parts.push_back(kwon_rearrange(m.narrow(0, g * gs, gs), gm.narrow(1, g * gs, gs)));
        r = torch::cat(parts);
      } else {
        r = kwon_rearrange(m, gm);
      }
      moved += r.ne(m).sum().item<int64_t>() / 2;
      m = r;
    }
    info["rearranged_swaps"] = moved;
  }
  const double t_search = timer.seconds();

  const bool pruned_any = masks.kept_heads(specs) < MaskSet::dense(specs).kept_heads(specs) ||
                          masks.kept_neurons(specs) < MaskSet::dense(specs).kept_neurons(specs);
  if (tune && pruned_any) {
    std::optional<MaskSet> teacher;
    if (teacher_kind == "sqrt") teacher = select(std::sqrt(ctx.keep_flops), nullptr);
    nlohmann::json tinfo;
    masks = kwon_tune_masks(model, calib, teacher ? &*teacher : nullptr, masks, topt, &tinfo,
                            ctx.progress);
    info["tuning"] = tinfo;
  }
  info["seconds"] = {{"fisher", t_fisher},
                     {"search", t_search - t_fisher},
                     {"tuning", timer.seconds() - t_search}};
  PruneOutput out;
  out.masks = masks;
  out.info = info;
  return out;
}

}  // namespace hp
