#include "gates/gate_train.h"

#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>

#include "core/check.h"
#include "core/log.h"
#include "data/batch.h"
#include "train/trainer.h"

namespace hp {

GateLayout GateLayout::heads_of(const std::vector<SublayerSpec>& specs) {
  GateLayout g;
  g.n_sublayers = static_cast<int64_t>(specs.size());
  for (const auto& sp : specs) {
    if (!is_attention(sp.kind)) continue;
    g.offsets.push_back(g.total);
    g.sizes.push_back(sp.units);
    g.sublayer.push_back(sp.index);
    g.total += sp.units;
  }
  return g;
}

MaskSet GateLayout::to_masks(const torch::Tensor& flat) const {
  HP_CHECK(flat.dim() == 1 && flat.size(0) == total, "gate values: expected [", total, "], got ",
           flat.sizes());
  MaskSet m;
  m.sub.resize(n_sublayers);
  for (size_t g = 0; g < sizes.size(); ++g)
    if (sizes[g] > 0) m.sub[sublayer[g]] = flat.narrow(0, offsets[g], sizes[g]);
  return m;
}

int GateLayout::group_of(int64_t i) const {
  HP_CHECK(i >= 0 && i < total, "gate index ", i, " outside [0, ", total, ")");
  for (size_t g = 0; g < sizes.size(); ++g)
    if (i < offsets[g] + sizes[g]) return int(g);
  fail(str("gate index ", i, " in no group"));
}

int64_t planned_gate_steps(int64_t n_examples, const GateTrainOptions& opt) {
  HP_CHECK(n_examples > 0, "gate training: no training examples");
  HP_CHECK(opt.batch > 0, "gate training: batch must be > 0, got ", opt.batch);
  if (opt.steps > 0) return opt.steps;
  HP_CHECK(opt.epochs > 0, "gate training: epochs must be > 0 (or give steps), got ", opt.epochs);
  return (n_examples + opt.batch - 1) / opt.batch * opt.epochs;
}

namespace {


void append_rows(std::string& csv, int64_t step, const GateLayout& layout, const GateMethod& method) {
  std::vector<double> la, pc, po;
  method.log_values(la, pc, po);
  HP_CHECK(int64_t(la.size()) == layout.total && la.size() == pc.size() && la.size() == po.size(),
           "gate log: method returned ", la.size(), "/", pc.size(), "/", po.size(), " values for ",
           layout.total, " gates");
  char buf[160];
  for (size_t g = 0; g < layout.sizes.size(); ++g)
    for (int64_t h = 0; h < layout.sizes[g]; ++h) {
      size_t i = size_t(layout.offsets[g] + h);
      std::snprintf(buf, sizeof buf, "%lld,%zu,%lld,%.6g,%.6g,%.6g\n", (long long)step, g, (long long)h, la[i],
                    pc[i], po[i]);
      csv += buf;
    }
}

}  // namespace

GateTrainResult train_gates(Model& model, const TaskData& data, const Tokenizer& tok, GateMethod& method,
                            const GateLayout& layout, const GateTrainOptions& opt, torch::Device device) {
  HP_CHECK(opt.lr > 0 && opt.gate_lr > 0, "gate training: lr and gate_lr must be > 0, got ", opt.lr, " and ",
           opt.gate_lr);
  HP_CHECK(opt.lr_warmup >= 0 && opt.lr_warmup < 1, "gate training: lr_warmup must be in [0, 1), got ",
           opt.lr_warmup);
  HP_CHECK(layout.total > 0, "gate training: the model has no attention heads to gate");
  Timer timer;
  torch::manual_seed(opt.seed);
  model.train();

  GateTrainResult res;
  const int64_t n = int64_t(data.items.size());
  const int64_t total = planned_gate_steps(n, opt);
  res.steps_per_epoch = (n + opt.batch - 1) / opt.batch;
  res.log_every = opt.log_every > 0 ? opt.log_every : std::max<int64_t>(1, total / 100);
  const int64_t warm = int64_t(opt.lr_warmup * double(total));
  method.begin(total, res.steps_per_epoch);

  // Model: AdamW, decoupled decay except LayerNorm/biases. Gates: their own Adam, no decay.
  std::vector<torch::Tensor> model_params;
  auto model_opt_ptr = make_model_optimizer(model, opt.lr, opt.weight_decay, &model_params);
  torch::optim::AdamW& model_opt = *model_opt_ptr;
  auto gate_params = method.parameters();
  for (const auto& g : gate_params)
    HP_CHECK(g.requires_grad() && g.is_leaf(), "gate training: gate tensors must be leaves with requires_grad");
  torch::optim::Adam gate_opt(gate_params, torch::optim::AdamOptions(opt.gate_lr).weight_decay(0.0));

  std::vector<int> lengths;
  lengths.reserve(data.items.size());
  for (const auto& e : data.items) lengths.push_back(int(e.ids.size()));

  res.gates_csv = "step,layer,head,log_alpha,p_closed,p_open\n";
  append_rows(res.gates_csv, 0, layout, method);
  std::optional<Progress> bar;
  if (opt.progress) bar.emplace(opt.label, total);
  const bool want_conf = method.wants_confidence();
  int64_t step = 0;
  for (int epoch = 0; step < total; ++epoch) {
    auto batches = make_length_bucketed_batches(lengths, opt.batch, true, opt.seed + uint64_t(epoch));
    for (const auto& idx : batches) {
      if (step >= total) break;
      const double mult = warmup_linear_decay(step, warm, total);  // the trainer's schedule
      for (auto& g : model_opt.param_groups())
        static_cast<torch::optim::AdamWOptions&>(g.options()).lr(opt.lr * mult);
      for (auto& g : gate_opt.param_groups())
        static_cast<torch::optim::AdamOptions&>(g.options()).lr(opt.gate_lr * (opt.gate_lr_schedule ? mult : 1.0));

      GateStep st{step, total, res.steps_per_epoch};
      torch::Tensor gates = method.train_gates(st);  // [total]
      MaskSet masks = layout.to_masks(gates.to(device));
      Batch b = make_batch(data, idx, tok);
      AttentionMaxProbe conf_probe;
      auto out = task_loss(model, b, tok, &masks, opt.seed * 7919ULL + uint64_t(step), device,
                           want_conf ? &conf_probe : nullptr);
      torch::Tensor loss = out.loss;
      torch::Tensor pen = method.penalty(st);
      if (pen.defined()) loss = loss + pen.to(loss.scalar_type());
      model_opt.zero_grad();
      gate_opt.zero_grad();
      loss.backward();
      {
        torch::NoGradGuard ng;
        for (auto& g : gate_params) {
          if (!g.grad().defined()) continue;
          auto bad = torch::logical_not(torch::isfinite(g.grad()));
          int64_t nb = bad.sum().item<int64_t>();
          if (nb > 0) {
            res.nonfinite_gate_grads += nb;
            g.mutable_grad().masked_fill_(bad, 0.0);
          }
        }
      }
      if (opt.clip > 0) {
        if (opt.clip_gates) {  // one norm over model and gate gradients, as the PASS reference
          std::vector<torch::Tensor> all = model_params;
          all.insert(all.end(), gate_params.begin(), gate_params.end());
          torch::nn::utils::clip_grad_norm_(all, opt.clip);
        } else {
          torch::nn::utils::clip_grad_norm_(model_params, opt.clip);
        }
      }
      model_opt.step();
      gate_opt.step();
      ++step;
      double task = out.loss.item<double>();
      HP_CHECK(std::isfinite(task), "gate training: task loss became ", task, " at step ", step,
               " (try a lower --lr)");
      res.last_task_loss = task;

      std::vector<double> conf;
      if (want_conf) {
        conf.assign(size_t(layout.total), 0.0);
        for (size_t g = 0; g < layout.sizes.size(); ++g) {
          const int s = layout.sublayer[g];
          if (s >= int(conf_probe.max_score.size()) || layout.sizes[g] == 0) continue;
          const auto& t = conf_probe.max_score[s];
          if (!t.defined()) continue;
          auto c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
          // One entry per query head; a gate on a K/V group (its query heads are contiguous)
          // gets the mean confidence of the group's query heads.
          const int64_t per = layout.sizes[g] > 0 ? c.numel() / layout.sizes[g] : 0;
          HP_CHECK(per >= 1 && c.numel() == per * layout.sizes[g], "attention confidence of sublayer ",
                   s, " has ", c.numel(), " entries for ", layout.sizes[g], " gated units");
          auto unit_conf = c.view({layout.sizes[g], per}).mean(1).contiguous();
          for (int64_t h = 0; h < layout.sizes[g]; ++h)
            conf[size_t(layout.offsets[g] + h)] = unit_conf.data_ptr<double>()[h];
        }
      }
      method.after_step(GateStep{step, total, res.steps_per_epoch}, want_conf ? &conf : nullptr);
      if (step % res.log_every == 0 || step == total) append_rows(res.gates_csv, step, layout, method);
      if (bar) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "loss %.4g", task);
        std::string note = method.progress_note();
        bar->step(1, note.empty() ? std::string(buf) : std::string(buf) + " " + note);
      }
    }
  }
  if (bar) bar->finish(method.progress_note());
  res.steps = step;
  res.seconds = timer.seconds();
  if (res.nonfinite_gate_grads > 0)
    log_warn(str(opt.label, ": ", res.nonfinite_gate_grads, " non-finite gate-gradient entries were zeroed"));
  return res;
}

}  // namespace hp
