#include "surgery/surgery.h"

#include <algorithm>
#include <map>

#include "core/check.h"

namespace hp {

namespace {

struct Piece {
  const UnitSlice* slice;
  bool per_unit;  // unit slice (else group slice)
};

// Cuts every tensor the sublayer slices: along each (tensor, axis), the kept blocks of each slice
// in offset order, with `pad` zero blocks appended after a unit slice's kept blocks.
void cut_sublayer(TensorMap& t, const SublayerSpec& sp, const std::vector<int64_t>& units,
                  const std::vector<int64_t>& groups, int64_t pad) {
  std::map<std::pair<std::string, int>, std::vector<Piece>> by_tensor;
  for (const auto& u : sp.unit_slices) by_tensor[{u.tensor, u.axis}].push_back({&u, true});
  for (const auto& g : sp.group_slices) by_tensor[{g.tensor, g.axis}].push_back({&g, false});
  for (auto& [key, pieces] : by_tensor) {
    const auto& [name, axis] = key;
    auto it = t.find(name);
    HP_CHECK(it != t.end(), "surgery: ", sp.name(), " slices tensor '", name, "', which the model does not have");
    const auto& w = it->second;
    HP_CHECK(axis >= 0 && axis < w.dim(), "surgery: ", sp.name(), ": '", name, "' has no axis ", axis);
    std::sort(pieces.begin(), pieces.end(),
              [](const Piece& a, const Piece& b) { return a.slice->offset < b.slice->offset; });
    // The slices of one tensor and axis must tile it, or surgery would silently drop entries.
    int64_t at = 0;
    for (const auto& p : pieces) {
      const int64_t n = p.per_unit ? sp.units : sp.groups;
      HP_CHECK(p.slice->offset == at, "surgery: ", sp.name(), ": slices of '", name, "' axis ", axis,
               " leave a gap or overlap at ", at);
      at += n * p.slice->block;
    }
    HP_CHECK(at == w.size(axis), "surgery: ", sp.name(), ": slices of '", name, "' cover ", at, " of ",
             w.size(axis), " entries on axis ", axis);
    std::vector<torch::Tensor> parts;
    for (const auto& p : pieces) {
      const auto& keep = p.per_unit ? units : groups;
      std::vector<int64_t> idx;
      for (int64_t b : keep)
        for (int64_t r = 0; r < p.slice->block; ++r) idx.push_back(p.slice->offset + b * p.slice->block + r);
      parts.push_back(w.index_select(axis, torch::tensor(idx, torch::kInt64)));
      if (p.per_unit && pad > 0) {
        auto sizes = w.sizes().vec();
        sizes[axis] = pad * p.slice->block;
        parts.push_back(torch::zeros(sizes, w.options()));
      }
    }
    it->second = (parts.size() == 1 ? parts[0] : torch::cat(parts, axis)).contiguous();
  }
}

}  // namespace

SurgeryResult prune_model(const Model& model, const MaskSet& masks, int ffn_align,
                          const TensorMap& updates) {
  HP_CHECK(ffn_align >= 1, "surgery: ffn_align must be >= 1, got ", ffn_align);
  const auto& specs = model.sublayers();
  masks.check_against(specs);
  SurgeryResult res;
  res.config = model.config();
  torch::NoGradGuard ng;
  for (const auto& [k, v] : model.state()) res.tensors[k] = v.detach().to(torch::kCPU).clone();
  for (const auto& [k, v] : updates) {
    auto it = res.tensors.find(k);
    HP_CHECK(it != res.tensors.end(), "surgery: weight update for unknown tensor '", k, "'");
    HP_CHECK(it->second.sizes() == v.sizes(), "surgery: weight update for '", k, "' has shape ",
             v.sizes(), ", the model's is ", it->second.sizes());
    it->second = v.detach().to(torch::kCPU, it->second.scalar_type()).clone();
  }
  auto& t = res.tensors;
  for (const auto& sp : specs) {
    const auto& m = masks.sub[sp.index];
    auto keep = kept_indices(m, sp.units);
    std::vector<int64_t> groups;
    int64_t pad = 0;
    if (sp.units > 0 && keep.empty()) {
      // The whole sublayer goes; only its residual path (and norm) remains.
      for (const auto* list : {&sp.unit_slices, &sp.group_slices})
        for (const auto& sl : *list) t.erase(sl.tensor);
      for (const auto& n : sp.whole) t.erase(n);
      if (!sp.out_bias.empty() && !sp.bias_survives_empty) t.erase(sp.out_bias);
      resize_sublayer(res.config, sp, 0, 0);
    } else if (sp.units > 0) {
      if (is_attention(sp.kind)) {
        // A K/V group survives while it serves a kept query head; grouped-query attention needs
        // the same number of query heads in every surviving group.
        std::vector<int64_t> per_group(sp.groups, 0);
        for (int64_t u : keep) per_group[sp.group_of(u)]++;
        int64_t per = -1;
        for (int64_t g = 0; g < sp.groups; ++g) {
          if (per_group[g] == 0) continue;
          groups.push_back(g);
          HP_CHECK(per < 0 || per_group[g] == per, "surgery: ", sp.name(),
                   ": grouped-query attention needs the same number of query heads kept in every "
                   "K/V group that survives (groups keep ", per_group[g], " and ", per,
                   "); prune whole groups or equal counts per group");
          per = per_group[g];
        }
      }
      int64_t width = static_cast<int64_t>(keep.size());
      if (sp.may_pad && width < sp.units) {
        width = std::min<int64_t>(sp.units, (width + ffn_align - 1) / ffn_align * ffn_align);
        pad = width - static_cast<int64_t>(keep.size());
      }
      // Scales of the kept units fold into the output projection's input blocks.
      torch::Tensor scale;
      if (m.defined()) {
        auto v = m.detach().to(torch::kCPU, torch::kFloat32)
                     .index_select(0, torch::tensor(keep, torch::kInt64));
        if (!v.eq(1).all().item<bool>()) scale = v;
      }
      cut_sublayer(t, sp, keep, groups, pad);
      if (scale.defined()) {
        auto& w = t.at(sp.out_proj.tensor);
        // The out_proj slice's kept blocks now start at its offset in the cut tensor (slices
        // before it on the same axis shrank too): locate it by re-walking the pieces.
        int64_t start = 0;
        for (const auto* list : {&sp.unit_slices, &sp.group_slices})
          for (const auto& sl : *list)
            if (sl.tensor == sp.out_proj.tensor && sl.axis == sp.out_proj.axis &&
                sl.offset < sp.out_proj.offset)
              start += (list == &sp.unit_slices ? width : static_cast<int64_t>(groups.size())) * sl.block;
        auto rep = scale.repeat_interleave(sp.out_proj.block);  // [kept * block]
        std::vector<int64_t> shape(w.dim(), 1);
        shape[sp.out_proj.axis] = rep.numel();
        auto part = w.narrow(sp.out_proj.axis, start, rep.numel());
        part.mul_(rep.to(w.scalar_type()).view(shape));
      }
      resize_sublayer(res.config, sp, width, static_cast<int64_t>(groups.size()));
    }
    res.kept_units.push_back(sp.units > 0 ? keep : std::vector<int64_t>{});
    res.kept_groups.push_back(groups);
    res.padded_units.push_back(pad);
  }
  return res;
}

}  // namespace hp
