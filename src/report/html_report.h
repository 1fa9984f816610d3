// The run report: reads pruned model directories (pruning.json, optional eval/bench results and
// gate trajectories) and dense reference directories, and writes a self-contained report.html
// (inline SVG and CSS, no scripts, no external resources) plus runs.csv / runs.json with one row
// per run. docs/report.md describes the page and the columns.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace hp {

// One row of the report: an attention sublayer (heads) with the FFN of its block beside it. Rows
// follow the pruning map's sublayer order, so row i is gates.csv's "layer" i (the i-th attention
// sublayer); a block with two attention sublayers (decoder self- and cross-attention) has two rows,
// the FFN shown on the first.
struct RunLayer {
  std::string label = "L0";  // "L3" for encoder layers; "D3 self" / "D3 cross" for decoders
  int heads_total = 0, neurons_total = 0, neurons_kept = 0;
  std::vector<int> heads_kept;  // original head indices
};

// One row of gates.csv (written by gate-training methods).
struct GatePoint {
  int64_t step = 0;
  int layer = 0, head = 0;
  double log_alpha = 0;
};

struct Run {
  static constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  std::string dir, name;  // name: short label for the page (unique among the runs of a report)
  bool dense = false;     // no pruning.json: the reference point
  std::string method;     // "dense" for the reference
  double keep_flops = kNone, kept_flops_ratio = 1;
  int64_t kept_heads = 0, total_heads = 0, kept_neurons = 0, total_neurons = 0;
  int attn_layers_alive = 0;
  std::string metric;     // "" when the run was not evaluated
  double value = kNone, median_ms = kNone, speedup = kNone, seconds = kNone;
  nlohmann::json bench;   // as recorded (device, dtype, batch, seq_len, ...), or null
  std::vector<RunLayer> layers;
  std::vector<GatePoint> gates;
};

// Turns --runs arguments into run directories: a directory with pruning.json or config.json is a
// run; any other directory stands for its immediate subdirectories that are runs (a sweep).
// Duplicates are dropped; errors name the missing or empty directory.
std::vector<std::string> expand_run_dirs(const std::vector<std::string>& args);

// Reads one run directory; every error names the file at fault and what is wrong with it.
Run load_run(const std::string& dir);
// gates.csv: header naming at least step, layer, head, log_alpha (any order, extra columns ignored).
std::vector<GatePoint> read_gates_csv(const std::string& path);

// Loads every directory, orders the runs (dense first, then by method and decreasing kept FLOPs)
// and gives each a unique short name.
std::vector<Run> load_runs(const std::vector<std::string>& dirs);

std::string runs_csv(const std::vector<Run>& runs);
nlohmann::json runs_json(const std::vector<Run>& runs);
std::string render_html(const std::vector<Run>& runs, const std::string& title);

// Writes report.html, runs.csv and runs.json into out_dir (created if needed); returns their paths.
std::vector<std::string> write_report(const std::vector<Run>& runs, const std::string& out_dir,
                                      const std::string& title);

}  // namespace hp
