#include "score/lstsq.h"

#include "core/check.h"

namespace hp {

void NormalEquations::add(const torch::Tensor& x, const torch::Tensor& r) {
  HP_CHECK(x.dim() == 2 && x.size(0) == r.size(0), "normal equations: X ", x.sizes(), " and R ",
           r.sizes(), " must have the same rows");
  // Products in the inputs' dtype on their device (the [k, k] product dominates the cost of
  // sublayer-wise tuning), sums across batches in double.
  auto xd = x.detach();                       // [N, k]
  auto rd = r.detach().to(xd.scalar_type());  // [N, m] or [N]
  add_stats(xd.t().mm(xd), rd.dim() == 1 ? xd.t().mv(rd) : xd.t().mm(rd),
            rd.to(torch::kDouble).pow(2).sum().item<double>(), x.size(0));
}

void NormalEquations::add_stats(const torch::Tensor& xtx_part, const torch::Tensor& xtr_part,
                                double rtr_part, int64_t rows_part) {
  auto a = xtx_part.detach().to(torch::kCPU, torch::kDouble);
  auto b = xtr_part.detach().to(torch::kCPU, torch::kDouble);
  if (empty()) {
    xtx = a.clone();
    xtr = b.clone();
  } else {
    HP_CHECK(xtx.sizes() == a.sizes() && xtr.sizes() == b.sizes(), "normal equations: shapes ",
             a.sizes(), "/", b.sizes(), " do not match the accumulated ", xtx.sizes(), "/",
             xtr.sizes());
    xtx += a;
    xtr += b;
  }
  rtr += rtr_part;
  rows += rows_part;
}

double NormalEquations::error(const torch::Tensor& w) const {
  HP_CHECK(!empty(), "normal equations: nothing accumulated");
  auto wd = w.detach().to(torch::kCPU, torch::kDouble);
  auto w2 = wd.dim() == 1 ? wd.unsqueeze(1) : wd;    // [k, m]
  auto b2 = xtr.dim() == 1 ? xtr.unsqueeze(1) : xtr;  // [k, m]
  // ||XW - R||² = R·R - 2 <W, X^T R> + <W, X^T X W>
  return rtr - 2 * (w2 * b2).sum().item<double>() + (w2 * xtx.mm(w2)).sum().item<double>();
}

torch::Tensor solve_scales(const NormalEquations& ne, double damp) {
  HP_CHECK(!ne.empty(), "scale solve: nothing accumulated");
  HP_CHECK(ne.xtr.dim() == 1, "scale solve: needs a vector right-hand side, got ", ne.xtr.sizes());
  const int64_t k = ne.xtx.size(0);
  auto a = ne.xtx;                              // [k, k]
  auto b = ne.xtr - a.sum(1);                   // [k]: solve for x = scale - 1
  // Damped least squares as an augmented system [A; damp I] x = [b; 0] (what LSMR converges to).
  auto aug = torch::cat({a, damp * torch::eye(k, a.options())}, 0);          // [2k, k]
  auto rhs = torch::cat({b, torch::zeros({k}, b.options())}, 0).unsqueeze(1);  // [2k, 1]
  auto x = std::get<0>(at::linalg_lstsq(aug, rhs)).squeeze(1);               // [k]
  if (!torch::isfinite(x).all().item<bool>()) return {};
  return x + 1;
}

torch::Tensor solve_weights(const NormalEquations& ne) {
  HP_CHECK(!ne.empty(), "weight solve: nothing accumulated");
  auto w = std::get<0>(at::linalg_lstsq(ne.xtx, ne.xtr.dim() == 1 ? ne.xtr.unsqueeze(1) : ne.xtr));
  if (!torch::isfinite(w).all().item<bool>()) return {};
  return ne.xtr.dim() == 1 ? w.squeeze(1) : w;  // [k, m] | [k]
}

}  // namespace hp
