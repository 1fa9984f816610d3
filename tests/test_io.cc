// Tests of src/io: safetensors reader/writer, HF config mapping, checkpoint directories.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "core/check.h"
#include "core/files.h"
#include "io/checkpoint.h"
#include "io/hf_config.h"
#include "io/safetensors.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// A fresh directory per test, removed afterwards.
class ScratchDir {
 public:
  ScratchDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("hp_test_io_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() { fs::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }
  // Sorted entry names, to spot leftover temp files.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path_)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  fs::path path_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

// A safetensors file from a header text and a data buffer.
std::string st_bytes(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

// Runs fn, expects hp::Error, returns its message ("" and a failure if none was thrown).
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const hp::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected hp::Error";
  return "";
}

bool same_bytes(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  auto ca = a.contiguous(), cb = b.contiguous();
  return ca.numel() == 0 ||
         std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.numel() * ca.element_size()) == 0;
}

hp::TensorMap sample_tensors() {
  torch::manual_seed(7);
  auto specials = torch::tensor({0.0f, -0.0f, std::numeric_limits<float>::infinity(),
                                 -std::numeric_limits<float>::infinity(),
                                 std::numeric_limits<float>::quiet_NaN(), 1e-40f, 3.0e38f});
  auto f32 = torch::cat({torch::randn({40}), specials});
  hp::TensorMap t;
  t["f32"] = f32.view({1, 47});
  t["f16"] = torch::randn({5, 3}).to(torch::kHalf);
  t["bf16"] = f32.to(torch::kBFloat16);
  t["i64"] = torch::tensor({int64_t(-3), int64_t(0), int64_t(1) << 50});
  t["i32"] = torch::randint(-1000, 1000, {2, 2, 2}, torch::kInt);
  t["bool"] = torch::tensor({true, false, true});
  t["scalar"] = torch::tensor(2.5f);
  t["empty"] = torch::zeros({0, 3});
  t["transposed"] = torch::randn({3, 4}).t();  // not contiguous: must be written row-major
  return t;
}

hp::ModelConfig tiny_config() {
  hp::ModelConfig cfg;
  cfg.vocab_size = 50;
  cfg.d_model = 16;
  cfg.d_head = 4;
  cfg.n_layer = 3;
  cfg.n_head_dense = 4;
  cfg.n_ff_dense = 32;
  cfg.labels = {"neg", "pos"};
  cfg.layers = {{4, 4, 32}, {2, 2, 10}, {0, 0, 0}};
  return cfg;
}

void expect_same_config(const hp::ModelConfig& a, const hp::ModelConfig& b) {
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.task, b.task);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.d_model, b.d_model);
  EXPECT_EQ(a.d_head, b.d_head);
  EXPECT_EQ(a.n_layer, b.n_layer);
  EXPECT_EQ(a.n_head_dense, b.n_head_dense);
  EXPECT_EQ(a.n_ff_dense, b.n_ff_dense);
  EXPECT_EQ(a.max_pos, b.max_pos);
  EXPECT_EQ(a.type_vocab_size, b.type_vocab_size);
  EXPECT_EQ(a.pad_id, b.pad_id);
  EXPECT_EQ(a.ln_eps, b.ln_eps);
  EXPECT_EQ(a.act, b.act);
  EXPECT_EQ(a.n_labels, b.n_labels);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.layers, b.layers);
}

// What transformers 4.x save_pretrained writes for a fine-tuned bert-base classifier.
json bert_base_sst2() {
  return json::parse(R"({
    "_name_or_path": "bert-base-uncased",
    "architectures": ["BertForSequenceClassification"],
    "attention_probs_dropout_prob": 0.1,
    "classifier_dropout": null,
    "gradient_checkpointing": false,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 768,
    "id2label": {"0": "negative", "1": "positive"},
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "label2id": {"negative": 0, "positive": 1},
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512,
    "model_type": "bert",
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "problem_type": "single_label_classification",
    "torch_dtype": "float32",
    "transformers_version": "4.44.2",
    "type_vocab_size": 2,
    "use_cache": true,
    "vocab_size": 30522
  })");
}

}  // namespace

// ---------------------------------------------------------------------------------- safetensors

TEST(Safetensors, RoundTripIsBitExactForEveryDtype) {
  ScratchDir dir;
  const auto tensors = sample_tensors();
  hp::write_safetensors(dir / "t.safetensors", tensors);
  const auto back = hp::read_safetensors(dir / "t.safetensors");
  ASSERT_EQ(back.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    ASSERT_TRUE(back.count(name)) << name;
    EXPECT_TRUE(same_bytes(back.at(name), t)) << name;
    EXPECT_TRUE(back.at(name).is_contiguous()) << name;
  }
  EXPECT_EQ(dir.names(), std::vector<std::string>{"t.safetensors"});
}

TEST(Safetensors, MetadataRoundTrip) {
  ScratchDir dir;
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "ünïcode \"q\""}};
  hp::write_safetensors(dir / "m.safetensors", {{"x", torch::ones({2})}}, meta);
  std::map<std::string, std::string> back = {{"stale", "entry"}};
  hp::read_safetensors(dir / "m.safetensors", &back);
  EXPECT_EQ(back, meta);
}

TEST(Safetensors, LayoutIsPaddedSortedAndIncreasing) {
  ScratchDir dir;
  hp::write_safetensors(dir / "l.safetensors",
                        {{"b", torch::ones({3})}, {"a", torch::ones({1}, torch::kHalf)}});
  const std::string bytes = slurp(dir / "l.safetensors");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 2 + 12);
  const json h = json::parse(bytes.substr(8, n));
  EXPECT_EQ(h["a"]["data_offsets"], json({0, 2}));
  EXPECT_EQ(h["b"]["data_offsets"], json({2, 14}));
}

TEST(Safetensors, CorruptFilesGiveErrorsNamingPathAndProblem) {
  ScratchDir dir;
  const std::string ok_entry = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string data8(8, '\0');
  struct Case {
    const char* label;
    std::string bytes;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"short", "abc", "too short"},
      {"header longer than file", le64(1000) + "{}", "larger than the file"},
      {"header over 100 MB", le64(200'000'000) + "{}", "exceeds the limit"},
      {"not json", st_bytes("{not json", ""), "not valid JSON"},
      {"not an object", st_bytes("[1,2]", ""), "must be a JSON object"},
      {"unknown dtype", st_bytes(R"({"x":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", data8),
       "unknown dtype \"Q4\""},
      {"negative dim",
       st_bytes(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data8),
       "negative dimension"},
      {"offsets one int",
       st_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[8]}})", data8),
       "data_offsets must be 2 non-negative integers"},
      {"offsets string",
       st_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,"8"]}})", data8),
       "data_offsets must be 2 non-negative integers"},
      {"end before begin",
       st_bytes(R"({"x":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", data8),
       "end 0 < begin 8"},
      {"size mismatch",
       st_bytes(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data8), "need 12"},
      {"beyond data", st_bytes(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data8),
       "beyond the data region of 8 bytes"},
      {"overlap",
       st_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                R"("y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                data8),
       "overlap"},
      {"entry not object", st_bytes(R"({"x":[1]})", ""), "entry must be an object"},
      {"shape not array",
       st_bytes(R"({"x":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", data8),
       "shape must be an array"},
      {"metadata not strings", st_bytes(R"({"__metadata__":{"k":1}})", ""), "must be a string"},
      {"truncated data", st_bytes(ok_entry, "1234"), "beyond the data region"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    const std::string path = dir / "bad.safetensors";
    spit(path, c.bytes);
    const std::string msg = error_of([&] { hp::read_safetensors(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
  }
  EXPECT_NE(error_of([&] { hp::read_safetensors(dir / "missing.safetensors"); }).find("missing"),
            std::string::npos);
}

TEST(Safetensors, FailedWriteLeavesNoTempFileAndOldFileUntouched) {
  ScratchDir dir;
  const std::string path = dir / "w.safetensors";
  hp::write_safetensors(path, {{"old", torch::ones({4})}});
  const std::string before = slurp(path);

  // Disk full mid-write: a file size limit makes write(2) fail with EFBIG after the temp file
  // exists.
  struct rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = saved;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string msg = error_of([&] { hp::write_safetensors(path, {{"big", torch::ones({10000})}}); });
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(msg.find("write failed"), std::string::npos) << msg;
  EXPECT_EQ(slurp(path), before);
  EXPECT_EQ(dir.names(), std::vector<std::string>{"w.safetensors"});

  // The rename fails last, after the whole temp file was written.
  fs::create_directory(dir / "a_dir");
  spit(dir / "a_dir/keep", "x");
  msg = error_of([&] { hp::write_safetensors(dir / "a_dir", {{"x", torch::ones({2})}}); });
  EXPECT_NE(msg.find("cannot rename"), std::string::npos) << msg;
  EXPECT_EQ(slurp(dir / "a_dir/keep"), "x");
  EXPECT_EQ(dir.names(), (std::vector<std::string>{"a_dir", "w.safetensors"}));

  msg = error_of([&] { hp::write_safetensors(dir / "no/such/dir/x.safetensors", {}); });
  EXPECT_NE(msg.find(dir / "no/such/dir/x.safetensors"), std::string::npos) << msg;
  if (::geteuid() != 0) {  // root writes through permission bits
    fs::create_directory(dir / "ro");
    fs::permissions(dir / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    EXPECT_FALSE(error_of([&] { hp::write_safetensors(dir / "ro/x.safetensors", {}); }).empty());
    EXPECT_TRUE(fs::is_empty(dir / "ro"));
    fs::permissions(dir / "ro", fs::perms::owner_all);
  }
}

TEST(Safetensors, RejectsTensorsItCannotWrite) {
  ScratchDir dir;
  auto msg = error_of([&] {
    hp::write_safetensors(dir / "c.safetensors", {{"z", torch::zeros({2}, torch::kComplexFloat)}});
  });
  EXPECT_NE(msg.find("'z'"), std::string::npos) << msg;
  msg = error_of([&] {
    hp::write_safetensors(dir / "c.safetensors", {{"__metadata__", torch::ones({1})}});
  });
  EXPECT_NE(msg.find("invalid tensor name"), std::string::npos) << msg;
  EXPECT_TRUE(dir.names().empty());
}

// tests/data/tiny_ref.safetensors was written byte by byte by tests/data/make_tiny_ref.py.
TEST(Safetensors, ReadsGoldenFixtureAndRewritesItByteForByte) {
  const std::string path = std::string(HP_SOURCE_DIR) + "/tests/data/tiny_ref.safetensors";
  std::map<std::string, std::string> meta;
  const auto t = hp::read_safetensors(path, &meta);
  EXPECT_EQ(meta,
            (std::map<std::string, std::string>{{"format", "pt"}, {"source", "make_tiny_ref.py"}}));
  ASSERT_EQ(t.size(), 7u);
  EXPECT_TRUE(t.at("a_f32").equal(
      torch::tensor({0.0f, 1.5f, -2.25f, 65504.0f, 0.125f, -1.0f}).view({2, 3})));
  EXPECT_TRUE(t.at("b_f16").equal(
      torch::tensor({1.0f, -2.5f, 1.0f / 1024, 65504.0f}).to(torch::kHalf).view({2, 2})));
  EXPECT_TRUE(t.at("c_bf16").equal(torch::tensor({1.0f, -0.5f, 3.140625f}).to(torch::kBFloat16)));
  EXPECT_TRUE(t.at("d_i64").equal(torch::tensor({int64_t(-1), int64_t(1) << 40})));
  EXPECT_EQ(t.at("e_i32").dim(), 0);
  EXPECT_EQ(t.at("e_i32").scalar_type(), torch::kInt);
  EXPECT_EQ(t.at("e_i32").item<int>(), 42);
  EXPECT_TRUE(t.at("f_bool").equal(torch::tensor({true, false, true})));
  EXPECT_EQ(t.at("g_empty").sizes(), (std::vector<int64_t>{0, 4}));

  ScratchDir dir;
  hp::write_safetensors(dir / "again.safetensors", t, meta);
  EXPECT_EQ(slurp(dir / "again.safetensors"), slurp(path));
}

// tests/data/hf_ref.safetensors was written by the reference implementation (make_hf_ref.py):
// its own tensor order, every supported dtype, a scalar and an empty tensor.
TEST(Safetensors, ReadsFileFromReferenceWriter) {
  const std::string path = std::string(HP_SOURCE_DIR) + "/tests/data/hf_ref.safetensors";
  std::map<std::string, std::string> meta;
  const auto t = hp::read_safetensors(path, &meta);
  EXPECT_EQ(meta.at("format"), "pt");
  ASSERT_EQ(t.size(), 12u);
  const float inf = std::numeric_limits<float>::infinity();
  auto f32 = torch::tensor({0.0f, -1.5f, 3.25f, 1e-40f, inf, -0.0f}).view({2, 3});
  EXPECT_TRUE(same_bytes(t.at("f32"), f32));  // bytes, so -0.0 and the subnormal count too
  EXPECT_TRUE(same_bytes(t.at("f16"),
                         torch::tensor({1.0f, -2.5f, 1.0f / 1024, 65504.0f}).to(torch::kHalf)));
  EXPECT_TRUE(
      same_bytes(t.at("bf16"), torch::tensor({1.0f, -0.5f, 3.140625f}).to(torch::kBFloat16)));
  EXPECT_TRUE(same_bytes(t.at("f64"), torch::tensor({0.1, -1e300}, torch::kDouble)));
  EXPECT_TRUE(same_bytes(t.at("i64"), torch::tensor({int64_t(-1), int64_t(1) << 40})));
  EXPECT_TRUE(same_bytes(t.at("i32"), torch::tensor(42, torch::kInt)));
  EXPECT_TRUE(same_bytes(t.at("i16"), torch::tensor({-300, 300}, torch::kShort)));
  EXPECT_TRUE(same_bytes(t.at("i8"), torch::tensor({-7}, torch::kChar)));
  EXPECT_TRUE(same_bytes(t.at("u8"), torch::tensor({255, 0}, torch::kByte)));
  EXPECT_TRUE(same_bytes(t.at("bool"), torch::tensor({true, false, true})));
  EXPECT_EQ(t.at("empty").sizes(), (std::vector<int64_t>{0, 4}));
  EXPECT_TRUE(same_bytes(t.at("t"), torch::arange(6.0f).view({2, 3}).t().contiguous()));
}

// ---------------------------------------------------------------------------------- HF config

TEST(HfConfig, ReadsBertBaseClassifier) {
  const auto cfg = hp::config_from_hf(bert_base_sst2(), "config.json");
  EXPECT_EQ(cfg.arch, "bert");
  EXPECT_EQ(cfg.task, "classify");
  EXPECT_EQ(cfg.vocab_size, 30522);
  EXPECT_EQ(cfg.d_model, 768);
  EXPECT_EQ(cfg.d_head, 64);
  EXPECT_EQ(cfg.n_layer, 12);
  EXPECT_EQ(cfg.n_head_dense, 12);
  EXPECT_EQ(cfg.n_ff_dense, 3072);
  EXPECT_EQ(cfg.ln_eps, 1e-12f);
  EXPECT_EQ(cfg.n_labels, 2);
  EXPECT_EQ(cfg.labels, (std::vector<std::string>{"negative", "positive"}));
  EXPECT_TRUE(cfg.uniform());
  EXPECT_EQ(cfg.passthrough["initializer_range"], 0.02);
  EXPECT_EQ(cfg.passthrough["hidden_dropout_prob"], 0.1);
  EXPECT_TRUE(cfg.passthrough.contains("classifier_dropout"));
  EXPECT_FALSE(cfg.passthrough.contains("label2id"));
  EXPECT_FALSE(cfg.passthrough.contains("hidden_size"));
}

// What transformers 5.17 save_pretrained wrote for a tiny BertForSequenceClassification (GPU box).
TEST(HfConfig, ReadsTransformers5Config) {
  const json in = json::parse(R"({
    "add_cross_attention": false, "architectures": ["BertForSequenceClassification"],
    "attention_probs_dropout_prob": 0.1, "bos_token_id": null, "classifier_dropout": null,
    "dtype": "float32", "eos_token_id": null, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
    "hidden_size": 32, "id2label": {"0": "neg", "1": "pos"}, "initializer_range": 0.02,
    "intermediate_size": 37, "is_decoder": false, "label2id": {"neg": 0, "pos": 1},
    "layer_norm_eps": 1e-12, "max_position_embeddings": 16, "model_type": "bert",
    "num_attention_heads": 4, "num_hidden_layers": 2, "pad_token_id": 0,
    "tie_word_embeddings": true, "transformers_version": "5.17.0", "type_vocab_size": 2,
    "use_cache": true, "vocab_size": 50})");
  const auto cfg = hp::config_from_hf(in, "config.json");
  EXPECT_EQ(cfg.task, "classify");
  EXPECT_EQ(cfg.d_head, 8);
  EXPECT_EQ(cfg.layers, std::vector<hp::LayerConfig>(2, hp::LayerConfig{4, 4, 37}));
  EXPECT_EQ(cfg.passthrough["dtype"], "float32");
  json out = hp::config_to_hf(cfg);
  out.erase("headprune");
  // problem_type is the one field added: it pins the task that transformers would otherwise infer.
  EXPECT_EQ(out["problem_type"], "single_label_classification");
  out.erase("problem_type");
  EXPECT_EQ(out, in) << json::diff(in, out).dump(1);
}

TEST(HfConfig, RoundTripKeepsEveryField) {
  const json in = bert_base_sst2();
  json out = hp::config_to_hf(hp::config_from_hf(in, "config.json"));
  ASSERT_TRUE(out.contains("headprune"));
  EXPECT_EQ(out["headprune"]["format_version"], hp::kHeadpruneFormatVersion);
  out.erase("headprune");
  EXPECT_EQ(out, in) << json::diff(in, out).dump(1);
}

TEST(HfConfig, DefaultLabelNamesStayImplicit) {
  json j = bert_base_sst2();
  j["id2label"] = {{"0", "LABEL_0"}, {"1", "LABEL_1"}, {"2", "LABEL_2"}};
  const auto cfg = hp::config_from_hf(j, "config.json");
  EXPECT_EQ(cfg.n_labels, 3);
  EXPECT_TRUE(cfg.labels.empty());
  EXPECT_EQ(hp::config_to_hf(cfg)["label2id"],
            json({{"LABEL_0", 0}, {"LABEL_1", 1}, {"LABEL_2", 2}}));
}

TEST(HfConfig, TaskFromArchitecturesProblemTypeAndLabels) {
  json j = bert_base_sst2();
  j["problem_type"] = "regression";
  j["id2label"] = {{"0", "LABEL_0"}};
  j.erase("label2id");
  auto cfg = hp::config_from_hf(j, "c");
  EXPECT_EQ(cfg.task, "regress");
  EXPECT_EQ(cfg.n_labels, 1);
  EXPECT_EQ(hp::config_to_hf(cfg)["problem_type"], "regression");

  j.erase("problem_type");  // one label alone means regression to transformers too
  EXPECT_EQ(hp::config_from_hf(j, "c").task, "regress");

  j = bert_base_sst2();
  j["architectures"] = {"BertForMaskedLM"};
  j.erase("problem_type");
  cfg = hp::config_from_hf(j, "c");
  EXPECT_EQ(cfg.task, "mlm");
  const json out = hp::config_to_hf(cfg);
  EXPECT_EQ(out["architectures"], json::array({"BertForMaskedLM"}));
  EXPECT_FALSE(out.contains("problem_type"));
}

TEST(HfConfig, PrunedHeadsDeriveLayerSizes) {
  json j = bert_base_sst2();
  j["num_hidden_layers"] = 3;
  j["pruned_heads"] = {{"0", {1, 2}}, {"2", {11, 0, 0}}};
  const auto cfg = hp::config_from_hf(j, "config.json");
  ASSERT_EQ(cfg.layers.size(), 3u);
  EXPECT_EQ(cfg.layers[0], (hp::LayerConfig{10, 10, 3072}));
  EXPECT_EQ(cfg.layers[1], (hp::LayerConfig{12, 12, 3072}));
  EXPECT_EQ(cfg.layers[2], (hp::LayerConfig{10, 10, 3072}));

  const auto pruned = hp::pruned_heads_from_hf(j, cfg, "config.json");
  EXPECT_EQ(pruned, (std::vector<std::vector<int>>{{1, 2}, {}, {0, 11}}));
  const json out = hp::config_to_hf(cfg, &pruned);
  EXPECT_EQ(out["pruned_heads"], json({{"0", {1, 2}}, {"2", {0, 11}}}));
  EXPECT_EQ(out["num_attention_heads"], 12);  // HF's num_attention_heads stays the dense value
  expect_same_config(hp::config_from_hf(out, "again"), cfg);
}

TEST(HfConfig, HeadpruneBlockWinsAndRoundTrips) {
  auto cfg = tiny_config();
  cfg.task = "regress";
  cfg.labels.clear();
  const json out = hp::config_to_hf(cfg);
  EXPECT_EQ(out["headprune"]["task"], "regress");
  EXPECT_EQ(out["headprune"]["layers"][2], json({{"n_head", 0}, {"n_head_kv", 0}, {"n_ff", 0}}));
  // Without the real indices, the last heads are named, so transformers 4.x gets the right shapes.
  EXPECT_EQ(out["pruned_heads"], json({{"1", {2, 3}}, {"2", {0, 1, 2, 3}}}));
  EXPECT_EQ(out["intermediate_size"], 32);
  auto back = hp::config_from_hf(out, "config.json");
  cfg.n_labels = 1;
  expect_same_config(back, cfg);

  json no_hf_heads = out;  // the block alone is enough
  no_hf_heads.erase("pruned_heads");
  expect_same_config(hp::config_from_hf(no_hf_heads, "config.json"), cfg);
}

TEST(HfConfig, RejectsNewerFormatVersion) {
  json j = hp::config_to_hf(tiny_config());
  j["headprune"]["format_version"] = 2;
  const auto msg = error_of([&] { hp::config_from_hf(j, "m/config.json"); });
  EXPECT_NE(msg.find("m/config.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("upgrade headprune"), std::string::npos) << msg;
}

TEST(HfConfig, MalformedFieldsGiveClearErrors) {
  struct Case {
    const char* label;
    std::function<void(json&)> edit;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"string size", [](json& j) { j["hidden_size"] = "abc"; },
       "config.json: hidden_size must be an integer, got \"abc\""},
      {"float size", [](json& j) { j["num_hidden_layers"] = 2.5; },
       "num_hidden_layers must be an integer, got 2.5"},
      {"huge", [](json& j) { j["vocab_size"] = 1e30; }, "vocab_size must be an integer"},
      {"indivisible", [](json& j) { j["hidden_size"] = 770; },
       "hidden_size 770 is not divisible by num_attention_heads 12"},
      {"zero heads", [](json& j) { j["num_attention_heads"] = 0; },
       "num_attention_heads must be > 0"},
      {"eps string", [](json& j) { j["layer_norm_eps"] = "small"; },
       "layer_norm_eps must be a number"},
      {"act number", [](json& j) { j["hidden_act"] = 3; }, "hidden_act must be a string, got 3"},
      {"model type", [](json& j) { j["model_type"] = "t5"; },
       "model_type \"t5\" is not supported"},
      {"arch", [](json& j) { j["architectures"] = {"BertForQuestionAnswering"}; },
       "architectures [\"BertForQuestionAnswering\"] is not supported"},
      {"arch type", [](json& j) { j["architectures"] = "BertModel"; },
       "architectures must be an array"},
      {"multi label", [](json& j) { j["problem_type"] = "multi_label_classification"; },
       "problem_type \"multi_label_classification\" is not supported"},
      {"id2label gap",
       [](json& j) {
         j["id2label"] = {{"0", "a"}, {"2", "b"}};
       },
       "without gaps"},
      {"id2label key",
       [](json& j) {
         j["id2label"] = {{"x", "a"}};
       },
       "decimal indices, got \"x\""},
      {"id2label value",
       [](json& j) {
         j["id2label"] = {{"0", 1}};
       },
       "id2label[\"0\"] must be a string"},
      {"one class",
       [](json& j) {
         j["id2label"] = {{"0", "a"}};
         j["problem_type"] = "single_label_classification";
         j["headprune"] = {{"format_version", 1}, {"task", "classify"}};
       },
       "needs >= 2 labels"},
      {"regress labels", [](json& j) { j["problem_type"] = "regression"; },
       "regression needs exactly 1 label"},
      {"pruned layer",
       [](json& j) {
         j["pruned_heads"] = {{"12", {0}}};
       },
       "pruned_heads names layer 12 but num_hidden_layers=12"},
      {"pruned head",
       [](json& j) {
         j["pruned_heads"] = {{"1", {12}}};
       },
       "head indices in 0..11"},
      {"pruned type",
       [](json& j) {
         j["pruned_heads"] = {{"1", 3}};
       },
       "pruned_heads[\"1\"] must be an array"},
      {"block type", [](json& j) { j["headprune"] = 1; }, "headprune must be an object"},
      {"block version", [](json& j) { j["headprune"] = json::object(); },
       "missing required field format_version"},
      {"layers count",
       [](json& j) {
         j["headprune"] = {{"format_version", 1}, {"layers", json::array()}};
       },
       "headprune.layers must be an array of num_hidden_layers=12 entries, got 0 entries"},
      {"layer n_ff",
       [](json& j) {
         j["headprune"] = {{"format_version", 1}, {"layers", json::array()}};
         for (int i = 0; i < 12; ++i)
           j["headprune"]["layers"].push_back({{"n_head", 12}, {"n_ff", 4000}});
       },
       "headprune.layers[0]: n_ff=4000 is outside 0..intermediate_size=3072"},
      {"layer vs pruned",
       [](json& j) {
         j["headprune"] = {{"format_version", 1}, {"layers", json::array()}};
         for (int i = 0; i < 12; ++i)
           j["headprune"]["layers"].push_back({{"n_head", 12}, {"n_ff", 3072}});
         j["pruned_heads"] = {{"3", {0}}};
       },
       "layer 3: pruned_heads leaves 11 heads but headprune.layers says n_head=12"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    json j = bert_base_sst2();
    c.edit(j);
    const auto msg = error_of([&] { hp::config_from_hf(j, "config.json"); });
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
  }
}

TEST(HfConfig, WriterChecksPrunedHeadsAgainstLayers) {
  const auto cfg = tiny_config();  // layers keep 4, 2, 0 of 4 heads
  std::vector<std::vector<int>> ok = {{}, {0, 3}, {0, 1, 2, 3}};
  EXPECT_EQ(hp::config_to_hf(cfg, &ok)["pruned_heads"], json({{"1", {0, 3}}, {"2", {0, 1, 2, 3}}}));
  std::vector<std::vector<int>> wrong_count = {{}, {0}, {0, 1, 2, 3}};
  EXPECT_NE(error_of([&] { hp::config_to_hf(cfg, &wrong_count); }).find("layer 1 has n_head=2"),
            std::string::npos);
  std::vector<std::vector<int>> out_of_range = {{}, {0, 4}, {0, 1, 2, 3}};
  EXPECT_NE(error_of([&] { hp::config_to_hf(cfg, &out_of_range); }).find("pruned head 4"),
            std::string::npos);
  std::vector<std::vector<int>> short_list = {{}};
  EXPECT_NE(error_of([&] { hp::config_to_hf(cfg, &short_list); }).find("has 1 layers"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------- checkpoint

TEST(Io, WriteFileAtomic) {
  ScratchDir dir;
  hp::write_file_atomic(dir / "f.txt", "one");
  hp::write_file_atomic(dir / "f.txt", "two");
  EXPECT_EQ(slurp(dir / "f.txt"), "two");
  EXPECT_EQ(dir.names(), std::vector<std::string>{"f.txt"});
  const auto msg = error_of([&] { hp::write_file_atomic(dir / "nope/f.txt", "x"); });
  EXPECT_NE(msg.find(dir / "nope/f.txt"), std::string::npos) << msg;
}

TEST(Checkpoint, SaveThenLoadGivesIdenticalTensorsAndConfig) {
  ScratchDir dir;
  const auto cfg = tiny_config();
  const auto tensors = sample_tensors();
  const std::map<std::string, std::string> extra = {{"pruning.json", "{\"kept\": []}\n"},
                                                    {"vocab.txt", "[PAD]\n[UNK]\n"}};
  hp::save_checkpoint(dir / "model", cfg, tensors, extra);
  EXPECT_EQ(dir.names(), std::vector<std::string>{"model"});  // no tmp/old siblings left

  const auto ck = hp::load_checkpoint(dir / "model");
  expect_same_config(ck.config, cfg);
  EXPECT_EQ(ck.raw_config, hp::config_to_hf(cfg));
  ASSERT_EQ(ck.tensors.size(), tensors.size());
  for (const auto& [name, t] : tensors) EXPECT_TRUE(same_bytes(ck.tensors.at(name), t)) << name;
  EXPECT_EQ(hp::read_aux_files(dir / "model"), extra);

  std::map<std::string, std::string> meta;
  hp::read_safetensors(dir / "model/model.safetensors", &meta);
  EXPECT_EQ(meta.at("format"), "pt");  // transformers refuses safetensors without it

  // Saving what was loaded reproduces the directory byte for byte.
  hp::save_checkpoint(dir / "copy/", ck.config, ck.tensors, hp::read_aux_files(dir / "model"));
  for (const char* f : {"config.json", "model.safetensors", "pruning.json", "vocab.txt"})
    EXPECT_EQ(slurp(dir / "copy/" + std::string(f)), slurp(dir / "model/" + std::string(f))) << f;
}

TEST(Checkpoint, SaveIntoExistingDirCarriesOverOtherFiles) {
  ScratchDir dir;
  const std::string m = dir / "model";
  hp::save_checkpoint(m, tiny_config(), {{"w", torch::ones({2})}},
                      {{"vocab.txt", "old vocab"}, {"tokenizer_config.json", "{}"}});
  spit(m + "/pytorch_model.bin", "stale weights");
  spit(m + "/model-00001-of-00002.safetensors", "stale shard");
  fs::create_directory(m + "/runs");
  spit(m + "/runs/log.txt", "history");

  hp::save_checkpoint(m, tiny_config(), {{"w", torch::zeros({3})}}, {{"vocab.txt", "new vocab"}});
  EXPECT_EQ(slurp(m + "/vocab.txt"), "new vocab");
  EXPECT_EQ(slurp(m + "/tokenizer_config.json"), "{}");
  EXPECT_EQ(slurp(m + "/runs/log.txt"), "history");
  EXPECT_FALSE(fs::exists(m + "/pytorch_model.bin"));
  EXPECT_FALSE(fs::exists(m + "/model-00001-of-00002.safetensors"));
  EXPECT_TRUE(hp::load_checkpoint(m).tensors.at("w").equal(torch::zeros({3})));
  EXPECT_EQ(dir.names(), std::vector<std::string>{"model"});
}

TEST(Files, RemoveTreeDeletesNestedDirectoriesButNotLinkTargets) {
  ScratchDir dir;
  fs::create_directories(dir / "tree/a/b/c");
  spit(dir / "tree/top.txt", "x");
  spit(dir / "tree/a/b/c/deep.bin", "y");
  fs::create_directories(dir / "outside");
  spit(dir / "outside/keep.txt", "keep");
  fs::create_directory_symlink(dir / "outside", dir / "tree/a/link-to-outside");
  fs::create_symlink(dir / "outside/keep.txt", dir / "tree/file-link");

  std::error_code ec;
  EXPECT_TRUE(hp::remove_tree(dir / "tree", ec)) << ec.message();
  EXPECT_FALSE(fs::exists(dir / "tree"));
  EXPECT_EQ(slurp(dir / "outside/keep.txt"), "keep");  // links were removed, not followed
  EXPECT_EQ(dir.names(), std::vector<std::string>{"outside"});
}

TEST(Files, RemoveTreeTakesPlainFilesAndMissingPaths) {
  ScratchDir dir;
  spit(dir / "file", "z");
  std::error_code ec;
  EXPECT_TRUE(hp::remove_tree(dir / "file", ec));
  EXPECT_FALSE(fs::exists(dir / "file"));
  EXPECT_TRUE(hp::remove_tree(dir / "never-existed", ec));
  EXPECT_FALSE(ec);
  EXPECT_NO_THROW(hp::remove_tree(dir / "never-existed"));
  // A path through a regular file cannot be listed: reported, not ignored.
  spit(dir / "plain", "p");
  EXPECT_FALSE(hp::remove_tree(dir / "plain/below", ec));
  EXPECT_EQ(ec, std::errc::not_a_directory);
  EXPECT_THROW(hp::remove_tree(dir / "plain/below"), hp::Error);
}

TEST(Checkpoint, FailedSaveLeavesExistingDirUntouched) {
  ScratchDir dir;
  const std::string m = dir / "model";
  hp::save_checkpoint(m, tiny_config(), {{"w", torch::ones({2})}}, {{"vocab.txt", "v"}});
  auto snapshot = [&] {
    std::map<std::string, std::string> files;
    for (const auto& e : fs::directory_iterator(m)) files[e.path().filename()] = slurp(e.path());
    return files;
  };
  const auto before = snapshot();

  // Fails while writing model.safetensors, after the temp dir was filled with other files.
  auto msg = error_of([&] {
    hp::save_checkpoint(m, tiny_config(), {{"z", torch::zeros({2}, torch::kComplexFloat)}},
                        {{"vocab.txt", "new"}});
  });
  EXPECT_NE(msg.find("'z'"), std::string::npos) << msg;
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(dir.names(), std::vector<std::string>{"model"});

  auto bad = tiny_config();
  bad.layers.pop_back();  // caught before anything is written
  EXPECT_NE(error_of([&] { hp::save_checkpoint(m, bad, {}); }).find("per-layer entries"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              hp::save_checkpoint(m, tiny_config(), {}, {{"../x", ""}});
            }).find("plain file name"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              hp::save_checkpoint(m, tiny_config(), {}, {{"config.json", ""}});
            }).find("overwrite the checkpoint"),
            std::string::npos);
  spit(dir / "file", "x");
  EXPECT_NE(error_of([&] {
              hp::save_checkpoint(dir / "file", tiny_config(), {});
            }).find("not a directory"),
            std::string::npos);
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(dir.names(), (std::vector<std::string>{"file", "model"}));
}

TEST(Checkpoint, LoadErrorsNameTheDirectory) {
  ScratchDir dir;
  const std::string m = dir / "model";
  EXPECT_NE(error_of([&] { hp::load_checkpoint(m); }).find(m + ": model directory does not exist"),
            std::string::npos);
  fs::create_directory(m);
  EXPECT_NE(error_of([&] { hp::load_checkpoint(m); }).find(m + ": missing config.json"),
            std::string::npos);
  spit(m + "/config.json", hp::config_to_hf(tiny_config()).dump());
  spit(m + "/pytorch_model.bin", "");
  auto msg = error_of([&] { hp::load_checkpoint(m); });
  EXPECT_NE(msg.find(m + ": missing model.safetensors; only safetensors"), std::string::npos)
      << msg;
  hp::write_safetensors(m + "/model.safetensors", {{"w", torch::ones({1})}});
  spit(m + "/config.json", "{\"hidden_size\": ");
  msg = error_of([&] { hp::load_checkpoint(m); });
  EXPECT_NE(msg.find(m + "/config.json: not valid JSON"), std::string::npos) << msg;
  spit(m + "/config.json", R"({"architectures": ["BertForMaskedLM"], "hidden_size": "abc"})");
  msg = error_of([&] { hp::load_checkpoint(m); });
  EXPECT_NE(msg.find(m + "/config.json: hidden_size must be an integer, got \"abc\""),
            std::string::npos)
      << msg;
}
