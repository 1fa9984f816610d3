// Data module: TSV/JSONL/text readers on small fixtures, the committed datasets (counts, splits),
// batching and collation, chunk packing and masked-LM masking statistics.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unistd.h>

#include "core/check.h"
#include "data/batch.h"
#include "data/mlm.h"
#include "data/readers.h"

using namespace hp;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test, removed afterwards, so fixtures never collide across tests or runs.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("hp_data_") + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~TempDir() { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& content) const {
    auto p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  fs::path dir_;
};

// Runs f, expects hp::Error, returns its message.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected hp::Error";
  return "";
}

std::string source_path(const std::string& rel) { return std::string(HP_SOURCE_DIR) + "/" + rel; }

int64_t count_lines(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) ++n;
  return n;
}

}  // namespace

// ----------------------------------------------------------------------------- readers

TEST(Data, TsvSingleColumnSortedLabels) {
  TempDir t;
  auto p = t.write("a.tsv", "sentence\tlabel\nfine food\tother\ngreat!\tgreat\r\n\nmeh\tother\n");
  auto ds = read_classification(p);
  ASSERT_EQ(ds.examples.size(), 3u);
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"great", "other"}));  // sorted, not first-seen
  EXPECT_EQ(ds.examples[0].text_a, "fine food");
  EXPECT_EQ(ds.examples[0].label, 1);
  EXPECT_EQ(ds.examples[1].text_a, "great!");  // CR stripped
  EXPECT_EQ(ds.examples[1].label, 0);
  EXPECT_FALSE(ds.examples[0].has_b);
  EXPECT_EQ(ds.path, p);
}

TEST(Data, TsvPairColumnsAndExtraColumns) {
  TempDir t;
  // QNLI-like: an index column, question/sentence pair, label not last.
  auto p = t.write("q.tsv",
                   "index\tquestion\tsentence\tlabel\textra\n"
                   "0\tWho?\tHe did.\tentailment\tx\n"
                   "1\tWhy?\t\"Because\" she said.\tnot_entailment\ty\n");
  auto ds = read_classification(p);
  ASSERT_EQ(ds.examples.size(), 2u);
  EXPECT_TRUE(ds.examples[0].has_b);
  EXPECT_EQ(ds.examples[0].text_a, "Who?");
  EXPECT_EQ(ds.examples[0].text_b, "He did.");
  EXPECT_EQ(ds.examples[1].text_b, "\"Because\" she said.");  // quotes are literal
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"entailment", "not_entailment"}));

  auto p2 = t.write("m.tsv", "premise\thypothesis\tgold\nA\tB\tx\n");  // label = last column
  auto ds2 = read_classification(p2);
  EXPECT_EQ(ds2.examples[0].text_b, "B");
  EXPECT_EQ(ds2.labels, std::vector<std::string>{"x"});

  auto p3 = t.write("r.tsv", "review\tscore\nnice\t1\n");  // two columns, unknown names
  EXPECT_EQ(read_classification(p3).examples[0].text_a, "nice");
}

TEST(Data, IntegerLabelsSortNumerically) {
  TempDir t;
  auto p = t.write("n.tsv", "sentence\tlabel\na\t10\nb\t2\nc\t0\n");
  auto ds = read_classification(p);
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"0", "2", "10"}));
  EXPECT_EQ(ds.examples[0].label, 2);
  EXPECT_EQ(ds.examples[1].label, 1);
}

TEST(Data, KnownLabelsByNameOrIndex) {
  TempDir t;
  auto p = t.write("k.tsv", "sentence\tlabel\na\tother\nb\t0\nc\tgreat\n");
  auto ds = read_classification(p, {"great", "other"});
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"great", "other"}));
  EXPECT_EQ(ds.examples[0].label, 1);
  EXPECT_EQ(ds.examples[1].label, 0);
  EXPECT_EQ(ds.examples[2].label, 0);
}

TEST(Data, UnknownLabelIsAnError) {
  TempDir t;
  auto p = t.write("u.tsv", "sentence\tlabel\na\tgreat\nb\tawful\n");
  auto msg = error_of([&] { read_classification(p, {"great", "other"}); });
  EXPECT_NE(msg.find(p + ":3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("awful"), std::string::npos) << msg;
  EXPECT_NE(msg.find("great, other"), std::string::npos) << msg;
  auto p2 = t.write("v.tsv", "sentence\tlabel\na\t2\n");  // index out of range
  EXPECT_NE(error_of([&] { read_classification(p2, {"great", "other"}); }).find("'2'"),
            std::string::npos);
}

TEST(Data, MalformedRowNamesLine) {
  TempDir t;
  auto p = t.write("bad.tsv", "sentence\tlabel\nok\tgreat\ntoo\tmany\tfields\n");
  auto msg = error_of([&] { read_classification(p); });
  EXPECT_NE(msg.find(p + ":3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("got 3"), std::string::npos) << msg;
  auto p2 = t.write("empty_label.tsv", "sentence\tlabel\nok\t\n");
  EXPECT_NE(error_of([&] { read_classification(p2); }).find(":2"), std::string::npos);
}

TEST(Data, MissingHeaderEmptyAndMissingFiles) {
  TempDir t;
  auto headerless = t.write("h.tsv", "a great snack\tgreat\nbad\tother\n");
  EXPECT_NE(error_of([&] { read_classification(headerless); }).find("header"), std::string::npos);
  // A label-less file, or one whose label would be a text column, is not guessed at.
  auto unlabeled = t.write("sst_test.tsv", "index\tsentence\n0\tgood\n");
  EXPECT_NE(error_of([&] { read_classification(unlabeled); }).find("no text and label"),
            std::string::npos);
  auto pair_only = t.write("p.tsv", "sentence1\tsentence2\na\tb\n");
  EXPECT_THROW(read_classification(pair_only), Error);
  auto empty = t.write("e.tsv", "");
  EXPECT_NE(error_of([&] { read_classification(empty); }).find("empty file"), std::string::npos);
  auto only_header = t.write("o.tsv", "sentence\tlabel\n");
  EXPECT_NE(error_of([&] { read_classification(only_header); }).find("no examples"),
            std::string::npos);
  auto missing = t.path("nope.tsv");
  auto msg = error_of([&] { read_classification(missing); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { read_classification(t.write("x.csv", "a,b\n")); }).find(".csv"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_text_lines(missing); }).find("cannot open"), std::string::npos);
  auto blank = t.write("blank.txt", "\n  \n\r\n");
  EXPECT_NE(error_of([&] { read_text_lines(blank); }).find("no non-empty"), std::string::npos);
}

TEST(Data, JsonlReader) {
  TempDir t;
  auto p = t.write("a.jsonl",
                   "{\"text\": \"tab\\there\", \"label\": \"pos\"}\n"
                   "\n"
                   "{\"sentence\": \"second\", \"label\": \"neg\"}\n"
                   "{\"text_a\": \"A\", \"text_b\": \"B\", \"label\": \"pos\"}\n");
  auto ds = read_classification(p);
  ASSERT_EQ(ds.examples.size(), 3u);
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"neg", "pos"}));
  EXPECT_EQ(ds.examples[0].text_a, "tab\there");
  EXPECT_EQ(ds.examples[0].label, 1);
  EXPECT_EQ(ds.examples[1].text_a, "second");
  EXPECT_TRUE(ds.examples[2].has_b);
  EXPECT_EQ(ds.examples[2].text_b, "B");

  auto pi = t.write("i.jsonl", "{\"text\": \"x\", \"label\": 1}\n{\"text\": \"y\", \"label\": 0}\n");
  auto di = read_classification(pi);
  EXPECT_EQ(di.labels, (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(di.examples[0].label, 1);
  auto dk = read_classification(pi, {"neg", "pos"});  // integers are indices into known labels
  EXPECT_EQ(dk.examples[0].label, 1);
  EXPECT_EQ(dk.examples[1].label, 0);

  auto bad = t.write("b.jsonl", "{\"text\": \"x\", \"label\": \"a\"}\n{\"text\": \"x\", \"label\": \n");
  EXPECT_NE(error_of([&] { read_classification(bad); }).find(bad + ":2"), std::string::npos);
  auto nolabel = t.write("n.jsonl", "{\"text\": \"x\"}\n");
  EXPECT_NE(error_of([&] { read_classification(nolabel); }).find("label"), std::string::npos);
}

TEST(Data, Regression) {
  TempDir t;
  auto p = t.write("s.tsv", "sentence1\tsentence2\tlabel\na\tb\t3.5\nc\td\t-1e-1\n");
  auto ds = read_classification(p, {}, true);
  EXPECT_TRUE(ds.regression);
  EXPECT_TRUE(ds.labels.empty());
  EXPECT_FLOAT_EQ(ds.examples[0].target, 3.5f);
  EXPECT_FLOAT_EQ(ds.examples[1].target, -0.1f);
  auto pj = t.write("s.jsonl", "{\"text\": \"a\", \"label\": 2.25}\n{\"text\": \"b\", \"label\": \"4\"}\n");
  auto dj = read_classification(pj, {}, true);
  EXPECT_FLOAT_EQ(dj.examples[0].target, 2.25f);
  EXPECT_FLOAT_EQ(dj.examples[1].target, 4.0f);
  auto bad = t.write("b.tsv", "sentence\tlabel\na\t1.0\nb\tfive\n");
  auto msg = error_of([&] { read_classification(bad, {}, true); });
  EXPECT_NE(msg.find(bad + ":3"), std::string::npos) << msg;
}

TEST(Data, TextLines) {
  TempDir t;
  auto p = t.write("t.txt", "first line\r\n\n   \nsecond\n");
  EXPECT_EQ(read_text_lines(p), (std::vector<std::string>{"first line", "second"}));
}

// ----------------------------------------------------------------------------- committed data

TEST(Data, FineFoodsCounts) {
  auto train = read_classification(source_path("data/finefoods/train.tsv"));
  auto test = read_classification(source_path("data/finefoods/test.tsv"), train.labels);
  EXPECT_EQ(train.labels, (std::vector<std::string>{"great", "other"}));
  EXPECT_EQ(train.examples.size(), 4000u);
  ASSERT_EQ(test.examples.size(), 1000u);
  int great = 0;
  for (const auto& e : test.examples) {
    great += e.label == 0;
    EXPECT_EQ(e.text_a.find("<br"), std::string::npos);
    EXPECT_FALSE(e.text_a.empty());
  }
  EXPECT_EQ(great, 658);
  EXPECT_EQ(1000 - great, 342);
}

TEST(Data, BibleSplitsAreDisjointBooks) {
  std::ifstream in(source_path("data/bible/books.tsv"));
  ASSERT_TRUE(in.good());
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "book\tsplit\tverses\twords");
  std::map<std::string, std::set<std::string>> books;
  std::map<std::string, int64_t> verses;
  std::set<std::string> all;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string book, split, v, w;
    std::getline(ss, book, '\t'), std::getline(ss, split, '\t');
    std::getline(ss, v, '\t'), std::getline(ss, w, '\t');
    EXPECT_TRUE(all.insert(book).second) << "book listed twice: " << book;
    books[split].insert(book);
    verses[split] += std::stoll(v);
  }
  EXPECT_EQ(books.size(), 3u);  // train, valid, test only
  EXPECT_EQ(all.size(), 80u);   // 66 + 14 deuterocanonical books in engWEB2015eb
  EXPECT_TRUE(books["test"].count("John") && books["test"].count("Acts"));
  EXPECT_TRUE(books["train"].count("Tobit"));  // deuterocanon is train
  for (const char* s : {"train", "valid", "test"}) {
    auto lines = read_text_lines(source_path(std::string("data/bible/") + s + ".txt"));
    EXPECT_FALSE(lines.empty()) << s;
    EXPECT_EQ(static_cast<int64_t>(lines.size()), verses[s]) << s;
    EXPECT_EQ(count_lines(source_path(std::string("data/bible/") + s + ".txt")), verses[s]) << s;
  }
  // Markup and note text must be gone.
  auto test = read_text_lines(source_path("data/bible/test.txt"));
  for (const auto& l : test) {
    ASSERT_EQ(l.find('<'), std::string::npos) << l;
    ASSERT_EQ(l.find("&amp;"), std::string::npos) << l;
  }
  EXPECT_NE(std::find(test.begin(), test.end(),
                      "For God so loved the world, that he gave his only born Son, that whoever "
                      "believes in him should not perish, but have eternal life."),
            test.end());
}

// ----------------------------------------------------------------------------- batching

TEST(Data, CollatePadsToLongest) {
  EncodedExample a{{5, 6, 7}, {0, 0, 1}, 1, 0.5f};
  EncodedExample b{{8}, {}, 0, -2.f};
  auto batch = collate({&a, &b}, 99, false);
  EXPECT_EQ(batch.input_ids.sizes(), (torch::IntArrayRef{2, 3}));
  EXPECT_TRUE(batch.input_ids.equal(torch::tensor({5, 6, 7, 8, 99, 99}, torch::kInt64).view({2, 3})));
  EXPECT_TRUE(batch.attention_mask.equal(torch::tensor({1, 1, 1, 1, 0, 0}, torch::kInt64).view({2, 3})));
  EXPECT_TRUE(batch.token_type_ids.equal(torch::tensor({0, 0, 1, 0, 0, 0}, torch::kInt64).view({2, 3})));
  EXPECT_EQ(batch.labels.scalar_type(), torch::kInt64);
  EXPECT_TRUE(batch.labels.equal(torch::tensor({1, 0}, torch::kInt64)));
  auto reg = collate({&a, &b}, 0, true);
  EXPECT_EQ(reg.labels.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(reg.labels.equal(torch::tensor({0.5f, -2.f})));
  EncodedExample bad{{1, 2}, {0}, 0, 0};
  EXPECT_THROW(collate({&a, &bad}, 0, false), Error);
  EXPECT_THROW(collate({}, 0, false), Error);
}

TEST(Data, MakeBatchesCoverAndAreSeeded) {
  auto plain = make_batches(10, 4, false, 0);
  ASSERT_EQ(plain.size(), 3u);
  EXPECT_EQ(plain[2], (std::vector<int>{8, 9}));
  auto s1 = make_batches(1000, 32, true, 7), s2 = make_batches(1000, 32, true, 7);
  auto s3 = make_batches(1000, 32, true, 8);
  EXPECT_EQ(s1, s2);
  EXPECT_NE(s1, s3);
  std::vector<int> seen;
  for (const auto& b : s1) seen.insert(seen.end(), b.begin(), b.end());
  std::sort(seen.begin(), seen.end());
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(seen[i], i);
  EXPECT_TRUE(make_batches(0, 4, true, 1).empty());
  EXPECT_THROW(make_batches(5, 0, false, 1), Error);
}

TEST(Data, LengthBucketedBatches) {
  std::mt19937_64 rng(3);
  std::vector<int> lengths(5000);
  for (auto& l : lengths) l = 1 + static_cast<int>(uniform_below(rng, 500));
  auto b1 = make_length_bucketed_batches(lengths, 16, true, 11);
  EXPECT_EQ(b1, make_length_bucketed_batches(lengths, 16, true, 11));
  EXPECT_NE(b1, make_length_bucketed_batches(lengths, 16, true, 12));
  std::vector<int> seen;
  double spread = 0;
  for (const auto& b : b1) {
    ASSERT_FALSE(b.empty());
    ASSERT_LE(b.size(), 16u);
    seen.insert(seen.end(), b.begin(), b.end());
    int lo = 1 << 30, hi = 0;
    for (int i : b) lo = std::min(lo, lengths[i]), hi = std::max(hi, lengths[i]);
    spread += hi - lo;
  }
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen.size(), lengths.size());
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(seen[i], i);
  // 1600 examples per chunk over 500 lengths: a batch of 16 spans ~5 lengths, a random one ~450.
  EXPECT_LT(spread / b1.size(), 20.0);
}

// ----------------------------------------------------------------------------- masked LM

TEST(Data, ChunkStreamPacksWholeLines) {
  std::vector<std::vector<int64_t>> docs = {{1, 2}, {3, 4, 5}, {}, {6}, {7, 8, 9, 10, 11, 12, 13}, {14}};
  auto c = chunk_stream(docs, 5);
  std::vector<std::vector<int64_t>> want = {{1, 2, 3, 4, 5}, {6}, {7, 8, 9, 10, 11}, {12, 13, 14}};
  EXPECT_EQ(c, want);
  for (const auto& chunk : chunk_stream(docs, 1)) EXPECT_EQ(chunk.size(), 1u);
  EXPECT_THROW(chunk_stream(docs, 0), Error);
}

TEST(Data, MlmMaskStatistics) {
  const int64_t B = 64, T = 512, V = 1000, kMask = 3, kPad = 0;
  const std::vector<int64_t> specials = {0, 1, 2, 3};  // pad, cls, sep, mask
  std::mt19937_64 rng(5);
  auto ids = torch::empty({B, T}, torch::kInt64);
  auto att = torch::ones({B, T}, torch::kInt64);
  for (int64_t b = 0; b < B; ++b) {
    int64_t len = T - static_cast<int64_t>(uniform_below(rng, 100));
    for (int64_t t = 0; t < T; ++t) ids[b][t] = 4 + static_cast<int64_t>(uniform_below(rng, V - 4));
    ids[b][0] = 1;
    ids[b][len - 1] = 2;
    for (int64_t t = len; t < T; ++t) ids[b][t] = kPad, att[b][t] = 0;
  }
  auto m = mlm_mask(ids, att, 0.15, kMask, V, specials, 42);
  auto m2 = mlm_mask(ids, att, 0.15, kMask, V, specials, 42);
  EXPECT_TRUE(m.input_ids.equal(m2.input_ids));
  EXPECT_TRUE(m.labels.equal(m2.labels));
  EXPECT_FALSE(m.labels.equal(mlm_mask(ids, att, 0.15, kMask, V, specials, 43).labels));

  auto is_special = ids.le(3);  // [B, T]
  auto eligible = att.eq(1).logical_and(is_special.logical_not());
  auto chosen = m.labels.ne(-100);
  EXPECT_EQ(chosen.logical_and(eligible.logical_not()).sum().item<int64_t>(), 0);  // never pad/special
  EXPECT_TRUE(m.input_ids.masked_select(eligible.logical_not()).equal(ids.masked_select(eligible.logical_not())));
  EXPECT_TRUE(m.labels.masked_select(chosen).equal(ids.masked_select(chosen)));

  const double n_eligible = eligible.sum().item<double>();
  const double n_chosen = chosen.sum().item<double>();
  EXPECT_NEAR(n_chosen / n_eligible, 0.15, 0.005);  // ~29k eligible: sd of the rate ~0.0021
  const double to_mask = chosen.logical_and(m.input_ids.eq(kMask)).sum().item<double>();
  const double kept = chosen.logical_and(m.input_ids.eq(ids)).sum().item<double>();
  const double random = n_chosen - to_mask - kept;
  EXPECT_NEAR(to_mask / n_chosen, 0.8, 0.02);
  EXPECT_NEAR(random / n_chosen, 0.1, 0.015);  // a random draw equal to the original counts as kept
  EXPECT_NEAR(kept / n_chosen, 0.1, 0.015);
  auto replaced = chosen.logical_and(m.input_ids.ne(kMask)).logical_and(m.input_ids.ne(ids));
  EXPECT_EQ(m.input_ids.masked_select(replaced).le(3).sum().item<int64_t>(), 0);  // not special
  EXPECT_EQ(m.input_ids.masked_select(replaced).ge(V).sum().item<int64_t>(), 0);

  auto none = mlm_mask(ids, att, 0.0, kMask, V, specials, 1);
  EXPECT_TRUE(none.input_ids.equal(ids));
  EXPECT_EQ(none.labels.ne(-100).sum().item<int64_t>(), 0);
  auto all = mlm_mask(ids, att, 1.0, kMask, V, specials, 1);
  EXPECT_TRUE(all.labels.ne(-100).equal(eligible));
  EXPECT_THROW(mlm_mask(ids, att, 1.5, kMask, V, specials, 1), Error);
  EXPECT_THROW(mlm_mask(ids, att, 0.15, V, V, specials, 1), Error);
}
