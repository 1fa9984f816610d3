// A tiny SVG writer for the HTML report: a builder for the few shapes the report draws (all text
// and attribute values escaped), and a line plot with "nice" ticks, linear or log axes and a legend.
// Output is plain SVG markup meant to be inlined into HTML, so pages need no scripts or files.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace hp::svg {

// Escapes & < > " ' for use in XML/HTML text and attribute values.
std::string escape(const std::string& s);

// Attributes as (name, value) pairs; values are escaped on output. An attribute named "title"
// becomes a <title> child instead: the browser shows it as a hover tooltip.
using Attrs = std::vector<std::pair<std::string, std::string>>;
using Points = std::vector<std::pair<double, double>>;

class Svg {
 public:
  Svg(double width, double height);
  Svg& rect(double x, double y, double w, double h, const Attrs& a = {});
  Svg& line(double x1, double y1, double x2, double y2, const Attrs& a = {});
  Svg& circle(double cx, double cy, double r, const Attrs& a = {});
  Svg& polyline(const Points& pts, const Attrs& a = {});
  Svg& polygon(const Points& pts, const Attrs& a = {});
  Svg& text(double x, double y, const std::string& s, const Attrs& a = {});
  Svg& group(const Attrs& a);  // <g ...>, closed by end()
  Svg& end();
  double width() const { return w_; }
  double height() const { return h_; }
  std::string str() const;

 private:
  Svg& element(const std::string& tag, const std::string& geometry, const Attrs& a,
               const std::string& body = "");
  double w_, h_;
  std::string body_;
  int open_groups_ = 0;
};

// Compact number for coordinates and labels: at most `decimals` decimals, trailing zeros dropped.
std::string num(double v, int decimals = 2);

// About `target` ticks at 1/2/5 x 10^k steps covering [lo, hi] (first <= lo, last >= hi).
std::vector<double> nice_ticks(double lo, double hi, int target = 6);
// Ticks for a log axis over [lo, hi] (lo > 0): decades, else 1/2/5 per decade, else linear ticks
// when the range is too narrow for either to give at least three.
std::vector<double> log_ticks(double lo, double hi, int target = 6);
// Label for tick value v among ticks spaced `step` apart (enough decimals to tell them apart).
std::string tick_label(double v, double step);

// Categorical colours (Tableau 10) and a sequential map (viridis, t in [0, 1]) for ordered items.
const std::string& palette(size_t i);
std::string sequential(double t);

struct Series {
  std::string name;                // legend entry; empty = not in the legend
  std::vector<double> x, y;        // non-finite points (and non-positive ones on a log axis) are skipped
  std::vector<std::string> tips;   // optional tooltip per point
  std::string color;               // empty: palette(series index)
  double line_width = 1.75;        // 0: markers only
  double marker = 3.5;             // marker radius; 0: line only
  std::string shape = "circle";    // circle | square | diamond
  std::string dash;                // stroke-dasharray, e.g. "5 3"
  double opacity = 1;
};

// Horizontal reference line across the plot (e.g. the dense model's score).
struct RefLine {
  double y;
  std::string label;
  std::string color = "#666";
};

struct Plot {
  std::string title, x_label, y_label;
  double width = 520, height = 340;
  bool log_x = false, log_y = false;
  std::vector<Series> series;
  std::vector<RefLine> y_refs;
};

// The plot as an <svg> element; a plot with no drawable point says so instead of failing.
std::string line_plot(const Plot& p);

}  // namespace hp::svg
