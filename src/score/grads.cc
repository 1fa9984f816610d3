#include "score/grads.h"

#include <optional>

#include "core/check.h"
#include "core/log.h"

namespace hp {

MaskSet grad_masks(const ModelConfig& cfg, torch::Device device, torch::Dtype dtype,
                   const MaskSet* base) {
  MaskSet m = base ? base->to(device, dtype) : MaskSet::ones(cfg).to(device, dtype);
  m.check_against(cfg);
  for (int il = 0; il < cfg.n_layer; ++il) {
    auto& l = m.layers[il];
    if (!l.head.defined()) l.head = torch::ones({cfg.layers[il].n_head}, torch::dtype(dtype).device(device));
    if (!l.neuron.defined())
      l.neuron = torch::ones({cfg.layers[il].n_ff}, torch::dtype(dtype).device(device));
    // Fresh leaves: `to` may have returned the caller's tensor itself.
    l.head = l.head.detach().clone().requires_grad_(true);
    l.neuron = l.neuron.detach().clone().requires_grad_(true);
  }
  return m;
}

namespace {
torch::Tensor to_cpu_double(const torch::Tensor& t) {
  return t.detach().to(torch::kCPU, torch::kDouble);
}
}  // namespace

UnitGrads mask_grads(const torch::Tensor& loss, const MaskSet& masks) {
  std::vector<torch::Tensor> inputs;
  for (const auto& l : masks.layers)
    for (const auto& t : {l.head, l.neuron})
      if (t.defined() && t.numel() > 0 && t.requires_grad()) inputs.push_back(t);
  std::vector<torch::Tensor> g;
  if (!inputs.empty() && loss.requires_grad())
    g = torch::autograd::grad({loss}, inputs, {}, /*retain_graph=*/false, /*create_graph=*/false,
                              /*allow_unused=*/true);
  UnitGrads out;
  size_t k = 0;
  for (const auto& l : masks.layers) {
    torch::Tensor gh, gn;
    for (int kind = 0; kind < 2; ++kind) {
      const auto& t = kind == 0 ? l.head : l.neuron;
      const int64_t n = t.defined() ? t.numel() : 0;
      torch::Tensor r = torch::zeros({n}, torch::kDouble);
      if (t.defined() && n > 0 && t.requires_grad()) {
        if (k < g.size() && g[k].defined()) r = to_cpu_double(g[k]).view({n});
        ++k;
      }
      (kind == 0 ? gh : gn) = r;
    }
    out.head.push_back(gh);
    out.neuron.push_back(gn);
  }
  return out;
}

DimGrads unit_dim_grads(const torch::Tensor& loss, const Trace& trace) {
  std::vector<torch::Tensor> inputs;
  std::vector<std::pair<int, bool>> where;  // (layer, is_ffn)
  for (size_t il = 0; il < trace.attn_units.size(); ++il) {
    for (int kind = 0; kind < 2; ++kind) {
      const auto& vec = kind == 0 ? trace.attn_units : trace.ffn_units;
      if (il < vec.size() && vec[il].defined() && vec[il].requires_grad()) {
        inputs.push_back(vec[il]);
        where.push_back({static_cast<int>(il), kind == 1});
      }
    }
  }
  DimGrads out;
  out.attn.resize(trace.attn_units.size());
  out.ffn.resize(trace.ffn_units.size());
  HP_CHECK(!inputs.empty(), "unit gradients: the trace holds no units that require grad (run the "
           "forward with Trace::keep_units and masks from grad_masks)");
  auto g = torch::autograd::grad({loss}, inputs, {}, false, false, /*allow_unused=*/true);
  for (size_t k = 0; k < inputs.size(); ++k) {
    const auto& u = inputs[k];  // [B, T, D]
    torch::Tensor d = g[k].defined()
                          ? (g[k].detach() * u.detach()).sum(at::IntArrayRef{0, 1})  // [D]
                          : torch::zeros({u.size(-1)}, u.options());
    (where[k].second ? out.ffn : out.attn)[where[k].first] = to_cpu_double(d);
  }
  return out;
}

std::vector<UnitGrads> collect_mask_grads(Model& model, const CalibSet& calib,
                                          const BatchLossFn& loss_fn, const MaskSet* at,
                                          const std::string& progress_label) {
  const auto& cfg = model.config();
  const auto dev = calib.batches.empty() ? torch::Device(torch::kCPU)
                                         : calib.batches[0].in.input_ids.device();
  std::optional<Progress> bar;
  if (!progress_label.empty()) bar.emplace(progress_label, calib.batches.size());
  std::vector<UnitGrads> out;
  for (size_t b = 0; b < calib.batches.size(); ++b) {
    MaskSet m = grad_masks(cfg, dev, model_dtype(model), at);
    auto logits = calib_logits(model, calib.batches[b], &m);
    auto loss = loss_fn(logits, b);
    out.push_back(mask_grads(loss, m));
    if (bar) bar->step(1);
  }
  if (bar) bar->finish();
  return out;
}

namespace {
UnitGrads reduce(const std::vector<UnitGrads>& per_batch, bool square) {
  UnitGrads s;
  for (const auto& g : per_batch) {
    if (s.head.empty()) {
      for (const auto& t : g.head) s.head.push_back(torch::zeros_like(t));
      for (const auto& t : g.neuron) s.neuron.push_back(torch::zeros_like(t));
    }
    for (size_t il = 0; il < g.head.size(); ++il) {
      s.head[il] += square ? g.head[il].pow(2) : g.head[il].abs();
      s.neuron[il] += square ? g.neuron[il].pow(2) : g.neuron[il].abs();
    }
  }
  return s;
}
}  // namespace

UnitGrads sum_squares(const std::vector<UnitGrads>& per_batch) { return reduce(per_batch, true); }
UnitGrads sum_abs(const std::vector<UnitGrads>& per_batch) { return reduce(per_batch, false); }

std::vector<UnitGrads> collect_task_loss_grads(Model& model, const CalibSet& calib, const MaskSet* at,
                                               const std::string& progress_label) {
  const std::string task = calib.task;
  return collect_mask_grads(
      model, calib,
      [&](const torch::Tensor& logits, size_t b) { return task_loss_of(task, logits, calib.batches[b]); },
      at, progress_label);
}

}  // namespace hp
