#include "report/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/check.h"

namespace hp::svg {

std::string escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
  }
  return s == "-0" ? "0" : s;
}

static std::string points_attr(const Points& pts) {
  std::string s;
  for (const auto& [x, y] : pts) s += (s.empty() ? "" : " ") + num(x) + "," + num(y);
  return s;
}

Svg::Svg(double width, double height) : w_(width), h_(height) {}

Svg& Svg::element(const std::string& tag, const std::string& geometry, const Attrs& a,
                  const std::string& body) {
  std::string attrs, title;
  for (const auto& [k, v] : a) {
    if (k == "title") title = "<title>" + escape(v) + "</title>";
    else attrs += " " + k + "=\"" + escape(v) + "\"";
  }
  body_ += "<" + tag + geometry + attrs;
  std::string inner = title + body;
  body_ += inner.empty() ? "/>" : ">" + inner + "</" + tag + ">";
  body_ += '\n';
  return *this;
}

Svg& Svg::rect(double x, double y, double w, double h, const Attrs& a) {
  return element("rect", " x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) +
                             "\" height=\"" + num(h) + "\"", a);
}

Svg& Svg::line(double x1, double y1, double x2, double y2, const Attrs& a) {
  return element("line", " x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) +
                             "\" y2=\"" + num(y2) + "\"", a);
}

Svg& Svg::circle(double cx, double cy, double r, const Attrs& a) {
  return element("circle", " cx=\"" + num(cx) + "\" cy=\"" + num(cy) + "\" r=\"" + num(r) + "\"", a);
}

Svg& Svg::polyline(const Points& pts, const Attrs& a) {
  return element("polyline", " points=\"" + points_attr(pts) + "\"", a);
}

Svg& Svg::polygon(const Points& pts, const Attrs& a) {
  return element("polygon", " points=\"" + points_attr(pts) + "\"", a);
}

Svg& Svg::text(double x, double y, const std::string& s, const Attrs& a) {
  return element("text", " x=\"" + num(x) + "\" y=\"" + num(y) + "\"", a, escape(s));
}

Svg& Svg::group(const Attrs& a) {
  std::string attrs, title;
  for (const auto& [k, v] : a) {
    if (k == "title") title = "<title>" + escape(v) + "</title>";
    else attrs += " " + k + "=\"" + escape(v) + "\"";
  }
  body_ += "<g" + attrs + ">" + title + "\n";
  ++open_groups_;
  return *this;
}

Svg& Svg::end() {
  HP_CHECK(open_groups_ > 0, "svg: end() without an open group");
  body_ += "</g>\n";
  --open_groups_;
  return *this;
}

std::string Svg::str() const {
  HP_CHECK(open_groups_ == 0, "svg: ", open_groups_, " group(s) left open");
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(w_) + "\" height=\"" + num(h_) +
         "\" viewBox=\"0 0 " + num(w_) + " " + num(h_) +
         "\" font-family=\"system-ui, 'Segoe UI', 'DejaVu Sans', Arial, sans-serif\" font-size=\"11\">\n" +
         body_ + "</svg>";
}

// ---- ticks ------------------------------------------------------------------------------------

static double nice_step(double raw) {
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double r = raw / mag;
  return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) {
    double pad = lo != 0 ? std::fabs(lo) * 0.1 : 1;
    lo -= pad, hi += pad;
  }
  double step = nice_step((hi - lo) / std::max(target - 1, 1));
  double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  std::vector<double> t;
  // Integer multiples of step, so 0.1 + 0.2 style drift never reaches a label.
  for (double k = first; k <= last; ++k) t.push_back(k * step);
  return t;
}

// `linear` reports the narrow-range fallback, whose ticks share one step (labelled alike).
static std::vector<double> log_ticks_impl(double lo, double hi, int target, bool* linear) {
  *linear = false;
  std::vector<double> t;
  for (double k = std::ceil(std::log10(lo) - 1e-9); k <= std::floor(std::log10(hi) + 1e-9); ++k)
    t.push_back(std::pow(10.0, k));
  if (t.size() >= 3) {
    size_t every = (t.size() + target - 1) / target;
    std::vector<double> thin;
    for (size_t i = 0; i < t.size(); i += every) thin.push_back(t[i]);
    return thin;
  }
  t.clear();
  for (double k = std::floor(std::log10(lo)); k <= std::floor(std::log10(hi)); ++k)
    for (double m : {1.0, 2.0, 5.0}) {
      double v = m * std::pow(10.0, k);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) t.push_back(v);
    }
  if (t.size() >= 3) return t;
  *linear = true;
  t.clear();
  for (double v : nice_ticks(lo, hi, target))
    if (v >= lo && v <= hi && v > 0) t.push_back(v);
  return t;
}

std::vector<double> log_ticks(double lo, double hi, int target) {
  bool linear;
  return log_ticks_impl(lo, hi, target, &linear);
}

std::string tick_label(double v, double step) {
  char buf[32];
  if (v != 0 && (std::fabs(v) >= 1e6 || std::fabs(v) < 1e-4)) {
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
  }
  int decimals = std::clamp(int(std::ceil(-std::log10(step) - 1e-9)), 0, 6);
  if (std::fabs(v) < 1e-9 * step) v = 0;  // no "-0.0" from rounding noise
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// ---- colours ----------------------------------------------------------------------------------

const std::string& palette(size_t i) {
  static const std::vector<std::string> kTableau = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2",
                                                    "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                                                    "#9c755f", "#bab0ac"};
  return kTableau[i % kTableau.size()];
}

std::string sequential(double t) {
  // Viridis anchors, stopping short of its pale yellow end, which vanishes on white.
  static const double kStops[][3] = {
      {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {190, 215, 50}};
  double u = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * 4;
  int i = std::min(int(u), 3);
  double f = u - i;
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x",
                int(std::lround(kStops[i][0] + f * (kStops[i + 1][0] - kStops[i][0]))),
                int(std::lround(kStops[i][1] + f * (kStops[i + 1][1] - kStops[i][1]))),
                int(std::lround(kStops[i][2] + f * (kStops[i + 1][2] - kStops[i][2]))));
  return buf;
}

// ---- line plot --------------------------------------------------------------------------------

namespace {

bool drawable(double v, bool log) { return std::isfinite(v) && (!log || v > 0); }

// Data -> pixel mapping of one axis, with its ticks and their labels.
struct Axis {
  bool log = false;
  double lo = 0, hi = 1;  // data range shown
  double a = 0, b = 1;    // pixel range
  std::vector<double> ticks;
  std::vector<std::string> labels;

  double t(double v) const { return log ? std::log10(v) : v; }
  double map(double v) const { return a + (t(v) - t(lo)) / (t(hi) - t(lo)) * (b - a); }
};

Axis make_axis(const std::vector<double>& vals, bool log) {
  Axis ax;
  ax.log = log;
  double lo = *std::min_element(vals.begin(), vals.end());
  double hi = *std::max_element(vals.begin(), vals.end());
  if (log) {
    if (hi <= lo) lo /= 1.5, hi *= 1.5;
    // 5% headroom (in log space) keeps markers off the frame.
    double pad = 0.05 * (std::log10(hi) - std::log10(lo));
    ax.lo = lo / std::pow(10.0, pad);
    ax.hi = hi * std::pow(10.0, pad);
    bool linear;
    ax.ticks = log_ticks_impl(ax.lo, ax.hi, 6, &linear);
    for (double v : ax.ticks) {
      // Decade and 1/2/5 ticks are labelled to their own magnitude (0.01, 0.1, 1, 20).
      double step = linear && ax.ticks.size() > 1 ? ax.ticks[1] - ax.ticks[0]
                                                  : std::pow(10.0, std::floor(std::log10(v)));
      ax.labels.push_back(tick_label(v, step));
    }
    return ax;
  }
  if (hi <= lo) {
    double pad = lo != 0 ? std::fabs(lo) * 0.1 : 1;
    lo -= pad, hi += pad;
  }
  double pad = 0.04 * (hi - lo);
  ax.lo = lo - pad, ax.hi = hi + pad;
  auto ticks = nice_ticks(ax.lo, ax.hi);
  double eps = 1e-9 * (ax.hi - ax.lo);
  for (double v : ticks)
    if (v >= ax.lo - eps && v <= ax.hi + eps) {
      ax.ticks.push_back(v);
      ax.labels.push_back(tick_label(v, ticks[1] - ticks[0]));
    }
  return ax;
}

double text_width(const std::string& s, double font_px) { return 0.6 * font_px * s.size(); }

void marker(Svg& g, const std::string& shape, double x, double y, double r, const Attrs& a) {
  if (shape == "square") g.rect(x - r * 0.9, y - r * 0.9, 1.8 * r, 1.8 * r, a);
  else if (shape == "diamond")
    g.polygon({{x, y - 1.3 * r}, {x + 1.3 * r, y}, {x, y + 1.3 * r}, {x - 1.3 * r, y}}, a);
  else g.circle(x, y, r, a);
}

}  // namespace

std::string line_plot(const Plot& p) {
  std::vector<double> xs, ys;
  for (const auto& s : p.series)
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (drawable(s.x[i], p.log_x) && drawable(s.y[i], p.log_y)) xs.push_back(s.x[i]), ys.push_back(s.y[i]);
  Svg g(p.width, p.height);
  double top = p.title.empty() ? 12 : 30;
  if (!p.title.empty()) g.text(8, 18, p.title, {{"font-size", "13"}, {"font-weight", "600"}});
  if (xs.empty()) {
    g.text(p.width / 2, p.height / 2, "no data to plot",
           {{"text-anchor", "middle"}, {"fill", "#888"}});
    return g.str();
  }
  for (const auto& r : p.y_refs)
    if (drawable(r.y, p.log_y)) ys.push_back(r.y);

  double legend_w = 0;
  for (const auto& s : p.series)
    if (!s.name.empty()) legend_w = std::max(legend_w, 30 + text_width(s.name, 11));
  double left = 64, right = 14 + (legend_w > 0 ? legend_w + 10 : 0), bottom = 46;
  Axis ax = make_axis(xs, p.log_x), ay = make_axis(ys, p.log_y);
  ax.a = left, ax.b = p.width - right;
  ay.a = p.height - bottom, ay.b = top;

  g.rect(ax.a, ay.b, ax.b - ax.a, ay.a - ay.b, {{"fill", "#fcfcfc"}, {"stroke", "#b8b8b8"}});
  for (size_t i = 0; i < ax.ticks.size(); ++i) {
    double x = ax.map(ax.ticks[i]);
    g.line(x, ay.b, x, ay.a, {{"stroke", "#ececec"}});
    g.line(x, ay.a, x, ay.a + 4, {{"stroke", "#888"}});
    g.text(x, ay.a + 16, ax.labels[i], {{"text-anchor", "middle"}, {"fill", "#444"}});
  }
  for (size_t i = 0; i < ay.ticks.size(); ++i) {
    double y = ay.map(ay.ticks[i]);
    g.line(ax.a, y, ax.b, y, {{"stroke", "#ececec"}});
    g.line(ax.a - 4, y, ax.a, y, {{"stroke", "#888"}});
    g.text(ax.a - 7, y + 4, ay.labels[i], {{"text-anchor", "end"}, {"fill", "#444"}});
  }
  g.text((ax.a + ax.b) / 2, p.height - 8, p.x_label + (p.log_x ? " (log scale)" : ""),
         {{"text-anchor", "middle"}, {"font-size", "12"}});
  double ymid = (ay.a + ay.b) / 2;
  g.text(16, ymid, p.y_label + (p.log_y ? " (log scale)" : ""),
         {{"text-anchor", "middle"}, {"font-size", "12"},
          {"transform", "rotate(-90 16 " + num(ymid) + ")"}});

  for (const auto& r : p.y_refs) {
    if (!drawable(r.y, p.log_y)) continue;
    double y = ay.map(r.y);
    g.line(ax.a, y, ax.b, y, {{"stroke", r.color}, {"stroke-dasharray", "5 4"}});
    // Labelled at the left: reference points (dense) usually sit at the right end.
    if (!r.label.empty()) g.text(ax.a + 5, y - 4, r.label, {{"fill", r.color}});
  }

  for (size_t si = 0; si < p.series.size(); ++si) {
    const auto& s = p.series[si];
    std::string color = s.color.empty() ? palette(si) : s.color;
    Points pts;
    std::vector<std::string> tips;
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!drawable(s.x[i], p.log_x) || !drawable(s.y[i], p.log_y)) continue;
      pts.push_back({ax.map(s.x[i]), ay.map(s.y[i])});
      tips.push_back(i < s.tips.size() ? s.tips[i] : "");
    }
    Attrs ga = {{"class", "series"}};
    if (s.opacity < 1) ga.push_back({"opacity", num(s.opacity)});
    g.group(ga);
    if (s.line_width > 0 && pts.size() > 1) {
      Attrs la = {{"fill", "none"}, {"stroke", color}, {"stroke-width", num(s.line_width)},
                  {"stroke-linejoin", "round"}};
      if (!s.dash.empty()) la.push_back({"stroke-dasharray", s.dash});
      g.polyline(pts, la);
    }
    if (s.marker > 0)
      for (size_t i = 0; i < pts.size(); ++i) {
        Attrs ma = {{"fill", color}, {"stroke", "#fff"}, {"stroke-width", "1"}};
        if (!tips[i].empty()) ma.push_back({"title", tips[i]});
        marker(g, s.shape, pts[i].first, pts[i].second, s.marker, ma);
      }
    g.end();
  }

  double ly = ay.b + 6;
  double lx = ax.b + 14;
  for (size_t si = 0; si < p.series.size(); ++si) {
    const auto& s = p.series[si];
    if (s.name.empty()) continue;
    std::string color = s.color.empty() ? palette(si) : s.color;
    if (s.line_width > 0)
      g.line(lx, ly + 6, lx + 20, ly + 6,
             {{"stroke", color}, {"stroke-width", num(std::max(s.line_width, 1.5))}});
    if (s.marker > 0) marker(g, s.shape, lx + 10, ly + 6, std::min(s.marker, 4.0), {{"fill", color}});
    g.text(lx + 26, ly + 10, s.name, {{"fill", "#222"}});
    ly += 17;
  }
  return g.str();
}

}  // namespace hp::svg
