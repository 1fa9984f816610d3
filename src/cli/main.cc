// headprune CLI entry point: dispatches subcommands; the only place that catches errors.
#include <torch/torch.h>

#include <algorithm>

#include <execinfo.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "cli/commands.h"
#include "core/check.h"

namespace hp {

const std::vector<CommandEntry>& commands() {
  static const std::vector<CommandEntry> table = {
      {"train", cmd_train, "train a model (masked-LM or causal-LM pre-training, classification/regression)"},
      {"eval", cmd_eval, "evaluate a model on a data file (accuracy, F1, MCC, mlm or next-token perplexity)"},
      {"info", cmd_info, "per-layer shapes, parameters and FLOPs of a model"},
      {"prune", cmd_prune, "prune heads/neurons to a FLOPs budget; writes the smaller model"},
      {"show", cmd_show, "per-layer table of which heads and neurons a pruned model kept"},
      {"report", cmd_report, "HTML report (head-survival heatmap, quality vs FLOPs/latency) of runs"},
      {"bench", cmd_bench, "end-to-end latency of a model, or of two compared alternately"},
      {"generate", cmd_generate, "continue text with a decoder LM (greedy or sampled), using the KV cache"},
      {"forward", cmd_forward, "raw logits for given token ids (parity checks)"},
      {"demo", cmd_demo, "the main job on the reference models, end to end"},
  };
  return table;
}

void print_json(const nlohmann::json& j) {
  if (!j.is_object()) {
    std::cout << j.dump() << std::endl;
    return;
  }
  // The precision mode of fp32 CUDA matrix products (--tf32) goes with every result.
  nlohmann::json out = j;
  out["tf32"] = at::globalContext().allowTF32CuBLAS();
  std::cout << out.dump() << std::endl;
}

}  // namespace hp

// A crash (a bug in headprune or in a library) prints which command died and a backtrace
// instead of a bare "Segmentation fault"; the signal is then re-raised so the exit status stays
// 128 + signal. Only async-signal-safe calls: write, backtrace_symbols_fd, signal, raise.
static const char* g_command = "";

static void on_fatal_signal(int sig) {
  char head[160];
  int n = std::snprintf(head, sizeof head, "\nheadprune %s: crashed (%s); backtrace:\n", g_command,
                        sig == SIGSEGV ? "segmentation fault" : sig == SIGBUS ? "bus error"
                        : sig == SIGILL ? "illegal instruction" : "floating-point exception");
  if (n > 0) (void)!::write(STDERR_FILENO, head, static_cast<size_t>(std::min<int>(n, sizeof head - 1)));
  void* frames[64];
  int depth = ::backtrace(frames, 64);
  ::backtrace_symbols_fd(frames, depth, STDERR_FILENO);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

static void install_crash_handler() {
  void* warm[1];
  ::backtrace(warm, 1);  // loads libgcc's unwinder now, not inside the handler
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE}) std::signal(sig, on_fatal_signal);
}

static void usage() {
  std::printf("headprune %s — structured pruning of Transformers that makes them measurably faster\n\n"
              "usage: headprune <command> [options]   (headprune <command> --help for options)\n\n"
              "commands:\n", HP_VERSION);
  for (const auto& c : hp::commands()) std::printf("  %-8s %s\n", c.name, c.summary);
}

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    usage();
    return argc < 2 ? 2 : 0;
  }
  if (std::string(argv[1]) == "--version") {
    std::printf("headprune %s (%s)\n", HP_VERSION, HP_GIT);
    return 0;
  }
  std::string name = argv[1];
  install_crash_handler();
  hp::Args args(argv + 2, argv + argc);
  for (const auto& c : hp::commands()) {
    if (name != c.name) continue;
    g_command = c.name;
    try {
      return c.fn(args);
    } catch (const hp::Error& e) {
      std::fprintf(stderr, "headprune %s: error: %s\n", c.name, e.what());
    } catch (const c10::Error& e) {
      std::fprintf(stderr, "headprune %s: torch error: %s\n", c.name, e.what_without_backtrace());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "headprune %s: error: %s\n", c.name, e.what());
    }
    return 1;
  }
  std::fprintf(stderr, "headprune: unknown command '%s'\n", name.c_str());
  usage();
  return 2;
}
