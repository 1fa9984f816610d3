// The sublayer contract: a model describes itself as an ordered, bottom-up list of prunable
// sublayers, and every pruning method, the budget, surgery, gates, the pruning map and the report
// work on that list by (sublayer s, unit u) — never by (layer, kind) arithmetic. A SublayerSpec
// says what the sublayer is (kind, stack, norm placement), what its units are (query heads that
// share K/V groups, FFN neurons, persistent-memory slots per head), what one unit costs and which
// slices of which tensors belong to each unit, so surgery and the scoring methods need no
// per-architecture code. docs/architecture.md walks through it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace hp {

enum class SublayerKind {
  SelfAttn,    // bidirectional self-attention (encoders)
  CausalAttn,  // causal self-attention (decoders)
  CrossAttn,   // decoder-encoder attention
  Ffn,         // position-wise feed-forward
};
enum class Stack { Encoder, Decoder };
// Where the normalisation sits around the sublayer: post-LN: y = LN(x + f(x)); pre-LN:
// y = x + f(LN(x)); pre-RMS: y = x + f(RMSNorm(x)).
enum class NormPlace { PostLN, PreLN, PreRMS };

const char* to_string(SublayerKind k);
const char* to_string(Stack s);
const char* to_string(NormPlace n);
SublayerKind sublayer_kind_from_string(const std::string& s);  // throws on unknown names
Stack stack_from_string(const std::string& s);
inline bool is_attention(SublayerKind k) { return k != SublayerKind::Ffn; }

// The part of one tensor that belongs to the units of a sublayer: along `axis`, unit (or group) u
// owns the block [offset + u*block, offset + (u+1)*block). A fused Q/K/V tensor is three slices of
// one tensor (offsets 0, n_q*dh, (n_q+n_kv)*dh); a Conv1D weight stored [in, out] is a slice on
// axis 1 where nn.Linear's [out, in] would be axis 0. Slices of one tensor and axis must tile it.
struct UnitSlice {
  std::string tensor;  // parameter name (the HF checkpoint key)
  int axis = 0;
  int64_t offset = 0;
  int64_t block = 1;
};

struct SublayerSpec {
  int index = 0;  // position in the model's sublayer list (bottom-up)
  SublayerKind kind = SublayerKind::Ffn;
  Stack stack = Stack::Encoder;
  int layer = 0;  // block index within its stack
  NormPlace norm = NormPlace::PostLN;

  // Units: query heads (attention) or neurons (FFN). 0 = the sublayer is absent (pruned away).
  int64_t units = 0;
  // K/V groups of an attention sublayer (== units without grouped-query attention; units/groups
  // consecutive query heads share one group). 0 for FFN sublayers.
  int64_t groups = 0;
  // Persistent key/value vectors each head also attends over (All-attention), 0 = none.
  int64_t memory_slots = 0;
  int64_t d_model = 0;     // width of the residual stream
  int64_t unit_width = 1;  // columns of the output-projection input per unit (d_head or 1)
  // Attention: query heads one unit holds (1, or group_size when the unit of pruning is a whole
  // K/V group, ModelConfig::gqa_unit) and the width of one head (and of one K/V head).
  int64_t heads_per_unit = 1;
  int64_t head_dim = 0;
  bool gated = false;      // FFN with a gate projection (SwiGLU): costs 3 matrices, not 2

  // Surgery: slices cut per kept unit (Q rows, output-projection columns, FFN up/gate rows and
  // down columns, per-head memory vectors) and per kept K/V group (K and V rows).
  std::vector<UnitSlice> unit_slices, group_slices;
  // The output-projection input of each unit (one of unit_slices): methods read W_out here,
  // least-squares tuning writes it, and real-valued mask entries are folded into it as scales.
  UnitSlice out_proj;
  std::string out_bias;            // bias of the output projection ("" = none)
  // The output bias stays when the sublayer empties (the model then adds it to the residual;
  // ModelConfig::empty_keeps_bias); otherwise it is removed with the sublayer.
  bool bias_survives_empty = false;
  std::vector<std::string> whole;  // tensors kept while the sublayer exists, removed with it
  bool may_pad = false;            // surgery may append zero units for GEMM alignment (FFN)

  bool present() const { return units > 0; }
  int64_t group_size() const { return groups > 0 ? units / groups : 1; }
  int64_t group_of(int64_t u) const { return groups > 0 ? u / group_size() : u; }
  // "self_attn", "causal_attn", "cross_attn" or "ffn" with its stack and layer, for messages.
  std::string name() const;
};

// A spec with its identity and sizes filled in (index = its position, given by the caller);
// slices, out_proj and biases are the model's to add.
SublayerSpec make_spec(int index, SublayerKind kind, Stack stack, int layer, NormPlace norm,
                       int64_t units, int64_t groups, int64_t d_model, int64_t unit_width);

// Throws hp::Error naming the sublayer when a spec is inconsistent (units not a multiple of
// groups, a slice without a tensor, out_proj not among unit_slices, ...).
void validate_sublayers(const std::vector<SublayerSpec>& specs);

}  // namespace hp
