// GPT-2 byte-level BPE, as HF's GPT2Tokenizer: split the text with GPT-2's pre-tokenization regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (hand-written below: the regex needs Unicode classes and a lookahead std::regex lacks), map each UTF-8
// byte to a printable stand-in character, then apply the merges in rank order.
#include <algorithm>
#include <climits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>

#include "core/check.h"
#include "io/tokenizer.h"
#include "io/tokenizer_internal.h"
#include "io/tokenizer_unicode.h"

namespace hp {
namespace {

enum class CharClass : uint8_t { kSpace, kLetter, kNumber, kOther };

CharClass classify(char32_t cp) {
  if (uni::is_white_space(cp)) return CharClass::kSpace;
  const uni::Cat cat = uni::category(cp);
  if (uni::is_letter(cat)) return CharClass::kLetter;
  if (uni::is_number(cat)) return CharClass::kNumber;
  return CharClass::kOther;
}

}  // namespace

namespace detail {

std::vector<std::string_view> gpt2_pre_tokenize(std::string_view text) {
  std::vector<char32_t> cps;
  std::vector<size_t> offset;  // byte offset of each code point, plus the end
  for (size_t pos = 0; pos < text.size();) {
    offset.push_back(pos);
    cps.push_back(uni::next_code_point(text, pos));
  }
  offset.push_back(text.size());
  const size_t n = cps.size();
  std::vector<CharClass> cls(n);
  for (size_t i = 0; i < n; ++i) cls[i] = classify(cps[i]);

  auto run_end = [&](size_t i) {
    size_t k = i;
    while (k < n && cls[k] == cls[i]) ++k;
    return k;
  };
  // End of the match starting at i, trying the alternatives in the regex's order.
  auto match = [&](size_t i) -> size_t {
    if (cps[i] == '\'') {  // contractions are case-sensitive, as in GPT-2
      for (std::u32string_view suffix : {U"s", U"t", U"re", U"ve", U"m", U"ll", U"d"})
        if (std::u32string_view(cps.data() + i + 1, n - i - 1).substr(0, suffix.size()) == suffix)
          return i + 1 + suffix.size();
    }
    // " ?X+" for X = letters, numbers, other: the optional space only joins a following non-space.
    if (cps[i] == ' ' && i + 1 < n && cls[i + 1] != CharClass::kSpace) return run_end(i + 1);
    if (cls[i] != CharClass::kSpace) return run_end(i);
    // Whitespace: \s+(?!\S) leaves the last space of a run to the word that follows it; \s+ takes a
    // lone whitespace character before a non-space.
    const size_t k = run_end(i);
    return (k < n && k - i >= 2) ? k - 1 : k;
  };

  std::vector<std::string_view> out;
  for (size_t i = 0; i < n;) {
    const size_t end = match(i);
    out.push_back(text.substr(offset[i], offset[end] - offset[i]));
    i = end;
  }
  return out;
}

const std::vector<std::string>& byte_level_alphabet() {
  static const std::vector<std::string> sym = [] {
    std::vector<std::string> out(256);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      uni::append_utf8(out[b], printable ? b : next++);
    }
    return out;
  }();
  return sym;
}

}  // namespace detail

namespace {

class ByteBpe final : public Tokenizer {
 public:
  ByteBpe(const std::string& encoder_json, const std::string& merges_txt)
      : path_(encoder_json), bytes_(detail::byte_level_alphabet()) {
    nlohmann::json enc;
    try {
      enc = nlohmann::json::parse(detail::read_file(encoder_json, "BPE vocab"));
    } catch (const nlohmann::json::exception& e) {
      fail(str("BPE vocab ", encoder_json, ": ", e.what()));
    }
    HP_CHECK(enc.is_object() && !enc.empty(), "BPE vocab ", encoder_json,
             ": expected a non-empty {token: id} object");
    for (const auto& [token, id] : enc.items()) {
      HP_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0, "BPE vocab ", encoder_json, ": token '",
               token, "' has id ", id.dump(), ", expected an integer >= 0");
      vocab_[token] = id.get<int64_t>();
      pieces_[id.get<int64_t>()] = token;
    }
    load_merges(merges_txt);
    // GPT-2 has one special token; RoBERTa/OPT-style vocabularies have BERT-like ones.
    for (auto [name, fields] : {std::pair{"<|endoftext|>", std::vector{&bos_id, &eos_id, &unk_id}},
                                {"<s>", {&bos_id, &cls_id}}, {"</s>", {&eos_id, &sep_id}},
                                {"<pad>", {&pad_id}}, {"<mask>", {&mask_id}}, {"<unk>", {&unk_id}}}) {
      auto it = vocab_.find(name);
      if (it == vocab_.end()) continue;
      for (int64_t* f : fields) *f = it->second;
      specials_.emplace_back(name, it->second);
    }
  }

  std::vector<int64_t> encode(const std::string& text) const override {
    std::vector<int64_t> ids;
    for (const auto& seg : detail::split_special_tokens(text, specials_)) {
      if (seg.special_id >= 0) {
        ids.push_back(seg.special_id);
        continue;
      }
      for (std::string_view word : detail::gpt2_pre_tokenize(seg.text)) append_word(word, ids);
    }
    return ids;
  }

  int64_t vocab_size() const override { return static_cast<int64_t>(vocab_.size()); }
  std::string kind() const override { return "bpe"; }
  Pieces pieces() const override { return Pieces::ByteLevel; }
  std::string id_to_piece(int64_t id) const override {
    auto it = pieces_.find(id);
    HP_CHECK(it != pieces_.end(), "BPE vocab ", path_, ": no token with id ", id);
    return it->second;
  }

 private:
  void load_merges(const std::string& merges_txt) {
    const std::string text = detail::read_file(merges_txt, "BPE merges");
    size_t line_no = 0;
    int n_merges = 0;
    for (size_t pos = 0; pos < text.size();) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      const std::string_view line(text.data() + pos, nl - pos);
      pos = nl + 1;
      if (++line_no == 1 && line.substr(0, 8) == "#version") continue;
      std::vector<std::string_view> parts;
      for (size_t b = 0; (b = line.find_first_not_of(" \t\r", b)) != std::string_view::npos;) {
        const size_t e = std::min(line.find_first_of(" \t\r", b), line.size());
        parts.push_back(line.substr(b, e - b));
        b = e;
      }
      if (parts.empty()) continue;
      HP_CHECK(parts.size() == 2, "BPE merges ", merges_txt, ":", line_no, ": expected two symbols, got '",
               line, "'");
      std::string key(parts[0]);
      key.append(1, ' ').append(parts[1]);
      rank_[std::move(key)] = n_merges++;  // a repeated pair takes its last rank, as HF's dict does
    }
    HP_CHECK(!rank_.empty(), "BPE merges ", merges_txt, ": no merges");
  }

  int rank(const std::string& a, const std::string& b, std::string& key) const {
    key.assign(a).append(1, ' ').append(b);
    auto it = rank_.find(key);
    return it == rank_.end() ? INT_MAX : it->second;
  }

  void append_word(std::string_view word, std::vector<int64_t>& ids) const {
    {
      std::lock_guard<std::mutex> lock(cache_mutex_);
      auto it = cache_.find(std::string(word));
      if (it != cache_.end()) {
        ids.insert(ids.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<std::string> symbols;
    for (unsigned char b : word) symbols.push_back(bytes_[b]);
    // Repeatedly merge the lowest-ranked adjacent pair, every occurrence left to right.
    std::string key;
    while (symbols.size() > 1) {
      int best = INT_MAX;
      size_t best_i = 0;
      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        const int r = rank(symbols[i], symbols[i + 1], key);
        if (r < best) best = r, best_i = i;
      }
      if (best == INT_MAX) break;
      const std::string first = symbols[best_i], second = symbols[best_i + 1];
      std::vector<std::string> merged;
      merged.reserve(symbols.size());
      for (size_t i = 0; i < symbols.size();) {
        if (i + 1 < symbols.size() && symbols[i] == first && symbols[i + 1] == second) {
          merged.push_back(first + second);
          i += 2;
        } else {
          merged.push_back(std::move(symbols[i]));
          i += 1;
        }
      }
      symbols = std::move(merged);
    }
    std::vector<int64_t> word_ids;
    for (const std::string& s : symbols) {
      auto it = vocab_.find(s);
      if (it != vocab_.end()) {
        word_ids.push_back(it->second);
      } else {
        HP_CHECK(unk_id >= 0, "BPE vocab ", path_, " has no token '", s, "' and no unknown token");
        word_ids.push_back(unk_id);
      }
    }
    ids.insert(ids.end(), word_ids.begin(), word_ids.end());
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kMaxCache) cache_.clear();  // bounded memory on endless distinct input
    cache_.emplace(std::string(word), std::move(word_ids));
  }

  static constexpr size_t kMaxCache = 1 << 17;
  std::string path_;
  const std::vector<std::string>& bytes_;
  std::unordered_map<std::string, int64_t> vocab_;
  std::unordered_map<int64_t, std::string> pieces_;
  std::unordered_map<std::string, int> rank_;  // "first second" → merge priority
  std::vector<std::pair<std::string, int64_t>> specials_;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int64_t>> cache_;
};

}  // namespace

std::unique_ptr<Tokenizer> load_bpe(const std::string& encoder_json, const std::string& merges_txt) {
  return std::make_unique<ByteBpe>(encoder_json, merges_txt);
}

}  // namespace hp
