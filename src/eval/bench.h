// Latency benchmark of full forward passes: warm-up, device synchronisation, repeats, median and
// p90. Several models are timed alternately in one process (round-robin per repeat), so that
// machine noise hits all of them alike and their ratio is meaningful.
#pragma once
#include <nlohmann/json.hpp>

#include <memory>
#include <vector>

#include "model/model.h"

namespace hp {

struct BenchOptions {
  int batch = 32;
  int seq_len = 128;
  int warmup = 3;
  int repeats = 20;
  double min_seconds = 0;  // keep repeating (round-robin) until each model ran this long
  torch::Device device = torch::kCPU;
  torch::Dtype dtype = torch::kFloat32;
  uint64_t seed = 0;
  // CUDA only: capture each model's forward once as a CUDA graph and time graph replays, which
  // removes the per-kernel launch overhead that dominates small models on a fast GPU.
  bool cuda_graph = false;
  // What one timed pass is. "forward": the whole [batch, seq_len] forward with the task head at
  // every position (encoders). Decoders: "prefill": a [batch, seq_len] prompt into an empty KV
  // cache with the LM head at the last position only (what serving computes); "decode": one new
  // token per sequence with a KV cache already holding seq_len positions (per-token latency).
  std::string mode = "forward";
};

// True if this build can capture CUDA graphs (LibTorch built with CUDA).
bool cuda_graphs_available();

struct BenchResult {
  double median_ms = 0, p90_ms = 0, mean_ms = 0;
  std::vector<double> samples_ms;
};

// Models must already be on opt.device in opt.dtype and in eval mode.
std::vector<BenchResult> bench_models(const std::vector<std::shared_ptr<Model>>& models,
                                      const BenchOptions& opt);

}  // namespace hp
