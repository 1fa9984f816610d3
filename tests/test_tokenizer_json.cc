// Tests of the Hugging Face tokenizer.json reader (src/io/hf_tokenizer_json.cc): the hand-made fixtures of
// tests/data/tok_json with ids worked out by hand (see make_fixtures.py there for the vocabularies: in the
// byte-level ones byte b has id b), variants of them edited here, the regex engine against Python's regex
// module (regex_cases.jsonl), error paths, and, when tests/data/tok_json/golden/ exists, parity with the
// tokenizers library itself (written by scripts/gpu/tokenizer_json_parity.py).
#include <cstdlib>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/check.h"
#include "io/tokenizer.h"
#include "io/tokenizer_unicode.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using Ids = std::vector<int64_t>;
using Strings = std::vector<std::string>;

namespace {

const fs::path kData = fs::path(HP_SOURCE_DIR) / "tests" / "data" / "tok_json";

class Scratch {
 public:
  Scratch() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("hp_test_tokjson_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~Scratch() { fs::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
void write_text(const std::string& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

json fixture(const std::string& name) { return json::parse(read_text(kData / name / "tokenizer.json")); }

std::unique_ptr<hp::Tokenizer> load(const std::string& name) {
  return hp::load_hf_tokenizer_json((kData / name / "tokenizer.json").string());
}

// The fixture `name` with `edit` applied, loaded from a scratch directory (no tokenizer_config.json).
std::unique_ptr<hp::Tokenizer> variant(const std::string& name, const std::function<void(json&)>& edit) {
  Scratch d;
  json doc = fixture(name);
  edit(doc);
  write_text(d / "tokenizer.json", doc.dump());
  return hp::load_hf_tokenizer_json(d / "tokenizer.json");
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

std::string error_of_variant(const std::string& name, const std::function<void(json&)>& edit) {
  return error_of([&] { variant(name, edit); });
}

testing::AssertionResult mentions(const std::string& message, std::initializer_list<std::string> parts) {
  for (const std::string& part : parts)
    if (message.find(part) == std::string::npos)
      return testing::AssertionFailure() << "'" << message << "' does not mention '" << part << "'";
  return testing::AssertionSuccess();
}

Strings pieces(const hp::Tokenizer& tok, const std::string& text) {
  Strings out;
  for (int64_t id : tok.encode(text)) out.push_back(tok.id_to_piece(id));
  return out;
}

std::string show(const Ids& ids) {
  std::string s;
  for (int64_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return s;
}

// A tokenizer that only splits with `pattern` (behavior Isolated), to look at the regex engine's pieces.
std::unique_ptr<hp::Tokenizer> splitter(const std::string& pattern) {
  return variant("llama3_tiny", [&](json& d) {
    d["added_tokens"] = json::array();
    d["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"},
                          {"invert", false}};
  });
}

const std::string kLlama3Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const std::string kGpt2Regex = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

}  // namespace

// ---- GPT-2 style: ByteLevel pre-tokenizer with its built-in regex, merges written "a b"

TEST(TokenizerJson, Gpt2TinyIds) {
  auto tok = load("gpt2_tiny");
  EXPECT_EQ(tok->kind(), "hf-bpe");
  EXPECT_EQ(tok->vocab_size(), 282);
  EXPECT_EQ(tok->bos_id, 281);  // <|endoftext|>, by name (the ByteLevel post-processor adds nothing)
  EXPECT_EQ(tok->eos_id, 281);
  EXPECT_EQ(tok->unk_id, -1);
  EXPECT_EQ(tok->pad_id, -1);
  EXPECT_EQ(tok->id_to_piece(281), "<|endoftext|>");
  EXPECT_EQ(tok->id_to_piece(32), "Ġ");
  EXPECT_THROW(tok->id_to_piece(282), hp::Error);

  EXPECT_EQ(tok->encode(""), Ids{});
  EXPECT_EQ(tok->encode("Hello world"), (Ids{264, 269}));
  EXPECT_EQ(tok->encode(" Hello world"), (Ids{32, 264, 269}));  // no "ĠH" merge
  EXPECT_EQ(tok->encode("hello"), (Ids{261}));
  EXPECT_EQ(tok->encode(" the"), (Ids{259}));
  // Rank order, not position: "b c" (rank 20) before "a b" (rank 21); equal ranks go left to right.
  EXPECT_EQ(tok->encode("abc"), (Ids{97, 276}));
  EXPECT_EQ(tok->encode("aaa"), (Ids{275, 97}));
  EXPECT_EQ(tok->encode("aaaa"), (Ids{275, 275}));
  // A queued merge whose left symbol has grown since is dropped: Ġ 1 2 3 → Ġ 123, never Ġ1 23.
  EXPECT_EQ(tok->encode(" 12345"), (Ids{32, 274, 52, 53}));
  // Whitespace: a run leaves its last space to the next word; "\n\n" before a word is two words.
  EXPECT_EQ(tok->encode("a  b"), (Ids{97, 32, 32, 98}));
  EXPECT_EQ(tok->encode("hello\n\nworld"), (Ids{261, 10, 10, 119, 266, 268}));
  EXPECT_EQ(tok->encode("x\n\n"), (Ids{120, 272}));
  EXPECT_EQ(tok->encode("   "), (Ids{271, 32}));
  // Contractions are case-sensitive in GPT-2's regex.
  EXPECT_EQ(tok->encode("it's"), (Ids{105, 116, 270}));
  EXPECT_EQ(tok->encode("IT'S"), (Ids{73, 84, 39, 83}));
  // Bytes, not characters: 😊 = F0 9F 98 8A, and "ðŁ" is the merge of the first two.
  EXPECT_EQ(tok->encode("\xf0\x9f\x98\x8a"), (Ids{280, 0x98, 0x8A}));
  EXPECT_EQ(tok->encode("é"), (Ids{0xC3, 0xA9}));
  // The added token (normalized: true, no normalizer) is cut out before the regex runs.
  EXPECT_EQ(tok->encode("<|endoftext|>Hello"), (Ids{281, 264}));
  EXPECT_EQ(tok->encode("Hello<|endoftext|>"), (Ids{264, 281}));
  EXPECT_EQ(tok->encode("<|endoftext|"), (Ids{60, 124, 101, 110, 100, 111, 102, 116, 101, 120, 116, 124}));
  EXPECT_EQ(hp::hf_pre_tokenize(*tok, "I'm  here\n\n"), (Strings{"I", "'m", "Ġ", "Ġhere", "ĊĊ"}));
  // Invalid UTF-8: each bad byte becomes U+FFFD (EF BF BD), as it would on its way into Python.
  EXPECT_EQ(tok->encode("a\xff"), (Ids{97, 0xEF, 0xBF, 0xBD}));
}

// The hand-written GPT-2 splitter (ByteLevel use_regex) and the regex engine running GPT-2's pattern agree.
TEST(TokenizerJson, ByteLevelRegexEqualsSplitRegex) {
  auto builtin = load("gpt2_tiny");
  auto engine = variant("gpt2_tiny", [](json& d) {
    d["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {
        {{"type", "Split"}, {"pattern", {{"Regex", kGpt2Regex}}}, {"behavior", "Isolated"}, {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
  });
  std::ifstream in(fs::path(HP_SOURCE_DIR) / "tests" / "data" / "tok" / "golden_texts.jsonl");
  int n = 0;
  for (std::string line; std::getline(in, line); ++n) {
    const std::string text = json::parse(line)["text"];
    ASSERT_EQ(hp::hf_pre_tokenize(*builtin, text), hp::hf_pre_tokenize(*engine, text)) << text.substr(0, 80);
  }
  EXPECT_EQ(n, 164);
}

// ---- LLaMA-3 style: Split with the cl100k-style regex, then ByteLevel without its regex

TEST(TokenizerJson, Llama3RegexPieces) {
  auto s = splitter(kLlama3Regex);
  auto split = [&](const std::string& text) { return hp::hf_pre_tokenize(*s, text); };
  EXPECT_EQ(split(""), Strings{});
  EXPECT_EQ(split("   "), Strings{"   "});
  EXPECT_EQ(split("\n\n\t"), (Strings{"\n\n", "\t"}));  // \s*[\r\n]+ backs off to the last newline
  EXPECT_EQ(split("a  b"), (Strings{"a", " ", " b"}));
  EXPECT_EQ(split("hello\n\nworld"), (Strings{"hello", "\n\n", "world"}));
  EXPECT_EQ(split("a!!!\n\nb"), (Strings{"a", "!!!\n\n", "b"}));
  // Contractions match case-insensitively, and before the letters alternative.
  EXPECT_EQ(split("I'm"), (Strings{"I", "'m"}));
  EXPECT_EQ(split("HE'S"), (Strings{"HE", "'S"}));
  EXPECT_EQ(split("'LLama"), (Strings{"'LL", "ama"}));
  EXPECT_EQ(split("'Sx"), (Strings{"'S", "x"}));
  EXPECT_EQ(split("'\u017fx"), (Strings{"'\u017f", "x"}));  // long s folds to s
  EXPECT_EQ(split("don't"), (Strings{"don", "'t"}));
  // Numbers in threes from the left; any \p{N}.
  EXPECT_EQ(split("12345"), (Strings{"123", "45"}));
  EXPECT_EQ(split("1234567"), (Strings{"123", "456", "7"}));
  EXPECT_EQ(split("x١٢٣٤½"), (Strings{"x", "١٢٣", "٤½"}));
  // One leading non-letter joins a word; marks are not letters.
  EXPECT_EQ(split("$hello 'hello"), (Strings{"$hello", " '", "hello"}));  // one, not two
  EXPECT_EQ(split("e\u0301x"), (Strings{"e", "\u0301x"}));
  EXPECT_EQ(split("中文 text"), (Strings{"中文", " text"}));
  EXPECT_EQ(split(" \xf0\x9f\x98\x8a!"), (Strings{" \xf0\x9f\x98\x8a!"}));
  EXPECT_EQ(split("\nhello"), (Strings{"\n", "hello"}));
}

TEST(TokenizerJson, Llama3TinyIds) {
  auto tok = load("llama3_tiny");
  EXPECT_EQ(tok->vocab_size(), 284);
  EXPECT_EQ(tok->bos_id, 280);  // from the TemplateProcessing post-processor
  EXPECT_EQ(tok->eos_id, 283);  // tokenizer_config.json: <|eot_id|>
  EXPECT_EQ(tok->unk_id, -1);
  EXPECT_EQ(variant("llama3_tiny", [](json&) {})->eos_id, 281);  // no config: <|end_of_text|> by name

  // Each of these would merge differently if the pre-tokenizer left the text in one word (see the first
  // four merges of the fixture) or grouped digits wrongly.
  EXPECT_EQ(tok->encode("I'm"), (Ids{73, 271}));
  EXPECT_EQ(tok->encode("'LLama"), (Ids{273, 97, 109, 97}));
  EXPECT_EQ(tok->encode("'Sx"), (Ids{270, 120}));
  EXPECT_EQ(tok->encode("12345"), (Ids{275, 276}));
  EXPECT_EQ(tok->encode("Hello world"), (Ids{263, 268}));
  EXPECT_EQ(tok->encode("hello\n\nworld"), (Ids{104, 101, 261, 111, 278, 119, 265, 267}));
  EXPECT_EQ(tok->encode("\n\n"), (Ids{278}));
  EXPECT_EQ(tok->encode(""), Ids{});
  EXPECT_EQ(tok->encode("   "), (Ids{277, 32}));
  // ignore_merges: a word found whole in the vocabulary is that token, merges or not.
  EXPECT_EQ(tok->encode(" xyz"), (Ids{279}));
  EXPECT_EQ(variant("llama3_tiny", [](json& d) { d["model"]["ignore_merges"] = false; })->encode(" xyz"),
            (Ids{32, 120, 121, 122}));
  // Special tokens next to text, repeated, and a near miss.
  EXPECT_EQ(tok->encode("<|begin_of_text|>Hello"), (Ids{280, 263}));
  EXPECT_EQ(tok->encode("<|begin_of_text|> Hello<|eot_id|>"), (Ids{280, 32, 263, 283}));
  EXPECT_EQ(tok->encode("<|begin_of_text|><|begin_of_text|>"), (Ids{280, 280}));
  const Ids near = tok->encode("<|begin_of_text|");
  EXPECT_EQ(std::count(near.begin(), near.end(), 280), 0) << show(near);
  EXPECT_EQ(near.size(), 16u) << show(near);  // "<|" "begin" "_of" "_text" "|" as bytes
  // Emoji, CJK and combining marks go through as bytes.
  EXPECT_EQ(tok->encode("中"), (Ids{0xE4, 0xB8, 0xAD}));
  EXPECT_EQ(tok->encode("e\u0301x"), (Ids{101, 0xCC, 0x81, 120}));
}

// ---- LLaMA-2 style: Prepend("▁") + Replace(" ", "▁") normalizer, no pre-tokenizer, byte fallback

TEST(TokenizerJson, Llama2TinyIds) {
  auto tok = load("llama2_tiny");
  EXPECT_EQ(tok->vocab_size(), 339);
  EXPECT_EQ(tok->unk_id, 0);
  EXPECT_EQ(tok->bos_id, 1);
  EXPECT_EQ(tok->eos_id, 2);
  EXPECT_EQ(tok->pad_id, -1);
  EXPECT_EQ(tok->encode(""), Ids{});
  EXPECT_EQ(tok->encode("Hello world"), (Ids{331, 336}));
  EXPECT_EQ(pieces(*tok, "Hello world"), (Strings{"▁Hello", "▁world"}));
  EXPECT_EQ(tok->encode(" Hello"), (Ids{259, 331}));  // "▁▁Hello": ▁H merges before ▁▁
  EXPECT_EQ(tok->encode(" "), (Ids{337}));
  EXPECT_EQ(tok->encode("  "), (Ids{337, 259}));
  EXPECT_EQ(tok->encode("a"), (Ids{338}));
  // Byte fallback: <0xXX> has id 3 + XX.
  EXPECT_EQ(tok->encode("é"), (Ids{259, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(tok->encode("\n"), (Ids{259, 3 + 0x0A}));
  EXPECT_EQ(tok->encode("中文"), (Ids{259, 326, 3 + 0xE6, 3 + 0x96, 3 + 0x87}));
  EXPECT_EQ(pieces(*tok, "\xf0\x9f\x98\x8a"), (Strings{"▁", "<0xF0>", "<0x9F>", "<0x98>", "<0x8A>"}));
  // The normalizer runs on each piece between special tokens, so each gets its own "▁".
  EXPECT_EQ(tok->encode("Hello<s>world"), (Ids{331, 1, 336}));
  EXPECT_EQ(tok->encode("<s>Hello"), (Ids{1, 331}));
  EXPECT_EQ(tok->encode("</s><unk>"), (Ids{2, 0}));
  EXPECT_EQ(hp::hf_pre_tokenize(*tok, "Hello <s> world"), (Strings{"▁Hello▁", "<s>", "▁▁world"}));
}

TEST(TokenizerJson, UnknownTokenAndFusing) {
  auto no_fallback = variant("llama2_tiny", [](json& d) { d["model"]["byte_fallback"] = false; });
  EXPECT_EQ(no_fallback->encode("é"), (Ids{259, 0}));
  EXPECT_EQ(no_fallback->encode("éé"), (Ids{259, 0}));  // fuse_unk: one <unk> for the run
  EXPECT_EQ(no_fallback->encode("éaé"), (Ids{259, 0, 260, 0}));
  auto unfused = variant("llama2_tiny", [](json& d) {
    d["model"]["byte_fallback"] = false;
    d["model"]["fuse_unk"] = false;
  });
  EXPECT_EQ(unfused->encode("éé"), (Ids{259, 0, 0}));
  // Byte fallback for a character whose bytes are not all in the vocabulary: <unk>.
  auto partial = variant("llama2_tiny", [](json& d) { d["model"]["vocab"].erase("<0xA9>"); });
  EXPECT_EQ(partial->encode("éa"), (Ids{259, 0, 260}));
  EXPECT_EQ(partial->encode("中文"), (Ids{259, 326, 3 + 0xE6, 3 + 0x96, 3 + 0x87}));
  // No unknown token: a character without an id is dropped, as tokenizers does.
  auto none = variant("llama2_tiny", [](json& d) {
    d["model"]["byte_fallback"] = false;
    d["model"]["unk_token"] = nullptr;
  });
  EXPECT_EQ(none->encode("aéa"), (Ids{338, 260}));
}

// ---- Metaspace pre-tokenizer (newer LLaMA / Mistral files): prepend_scheme and split

TEST(TokenizerJson, MetaspacePrependScheme) {
  auto metaspace = [](const std::string& scheme, bool split) {
    return variant("llama2_tiny", [&](json& d) {
      d["normalizer"] = nullptr;
      d["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", scheme}, {"split", split}};
    });
  };
  auto first = metaspace("first", false), always = metaspace("always", false), never = metaspace("never", false);
  EXPECT_EQ(first->encode("Hello world"), (Ids{331, 336}));
  EXPECT_EQ(first->encode(" Hello"), (Ids{331}));  // starts with ▁ already
  // "first": only the piece at the start of the text gets a ▁; "always": every piece between specials.
  EXPECT_EQ(first->encode("<s>Hello"), (Ids{1, 293, 329, 274}));
  EXPECT_EQ(first->encode("Hello<s>world"), (Ids{331, 1, 282, 333, 335}));
  EXPECT_EQ(always->encode("<s>Hello"), (Ids{1, 331}));
  EXPECT_EQ(always->encode("Hello<s>world"), (Ids{331, 1, 336}));
  EXPECT_EQ(never->encode("Hello world"), (Ids{293, 329, 274, 336}));
  EXPECT_EQ(hp::hf_pre_tokenize(*first, " Hey <s>how <s>are <s> you"),
            (Strings{"▁Hey▁", "<s>", "how▁", "<s>", "are▁", "<s>", "▁you"}));
  auto split = metaspace("always", true);
  EXPECT_EQ(hp::hf_pre_tokenize(*split, "Hello  world!"), (Strings{"▁Hello", "▁", "▁world!"}));
  EXPECT_EQ(split->encode("Hello world"), (Ids{331, 336}));
  // Pre-prepend_scheme files: add_prefix_space true is "always"; false needs "never".
  auto legacy = variant("llama2_tiny", [](json& d) {
    d["normalizer"] = nullptr;
    d["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "▁"}, {"add_prefix_space", true}, {"str_rep", "▁"}};
  });
  EXPECT_EQ(legacy->encode("<s>Hello"), (Ids{1, 331}));
  EXPECT_TRUE(mentions(error_of_variant("llama2_tiny", [](json& d) {
    d["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "▁"}, {"add_prefix_space", false}};
  }), {"pre_tokenizer.add_prefix_space"}));
}

// ---- Added-token flags

TEST(TokenizerJson, AddedTokenFlags) {
  auto add = [](json& d, const std::string& content, int64_t id, const std::string& flag, bool special) {
    json t = {{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
              {"normalized", !special}, {"special", special}};
    if (!flag.empty()) t[flag] = true;
    d["added_tokens"].push_back(t);
  };
  auto tok = variant("gpt2_tiny", [&](json& d) {
    add(d, "<mask>", 282, "lstrip", true);
    add(d, "<r>", 283, "rstrip", true);
    add(d, "xyz", 284, "single_word", false);
    add(d, "<m>", 285, "", true);
  });
  EXPECT_EQ(tok->encode("a <mask> b"), (Ids{97, 282, 32, 98}));   // the space before goes with the token
  EXPECT_EQ(tok->encode("a <m> b"), (Ids{97, 32, 285, 32, 98}));  // without lstrip it stays
  EXPECT_EQ(tok->encode("<r>  x"), (Ids{283, 120}));
  EXPECT_EQ(tok->encode("xyz ab"), (Ids{284, 32, 277}));
  EXPECT_EQ(tok->encode("axyz"), (Ids{97, 120, 121, 122}));  // not a single word: not the token
  EXPECT_EQ(tok->encode("(xyz)"), (Ids{40, 284, 41}));
  // Longest match first among tokens starting at the same place.
  auto nested = variant("gpt2_tiny", [&](json& d) {
    add(d, "<|end", 282, "", false);
    add(d, "<|endoftext|>x", 283, "", false);
  });
  EXPECT_EQ(nested->encode("<|endoftext|>xy"), (Ids{283, 121}));
  EXPECT_EQ(nested->encode("<|endoftext|>"), (Ids{281}));
  EXPECT_EQ(nested->encode("<|end"), (Ids{282}));
  // normalized: false tokens are cut out first, before the others are looked for.
  auto raw_first = variant("gpt2_tiny", [&](json& d) { add(d, "<|end", 282, "", true); });
  EXPECT_EQ(raw_first->encode("<|endoftext|>"), (Ids{282, 111, 102, 116, 101, 120, 116, 124, 62}));
  // normalized: true tokens are matched in the normalized text (here "ab" becomes "▁ab").
  auto normalized = variant("llama2_tiny", [&](json& d) { add(d, "ab", 339, "", false); });
  EXPECT_EQ(normalized->encode("ab"), (Ids{339}));
  EXPECT_EQ(normalized->encode("x ab"), (Ids{259, 283, 339}));
  EXPECT_EQ(normalized->encode("xab"), (Ids{259, 283, 260, 261}));
  // Ids follow tokenizers' rule (vocabulary id, else the next after vocabulary and added tokens).
  EXPECT_TRUE(mentions(error_of_variant("gpt2_tiny", [&](json& d) { add(d, "<new>", 290, "", true); }),
                       {"added_tokens[1]", "\"<new>\"", "290", "282"}));
  EXPECT_TRUE(mentions(error_of_variant("llama2_tiny", [&](json& d) { d["added_tokens"][1]["id"] = 5; }),
                       {"added_tokens[1]", "\"<s>\"", "id 1"}));
}

// ---- Normalizers and pre-tokenizers beyond the three layouts

TEST(TokenizerJson, OtherNormalizersAndPreTokenizers) {
  auto with = [](json norm, json pre) {
    return variant("llama2_tiny", [&](json& d) {
      d["normalizer"] = norm;
      d["pre_tokenizer"] = pre;
    });
  };
  auto nfc = with({{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}, {{"type", "Lowercase"}}}}}, nullptr);
  EXPECT_EQ(nfc->encode("CAFE\u0301"), nfc->encode("café"));
  EXPECT_EQ(nfc->encode("ABC"), (Ids{260, 261, 262}));
  auto nfd = with({{"type", "NFD"}}, nullptr);
  EXPECT_EQ(nfd->encode("é"), (Ids{264, 3 + 0xCC, 3 + 0x81}));
  auto strip = with({{"type", "Sequence"}, {"normalizers", {{{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}},
                                                            {{"type", "Prepend"}, {"prepend", "▁"}}}}},
                    nullptr);
  EXPECT_EQ(strip->encode("  a  "), (Ids{338}));
  auto regex_replace = with({{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", "▁"}}, nullptr);
  EXPECT_EQ(regex_replace->encode("a \t\n b"), (Ids{260, 259, 261}));
  auto digits = with(nullptr, {{"type", "Sequence"}, {"pretokenizers", {{{"type", "WhitespaceSplit"}},
                                                                        {{"type", "Digits"}, {"individual_digits", true}}}}});
  EXPECT_EQ(hp::hf_pre_tokenize(*digits, " ab12 c3 "), (Strings{"ab", "1", "2", "c", "3"}));
  auto runs = with(nullptr, {{"type", "Digits"}, {"individual_digits", false}});
  EXPECT_EQ(hp::hf_pre_tokenize(*runs, "ab123c4"), (Strings{"ab", "123", "c", "4"}));
  auto ws = with(nullptr, {{"type", "Whitespace"}});
  EXPECT_EQ(hp::hf_pre_tokenize(*ws, "Hi, you're 2nd!"), (Strings{"Hi", ",", "you", "'", "re", "2nd", "!"}));
  // Split behaviors, on the literal "-".
  auto behaved = [&](const std::string& behavior, bool invert) {
    return hp::hf_pre_tokenize(*with(nullptr, {{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior},
                                               {"invert", invert}}),
                               "a-b--c-");
  };
  EXPECT_EQ(behaved("Removed", false), (Strings{"a", "b", "c"}));
  EXPECT_EQ(behaved("Isolated", false), (Strings{"a", "-", "b", "-", "-", "c", "-"}));
  EXPECT_EQ(behaved("MergedWithPrevious", false), (Strings{"a-", "b-", "-", "c-"}));
  EXPECT_EQ(behaved("MergedWithNext", false), (Strings{"a", "-b", "-", "-c", "-"}));
  EXPECT_EQ(behaved("Contiguous", false), (Strings{"a", "-", "b", "--", "c", "-"}));
  EXPECT_EQ(behaved("Removed", true), (Strings{"-", "-", "-", "-"}));
}

// ---- The regex engine against Python's regex module

TEST(TokenizerJson, RegexEngineMatchesReference) {
  const std::map<std::string, std::string> patterns = {
      {"gpt2", kGpt2Regex},
      {"llama3", kLlama3Regex},
      {"o200k",
       "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
       "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
       "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
      {"words", "\\w+|[^\\w\\s]+"},
      {"lazy", "\\p{L}+?(?=\\p{N})|\\d{2,}?|(?>\\s+)|[^\\p{L}\\d\\s]++|."},
  };
  std::map<std::string, std::unique_ptr<hp::Tokenizer>> split;
  for (const auto& [name, pattern] : patterns) split[name] = splitter(pattern);
  std::ifstream in(kData / "regex_cases.jsonl");
  ASSERT_TRUE(in);
  int rows = 0;
  std::map<std::string, int> bad;
  for (std::string line; std::getline(in, line); ++rows) {
    const json row = json::parse(line);
    const std::string text = row["text"];
    for (const auto& [name, tok] : split) {
      std::vector<size_t> ends;
      size_t at = 0;
      for (const std::string& piece : hp::hf_pre_tokenize(*tok, text))
        ends.push_back(at += hp::uni::decode_utf8(piece).size());
      if (ends != row[name].get<std::vector<size_t>>() && ++bad[name] <= 3)
        ADD_FAILURE() << name << " on " << json(text).dump() << "\n  python regex " << row[name].dump()
                      << "\n  headprune    " << json(ends).dump();
    }
  }
  EXPECT_GT(rows, 250);
  for (const auto& [name, n] : bad) EXPECT_EQ(n, 0) << name;
}

TEST(TokenizerJson, RegexSyntaxRefused) {
  for (const auto& [pattern, part] : std::vector<std::pair<std::string, std::string>>{
           {"(?<=a)b", "lookbehind"}, {"\\p{Han}+", "\\p{Han}"}, {"(a)\\1", "\\1"}, {"[[:alpha:]]", "nested"},
           {"a(?i)b", "inline flags"}, {"(?:a*)*", "empty string"}, {"a{2,1}", "n > m"}, {"(ab", "')'"},
           {"ab)", "')'"}, {"[a-", "']'"}, {"a**", "repeat of a repeat"}, {"*a", "nothing to repeat"},
           {"(?s:.)", "inline flag"}, {"\\X", "\\X"}, {"[a&&b]", "intersection"}}) {
    const std::string err = error_of([&, p = pattern] { splitter(p); });
    EXPECT_TRUE(mentions(err, {"pre_tokenizer.pattern.Regex", part})) << pattern;
  }
  // Accepted odds and ends: literal '{', {,n}, \x{..}, \u, escapes in classes, ranges, anchors.
  EXPECT_EQ(hp::hf_pre_tokenize(*splitter("a{x|b{,2}"), "a{xbbb"), (Strings{"a{x", "bb", "b"}));
  EXPECT_EQ(hp::hf_pre_tokenize(*splitter("[\\x{4e2d}\\u6587-\\u6588]+|^x|y$"), "x中文yxy"),
            (Strings{"x", "中文", "yx", "y"}));
  EXPECT_EQ(hp::hf_pre_tokenize(*splitter("\\bab\\b"), "ab xab ab"), (Strings{"ab", " xab ", "ab"}));
}

// ---- Errors name the file, the field and the value

TEST(TokenizerJson, ErrorsNameFieldAndValue) {
  for (const char* type : {"WordPiece", "Unigram", "WordLevel"})
    EXPECT_TRUE(mentions(error_of_variant("gpt2_tiny", [&](json& d) { d["model"]["type"] = type; }),
                         {"model.type", std::string("\"") + type + "\"", "tokenizer.json"}));
  EXPECT_TRUE(mentions(error_of_variant("llama2_tiny", [](json& d) { d["normalizer"]["normalizers"][1] = {{"type", "NFKC"}}; }),
                       {"normalizer.normalizers[1].type", "\"NFKC\""}));
  EXPECT_TRUE(mentions(error_of_variant("llama2_tiny", [](json& d) {
    d["normalizer"] = {{"type", "BertNormalizer"}, {"lowercase", true}};
  }), {"normalizer.type", "\"BertNormalizer\""}));
  EXPECT_TRUE(mentions(error_of_variant("llama3_tiny", [](json& d) {
    d["pre_tokenizer"]["pretokenizers"][0] = {{"type", "BertPreTokenizer"}};
  }), {"pre_tokenizer.pretokenizers[0].type", "\"BertPreTokenizer\""}));
  EXPECT_TRUE(mentions(error_of_variant("gpt2_tiny", [](json& d) { d["model"]["continuing_subword_prefix"] = "##"; }),
                       {"model.continuing_subword_prefix", "\"##\""}));
  EXPECT_TRUE(mentions(error_of_variant("gpt2_tiny", [](json& d) { d["model"]["end_of_word_suffix"] = "</w>"; }),
                       {"model.end_of_word_suffix", "\"</w>\""}));
  EXPECT_TRUE(mentions(error_of_variant("gpt2_tiny", [](json& d) { d["model"]["dropout"] = 0.1; }),
                       {"model.dropout", "0.1"}));
  EXPECT_NO_THROW(variant("gpt2_tiny", [](json& d) { d["model"]["dropout"] = 0.0; }));
  EXPECT_TRUE(mentions(error_of_variant("gpt2_tiny", [](json& d) { d["model"]["new_option"] = true; }),
                       {"model.new_option", "true"}));
  EXPECT_TRUE(mentions(error_of_variant("gpt2_tiny", [](json& d) { d["added_tokens"][0]["new_flag"] = 1; }),
                       {"added_tokens[0].new_flag"}));
  EXPECT_TRUE(mentions(error_of_variant("gpt2_tiny", [](json& d) { d["pre_tokenizer"]["use_regex"] = "yes"; }),
                       {"pre_tokenizer.use_regex", "\"yes\""}));
  EXPECT_TRUE(mentions(error_of_variant("gpt2_tiny", [](json& d) { d["model"]["merges"][0] = "h e x"; }),
                       {"model.merges[0]", "\"h e x\""}));
  EXPECT_TRUE(mentions(error_of_variant("gpt2_tiny", [](json& d) { d["model"]["merges"][0] = "h q"; }),
                       {"model.merges[0]", "merged token", "\"hq\""}));
  EXPECT_TRUE(mentions(error_of_variant("gpt2_tiny", [](json& d) { d["model"]["vocab"]["x"] = -3; }),
                       {"model.vocab[\"x\"]", "-3"}));
  EXPECT_TRUE(mentions(error_of_variant("gpt2_tiny", [](json& d) { d["version"] = "2.0"; }), {"version", "\"2.0\""}));
  EXPECT_TRUE(mentions(error_of_variant("llama3_tiny", [](json& d) {
    d["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Glued";
  }), {"pre_tokenizer.pretokenizers[0].behavior", "\"Glued\""}));
  // A model whose unknown token is missing fails when it is needed, naming it.
  auto bad_unk = variant("llama2_tiny", [](json& d) {
    d["model"]["byte_fallback"] = false;
    d["model"]["unk_token"] = "<nope>";
  });
  EXPECT_EQ(bad_unk->encode("a"), (Ids{338}));
  EXPECT_TRUE(mentions(error_of([&] { bad_unk->encode("é"); }), {"model.unk_token", "\"<nope>\""}));

  Scratch d;
  write_text(d / "tokenizer.json", "{\"model\": {\"type\": \"BPE\",");
  EXPECT_TRUE(mentions(error_of([&] { hp::load_hf_tokenizer_json(d / "tokenizer.json"); }), {d / "tokenizer.json"}));
  EXPECT_TRUE(mentions(error_of([&] { hp::load_tokenizer(d.str()); }), {d / "tokenizer.json"}));
  EXPECT_TRUE(mentions(error_of([&] { hp::load_hf_tokenizer_json(d / "missing.json"); }), {d / "missing.json"}));
  auto wp = hp::load_wordpiece((fs::path(HP_SOURCE_DIR) / "tests" / "data" / "tok" / "vocab.txt").string(), true);
  EXPECT_TRUE(mentions(error_of([&] { hp::hf_pre_tokenize(*wp, "x"); }), {"wordpiece"}));
}

TEST(TokenizerJson, ConfigAndPostProcessorIds) {
  Scratch d;
  json doc = fixture("llama2_tiny");
  doc["padding"] = {{"pad_id", 2}, {"pad_token", "</s>"}};
  doc["truncation"] = {{"max_length", 4}, {"strategy", "LongestFirst"}, {"direction", "Right"}, {"stride", 0}};
  write_text(d / "tokenizer.json", doc.dump());
  auto tok = hp::load_tokenizer(d.str());
  EXPECT_EQ(tok->kind(), "hf-bpe");
  EXPECT_EQ(tok->pad_id, 2);
  EXPECT_EQ(tok->encode("Hello world Hello world Hello").size(), 5u);  // truncation is the caller's
  write_text(d / "tokenizer_config.json",
             R"({"bos_token": {"__type": "AddedToken", "content": "</s>"}, "eos_token": "<s>", "pad_token": null,
                 "unk_token": "<unk>", "added_tokens_decoder": {"1": {"content": "<s>", "special": true}}})");
  tok = hp::load_tokenizer(d.str());
  EXPECT_EQ((Ids{tok->bos_id, tok->eos_id, tok->pad_id, tok->unk_id}), (Ids{2, 1, -1, 0}));
  write_text(d / "tokenizer_config.json", R"({"bos_token": "<bos>"})");
  EXPECT_TRUE(mentions(error_of([&] { hp::load_tokenizer(d.str()); }), {"bos_token", "\"<bos>\"", "tokenizer_config.json"}));
  write_text(d / "tokenizer_config.json", R"({"added_tokens_decoder": {"339": {"content": "<extra>"}}})");
  EXPECT_TRUE(mentions(error_of([&] { hp::load_tokenizer(d.str()); }), {"added_tokens_decoder", "\"<extra>\""}));
  // RoBERTa / BERT post-processors name cls and sep.
  auto roberta = variant("gpt2_tiny", [](json& j) {
    j["post_processor"] = {{"type", "RobertaProcessing"}, {"sep", {"</s>", 7}}, {"cls", {"<s>", 5}},
                           {"trim_offsets", true}, {"add_prefix_space", false}};
  });
  EXPECT_EQ((Ids{roberta->cls_id, roberta->sep_id, roberta->bos_id, roberta->eos_id}), (Ids{5, 7, 5, 7}));
}

TEST(TokenizerJson, LoadTokenizerPrefersTokenizerJson) {
  Scratch d;
  fs::copy_file(kData / "llama3_tiny" / "tokenizer.json", d / "tokenizer.json");
  fs::copy_file(kData / "llama3_tiny" / "tokenizer_config.json", d / "tokenizer_config.json");
  fs::copy_file(fs::path(HP_SOURCE_DIR) / "tests" / "data" / "tok" / "vocab.txt", d / "vocab.txt");
  auto tok = hp::load_tokenizer(d.str());
  EXPECT_EQ(tok->kind(), "hf-bpe");
  EXPECT_EQ(tok->encode("<|begin_of_text|>Hello"), (Ids{280, 263}));
  EXPECT_EQ(tok->eos_id, 283);
  // A WordPiece tokenizer.json gives way to the vocab.txt beside it; alone, it is refused.
  json doc = fixture("llama3_tiny");
  doc["model"] = {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"vocab", {{"[UNK]", 0}}}};
  write_text(d / "tokenizer.json", doc.dump());
  fs::remove(d / "tokenizer_config.json");
  EXPECT_EQ(hp::load_tokenizer(d.str())->kind(), "wordpiece");
  fs::remove(d / "vocab.txt");
  EXPECT_TRUE(mentions(error_of([&] { hp::load_tokenizer(d.str()); }), {"model.type", "\"WordPiece\""}));
}

TEST(TokenizerJson, ConcurrentEncode) {
  auto tok = load("llama3_tiny");
  const std::string text = "<|begin_of_text|>I'm 12345 'LLama hello\n\nworld";
  const Ids expected = tok->encode(text);
  std::vector<std::thread> threads;
  std::vector<Ids> got(8);
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int k = 0; k < 200; ++k) got[t] = tok->encode(text);
    });
  for (auto& th : threads) th.join();
  for (const Ids& g : got) EXPECT_EQ(g, expected);
}

// ---- Parity with the tokenizers library: golden/<name>.jsonl ({"text", "ids"} per line) with
// golden/<name>/tokenizer.json, written by scripts/gpu/tokenizer_json_parity.py on the GPU machine.

TEST(TokenizerJson, GoldenParity) {
  // HP_TOK_JSON_GOLDEN points the test at another golden directory of the same layout (the GPU
  // machine's whole-test-text run, too large to commit).
  const char* env = std::getenv("HP_TOK_JSON_GOLDEN");
  const fs::path dir = env && *env ? fs::path(env) : kData / "golden";
  if (!fs::is_directory(dir))
    GTEST_SKIP() << dir << " not present: run scripts/gpu/tokenizer_json_parity.py (see tests/data/tok_json/README.md)";
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".jsonl") continue;
    ++files;
    const std::string name = entry.path().stem().string();
    const fs::path tj = dir / name / "tokenizer.json";
    ASSERT_TRUE(fs::is_regular_file(tj)) << tj << " missing for " << entry.path();
    auto tok = hp::load_hf_tokenizer_json(tj.string());
    std::ifstream in(entry.path());
    int total = 0, bad = 0;
    for (std::string line; std::getline(in, line);) {
      const json row = json::parse(line);
      const std::string text = row["text"];
      const Ids want = row["ids"].get<Ids>();
      ++total;
      const Ids got = tok->encode(text);
      if (got != want && ++bad <= 3)
        ADD_FAILURE() << name << ": " << json(text.substr(0, 120)).dump(-1, ' ', false, json::error_handler_t::replace) << "\n  tokenizers " << show(want)
                      << "\n  headprune  " << show(got);
    }
    std::cout << "[ golden   ] " << name << ": " << total - bad << "/" << total << " texts match\n";
    EXPECT_GT(total, 0) << entry.path();
    EXPECT_EQ(bad, 0) << name;
  }
  EXPECT_GT(files, 0) << dir << " has no .jsonl files";
}
