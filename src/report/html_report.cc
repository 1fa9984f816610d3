#include "report/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/check.h"
#include "report/pruning_map.h"
#include "io/checkpoint.h"
#include "report/svg.h"

namespace hp {

namespace fs = std::filesystem;
using nlohmann::json;
using svg::escape;

// ---- reading runs -----------------------------------------------------------------------------

namespace {

bool is_run_dir(const fs::path& d) {
  return fs::is_regular_file(d / "pruning.json") || fs::is_regular_file(d / "config.json");
}

json read_json_file(const fs::path& p) {
  std::ifstream f(p);
  HP_CHECK(f, p.string(), ": cannot open");
  try {
    return json::parse(f);
  } catch (const json::exception& e) {
    fail(str(p.string(), ": invalid JSON: ", e.what()));
  }
}

// Field access whose errors say where (file and path inside it) and what is wrong.
template <typename T>
T field(const json& j, const std::string& key, const std::string& where) {
  HP_CHECK(j.is_object() && j.contains(key), where, ": missing \"", key, "\"");
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    fail(str(where, ": \"", key, "\" has the wrong type (", j.at(key).type_name(), ": ",
             j.at(key).dump(), ")"));
  }
}

double optional_number(const json& j, const std::string& key, const std::string& where) {
  if (!j.is_object() || !j.contains(key) || j.at(key).is_null()) return Run::kNone;
  return field<double>(j, key, where);
}

// eval/bench results: inside pruning.json when recorded there, else eval.json / bench.json beside.
// Null when neither exists; `where` names the source for error messages.
json optional_block(const json& map, const std::string& key, const fs::path& dir, std::string* where) {
  if (map.is_object() && map.contains(key) && !map.at(key).is_null()) {
    *where = (dir / "pruning.json").string() + ": " + key;
    return map.at(key);
  }
  fs::path p = dir / (key + ".json");
  *where = p.string();
  return fs::is_regular_file(p) ? read_json_file(p) : json();
}

void read_results(Run& r, const json& map, const fs::path& dir) {
  std::string where;
  json ev = optional_block(map, "eval", dir, &where);
  if (!ev.is_null()) {
    HP_CHECK(ev.is_object(), where, ": expected an object, got ", ev.dump());
    r.metric = field<std::string>(ev, "metric", where);
    r.value = field<double>(ev, "value", where);
  }
  json b = optional_block(map, "bench", dir, &where);
  if (!b.is_null()) {
    HP_CHECK(b.is_object(), where, ": expected an object, got ", b.dump());
    r.bench = b;
    r.median_ms = optional_number(b, "median_ms", where);
    r.speedup = optional_number(b, "speedup", where);
  }
}

int64_t parse_int(const std::string& s, const std::string& where) {
  try {
    size_t pos = 0;
    long long v = std::stoll(s, &pos);
    if (pos == s.size()) return v;
  } catch (...) {
  }
  fail(str(where, ": expected an integer, got '", s, "'"));
}

double parse_double(const std::string& s, const std::string& where) {
  try {
    size_t pos = 0;
    double v = std::stod(s, &pos);
    if (pos == s.size()) return v;
  } catch (...) {
  }
  fail(str(where, ": expected a number, got '", s, "'"));
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream ss(line);
  std::string c;
  while (std::getline(ss, c, ',')) {
    auto b = c.find_first_not_of(" \t\r"), e = c.find_last_not_of(" \t\r");
    cells.push_back(b == std::string::npos ? "" : c.substr(b, e - b + 1));
  }
  return cells;
}

}  // namespace

std::vector<std::string> expand_run_dirs(const std::vector<std::string>& args) {
  HP_CHECK(!args.empty(), "no run directories given");
  std::vector<std::string> out;
  std::set<std::string> seen;
  auto add = [&](const fs::path& p) {
    if (seen.insert(fs::weakly_canonical(p).string()).second) out.push_back(p.string());
  };
  for (const auto& a : args) {
    HP_CHECK(fs::is_directory(a), "run directory '", a, "' ",
             fs::exists(a) ? "is not a directory" : "does not exist");
    if (is_run_dir(a)) {
      add(a);
      continue;
    }
    std::vector<fs::path> subs;
    for (const auto& e : fs::directory_iterator(a))
      if (e.is_directory() && is_run_dir(e.path())) subs.push_back(e.path());
    HP_CHECK(!subs.empty(), a, ": not a run (no pruning.json or config.json) and no subdirectory ",
             "is one either");
    std::sort(subs.begin(), subs.end());
    for (const auto& s : subs) add(s);
  }
  return out;
}

std::vector<GatePoint> read_gates_csv(const std::string& path) {
  std::ifstream f(path);
  HP_CHECK(f, path, ": cannot open");
  std::string line;
  HP_CHECK(std::getline(f, line), path, ": empty file (expected a header step,layer,head,log_alpha,...)");
  auto header = split_csv_line(line);
  auto col = [&](const std::string& name) {
    auto it = std::find(header.begin(), header.end(), name);
    HP_CHECK(it != header.end(), path, ": header has no '", name, "' column (header: ", line, ")");
    return size_t(it - header.begin());
  };
  size_t c_step = col("step"), c_layer = col("layer"), c_head = col("head"), c_la = col("log_alpha");
  std::vector<GatePoint> out;
  for (int ln = 2; std::getline(f, line); ++ln) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto cells = split_csv_line(line);
    std::string where = str(path, ":", ln);
    HP_CHECK(cells.size() == header.size(), where, ": ", cells.size(), " columns, header has ",
             header.size());
    GatePoint g;
    g.step = parse_int(cells[c_step], where + ": step");
    g.layer = int(parse_int(cells[c_layer], where + ": layer"));
    g.head = int(parse_int(cells[c_head], where + ": head"));
    g.log_alpha = parse_double(cells[c_la], where + ": log_alpha");
    HP_CHECK(g.layer >= 0 && g.head >= 0, where, ": negative layer or head (", g.layer, ", ", g.head, ")");
    out.push_back(g);
  }
  return out;
}

Run load_run(const std::string& dir_str) {
  fs::path dir(dir_str);
  HP_CHECK(fs::is_directory(dir), "run directory '", dir_str, "' does not exist");
  Run r;
  r.dir = dir_str;
  fs::path map_path = dir / "pruning.json";
  json map;
  if (fs::is_regular_file(map_path)) {
    std::string where = map_path.string();
    map = read_json_file(map_path);
    HP_CHECK(map.is_object(), where, ": expected a JSON object, got ", map.type_name());
    r.method = field<std::string>(map, "method", where);
    r.kept_flops_ratio = field<double>(map, "kept_flops_ratio", where);
    if (map.contains("budget")) r.keep_flops = optional_number(map["budget"], "keep_flops", where + ": budget");
    r.seconds = optional_number(map, "seconds", where);
    json subs;
    try {
      subs = map_sublayers(map);
    } catch (const Error& e) {
      fail(str(where, ": ", e.what()));
    }
    HP_CHECK(subs.is_array() && !subs.empty(), where, ": \"sublayers\" must be a non-empty array");
    // Rows: one per attention sublayer; an FFN joins the first row of its block.
    std::map<std::pair<std::string, int>, size_t> first_row;
    for (size_t i = 0; i < subs.size(); ++i) {
      const std::string lw = str(where, ": sublayers[", i, "]");
      const auto& sl = subs[i];
      const std::string kind = field<std::string>(sl, "kind", lw);
      const std::string stack = sl.value("stack", "encoder");
      const int layer = field<int>(sl, "layer", lw);
      const int total = field<int>(sl, "units_total", lw);
      const auto kept = field<std::vector<int>>(sl, "kept", lw);
      HP_CHECK(total >= 0, lw, ": negative units_total ", total);
      const std::pair<std::string, int> block{stack, layer};
      if (kind == "ffn") {
        HP_CHECK(int(kept.size()) <= total, lw, ": ", kept.size(), " neurons kept of units_total ", total);
        auto it = first_row.find(block);
        if (it == first_row.end()) {  // a block without attention
          RunLayer L;
          L.label = str(stack == "encoder" ? "L" : "D", layer);
          it = first_row.emplace(block, r.layers.size()).first;
          r.layers.push_back(L);
        }
        r.layers[it->second].neurons_total = total;
        r.layers[it->second].neurons_kept = int(kept.size());
        continue;
      }
      RunLayer L;
      L.heads_total = total;
      L.heads_kept = kept;
      L.label = str(stack == "encoder" ? "L" : "D", layer);
      if (kind == "causal_attn") L.label += " self";
      if (kind == "cross_attn") L.label += " cross";
      std::set<int> uniq(L.heads_kept.begin(), L.heads_kept.end());
      HP_CHECK(uniq.size() == L.heads_kept.size() &&
                   (uniq.empty() || (*uniq.begin() >= 0 && *uniq.rbegin() < L.heads_total)),
               lw, ": kept heads ", json(L.heads_kept).dump(), " must be distinct indices in [0, ",
               L.heads_total, ")");
      first_row.emplace(block, r.layers.size());
      r.layers.push_back(std::move(L));
    }
  } else {
    r.dense = true;
    r.method = "dense";
    fs::path cp = dir / "config.json";
    HP_CHECK(fs::is_regular_file(cp), dir_str, ": neither pruning.json (a pruned run) nor config.json (a dense model)");
    std::string where = cp.string();
    json cfg = read_json_file(cp);
    // A pruned model that lost its pruning.json must not pass for the dense reference.
    HP_CHECK(!cfg.contains("pruned_heads") || cfg["pruned_heads"].empty(), where,
             ": has pruned_heads (a pruned model) but there is no pruning.json beside it");
    int n_layer = field<int>(cfg, "num_hidden_layers", where);
    int n_head = field<int>(cfg, "num_attention_heads", where);
    int n_ff = field<int>(cfg, "intermediate_size", where);
    // intermediate_size 0: a model without FFN (the All-attention LM).
    HP_CHECK(n_layer > 0 && n_head > 0 && n_ff >= 0, where, ": layers/heads must be > 0 and intermediate_size >= 0, got ",
             n_layer, "/", n_head, "/", n_ff);
    for (int il = 0; il < n_layer; ++il) {
      RunLayer L;
      L.label = str("L", il);
      L.heads_total = n_head;
      for (int h = 0; h < n_head; ++h) L.heads_kept.push_back(h);
      L.neurons_total = L.neurons_kept = n_ff;
      r.layers.push_back(std::move(L));
    }
  }
  for (const auto& L : r.layers) {
    r.kept_heads += L.heads_kept.size();
    r.total_heads += L.heads_total;
    r.kept_neurons += L.neurons_kept;
    r.total_neurons += L.neurons_total;
    r.attn_layers_alive += !L.heads_kept.empty();
  }
  read_results(r, map, dir);
  fs::path gp = dir / "gates.csv";
  if (fs::is_regular_file(gp)) {
    r.gates = read_gates_csv(gp.string());
    for (const auto& g : r.gates)
      HP_CHECK(g.layer < int(r.layers.size()) && g.head < r.layers[g.layer].heads_total, gp.string(),
               ": gate (layer ", g.layer, ", head ", g.head, ") is outside the model (",
               r.layers.size(), " layers x ", r.layers[0].heads_total, " heads)");
  }
  return r;
}

std::vector<Run> load_runs(const std::vector<std::string>& dirs) {
  std::vector<Run> runs;
  for (const auto& d : dirs) runs.push_back(load_run(d));
  std::stable_sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) {
    if (a.dense != b.dense) return a.dense;
    if (a.method != b.method) return a.method < b.method;
    return a.kept_flops_ratio > b.kept_flops_ratio;
  });
  std::map<std::string, int> count;
  for (auto& r : runs) {
    fs::path p = fs::path(r.dir).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
    r.name = p.filename().string();
    ++count[r.name];
  }
  for (auto& r : runs)
    if (count[r.name] > 1) r.name = r.dir;
  return runs;
}

// ---- tables -----------------------------------------------------------------------------------

namespace {

const std::vector<std::string> kColumns = {
    "dir",          "method",        "keep_flops",        "kept_flops_ratio", "kept_heads",
    "total_heads",  "kept_neurons",  "total_neurons",     "attn_layers_alive", "metric",
    "value",        "median_ms",     "speedup",           "seconds"};

json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(); }

json run_row(const Run& r) {
  return {{"dir", r.dir},
          {"method", r.method},
          {"keep_flops", number_or_null(r.keep_flops)},
          {"kept_flops_ratio", number_or_null(r.kept_flops_ratio)},
          {"kept_heads", r.kept_heads},
          {"total_heads", r.total_heads},
          {"kept_neurons", r.kept_neurons},
          {"total_neurons", r.total_neurons},
          {"attn_layers_alive", r.attn_layers_alive},
          {"metric", r.metric.empty() ? json() : json(r.metric)},
          {"value", number_or_null(r.value)},
          {"median_ms", number_or_null(r.median_ms)},
          {"speedup", number_or_null(r.speedup)},
          {"seconds", number_or_null(r.seconds)}};
}

std::string csv_cell(const json& v) {
  if (v.is_null()) return "";
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

std::string runs_csv(const std::vector<Run>& runs) {
  std::string out;
  for (size_t i = 0; i < kColumns.size(); ++i) out += (i ? "," : "") + kColumns[i];
  out += "\n";
  for (const auto& r : runs) {
    json row = run_row(r);
    for (size_t i = 0; i < kColumns.size(); ++i) out += (i ? "," : "") + csv_cell(row[kColumns[i]]);
    out += "\n";
  }
  return out;
}

json runs_json(const std::vector<Run>& runs) {
  json a = json::array();
  for (const auto& r : runs) a.push_back(run_row(r));
  return a;
}

// ---- page -------------------------------------------------------------------------------------

namespace {

const char* kDash = "\u2014";
const char* kDenseColor = "#222222";
const char* kKeptColor = "#4e79a7";
const char* kRemovedColor = "#e4e4e4";
const char* kFfnColor = "#f28e2b";

std::string fmt(const char* f, double v) {
  if (!std::isfinite(v)) return kDash;
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string pct(double num, double den) { return den > 0 ? fmt("%.1f%%", 100 * num / den) : kDash; }

bool log_metric(const std::string& metric) {
  std::string m = metric;
  std::transform(m.begin(), m.end(), m.begin(), ::tolower);
  return m.find("perplexity") != std::string::npos;
}

// Colour per method, stable across every plot and table of the page.
std::map<std::string, std::string> method_colors(const std::vector<Run>& runs) {
  std::map<std::string, std::string> c;
  size_t i = 0;
  for (const auto& r : runs)
    if (!c.count(r.method)) c[r.method] = r.dense ? kDenseColor : svg::palette(i++);
  return c;
}

std::string heatmap_svg(const Run& r) {
  int L = int(r.layers.size()), H = 0;
  for (const auto& l : r.layers) H = std::max(H, l.heads_total);
  // Width for the longest possible label, so heatmaps of one model shape line up in the grid.
  size_t label_chars = 0;
  for (const auto& l : r.layers)
    label_chars = std::max(label_chars, str(l.heads_total, "/", l.heads_total, " heads, ",
                                            l.neurons_total, "/", l.neurons_total, " neurons").size());
  // Sized so that two heatmaps of a 12-head model sit side by side on a 1280 px wide page.
  const double cell = std::clamp(std::floor(300.0 / std::max(H, 1)), 7.0, 15.0);
  const double label_w = 34, top = 20, bar_w = 64, gap = 10;
  const double bar_x = label_w + H * cell + gap, text_x = bar_x + bar_w + 8;
  svg::Svg g(std::max(text_x + 6.4 * label_chars, 340.0), top + L * cell + 28);
  int every = cell >= 13 ? 1 : cell >= 9 ? 2 : 4;  // head numbers that fit above the columns
  for (int h = 0; h < H; h += every)
    g.text(label_w + (h + 0.5) * cell, top - 6, std::to_string(h),
           {{"text-anchor", "middle"}, {"font-size", "9"}, {"fill", "#777"}});
  g.text(bar_x, top - 6, "FFN width", {{"font-size", "9"}, {"fill", "#777"}});
  for (int il = 0; il < L; ++il) {
    const auto& l = r.layers[il];
    double y = top + il * cell;
    g.text(label_w - 6, y + cell / 2 + 3.5, l.label,
           {{"text-anchor", "end"}, {"fill", "#555"}});
    std::vector<bool> kept(l.heads_total, false);
    for (int h : l.heads_kept) kept[h] = true;
    for (int h = 0; h < l.heads_total; ++h)
      g.rect(label_w + h * cell, y, cell - 1.5, cell - 1.5,
             {{"class", kept[h] ? "cell kept" : "cell removed"},
              {"fill", kept[h] ? kKeptColor : kRemovedColor},
              {"title", str(l.label, ", head ", h, ": ", kept[h] ? "kept" : "removed")}});
    double frac = l.neurons_total > 0 ? double(l.neurons_kept) / l.neurons_total : 0;
    std::string ffn_tip = str(l.label, " FFN: ", l.neurons_kept, "/", l.neurons_total,
                              " neurons (", pct(l.neurons_kept, l.neurons_total), ")");
    g.rect(bar_x, y + 1.5, bar_w, cell - 4.5, {{"fill", "#eeeeee"}, {"title", ffn_tip}});
    if (frac > 0) g.rect(bar_x, y + 1.5, bar_w * frac, cell - 4.5, {{"fill", kFfnColor}, {"title", ffn_tip}});
    // A sublayer with nothing left is skipped entirely: worth catching the eye.
    bool off = (l.heads_total > 0 && l.heads_kept.empty()) || (l.neurons_total > 0 && l.neurons_kept == 0);
    g.text(text_x, y + cell / 2 + 3.5,
           str(l.heads_kept.size(), "/", l.heads_total, " heads, ", l.neurons_kept, "/",
               l.neurons_total, " neurons"),
           {{"fill", off ? "#b03a2e" : "#333"}});
  }
  double x = label_w, ly = top + L * cell + 14;
  for (auto [color, what] : {std::pair{kKeptColor, "head kept"}, {kRemovedColor, "head removed"},
                             {kFfnColor, "FFN neurons kept"}}) {
    g.rect(x, ly - 8, 10, 10, {{"fill", color}});
    g.text(x + 14, ly + 1, what);
    x += 14 + 6.4 * std::string(what).size() + 14;
  }
  return g.str();
}

std::string gates_svg(const Run& r) {
  std::map<std::pair<int, int>, std::vector<std::pair<int64_t, double>>> traj;
  for (const auto& g : r.gates) traj[{g.layer, g.head}].push_back({g.step, g.log_alpha});
  int L = int(r.layers.size());
  int legend_every = (L + 11) / 12;  // at most ~12 legend entries
  svg::Plot p;
  p.title = "Gate trajectories: " + r.name;
  p.x_label = "training step";
  p.y_label = "log \u03b1 (one line per head)";
  p.width = 1060;
  p.height = 360;
  int last_layer = -1;
  for (auto& [key, pts] : traj) {
    std::sort(pts.begin(), pts.end());
    svg::Series s;
    if (key.first != last_layer && key.first % legend_every == 0) s.name = "layer " + std::to_string(key.first);
    last_layer = key.first;
    s.color = svg::sequential(L > 1 ? double(key.first) / (L - 1) : 0);
    s.line_width = 1;
    s.marker = 0;
    s.opacity = 0.75;
    for (const auto& [step, la] : pts) s.x.push_back(double(step)), s.y.push_back(la);
    p.series.push_back(std::move(s));
  }
  return svg::line_plot(p);
}

// Bench settings, so a latency plot says what was measured.
std::string bench_settings(const std::vector<const Run*>& runs) {
  std::set<std::string> seen;
  for (const auto* r : runs) {
    if (!r->bench.is_object()) continue;
    std::string s;
    for (const char* k : {"device", "dtype", "batch", "seq_len", "threads"})
      if (r->bench.contains(k)) {
        const auto& v = r->bench[k];
        s += std::string(s.empty() ? "" : ", ") + k + " " + (v.is_string() ? v.get<std::string>() : v.dump());
      }
    if (!s.empty()) seen.insert(s);
  }
  std::string out;
  for (const auto& s : seen) out += (out.empty() ? "" : "; ") + s;
  if (seen.size() > 1) out += " (settings differ between runs)";
  return out;
}

enum class XAxis { kFlops, kLatency, kSpeedup };

// Metric against kept FLOPs, latency or speedup; one series per method, dense as reference.
std::string quality_plot(const std::vector<const Run*>& runs, const std::string& metric, XAxis xa,
                         const std::map<std::string, std::string>& colors) {
  auto x_of = [&](const Run& r) {
    if (xa == XAxis::kFlops) return r.kept_flops_ratio;
    if (xa == XAxis::kLatency) return r.median_ms;
    return r.dense && !std::isfinite(r.speedup) ? 1.0 : r.speedup;  // dense is the 1x baseline
  };
  svg::Plot p;
  p.log_y = log_metric(metric);
  p.y_label = metric;
  p.title = metric + (xa == XAxis::kFlops ? " vs kept FLOPs" : xa == XAxis::kLatency ? " vs latency" : " vs speedup");
  p.x_label = xa == XAxis::kFlops ? "kept FLOPs (fraction of dense)"
              : xa == XAxis::kLatency ? "median latency (ms)" : "speedup over dense (\u00d7)";
  std::map<std::string, std::vector<const Run*>> by_method;
  for (const auto* r : runs)
    if (std::isfinite(x_of(*r))) by_method[r->method].push_back(r);
  std::vector<std::string> order;  // dense last, so its markers sit on top
  for (const auto& [m, rs] : by_method)
    if (m != "dense") order.push_back(m);
  if (by_method.count("dense")) order.push_back("dense");
  for (const auto& m : order) {
    auto rs = by_method[m];
    std::sort(rs.begin(), rs.end(), [&](const Run* a, const Run* b) { return x_of(*a) < x_of(*b); });
    svg::Series s;
    s.name = m;
    s.color = colors.at(m);
    bool dense = rs.front()->dense;
    if (dense) s.line_width = 0, s.shape = "diamond", s.marker = 5;
    for (const auto* r : rs) {
      s.x.push_back(x_of(*r));
      s.y.push_back(r->value);
      s.tips.push_back(str(r->name, ": ", metric, " ", fmt("%.4g", r->value), ", kept FLOPs ",
                           pct(r->kept_flops_ratio, 1), ", median ", fmt("%.2f ms", r->median_ms)));
    }
    if (dense && rs.size() == 1) p.y_refs.push_back({rs[0]->value, "dense " + fmt("%.4g", rs[0]->value)});
    p.series.push_back(std::move(s));
  }
  return svg::line_plot(p);
}

const char* kCss = R"(
body{font-family:system-ui,'Segoe UI','DejaVu Sans',Arial,sans-serif;color:#222;margin:0;background:#f4f5f7}
main{max-width:1180px;margin:0 auto;padding:26px 28px 40px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:17px;margin:30px 0 12px;padding-bottom:5px;border-bottom:1px solid #d8dbe0}
h3{font-size:14px;margin:0 0 3px}
.sub,.meta,.note{color:#666;font-size:12.5px}
.sub{margin-bottom:18px}
.meta{margin-bottom:8px}
.grid{display:flex;flex-wrap:wrap;gap:16px}
.card{background:#fff;border:1px solid #e0e3e8;border-radius:6px;padding:12px 14px;overflow-x:auto}
table.runs{border-collapse:collapse;font-size:12.5px;width:100%;background:#fff;border:1px solid #e0e3e8}
table.runs th{text-align:left;background:#eef0f3;font-weight:600;padding:6px 8px;border-bottom:1px solid #d0d4da;vertical-align:bottom}
.table-wrap{overflow-x:auto}
table.runs td{padding:5px 8px;border-bottom:1px solid #eceef1;white-space:nowrap}
table.runs td.num,table.runs th.num{text-align:right;font-variant-numeric:tabular-nums}
table.runs tr.dense td{background:#fbfbf3}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:-1px}
footer{color:#888;font-size:11px;margin-top:34px}
)";

std::string summary_table(const std::vector<Run>& runs, const std::map<std::string, std::string>& colors) {
  std::ostringstream o;
  o << "<div class=\"table-wrap\"><table class=\"runs\"><thead><tr><th>run</th><th>method</th><th class=\"num\">budget</th>"
       "<th class=\"num\">kept FLOPs</th><th class=\"num\">heads</th><th class=\"num\">neurons</th>"
       "<th class=\"num\">attn layers alive</th><th>metric</th><th class=\"num\">value</th>"
       "<th class=\"num\">median&nbsp;ms</th><th class=\"num\">speedup</th><th class=\"num\">prune&nbsp;s</th>"
       "</tr></thead><tbody>\n";
  for (const auto& r : runs) {
    auto num = [&](const std::string& s) { return "<td class=\"num\">" + escape(s) + "</td>"; };
    o << "<tr" << (r.dense ? " class=\"dense\"" : "") << "><td title=\"" << escape(r.dir) << "\">"
      << escape(r.name) << "</td><td><span class=\"swatch\" style=\"background:"
      << colors.at(r.method) << "\"></span>" << escape(r.method) << "</td>"
      << num(fmt("%.3g", r.keep_flops)) << num(pct(r.kept_flops_ratio, 1))
      << num(str(r.kept_heads, "/", r.total_heads, " (", pct(r.kept_heads, r.total_heads), ")"))
      << num(str(r.kept_neurons, "/", r.total_neurons, " (", pct(r.kept_neurons, r.total_neurons), ")"))
      << num(str(r.attn_layers_alive, "/", r.layers.size()))
      << "<td>" << escape(r.metric.empty() ? kDash : r.metric) << "</td>" << num(fmt("%.4g", r.value))
      << num(fmt("%.2f", r.median_ms)) << num(fmt("%.2f\u00d7", r.speedup)) << num(fmt("%.1f", r.seconds))
      << "</tr>\n";
  }
  o << "</tbody></table></div>\n";
  return o.str();
}

}  // namespace

std::string render_html(const std::vector<Run>& runs, const std::string& title) {
  auto colors = method_colors(runs);
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" << escape(title)
    << "</title>\n<style>" << kCss << "</style></head>\n<body><main>\n<h1>" << escape(title) << "</h1>\n";
  std::set<std::string> methods;
  for (const auto& r : runs)
    if (!r.dense) methods.insert(r.method);
  std::string mlist;
  for (const auto& m : methods) mlist += (mlist.empty() ? "" : ", ") + m;
  o << "<div class=\"sub\">" << runs.size() << " run" << (runs.size() == 1 ? "" : "s")
    << (mlist.empty() ? "" : " \u00b7 methods: " + escape(mlist)) << "</div>\n";

  o << "<h2>Runs</h2>\n" << summary_table(runs, colors);

  // Quality plots, one per metric: runs evaluated with different metrics are not comparable.
  std::vector<std::string> metrics;
  for (const auto& r : runs)
    if (!r.metric.empty() && std::find(metrics.begin(), metrics.end(), r.metric) == metrics.end())
      metrics.push_back(r.metric);
  if (!metrics.empty()) {
    o << "<h2>Quality vs cost</h2>\n<div class=\"grid\">\n";
    for (const auto& m : metrics) {
      std::vector<const Run*> rs;
      bool latency = false, speedup = false;
      for (const auto& r : runs)
        if (r.metric == m && std::isfinite(r.value)) {
          rs.push_back(&r);
          latency |= !r.dense && std::isfinite(r.median_ms);
          speedup |= !r.dense && std::isfinite(r.speedup);
        }
      o << "<div class=\"card\">" << quality_plot(rs, m, XAxis::kFlops, colors) << "</div>\n";
      if (latency || speedup) {
        std::string settings = bench_settings(rs);
        o << "<div class=\"card\">"
          << quality_plot(rs, m, latency ? XAxis::kLatency : XAxis::kSpeedup, colors);
        if (!settings.empty()) o << "<div class=\"note\">measured with " << escape(settings) << "</div>";
        o << "</div>\n";
      }
    }
    o << "</div>\n";
  }

  o << "<h2>Head survival</h2>\n<div class=\"grid\">\n";
  for (const auto& r : runs) {
    if (r.dense) continue;
    o << "<div class=\"card\"><h3>" << escape(r.name) << "</h3><div class=\"meta\">"
      << escape(str(r.method, " \u00b7 budget ", fmt("%.3g", r.keep_flops), " \u00b7 kept FLOPs ",
                    pct(r.kept_flops_ratio, 1), " \u00b7 attention layers alive ", r.attn_layers_alive,
                    "/", r.layers.size()))
      << "</div>" << heatmap_svg(r) << "</div>\n";
  }
  o << "</div>\n";
  for (const auto& r : runs)
    if (r.dense)
      o << "<p class=\"note\">Dense reference " << escape(r.name) << ": " << r.layers.size()
        << " layers \u00d7 " << r.layers[0].heads_total << " heads, FFN width "
        << r.layers[0].neurons_total << ".</p>\n";

  bool any_gates = false;
  for (const auto& r : runs) any_gates |= !r.gates.empty();
  if (any_gates) {
    o << "<h2>Gate trajectories</h2>\n";
    for (const auto& r : runs)
      if (!r.gates.empty()) o << "<div class=\"card\">" << gates_svg(r) << "</div>\n";
  }
  o << "<footer>headprune " << HP_VERSION << " (" << HP_GIT
    << ") \u00b7 one self-contained file: no scripts, no external resources</footer>\n"
    << "</main></body></html>\n";
  return o.str();
}

std::vector<std::string> write_report(const std::vector<Run>& runs, const std::string& out_dir,
                                      const std::string& title) {
  HP_CHECK(!runs.empty(), "report: no runs");
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  HP_CHECK(fs::is_directory(out_dir), "cannot create output directory '", out_dir, "': ", ec.message());
  std::vector<std::pair<std::string, std::string>> files = {
      {"report.html", render_html(runs, title)},
      {"runs.csv", runs_csv(runs)},
      {"runs.json", runs_json(runs).dump(1) + "\n"}};
  std::vector<std::string> paths;
  for (const auto& [name, content] : files) {
    paths.push_back((fs::path(out_dir) / name).string());
    write_file_atomic(paths.back(), content);
  }
  return paths;
}

}  // namespace hp
