#include "model/model.h"

#include <ATen/CPUGeneratorImpl.h>

#include <mutex>

#include "core/check.h"
#include "model/layers.h"

namespace hp {

void Recorder::put(std::vector<torch::Tensor>& v, int s, const torch::Tensor& t) {
  if (static_cast<int>(v.size()) <= s) v.resize(s + 1);
  v[s] = t;
}
void Recorder::on_input(int s, const torch::Tensor& x) {
  if (keep_inputs) put(inputs, s, x);
}
void Recorder::on_units(int s, const torch::Tensor& u) {
  if (keep_units) put(units, s, u);
}
void Recorder::on_output(int s, const torch::Tensor& y) {
  if (keep_outputs) put(outputs, s, y);
}
void Recorder::reset() {
  inputs.clear();
  units.clear();
  outputs.clear();
}

void AttentionMaxProbe::on_attention(int s, const torch::Tensor& q, const torch::Tensor& k,
                                     const torch::Tensor& attn_bias,
                                     const torch::Tensor& token_mask) {
  if (static_cast<int>(max_score.size()) <= s) max_score.resize(s + 1);
  max_score[s] = attention_max_score(q, k, attn_bias, token_mask);
}

torch::Tensor Model::forward(const ForwardInput& in, const MaskSet* masks, Probe* probe,
                             const torch::Tensor& predict_positions) {
  if (masks) masks->check_against(specs_);
  ForwardState st = begin(in);
  st.predict_positions = predict_positions;
  for (int s = 0; s < n_sublayers(); ++s)
    apply(s, st, masks ? masks->sub[s] : torch::Tensor(), probe);
  if (in.cache) in.cache->length += in.input_ids.size(1);
  return head(st);
}

void Model::set_sublayers(std::vector<SublayerSpec> specs) {
  validate_sublayers(specs);
  specs_ = std::move(specs);
}

TensorMap Model::state() const {
  TensorMap out;
  for (const auto& p : named_parameters(/*recurse=*/true)) out[p.key()] = p.value();
  for (const auto& b : named_buffers(/*recurse=*/true)) out[b.key()] = b.value();
  return out;
}

torch::Tensor Model::param(const std::string& name) const {
  for (const auto& p : named_parameters(true))
    if (p.key() == name) return p.value();
  fail(str("model has no parameter '", name, "'"));
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

const Architecture& architecture(const std::string& name) {
  std::string known;
  for (const auto& a : architectures()) {
    if (a.name == name) return a;
    known += (known.empty() ? "" : ", ") + a.name;
  }
  fail(str("unknown architecture '", name, "' (known: ", known, ")"));
}

std::shared_ptr<Model> make_model(const ModelConfig& cfg) {
  const auto& a = architecture(cfg.arch);
  std::string known;
  bool ok = false;
  for (const auto& t : a.tasks) ok |= t == cfg.task, known += (known.empty() ? "" : ", ") + t;
  HP_CHECK(ok, cfg.arch, ": task '", cfg.task, "' has no head in this architecture (", known, ")");
  return a.make(cfg);
}

std::vector<SublayerSpec> sublayers_of(const ModelConfig& cfg) {
  auto specs = architecture(cfg.arch).sublayers(cfg);
  validate_sublayers(specs);
  return specs;
}

torch::Tensor out_proj_weight(const Model& model, const SublayerSpec& sp) {
  auto w = model.param(sp.out_proj.tensor);
  HP_CHECK(w.dim() == 2 && (sp.out_proj.axis == 0 || sp.out_proj.axis == 1), sp.name(),
           ": output projection '", sp.out_proj.tensor, "' must be a matrix sliced on axis 0 or 1");
  w = w.narrow(sp.out_proj.axis, sp.out_proj.offset, sp.units * sp.unit_width);
  return sp.out_proj.axis == 1 ? w : w.t();  // [d_out, units*width]
}

torch::Dtype model_dtype(const Model& model) {
  for (const auto& p : model.parameters())
    if (p.is_floating_point()) return p.scalar_type();
  return torch::kFloat32;
}

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
  m->load_state(src.state(), "model copy");
  if (src.is_training()) m->train();
  else m->eval();
  return m;
}

void resize_sublayer(ModelConfig& cfg, const SublayerSpec& spec, int64_t units, int64_t groups) {
  HP_CHECK(spec.layer >= 0 && spec.layer < cfg.n_layer, "resize: ", spec.name(), " is outside the ",
           cfg.n_layer, " layers of the config");
  auto& l = cfg.layers[spec.layer];
  switch (spec.kind) {
    case SublayerKind::Ffn:
      l.n_ff = static_cast<int>(units);
      return;
    case SublayerKind::SelfAttn:
    case SublayerKind::CausalAttn:
      l.n_head = static_cast<int>(units * spec.heads_per_unit);
      l.n_head_kv = static_cast<int>(groups);
      return;
    case SublayerKind::CrossAttn:
      break;
  }
  fail(str("resize: ", spec.name(), ": the config has no sizes for this sublayer kind yet"));
}

}  // namespace hp
