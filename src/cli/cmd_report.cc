// headprune report: one HTML page (plus runs.csv / runs.json) comparing pruned runs and the dense
// reference. docs/report.md.
#include <filesystem>

#include "cli/commands.h"
#include "cli/options.h"
#include "io/checkpoint.h"
#include "report/html_report.h"

namespace hp {

int cmd_report(const Args& args) {
  Options o("report",
            "Write OUT/report.html (self-contained: inline SVG and CSS), OUT/runs.csv and\n"
            "OUT/runs.json for pruned model directories. A directory with pruning.json is a pruned\n"
            "run; one with only config.json (+ optional eval.json, bench.json) is the dense\n"
            "reference; any other directory stands for its run subdirectories (a sweep).\n"
            "Render to PNG with scripts/render-report OUT/report.html OUT.png.");
  o.add("runs", "", "run directories, comma-separated, or a directory of runs", true)
      .add("out", "", "output directory", true)
      .add("title", "headprune report", "page title");
  add_common(o);
  if (!o.parse(args)) return 0;
  apply_common(o);
  auto runs = load_runs(expand_run_dirs(o.list("runs")));
  auto files = write_report(runs, o.str("out"), o.str("title"));
  std::string args_path = (std::filesystem::path(o.str("out")) / "report_args.json").string();
  write_file_atomic(args_path, o.effective().dump(1) + "\n");
  files.push_back(args_path);
  if (o.on("json")) {
    print_json({{"out", o.str("out")}, {"runs", runs.size()}, {"files", files}});
  } else {
    std::printf("wrote %s (%zu runs), runs.csv, runs.json\n", files[0].c_str(), runs.size());
  }
  return 0;
}

}  // namespace hp
