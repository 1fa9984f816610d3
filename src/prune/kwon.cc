// Kwon et al. 2022 (reference: WoosukKwon/retraining-free-pruning, main.py and prune/*.py).
// Differences from the reference, all deliberate:
//  - FLOPs come from eval/flops.h at ctx.seq_len; they are twice Kwon's MACs, so budgets match.
//  - the search also tries h = 0 heads and breaks ties toward more heads (so keep_flops = 1 keeps
//    everything); neuron counts are checked against the budget after rounding.
//  - the mask-tuning teacher is the dense model by default (the reference uses the mask found at
//    sqrt(target); params.teacher = "sqrt" does that).
//  - the damped least squares is solved exactly (lstsq on [A; damp·I]) instead of by LSMR
//    iterations, also for a single unknown (the reference divides undamped there).
#include "prune/kwon.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "core/check.h"
#include "core/log.h"
#include "eval/flops.h"
#include "score/lstsq.h"

namespace hp {

namespace {

constexpr double kBudgetSlack = 1e-10;  // relative; absorbs rounding in FLOPs sums only

struct RankedUnit {
  double score;
  int layer, idx;
};

// Units of one kind sorted by importance, descending (stable: lower layer/index first on ties).
std::vector<RankedUnit> rank_units(const std::vector<torch::Tensor>& imp) {
  std::vector<RankedUnit> u;
  for (size_t il = 0; il < imp.size(); ++il) {
    auto t = imp[il].to(torch::kCPU, torch::kDouble).contiguous();
    for (int64_t j = 0; j < t.numel(); ++j)
      u.push_back({t.data_ptr<double>()[j], static_cast<int>(il), static_cast<int>(j)});
  }
  std::stable_sort(u.begin(), u.end(),
                   [](const RankedUnit& a, const RankedUnit& b) { return a.score > b.score; });
  return u;
}

torch::Tensor nonzero_idx(const torch::Tensor& m) {
  return m.detach().to(torch::kCPU).ne(0).nonzero().view(-1);  // [k] int64
}

}  // namespace

MaskSet kwon_search(const ModelConfig& cfg, const UnitGrads& importance, double keep_flops,
                    double seq_len, nlohmann::json* info) {
  HP_CHECK(keep_flops > 0 && keep_flops <= 1, "kwon: keep_flops must be in (0, 1], got ",
           keep_flops);
  HP_CHECK(importance.head.size() == static_cast<size_t>(cfg.n_layer) &&
               importance.neuron.size() == static_cast<size_t>(cfg.n_layer),
           "kwon: importance has ", importance.head.size(), "/", importance.neuron.size(),
           " layers, model ", cfg.n_layer);
  const double fh = flops_per_head(cfg, seq_len), fn = flops_per_neuron(cfg, seq_len);
  const double budget = keep_flops * count_flops(cfg, seq_len).total() * (1 + kBudgetSlack);
  auto heads = rank_units(importance.head), neurons = rank_units(importance.neuron);
  std::vector<double> ph(heads.size() + 1, 0), pn(neurons.size() + 1, 0);  // prefix sums
  for (size_t i = 0; i < heads.size(); ++i) ph[i + 1] = ph[i] + heads[i].score;
  for (size_t i = 0; i < neurons.size(); ++i) pn[i + 1] = pn[i] + neurons[i].score;
  int64_t best_h = -1, best_n = 0;
  double best = -1;
  for (int64_t h = 0; h <= static_cast<int64_t>(heads.size()); ++h) {
    const double rest = budget - h * fh;
    if (rest < 0) break;
    int64_t n = std::min<int64_t>(neurons.size(), static_cast<int64_t>(std::floor(rest / fn)));
    while (n > 0 && h * fh + n * fn > budget) --n;
    const double total = ph[h] + pn[n];
    if (total >= best) best = total, best_h = h, best_n = n;
  }
  HP_CHECK(best_h >= 0, "kwon: no head count fits the budget (keep_flops ", keep_flops, ")");
  MaskSet m = MaskSet::ones(cfg);
  for (auto& l : m.layers) l.head.zero_(), l.neuron.zero_();
  for (int64_t i = 0; i < best_h; ++i) m.layers[heads[i].layer].head[heads[i].idx] = 1;
  for (int64_t i = 0; i < best_n; ++i) m.layers[neurons[i].layer].neuron[neurons[i].idx] = 1;
  if (info) {
    (*info)["heads"] = best_h;
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
  const auto& cfg = model.config();
  student.check_against(cfg);
  if (teacher) teacher->check_against(cfg);
  HP_CHECK(!calib.batches.empty(), "kwon tuning: empty calibration set");
  torch::NoGradGuard ng;
  const auto dev = calib.batches[0].in.input_ids.device();
  const auto dtype = model_dtype(model);
  std::optional<MaskSet> teacher_dev;
  if (teacher) teacher_dev = teacher->to(dev, dtype);
  const MaskSet* tmask = teacher ? &*teacher_dev : nullptr;
  MaskSet tuned = student.to(torch::kCPU, torch::kDouble);
  StreamCache ts, ss;
  ts.init(model, calib);
  ss.init(model, calib);
  nlohmann::json steps = nlohmann::json::array();
  std::string stop;
  std::optional<Progress> bar;
  if (progress) bar.emplace("kwon tune", n_sublayers(cfg));
  for (int s = 0; s < n_sublayers(cfg) && stop.empty(); ++s) {
    const int il = s / 2;
    const bool ffn = s % 2;
    auto& sm = ffn ? tuned.layers[il].neuron : tuned.layers[il].head;
    const int64_t n = sublayer_units(cfg, s);
    auto kept = n > 0 ? nonzero_idx(sm) : torch::zeros({0}, torch::kInt64);
    const int64_t k = kept.numel();
    const bool tune = k > 0 && !(!ffn && il == 0 && opt.skip_first_attn);
    if (!tune) {
      ts.advance(model, calib, tmask);
    } else {
      const int64_t w = ffn ? 1 : cfg.d_head;  // unit width at the output-projection input
      auto nm = model.names(il);
      auto wout = model_param(model, ffn ? nm.w_down : nm.wo).detach();  // [d, n*w]
      const std::string bname = ffn ? nm.b_down : nm.bo;
      torch::Tensor bias;
      if (!bname.empty()) bias = model_param(model, bname).detach();  // [d]
      auto cols = (kept.view({-1, 1}) * w + torch::arange(w).view({1, -1})).view(-1);  // [k*w]
      auto wk = wout.index_select(1, cols.to(wout.device())).to(torch::kDouble);      // [d, k*w]
      auto gw = wk.t().mm(wk);                                                         // [k*w, k*w]
      const bool cls_only = ffn && il == cfg.n_layer - 1 && opt.cls_only_last_ffn &&
                            (calib.task == "classify" || calib.task == "regress");
      const bool offset = !ffn;  // constant shift column (LayerNorm removes it), as the reference
      const MaskSet smask = tuned.to(dev, dtype);
      NormalEquations ne;
      for (size_t b = 0; b < calib.batches.size(); ++b) {
        const auto& cb = calib.batches[b];
        auto st = begin_stack(model, cb);
        auto xt = ts.get(b, dev), xs = ss.get(b, dev);  // [B, T, d]
        auto pair = teacher_student_sublayer(model, s, xt, xs, st.ctx, tmask, &smask, bias);
        ts.set(b, pair.teacher_next);
        auto rows = cls_only ? cb.token_mask.logical_and(head_read_mask(calib.task, cb))
                             : cb.token_mask;  // [B, T]
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
      nlohmann::json step = {{"sublayer", s}, {"kind", ffn ? "ffn" : "attn"}, {"layer", il},
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

PruneOutput prune_kwon(PruneContext& ctx) {
  HP_CHECK(ctx.calib && ctx.tok, "kwon needs calibration data and a tokenizer");
  Timer timer;
  const auto& cfg = ctx.model.config();
  const auto& p = ctx.params;
  const int64_t n_samples = static_cast<int64_t>(param_number(p, "calib_samples", 2048));
  const int batch = static_cast<int>(param_number(p, "batch_size", 32));
  const bool rearrange = param_number(p, "rearrange", 1) != 0;
  const bool tune = param_number(p, "tune", 1) != 0;
  const std::string teacher_kind = param_string(p, "teacher", "dense");
  HP_CHECK(teacher_kind == "dense" || teacher_kind == "sqrt", "kwon: params.teacher must be "
           "'dense' or 'sqrt', got '", teacher_kind, "'");
  KwonTuneOptions topt;
  topt.damp = param_number(p, "damp", 1.0);
  topt.max_scale = param_number(p, "max_scale", 10.0);

  CalibSet calib = make_calib_set(*ctx.calib, *ctx.tok, ctx.device, batch, n_samples, ctx.seed);
  nlohmann::json info = {{"calib_samples", calib.n_seq}, {"calib_tokens", calib.n_tokens},
                         {"teacher", teacher_kind}};
  auto grads = collect_task_loss_grads(ctx.model, calib, nullptr, ctx.progress ? "kwon fisher" : "");
  UnitGrads fisher = sum_squares(grads);
  const double t_fisher = timer.seconds();

  nlohmann::json search_info;
  MaskSet masks = kwon_search(cfg, fisher, ctx.keep_flops, ctx.seq_len, &search_info);
  info["search"] = search_info;

  int64_t moved = 0;
  if (rearrange) {
    for (int il = 0; il < cfg.n_layer; ++il) {
      for (int kind = 0; kind < 2; ++kind) {
        auto& m = kind == 0 ? masks.layers[il].head : masks.layers[il].neuron;
        if (m.numel() == 0) continue;
        std::vector<torch::Tensor> gb;
        for (const auto& g : grads) gb.push_back(kind == 0 ? g.head[il] : g.neuron[il]);
        auto r = kwon_rearrange(m, torch::stack(gb));  // [n]
        moved += r.ne(m).sum().item<int64_t>() / 2;
        m = r;
      }
    }
    info["rearranged_swaps"] = moved;
  }
  const double t_search = timer.seconds();

  const bool pruned_any =
      masks.kept_heads() < cfg.total_heads() || masks.kept_neurons() < cfg.total_neurons();
  if (tune && pruned_any) {
    std::optional<MaskSet> teacher;
    if (teacher_kind == "sqrt")
      teacher = kwon_search(cfg, fisher, std::sqrt(ctx.keep_flops), ctx.seq_len);
    nlohmann::json tinfo;
    masks = kwon_tune_masks(ctx.model, calib, teacher ? &*teacher : nullptr, masks, topt, &tinfo,
                            ctx.progress);
    info["tuning"] = tinfo;
  }
  info["seconds"] = {{"fisher", t_fisher},
                     {"search", t_search - t_fisher},
                     {"tuning", timer.seconds() - t_search}};
  return {masks, info};
}

}  // namespace hp
