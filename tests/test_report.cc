// The run report: SVG builder and ticks, reading run directories (pruning maps written by the real
// make_pruning_map, dense configs, gates.csv), the CSV/JSON rows, the heatmap cells, escaping and
// the errors for missing or malformed inputs. Rendering with chromium is not tested here.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include "core/check.h"
#include "report/html_report.h"
#include "report/pruning_map.h"
#include "report/svg.h"

using namespace hp;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << s;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const hp::Error& e) {
    return e.what();
  }
  return "(no error)";
}

constexpr int kLayers = 4, kHeads = 6, kFf = 32;

// make_pruning_map for a model of (self-attention, FFN) layers given per layer: the parent's
// config, the kept head / neuron indices (parent numbering) and the child's stored FFN widths.
json layer_map(const ModelConfig& parent, const json* parent_map, const ModelConfig& child,
               const std::vector<std::vector<int>>& heads, const std::vector<std::vector<int>>& neurons,
               const PruningRecord& rec, double dense, double kept) {
  std::vector<hp::SublayerSpec> specs;
  std::vector<int64_t> dense_units, padding;
  std::vector<std::vector<int64_t>> ku, kg;
  for (int il = 0; il < parent.n_layer; ++il) {
    hp::SublayerSpec a, f;
    a.index = 2 * il, a.kind = hp::SublayerKind::SelfAttn, a.layer = il;
    a.units = a.groups = parent.layers[il].n_head;
    f.index = 2 * il + 1, f.kind = hp::SublayerKind::Ffn, f.layer = il;
    f.units = parent.layers[il].n_ff;
    specs.push_back(a), specs.push_back(f);
    dense_units.push_back(parent.n_head_dense), dense_units.push_back(parent.n_ff_dense);
    ku.push_back({heads[il].begin(), heads[il].end()});
    kg.push_back(ku.back());
    ku.push_back({neurons[il].begin(), neurons[il].end()});
    kg.push_back({});
    padding.push_back(0);
    padding.push_back(child.layers[il].n_ff - int64_t(neurons[il].size()));
  }
  hp::MapFlops fl;
  fl.dense = dense, fl.kept = kept, fl.padded = kept;
  return make_pruning_map(specs, dense_units, parent_map, ku, kg, padding, rec, fl);
}

// A pruning.json as `headprune prune` writes it: make_pruning_map on a dense parent.
json pruning_map(const std::string& method, double keep, const std::vector<std::vector<int>>& heads,
                 const std::vector<int>& n_neurons) {
  ModelConfig parent;
  parent.n_layer = kLayers;
  parent.n_head_dense = kHeads;
  parent.n_ff_dense = kFf;
  parent.set_dense_layers();
  ModelConfig child = parent;
  std::vector<std::vector<int>> neurons(kLayers);
  for (int il = 0; il < kLayers; ++il) {
    child.layers[il].n_head = child.layers[il].n_head_kv = int(heads[il].size());
    child.layers[il].n_ff = n_neurons[il];
    for (int j = 0; j < n_neurons[il]; ++j) neurons[il].push_back(j);
  }
  PruningRecord rec;
  rec.method = method;
  rec.keep_flops = keep;
  rec.seq_len = 128;
  rec.extra["seconds"] = 2.5;
  return layer_map(parent, nullptr, child, heads, neurons, rec, 100.0, 100.0 * keep);
}

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("hp_report_test_" + std::to_string(getpid()) + "_" + std::to_string(std::random_device{}()));
    sweep_ = root_ / "sweep";
    spit(sweep_ / "dense" / "config.json",
         json{{"num_hidden_layers", kLayers}, {"num_attention_heads", kHeads}, {"intermediate_size", kFf}}.dump());
    spit(sweep_ / "dense" / "eval.json", json{{"metric", "accuracy"}, {"value", 0.9}}.dump());
    add_run("magnitude-0.7", "magnitude", 0.7, {{0, 1, 2, 3, 4}, {0, 2, 4}, {1, 5}, {3}}, {30, 20, 12, 8}, 0.85);
    add_run("magnitude-0.4", "magnitude", 0.4, {{0, 1}, {2}, {}, {5}}, {20, 10, 0, 4}, 0.70);
    auto m = add_run("fisher-0.5", "fisher", 0.5, {{0, 1, 2}, {2, 3}, {0}, {}}, {24, 16, 6, 2}, 0.80);
    m["bench"] = {{"median_ms", 12.5}, {"speedup", 1.6}, {"device", "cpu"}, {"dtype", "float32"}};
    spit(sweep_ / "fisher-0.5" / "pruning.json", m.dump(1));
    fs::create_directories(sweep_ / "logs");  // not a run: must be skipped
  }
  void TearDown() override { fs::remove_all(root_); }

  json add_run(const std::string& name, const std::string& method, double keep,
               const std::vector<std::vector<int>>& heads, const std::vector<int>& neurons,
               double acc) {
    json m = pruning_map(method, keep, heads, neurons);
    m["eval"] = {{"metric", "accuracy"}, {"value", acc}};
    spit(sweep_ / name / "pruning.json", m.dump(1));
    return m;
  }

  fs::path root_, sweep_;
};

}  // namespace

TEST(Svg, EscapesTextAndAttributes) {
  EXPECT_EQ(svg::escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
  svg::Svg s(40, 20);
  s.text(1, 2, "x<y & z", {{"fill", "\"red\""}, {"title", "tip <b>"}});
  s.rect(0, 0, 5, 5, {{"class", "cell kept"}});
  std::string out = s.str();
  EXPECT_NE(out.find(">x&lt;y &amp; z<"), std::string::npos) << out;
  EXPECT_NE(out.find("fill=\"&quot;red&quot;\""), std::string::npos) << out;
  EXPECT_NE(out.find("<title>tip &lt;b&gt;</title>"), std::string::npos) << out;
  EXPECT_EQ(out.find("<b>"), std::string::npos) << out;
  EXPECT_EQ(count(out, "<rect"), 1u);
}

TEST(Svg, GroupsMustBeClosed) {
  svg::Svg s(10, 10);
  s.group({{"class", "g"}});
  EXPECT_THROW(s.str(), hp::Error);
  s.end();
  EXPECT_NO_THROW(s.str());
  EXPECT_THROW(s.end(), hp::Error);
}

TEST(Svg, NiceTicksCoverTheRangeInOneTwoFiveSteps) {
  for (auto [lo, hi] : std::vector<std::pair<double, double>>{
           {0.31, 0.97}, {0, 1}, {-3.7, 12.2}, {15.6, 41.3}, {0.001, 0.0042}, {1e5, 3.3e6}, {2, 2}}) {
    auto t = svg::nice_ticks(lo, hi);
    ASSERT_GE(t.size(), 3u) << lo << ".." << hi;
    EXPECT_LE(t.front(), lo);
    EXPECT_GE(t.back(), hi);
    double step = t[1] - t[0];
    double m = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    EXPECT_TRUE(std::fabs(m - 1) < 1e-6 || std::fabs(m - 2) < 1e-6 || std::fabs(m - 5) < 1e-6)
        << "step " << step;
    for (size_t i = 1; i < t.size(); ++i) EXPECT_NEAR(t[i] - t[i - 1], step, 1e-9 * std::fabs(hi));
    EXPECT_LE(t.size(), 12u);
  }
  auto t = svg::nice_ticks(0.31, 0.97);
  EXPECT_EQ(svg::tick_label(t[0], t[1] - t[0]), "0.3");
  EXPECT_EQ(svg::tick_label(0.25, 0.05), "0.25");
  EXPECT_EQ(svg::tick_label(20, 10), "20");
  EXPECT_EQ(svg::tick_label(-0.0, 0.1), "0.0");
}

TEST(Svg, LogTicksDecadesThenOneTwoFiveThenLinear) {
  EXPECT_EQ(svg::log_ticks(0.5, 2000), (std::vector<double>{1, 10, 100, 1000}));
  EXPECT_EQ(svg::log_ticks(4, 60), (std::vector<double>{5, 10, 20, 50}));
  auto narrow = svg::log_ticks(8, 12.5);
  ASSERT_GE(narrow.size(), 3u);
  for (double v : narrow) EXPECT_TRUE(v >= 8 && v <= 12.5) << v;
}

TEST(Svg, LinePlotDrawsSeriesLegendAndReferenceLines) {
  svg::Plot p;
  p.title = "acc <vs> flops";
  p.series.push_back({"method <a>", {0.3, 0.5, 0.9}, {0.7, 0.8, 0.88}});
  p.series.push_back({"", {0.4, 0.6}, {0.72, 0.81}});  // unnamed: drawn, not in the legend
  p.series.back().shape = "square";
  p.y_refs.push_back({0.9, "dense"});
  std::string out = svg::line_plot(p);
  EXPECT_EQ(count(out, "<polyline"), 2u);
  EXPECT_EQ(count(out, "<circle"), 3u + 1u);  // 3 markers + 1 legend marker
  EXPECT_NE(out.find("method &lt;a&gt;"), std::string::npos);
  EXPECT_NE(out.find("acc &lt;vs&gt; flops"), std::string::npos);
  EXPECT_NE(out.find("stroke-dasharray"), std::string::npos);
  EXPECT_EQ(out.find("<a>"), std::string::npos);

  p.log_y = true;
  p.series[0].y = {-1, 0, std::nan("")};  // nothing drawable on a log axis
  p.series.pop_back();
  p.y_refs.clear();
  EXPECT_NE(svg::line_plot(p).find("no data"), std::string::npos);
}

TEST_F(ReportTest, WritesHtmlCsvAndJson) {
  auto dirs = expand_run_dirs({sweep_.string()});
  ASSERT_EQ(dirs.size(), 4u);  // dense + 3 runs; logs/ is not a run
  auto runs = load_runs(dirs);
  auto files = write_report(runs, (root_ / "out").string(), "t");
  ASSERT_EQ(files.size(), 3u);
  for (const char* f : {"report.html", "runs.csv", "runs.json"})
    EXPECT_TRUE(fs::is_regular_file(root_ / "out" / f)) << f;
  EXPECT_TRUE(runs[0].dense);  // the reference comes first
  auto j = json::parse(slurp(root_ / "out" / "runs.json"));
  ASSERT_EQ(j.size(), 4u);
  EXPECT_TRUE(j[0]["keep_flops"].is_null());
  EXPECT_EQ(j[0]["value"], 0.9);
}

TEST_F(ReportTest, CsvHasOneRowPerRunWithKeptRatios) {
  auto runs = load_runs(expand_run_dirs({sweep_.string()}));
  std::stringstream csv(runs_csv(runs));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "dir,method,keep_flops,kept_flops_ratio,kept_heads,total_heads,kept_neurons,"
                  "total_neurons,attn_layers_alive,metric,value,median_ms,speedup,seconds");
  std::map<std::string, std::vector<std::string>> rows;
  while (std::getline(csv, line)) {
    std::vector<std::string> cells;
    std::stringstream ls(line);
    std::string c;
    while (std::getline(ls, c, ',')) cells.push_back(c);
    if (line.back() == ',') cells.push_back("");
    ASSERT_EQ(cells.size(), 14u) << line;
    rows[fs::path(cells[0]).filename().string()] = cells;
  }
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_DOUBLE_EQ(std::stod(rows["magnitude-0.7"][3]), 0.7);
  EXPECT_DOUBLE_EQ(std::stod(rows["magnitude-0.4"][3]), 0.4);
  EXPECT_DOUBLE_EQ(std::stod(rows["fisher-0.5"][3]), 0.5);
  EXPECT_DOUBLE_EQ(std::stod(rows["dense"][3]), 1.0);
  EXPECT_EQ(rows["magnitude-0.4"][4], "4");        // kept heads
  EXPECT_EQ(rows["magnitude-0.4"][5], "24");       // total heads
  EXPECT_EQ(rows["magnitude-0.4"][6], "34");       // kept neurons
  EXPECT_EQ(rows["magnitude-0.4"][8], "3");        // layer 2 has no heads left
  EXPECT_EQ(rows["fisher-0.5"][8], "3");
  EXPECT_EQ(rows["fisher-0.5"][11], "12.5");
  EXPECT_EQ(rows["fisher-0.5"][12], "1.6");
  EXPECT_EQ(rows["magnitude-0.7"][11], "");         // not benchmarked
  EXPECT_EQ(rows["dense"][2], "");                  // no budget
  EXPECT_EQ(rows["dense"][4], "24");
  EXPECT_EQ(rows["dense"][9], "accuracy");
}

TEST_F(ReportTest, HeatmapHasOneCellPerLayerAndHead) {
  auto runs = load_runs(expand_run_dirs({sweep_.string()}));
  std::string html = render_html(runs, "t");
  // Pruned runs only: 3 runs x 4 layers x 6 heads; kept = 5+3+2+1 + 2+1+0+1 + 3+2+1+0.
  EXPECT_EQ(count(html, "class=\"cell kept\""), 21u);
  EXPECT_EQ(count(html, "class=\"cell removed\""), 3u * kLayers * kHeads - 21u);
  EXPECT_NE(html.find("2/6 heads, 20/32 neurons"), std::string::npos);
  EXPECT_NE(html.find("0/6 heads, 0/32 neurons"), std::string::npos);
  EXPECT_NE(html.find("accuracy vs kept FLOPs"), std::string::npos);
  EXPECT_NE(html.find("accuracy vs latency"), std::string::npos);  // fisher-0.5 has bench data
  EXPECT_EQ(html.find("(log scale)"), std::string::npos);          // accuracy is linear
  // Self-contained: no scripts, no fetched resources.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
}

TEST_F(ReportTest, EscapesTitleAndNames) {
  json m = pruning_map("<script>alert(1)</script>", 0.5, {{0}, {1}, {2}, {3}}, {1, 1, 1, 1});
  m["eval"] = {{"metric", "f1 & <co>"}, {"value", 0.5}};
  spit(sweep_ / "x&y" / "pruning.json", m.dump());
  auto runs = load_runs(expand_run_dirs({sweep_.string()}));
  std::string html = render_html(runs, "A <b>title</b> & more");
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("A &lt;b&gt;title&lt;/b&gt; &amp; more"), std::string::npos);
  EXPECT_NE(html.find("x&amp;y"), std::string::npos);
  EXPECT_NE(html.find("f1 &amp; &lt;co&gt;"), std::string::npos);
  EXPECT_EQ(html.find("x&y"), std::string::npos);
}

TEST_F(ReportTest, PerplexityGetsALogAxis) {
  json m = pruning_map("magnitude", 0.5, {{0}, {1}, {2}, {3}}, {1, 1, 1, 1});
  m["eval"] = {{"metric", "mlm_perplexity"}, {"value", 12.0}};
  spit(root_ / "ppl" / "pruning.json", m.dump());
  auto runs = load_runs({(sweep_ / "dense").string(), (root_ / "ppl").string()});
  std::string html = render_html(runs, "t");
  EXPECT_NE(html.find("mlm_perplexity vs kept FLOPs"), std::string::npos);
  EXPECT_NE(html.find("mlm_perplexity (log scale)"), std::string::npos);
}

TEST_F(ReportTest, ListedAndSweepDirsCombineWithoutDuplicates) {
  auto dirs = expand_run_dirs({(sweep_ / "fisher-0.5").string(), sweep_.string()});
  EXPECT_EQ(dirs.size(), 4u);
  EXPECT_EQ(fs::path(dirs[0]).filename(), "fisher-0.5");
}

TEST_F(ReportTest, MissingOrMalformedInputsNameTheFile) {
  EXPECT_NE(error_of([&] { expand_run_dirs({(root_ / "nope").string()}); }).find("does not exist"),
            std::string::npos);
  EXPECT_NE(error_of([&] { expand_run_dirs({(sweep_ / "logs").string()}); }).find("logs"),
            std::string::npos);

  fs::path bad = sweep_ / "magnitude-0.7" / "pruning.json";
  spit(bad, "{\"method\": \"magnitude\", \"layers\": [");
  std::string e = error_of([&] { load_run(bad.parent_path().string()); });
  EXPECT_NE(e.find(bad.string()), std::string::npos) << e;
  EXPECT_NE(e.find("invalid JSON"), std::string::npos) << e;

  json m = pruning_map("magnitude", 0.7, {{0}, {1}, {2}, {3}}, {1, 1, 1, 1});
  m["sublayers"][4].erase("kept");
  spit(bad, m.dump());
  e = error_of([&] { load_run(bad.parent_path().string()); });
  EXPECT_NE(e.find(bad.string()), std::string::npos) << e;
  EXPECT_NE(e.find("sublayers[4]"), std::string::npos) << e;
  EXPECT_NE(e.find("kept"), std::string::npos) << e;

  m = pruning_map("magnitude", 0.7, {{0}, {1}, {2}, {3}}, {1, 1, 1, 1});
  m["sublayers"][2]["kept"] = {1, 9};
  spit(bad, m.dump());
  e = error_of([&] { load_run(bad.parent_path().string()); });
  EXPECT_NE(e.find("sublayers[2]"), std::string::npos) << e;
  EXPECT_NE(e.find("[0, 6)"), std::string::npos) << e;

  // A map written before "sublayers" existed is read through its per-layer view, and its
  // errors still name the layer.
  m = pruning_map("magnitude", 0.7, {{0}, {1}, {2}, {3}}, {1, 1, 1, 1});
  m.erase("sublayers");
  spit(bad, m.dump());
  EXPECT_EQ(load_run(bad.parent_path().string()).kept_heads, 4);
  m["layers"][2].erase("heads_kept");
  spit(bad, m.dump());
  e = error_of([&] { load_run(bad.parent_path().string()); });
  EXPECT_NE(e.find(bad.string()), std::string::npos) << e;
  EXPECT_NE(e.find("layers[2]"), std::string::npos) << e;
  EXPECT_NE(e.find("heads_kept"), std::string::npos) << e;

  m = pruning_map("magnitude", 0.7, {{0}, {1}, {2}, {3}}, {1, 1, 1, 1});
  m["kept_flops_ratio"] = "half";
  spit(bad, m.dump());
  e = error_of([&] { load_run(bad.parent_path().string()); });
  EXPECT_NE(e.find("kept_flops_ratio"), std::string::npos) << e;
  EXPECT_NE(e.find(bad.string()), std::string::npos) << e;

  fs::path cfg = sweep_ / "dense" / "config.json";
  spit(cfg, json{{"num_hidden_layers", 2}}.dump());
  e = error_of([&] { load_run(cfg.parent_path().string()); });
  EXPECT_NE(e.find(cfg.string()), std::string::npos) << e;
  EXPECT_NE(e.find("num_attention_heads"), std::string::npos) << e;
}

TEST_F(ReportTest, GateTrajectoriesArePlottedPerHead) {
  fs::path dir = sweep_ / "fisher-0.5";
  std::string csv = "step,layer,head,log_alpha,p_closed,p_open\n";
  for (int step = 0; step <= 100; step += 25)
    for (int il = 0; il < kLayers; ++il)
      for (int h = 0; h < kHeads; ++h)
        csv += std::to_string(step) + "," + std::to_string(il) + "," + std::to_string(h) + "," +
               std::to_string(2.0 - 0.03 * step * (h % 2 ? 1 : -0.2)) + ",0.1,0.9\n";
  spit(dir / "gates.csv", csv);
  hp::Run r = load_run(dir.string());
  EXPECT_EQ(r.gates.size(), 5u * kLayers * kHeads);
  std::string html = render_html({r}, "t");
  EXPECT_NE(html.find("Gate trajectories"), std::string::npos);
  size_t gates_at = html.find("Gate trajectories: ");
  ASSERT_NE(gates_at, std::string::npos);
  EXPECT_EQ(count(html.substr(gates_at), "<polyline"), size_t(kLayers * kHeads));

  spit(dir / "gates.csv", "step,layer,head,log_alpha\n0,0,0,1.5\n10,0,zero,1.0\n");
  std::string e = error_of([&] { load_run(dir.string()); });
  EXPECT_NE(e.find("gates.csv:3"), std::string::npos) << e;
  EXPECT_NE(e.find("head"), std::string::npos) << e;

  spit(dir / "gates.csv", "step,layer,head,log_alpha\n0,7,0,1.5\n");
  e = error_of([&] { load_run(dir.string()); });
  EXPECT_NE(e.find("outside the model"), std::string::npos) << e;

  spit(dir / "gates.csv", "step,layer,alpha\n");
  e = error_of([&] { load_run(dir.string()); });
  EXPECT_NE(e.find("'head'"), std::string::npos) << e;
}

TEST(PruningMap, PaddingIsRecordedAndShownButNotCountedAsKept) {
  ModelConfig parent;
  parent.n_layer = 2;
  parent.n_head_dense = 4;
  parent.n_ff_dense = 32;
  parent.set_dense_layers();
  ModelConfig child = parent;
  child.layers[0].n_ff = 16;  // 13 real neurons + 3 zero neurons of alignment padding
  child.layers[1].n_ff = 0;
  std::vector<std::vector<int>> heads = {{0, 1, 2, 3}, {1}};
  std::vector<std::vector<int>> neurons = {{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24}, {}};
  PruningRecord rec;
  rec.method = "pass";
  rec.extra["params"] = json{{"keep_heads", 5}};
  json map = layer_map(parent, nullptr, child, heads, neurons, rec, 100.0, 40.0);
  EXPECT_EQ(map["kept_neurons"].get<int>(), 13);
  EXPECT_EQ(map["padding_neurons"].get<int>(), 3);
  EXPECT_EQ(map["layers"][0]["neurons_padding"].get<int>(), 3);
  EXPECT_TRUE(map["layers"][1]["ffn_skipped"].get<bool>());
  std::string table = format_pruning_map(map);
  EXPECT_NE(table.find("keep-heads 5"), std::string::npos) << table;
  EXPECT_NE(table.find("13/32    +3 pad"), std::string::npos) << table;
  // A child of the padded model that keeps a padding neuron (index 14 >= 13 real ones) maps it
  // to no original neuron.
  ModelConfig grandchild = child;
  grandchild.layers[0].n_ff = 2;
  json map2 = layer_map(child, &map, grandchild, {{0, 1, 2, 3}, {0}}, {{0, 14}, {}}, rec, 100.0, 10.0);
  EXPECT_EQ(map2["layers"][0]["neurons_kept"], json::array({0}));
  EXPECT_EQ(map2["layers"][0]["neurons_padding"].get<int>(), 1);
}

TEST(PruningMap, AfterTrainingKeepsTheStructureAndRetiresStaleFigures) {
  nlohmann::json map = {{"method", "kprune"},
                        {"layers", {{{"layer", 0}, {"heads_kept", {0, 2}}, {"heads_total", 4}}}},
                        {"eval", {{"metric", "accuracy"}, {"value", 0.71}}}};
  auto once = hp::pruning_map_after_training(map, {{"task", "classify"}, {"train", "a.tsv"}});
  EXPECT_EQ(once["layers"], map["layers"]);
  EXPECT_EQ(once["method"], "kprune");
  EXPECT_FALSE(once.contains("eval"));  // the pruned model's accuracy is not the trained model's
  EXPECT_EQ(once["eval_before_training"]["value"], 0.71);
  ASSERT_EQ(once["trained_after_pruning"].size(), 1u);
  EXPECT_EQ(once["trained_after_pruning"][0]["train"], "a.tsv");
  // A second training appends its record and keeps the as-pruned figures.
  once["eval"] = {{"metric", "accuracy"}, {"value", 0.9}};
  auto twice = hp::pruning_map_after_training(once, {{"task", "classify"}, {"train", "b.tsv"}});
  EXPECT_EQ(twice["eval_before_training"]["value"], 0.71);
  ASSERT_EQ(twice["trained_after_pruning"].size(), 2u);
  EXPECT_EQ(twice["trained_after_pruning"][1]["train"], "b.tsv");
  EXPECT_THROW(hp::pruning_map_after_training(nlohmann::json::object(), {}), hp::Error);
}

// A dense model without FFN (the All-attention LM: intermediate_size 0) is a valid reference;
// a negative width is refused.
TEST_F(ReportTest, DenseModelWithoutFfnIsAReference) {
  const fs::path d = root_ / "allattn";
  spit(d / "config.json", json{{"num_hidden_layers", 3}, {"num_attention_heads", 4}, {"intermediate_size", 0}}.dump());
  auto runs = load_runs({d.string()});
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_TRUE(runs[0].dense);
  EXPECT_EQ(runs[0].total_heads, 12);
  EXPECT_EQ(runs[0].total_neurons, 0);
  EXPECT_EQ(runs[0].attn_layers_alive, 3);
  write_report(runs, (root_ / "out_allattn").string(), "t");
  spit(d / "config.json", json{{"num_hidden_layers", 3}, {"num_attention_heads", 4}, {"intermediate_size", -1}}.dump());
  EXPECT_NE(error_of([&] { load_runs({d.string()}); }).find("intermediate_size"), std::string::npos);
}
