// Depth pruning by block influence (ShortGPT, Men et al. 2024; SLEB, Song et al. 2024): whole
// sublayers, or whole layers (all sublayers of one block), are removed in order of lowest block
// influence BI = 1 − mean over calibration tokens of cos(x_in, x_out) until the FLOPs budget is
// met. docs/methods.md gives the defaults and the differences from the reference methods.
#pragma once
#include <string>
#include <vector>

#include "prune/method.h"
#include "score/calib.h"

namespace hp {

// A unit of removal: one sublayer, or every sublayer of one (stack, layer) block.
struct DepthBlock {
  Stack stack = Stack::Encoder;
  int layer = 0;
  std::vector<int> members;  // sublayer indices in list order (consecutive in their stack)
  std::string name;
};

// Sublayer granularity: one block per present sublayer. Layer granularity: the sublayers that
// share a stack and a layer index, found from the specs; throws when another sublayer of the same
// stack sits between two of them (the block would not have one entering and one leaving stream).
// Blocks without a present sublayer are left out.
std::vector<DepthBlock> depth_blocks(const std::vector<SublayerSpec>& specs, bool whole_layers);

// BI of each block under `masks` (removed sublayers are skipped in the forward): 1 − the mean over
// real tokens of the cosine between the residual stream entering its first member and the stream
// leaving its last member (after the last sublayer: the state the head reads).
std::vector<double> block_influence(Model& model, const CalibSet& calib, const MaskSet& masks,
                                    const std::vector<DepthBlock>& blocks);

// Mean task loss over the calibration set under `masks` (per predicted row).
double calib_task_loss(Model& model, const CalibSet& calib, const MaskSet& masks);

PruneOutput prune_depth(const PruneContext& ctx);

}  // namespace hp
