#include "score/act_stats.h"

#include "core/check.h"

namespace hp {

void ChannelMoments::add(const torch::Tensor& rows_in) {
  HP_CHECK(rows_in.dim() == 2, "channel moments: rows must be [N, D], got ", rows_in.sizes());
  const int64_t n = rows_in.size(0);
  if (n == 0) return;
  auto rows = rows_in.detach().to(torch::kDouble);
  auto bmean = rows.mean(0);                            // [D]
  auto bm2 = (rows - bmean).pow(2).sum(0);              // [D]
  auto bsq = rows.pow(2).sum(0);                        // [D]
  if (count == 0) {
    mean = bmean;
    m2 = bm2;
    sumsq = bsq;
    count = n;
    return;
  }
  HP_CHECK(rows.size(1) == mean.numel(), "channel moments: ", rows.size(1), " channels after ",
           mean.numel());
  const double na = static_cast<double>(count), nb = static_cast<double>(n), nt = na + nb;
  auto delta = bmean.to(mean.device()) - mean;
  mean = mean + delta * (nb / nt);
  m2 = m2 + bm2.to(m2.device()) + delta.pow(2) * (na * nb / nt);
  sumsq = sumsq + bsq.to(sumsq.device());
  count += n;
}

torch::Tensor ChannelMoments::variance() const {
  HP_CHECK(count > 0, "channel moments: no rows were seen");
  if (count < 2) return torch::zeros_like(m2);
  return m2 / static_cast<double>(count - 1);
}

torch::Tensor ChannelMoments::l2() const {
  HP_CHECK(count > 0, "channel moments: no rows were seen");
  return sumsq.sqrt();
}

ChannelMoments ChannelMoments::to(torch::Device device) const {
  ChannelMoments c;
  c.count = count;
  if (mean.defined()) c.mean = mean.to(device), c.m2 = m2.to(device), c.sumsq = sumsq.to(device);
  return c;
}

void ChannelStatsProbe::put(std::vector<ChannelMoments>& v, int s, const torch::Tensor& x) {
  if (static_cast<int>(v.size()) <= s) v.resize(s + 1);
  HP_CHECK(x.dim() == 3, "channel stats: sublayer ", s, " gave a tensor of shape ", x.sizes(),
           ", expected [B, T, D]");
  torch::Tensor rows;
  if (token_mask.defined()) {
    HP_CHECK(token_mask.size(0) == x.size(0) && token_mask.size(1) == x.size(1),
             "channel stats: token mask ", token_mask.sizes(), " for activations ", x.sizes());
    rows = x.detach().index({token_mask.to(x.device())});  // [N, D]
  } else {
    rows = x.detach().reshape({-1, x.size(-1)});
  }
  v[s].add(rows);
}

void ChannelStatsProbe::on_input(int s, const torch::Tensor& x) {
  if (inputs) put(input_stats, s, x);
}

void ChannelStatsProbe::on_units(int s, const torch::Tensor& u) {
  if (units) put(unit_stats, s, u);
}

void collect_channel_stats(Model& model, const CalibSet& calib, const MaskSet* masks,
                           ChannelStatsProbe& probe, Progress* bar) {
  torch::NoGradGuard ng;
  if (masks) masks->check_against(model.sublayers());
  for (const auto& b : calib.batches) {
    probe.token_mask = b.token_mask;
    ForwardState st = begin_stack(model, b);
    for (int s = 0; s < model.n_sublayers(); ++s) apply_sublayer(model, s, st, masks, &probe);
    if (bar) bar->step(1);
  }
  probe.token_mask = torch::Tensor();
}

}  // namespace hp
