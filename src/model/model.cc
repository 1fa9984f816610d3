#include "model/model.h"

#include "core/check.h"

namespace hp {

void Trace::reset(int n_layer) {
  for (auto* v : {&attn_in, &attn_units, &attn_out, &ffn_in, &ffn_units, &ffn_out, &attn_max}) {
    v->clear();
    v->resize(n_layer);
  }
}

torch::Tensor Model::forward(const ForwardInput& in, const MaskSet* masks, Trace* trace,
                             const torch::Tensor& predict_positions) {
  if (masks) masks->check_against(cfg_);
  if (trace) trace->reset(cfg_.n_layer);
  Context ctx;
  torch::Tensor x = embed(in, ctx);
  ctx.predict_positions = predict_positions;
  for (int il = 0; il < cfg_.n_layer; ++il) {
    torch::Tensor hm = masks ? masks->layers[il].head : torch::Tensor();
    torch::Tensor nm = masks ? masks->layers[il].neuron : torch::Tensor();
    x = attn_sublayer(il, x, ctx, hm, trace);
    x = ffn_sublayer(il, x, nm, trace);
  }
  return head(x, ctx);
}

TensorMap Model::state() const {
  TensorMap out;
  for (const auto& p : named_parameters(/*recurse=*/true)) out[p.key()] = p.value();
  for (const auto& b : named_buffers(/*recurse=*/true)) out[b.key()] = b.value();
  return out;
}

void Model::load_state(const TensorMap& tensors, const std::string& where) {
  torch::NoGradGuard ng;
  auto params = named_parameters(true);
  auto buffers = named_buffers(true);
  std::map<std::string, torch::Tensor> dst;
  for (const auto& p : params) dst[p.key()] = p.value();
  for (const auto& b : buffers) dst[b.key()] = b.value();
  for (const auto& [name, t] : dst) {
    auto it = tensors.find(name);
    HP_CHECK(it != tensors.end(), where, ": missing tensor '", name, "'");
    HP_CHECK(it->second.sizes() == t.sizes(), where, ": tensor '", name, "' has shape ",
             it->second.sizes(), " but the config implies ", t.sizes());
    t.copy_(it->second.to(t.device(), t.scalar_type()));
  }
  auto ignorable = ignorable_keys();
  for (const auto& [name, t] : tensors) {
    if (dst.count(name)) continue;
    bool ok = false;
    for (const auto& pat : ignorable)
      if (name == pat || (pat.back() == '*' && name.rfind(pat.substr(0, pat.size() - 1), 0) == 0))
        ok = true;
    HP_CHECK(ok, where, ": unexpected tensor '", name, "' (shape ", t.sizes(),
             ") for a ", cfg_.arch, " model with task ", cfg_.task);
  }
}

}  // namespace hp
