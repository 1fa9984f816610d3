// Depth pruning in headprune. The unit of removal is a whole sublayer (an all-zero mask: only the
// residual path, and a post-LN's LayerNorm, remains) or, with granularity=layer, every sublayer of
// one block (ShortGPT's unit), the blocks found from the specs by (stack, layer). Each candidate
// is scored by its block influence BI = 1 − mean_tokens cos(x_in, x_out), measured on the
// calibration set through Model::begin / apply, padding excluded. By default (ShortGPT) the
// candidates are ranked once and removed from the lowest BI up until the kept FLOPs fit
// keep_flops; iterative=1 re-measures the remaining candidates on the model pruned so far after
// every removal, as SLEB does. criterion=loss replaces BI by SLEB's own score: the calibration
// task loss of the model with the candidate removed (one forward pass per candidate).
//
// Differences from the references, deliberate:
//  - ShortGPT removes a fixed number of layers; here candidates are removed until the FLOPs budget
//    is met, so sublayers of different cost (attention, FFN) are removed as the budget needs;
//  - SLEB scores by perplexity; criterion=loss uses the task's loss (the LM loss for an LM task,
//    whose exponential is the perplexity, so the order is the same);
//  - for the last sublayer x_out is the stream handed to the head, before any final norm the
//    head applies.
#include "prune/depth.h"

#include <algorithm>
#include <limits>
#include <map>
#include <numeric>
#include <optional>

#include "core/check.h"
#include "core/log.h"

namespace hp {

std::vector<DepthBlock> depth_blocks(const std::vector<SublayerSpec>& specs, bool whole_layers) {
  std::vector<DepthBlock> out;
  if (!whole_layers) {
    for (const auto& sp : specs)
      if (sp.present()) out.push_back({sp.stack, sp.layer, {sp.index}, sp.name()});
    return out;
  }
  std::map<std::pair<int, int>, size_t> at;  // (stack, layer) -> position in out
  for (size_t s = 0; s < specs.size(); ++s) {
    const auto& sp = specs[s];
    const std::pair<int, int> key{static_cast<int>(sp.stack), sp.layer};
    auto it = at.find(key);
    if (it == at.end()) {
      at.emplace(key, out.size());
      out.push_back({sp.stack, sp.layer, {static_cast<int>(s)},
                     str(to_string(sp.stack), " layer ", sp.layer)});
    } else {
      out[it->second].members.push_back(static_cast<int>(s));
    }
  }
  for (const auto& b : out) {
    for (int s = b.members.front(); s <= b.members.back(); ++s) {
      if (specs[s].stack != b.stack) continue;
      HP_CHECK(std::find(b.members.begin(), b.members.end(), s) != b.members.end(),
               "depth: granularity=layer needs the sublayers of ", b.name,
               " to be consecutive in their stack, but sublayer ", s, " (", specs[s].name(),
               ") sits between them");
    }
  }
  std::vector<DepthBlock> present;
  for (auto& b : out) {
    bool any = false;
    for (int s : b.members) any = any || specs[s].present();
    if (any) present.push_back(std::move(b));
  }
  return present;
}

std::vector<double> block_influence(Model& model, const CalibSet& calib, const MaskSet& masks,
                                    const std::vector<DepthBlock>& blocks) {
  torch::NoGradGuard ng;
  const auto& specs = model.sublayers();
  masks.check_against(specs);
  const int S = model.n_sublayers();
  std::vector<std::vector<size_t>> starts(S), ends(S);
  for (size_t i = 0; i < blocks.size(); ++i) {
    HP_CHECK(!blocks[i].members.empty(), "depth: block ", blocks[i].name, " has no sublayer");
    starts.at(blocks[i].members.front()).push_back(i);
    ends.at(blocks[i].members.back()).push_back(i);
  }
  std::vector<double> cos_sum(blocks.size(), 0.0);
  std::vector<int64_t> rows(blocks.size(), 0);
  const auto dev = calib.batches.empty() ? torch::Device(torch::kCPU)
                                         : calib.batches[0].in.input_ids.device();
  const MaskSet mdev = masks.to(dev, model_dtype(model));
  for (const auto& cb : calib.batches) {
    ForwardState st = begin_stack(model, cb);
    std::vector<torch::Tensor> entry(blocks.size());
    for (int s = 0; s < S; ++s) {
      const Stack stack = specs[s].stack;
      for (size_t i : starts[s]) entry[i] = st.x(stack).clone();
      apply_sublayer(model, s, st, &mdev, nullptr);
      for (size_t i : ends[s]) {
        auto a = entry[i].index({cb.token_mask}).to(torch::kDouble);  // [N, d]
        auto b = st.x(stack).index({cb.token_mask}).to(torch::kDouble);
        cos_sum[i] += torch::cosine_similarity(a, b, 1, 1e-12).sum().item<double>();
        rows[i] += a.size(0);
        entry[i] = torch::Tensor();
      }
    }
  }
  std::vector<double> bi(blocks.size());
  for (size_t i = 0; i < blocks.size(); ++i) {
    HP_CHECK(rows[i] > 0, "depth: no calibration tokens reached ", blocks[i].name);
    bi[i] = 1.0 - cos_sum[i] / static_cast<double>(rows[i]);
  }
  return bi;
}

double calib_task_loss(Model& model, const CalibSet& calib, const MaskSet& masks) {
  torch::NoGradGuard ng;
  const auto dev = calib.batches.empty() ? torch::Device(torch::kCPU)
                                         : calib.batches[0].in.input_ids.device();
  const MaskSet mdev = masks.to(dev, model_dtype(model));
  double sum = 0;
  int64_t n = 0;
  for (const auto& cb : calib.batches) {
    if (cb.n_items == 0) continue;
    const double l = task_loss_of(calib.task, calib_logits(model, cb, &mdev), cb).item<double>();
    sum += l * static_cast<double>(cb.n_items);
    n += cb.n_items;
  }
  HP_CHECK(n > 0, "depth: the calibration set has nothing to predict");
  return sum / static_cast<double>(n);
}

PruneOutput prune_depth(const PruneContext& ctx) {
  HP_CHECK(!ctx.uniform, "depth: --uniform is not supported: depth pruning removes whole sublayers "
           "(or layers) and keeps the others dense, so the layers cannot all keep the same widths; "
           "use a unit method (e.g. flap, wanda-sp) with --uniform");
  HP_CHECK(ctx.calib && ctx.tok, "depth needs calibration data and a tokenizer");
  Params p(ctx.params, "depth");
  const std::string granularity = p.string("granularity", "sublayer");
  const bool iterative = p.flag("iterative", false);
  const std::string criterion = p.string("criterion", "bi");
  const int64_t n_samples = p.integer("calib_samples", 128);
  const int batch = static_cast<int>(p.integer("batch_size", 32));
  p.finish();
  HP_CHECK(granularity == "sublayer" || granularity == "layer",
           "depth: parameter granularity must be sublayer or layer, got '", granularity, "'");
  HP_CHECK(criterion == "bi" || criterion == "loss",
           "depth: parameter criterion must be bi or loss, got '", criterion, "'");
  HP_CHECK(n_samples >= 0, "depth: calib_samples must be >= 0 (0 = all), got ", n_samples);
  Timer timer;
  Model& model = ctx.model;  // forward passes only
  const auto& specs = model.sublayers();
  const Budget budget(specs, ctx.seq_len);
  const double limit = budget.target(ctx.keep_flops);  // validates keep_flops before any work
  const auto blocks = depth_blocks(specs, granularity == "layer");
  CalibSet calib = make_calib_set(*ctx.calib, *ctx.tok, ctx.device, batch, n_samples, ctx.seed);

  MaskSet masks = MaskSet::ones(specs);
  std::vector<bool> removed(blocks.size(), false);
  std::optional<Progress> bar;
  if (ctx.progress) bar.emplace("depth", 0);
  // Scores of the remaining blocks under the current masks (lower = removed first); NaN for
  // removed ones.
  auto score_all = [&]() {
    std::vector<double> sc(blocks.size(), std::numeric_limits<double>::quiet_NaN());
    if (criterion == "bi") {
      auto bi = block_influence(model, calib, masks, blocks);
      for (size_t i = 0; i < blocks.size(); ++i)
        if (!removed[i]) sc[i] = bi[i];
      if (bar) bar->step(1);
    } else {
      for (size_t i = 0; i < blocks.size(); ++i) {
        if (removed[i]) continue;
        MaskSet m = masks;
        for (int s : blocks[i].members) m.sub[s] = torch::zeros({specs[s].units});
        sc[i] = calib_task_loss(model, calib, m);
        if (bar) bar->step(1);
      }
    }
    return sc;
  };
  auto remove = [&](size_t i) {
    removed[i] = true;
    for (int s : blocks[i].members) masks.sub[s] = torch::zeros({specs[s].units});
  };

  nlohmann::json order = nlohmann::json::array();
  nlohmann::json first_scores = nlohmann::json::array();
  auto record = [&](size_t i, double score) {
    order.push_back({{"block", blocks[i].name}, {"sublayers", blocks[i].members}, {"score", score}});
  };
  if (budget.cost(masks) > limit) {
    if (!iterative) {
      const auto sc = score_all();
      for (size_t i = 0; i < blocks.size(); ++i)
        first_scores.push_back({{"block", blocks[i].name}, {"score", sc[i]}});
      std::vector<size_t> idx(blocks.size());
      std::iota(idx.begin(), idx.end(), 0);
      std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return sc[a] < sc[b]; });
      for (size_t i : idx) {
        if (budget.cost(masks) <= limit) break;
        remove(i);
        record(i, sc[i]);
      }
    } else {
      while (budget.cost(masks) > limit) {
        const auto sc = score_all();
        if (first_scores.empty())
          for (size_t i = 0; i < blocks.size(); ++i)
            first_scores.push_back({{"block", blocks[i].name}, {"score", sc[i]}});
        size_t best = blocks.size();
        for (size_t i = 0; i < blocks.size(); ++i)
          if (!removed[i] && (best == blocks.size() || sc[i] < sc[best])) best = i;
        HP_CHECK(best < blocks.size(), "depth: nothing left to remove but the budget is not met");
        remove(best);
        record(best, sc[best]);
      }
    }
  }
  if (bar) bar->finish();

  PruneOutput out;
  out.masks = masks;
  out.info = {{"calib_samples", calib.n_seq},
              {"calib_tokens", calib.n_tokens},
              {"granularity", granularity},
              {"iterative", iterative},
              {"criterion", criterion},
              {"scores", first_scores},
              {"removed", order},
              {"seconds", timer.seconds()}};
  return out;
}

}  // namespace hp
