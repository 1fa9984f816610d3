#include "core/log.h"

#include <unistd.h>

#include <cstdio>

namespace hp {

static LogLevel g_level = LogLevel::kInfo;
void set_log_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }
void log_info(const std::string& msg) {
  if (g_level >= LogLevel::kInfo) std::fprintf(stderr, "%s\n", msg.c_str());
}
void log_debug(const std::string& msg) {
  if (g_level >= LogLevel::kDebug) std::fprintf(stderr, "[debug] %s\n", msg.c_str());
}
void log_warn(const std::string& msg) { std::fprintf(stderr, "warning: %s\n", msg.c_str()); }

static std::string fmt_secs(double s) {
  char buf[32];
  if (s < 0 || s > 1e7) return "?";
  int t = static_cast<int>(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%02d:%02d", t / 60, t % 60);
  return buf;
}

Progress::Progress(std::string label, int64_t total)
    : label_(std::move(label)), total_(total), tty_(isatty(STDERR_FILENO) == 1) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  if (!finished_) finish();
}

void Progress::step(int64_t n, const std::string& extra) {
  done_ += n;
  if (!extra.empty()) extra_ = extra;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  // Terminal: redraw at most 10x/s. Log file: one line every 10 s keeps logs short.
  if (since >= (tty_ ? 0.1 : 10.0)) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::finish(const std::string& extra) {
  if (finished_) return;
  finished_ = true;
  if (!extra.empty()) extra_ = extra;
  draw(true);
}

void Progress::draw(bool final_line) {
  if (g_level < LogLevel::kInfo) return;
  double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = el > 0 ? done_ / el : 0.0;
  char line[512];
  if (total_ > 0) {
    double frac = std::min(1.0, static_cast<double>(done_) / total_);
    int width = 24, fill = static_cast<int>(frac * width);
    std::string bar(fill, '#');
    bar.resize(width, '.');
    double eta = rate > 0 ? (total_ - done_) / rate : -1;
    std::snprintf(line, sizeof line, "%s [%s] %lld/%lld %.1f/s %s<%s %s", label_.c_str(),
                  bar.c_str(), (long long)done_, (long long)total_, rate, fmt_secs(el).c_str(),
                  fmt_secs(eta).c_str(), extra_.c_str());
  } else {
    std::snprintf(line, sizeof line, "%s %lld %.1f/s %s %s", label_.c_str(), (long long)done_,
                  rate, fmt_secs(el).c_str(), extra_.c_str());
  }
  if (tty_)
    std::fprintf(stderr, "\r\033[K%s%s", line, final_line ? "\n" : "");
  else
    std::fprintf(stderr, "%s\n", line);
  std::fflush(stderr);
}

}  // namespace hp
