#include "model/sublayer.h"

#include "core/check.h"

namespace hp {

const char* to_string(SublayerKind k) {
  switch (k) {
    case SublayerKind::SelfAttn: return "self_attn";
    case SublayerKind::CausalAttn: return "causal_attn";
    case SublayerKind::CrossAttn: return "cross_attn";
    case SublayerKind::Ffn: return "ffn";
  }
  return "?";
}

const char* to_string(Stack s) { return s == Stack::Encoder ? "encoder" : "decoder"; }

const char* to_string(NormPlace n) {
  switch (n) {
    case NormPlace::PostLN: return "post_ln";
    case NormPlace::PreLN: return "pre_ln";
    case NormPlace::PreRMS: return "pre_rms";
  }
  return "?";
}

SublayerKind sublayer_kind_from_string(const std::string& s) {
  for (auto k : {SublayerKind::SelfAttn, SublayerKind::CausalAttn, SublayerKind::CrossAttn,
                 SublayerKind::Ffn})
    if (s == to_string(k)) return k;
  fail(str("unknown sublayer kind '", s, "' (self_attn, causal_attn, cross_attn, ffn)"));
}

Stack stack_from_string(const std::string& s) {
  if (s == "encoder") return Stack::Encoder;
  if (s == "decoder") return Stack::Decoder;
  fail(str("unknown stack '", s, "' (encoder, decoder)"));
}

std::string SublayerSpec::name() const {
  return str(to_string(stack), ".", layer, ".", to_string(kind));
}

SublayerSpec make_spec(int index, SublayerKind kind, Stack stack, int layer, NormPlace norm,
                       int64_t units, int64_t groups, int64_t d_model, int64_t unit_width) {
  SublayerSpec s;
  s.index = index;
  s.kind = kind;
  s.stack = stack;
  s.layer = layer;
  s.norm = norm;
  s.units = units;
  s.groups = groups;
  s.d_model = d_model;
  s.unit_width = unit_width;
  s.head_dim = unit_width;
  return s;
}

void validate_sublayers(const std::vector<SublayerSpec>& specs) {
  for (size_t s = 0; s < specs.size(); ++s) {
    const auto& sp = specs[s];
    const std::string n = str("sublayer ", s, " (", sp.name(), ")");
    HP_CHECK(sp.index == static_cast<int>(s), n, ": index ", sp.index, " != its position ", s);
    HP_CHECK(sp.kind == SublayerKind::Ffn ||
                 (sp.heads_per_unit >= 1 && sp.head_dim > 0 &&
                  sp.unit_width == sp.heads_per_unit * sp.head_dim),
             n, ": unit width ", sp.unit_width, " must be heads_per_unit ", sp.heads_per_unit,
             " x head_dim ", sp.head_dim);
    HP_CHECK(sp.units >= 0 && sp.d_model > 0 && sp.unit_width > 0, n, ": units ", sp.units,
             ", d_model ", sp.d_model, ", unit_width ", sp.unit_width);
    if (is_attention(sp.kind)) {
      HP_CHECK(sp.units == 0 || (sp.groups > 0 && sp.units % sp.groups == 0), n, ": ", sp.units,
               " query heads are not a multiple of ", sp.groups, " K/V groups");
    } else {
      HP_CHECK(sp.groups == 0 && sp.group_slices.empty(), n, ": an FFN has no K/V groups");
    }
    if (!sp.present()) continue;
    bool found = false;
    for (const auto& u : sp.unit_slices) {
      HP_CHECK(!u.tensor.empty() && u.block > 0 && u.offset >= 0, n, ": bad unit slice of '",
               u.tensor, "'");
      found |= u.tensor == sp.out_proj.tensor && u.axis == sp.out_proj.axis &&
               u.offset == sp.out_proj.offset && u.block == sp.out_proj.block;
    }
    for (const auto& g : sp.group_slices)
      HP_CHECK(!g.tensor.empty() && g.block > 0 && g.offset >= 0, n, ": bad group slice of '",
               g.tensor, "'");
    HP_CHECK(found, n, ": out_proj '", sp.out_proj.tensor, "' is not one of its unit slices");
    HP_CHECK(sp.out_proj.block == sp.unit_width, n, ": out_proj block ", sp.out_proj.block,
             " != unit_width ", sp.unit_width);
  }
}

}  // namespace hp
