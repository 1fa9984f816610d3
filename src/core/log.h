// Logging to stderr (stdout is reserved for --json output) and a progress bar for long loops:
// a live bar with rate and ETA on a terminal, plain periodic log lines otherwise.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace hp {

enum class LogLevel { kQuiet = 0, kInfo = 1, kDebug = 2 };
void set_log_level(LogLevel level);
LogLevel log_level();
void log_info(const std::string& msg);
void log_debug(const std::string& msg);
void log_warn(const std::string& msg);

class Progress {
 public:
  // total == 0 means unknown length (shows count and rate only).
  Progress(std::string label, int64_t total);
  ~Progress();
  // Advances by n units; `extra` is appended to the line (e.g. "loss 2.31").
  void step(int64_t n = 1, const std::string& extra = "");
  void finish(const std::string& extra = "");

 private:
  void draw(bool final_line);
  std::string label_;
  int64_t total_, done_ = 0;
  std::string extra_;
  bool tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// Wall-clock seconds since construction.
class Timer {
 public:
  Timer() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  void reset() { start_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace hp
