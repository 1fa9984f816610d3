// BERT WordPiece, step for step as HF's slow BertTokenizer (BasicTokenizer + WordpieceTokenizer): clean,
// space out CJK ideographs, NFC, split on whitespace, lowercase + strip accents per word, split off
// punctuation, then greedy longest-match-first sub-words with "##" continuations.
#include <string_view>
#include <unordered_map>

#include "core/check.h"
#include "io/tokenizer.h"
#include "io/tokenizer_internal.h"
#include "io/tokenizer_unicode.h"

namespace hp {
namespace {

using uni::Cat;

// BERT's own character classes, which differ from Unicode's in places (tab/newline count as whitespace,
// all ASCII symbols count as punctuation).
bool bert_whitespace(char32_t cp) {
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || uni::category(cp) == Cat::Zs;
}
bool bert_control(char32_t cp) {
  return cp != '\t' && cp != '\n' && cp != '\r' && uni::is_other(uni::category(cp));
}
bool bert_punctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
      (cp >= 123 && cp <= 126))
    return true;
  return uni::is_punctuation(uni::category(cp));
}
// BERT's CJK ideograph blocks (unified, extensions A-E, compatibility). Hangul and kana are deliberately
// left out: BERT treats them like letters of any other script.
bool cjk_ideograph(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}
// What Python's str.split() splits on; after cleaning only U+2028/U+2029 remain besides the space.
bool py_space(char32_t cp) { return uni::is_white_space(cp) || (cp >= 0x1C && cp <= 0x1F); }

std::u32string strip_accents(const std::u32string& word) {
  std::u32string out;
  for (char32_t cp : uni::nfd(word))
    if (uni::category(cp) != Cat::Mn) out += cp;
  return out;
}

class WordPiece final : public Tokenizer {
 public:
  WordPiece(const std::string& vocab_txt, bool lower_case) : path_(vocab_txt), lower_case_(lower_case) {
    const std::string text = detail::read_file(vocab_txt, "WordPiece vocab");
    // Python reads the file with universal newlines: \n, \r\n and \r all end a line.
    for (size_t pos = 0; pos < text.size();) {
      size_t nl = text.find_first_of("\r\n", pos);
      if (nl == std::string::npos) nl = text.size();
      pieces_.push_back(text.substr(pos, nl - pos));
      pos = nl + (text.compare(nl, 2, "\r\n") == 0 ? 2 : 1);
    }
    HP_CHECK(!pieces_.empty(), "WordPiece vocab ", vocab_txt, ": empty");
    // A repeated token keeps its last line's id, as HF's dict does.
    for (size_t i = 0; i < pieces_.size(); ++i) vocab_[pieces_[i]] = static_cast<int64_t>(i);
    for (auto [name, field] : {std::pair{"[CLS]", &cls_id}, {"[SEP]", &sep_id}, {"[PAD]", &pad_id},
                               {"[MASK]", &mask_id}, {"[UNK]", &unk_id}}) {
      auto it = vocab_.find(name);
      if (it == vocab_.end()) continue;
      *field = it->second;
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
      for (const std::u32string& word : basic_tokenize(seg.text)) add_word_pieces(word, ids);
    }
    return ids;
  }

  int64_t vocab_size() const override { return static_cast<int64_t>(vocab_.size()); }
  std::string kind() const override { return "wordpiece"; }
  Pieces pieces() const override { return Pieces::WordPiece; }
  std::string id_to_piece(int64_t id) const override {
    HP_CHECK(id >= 0 && id < static_cast<int64_t>(pieces_.size()), "WordPiece vocab ", path_, ": id ", id,
             " outside [0, ", pieces_.size(), ")");
    return pieces_[id];
  }

 private:
  std::vector<std::u32string> basic_tokenize(std::string_view text) const {
    std::u32string clean;
    for (char32_t cp : uni::decode_utf8(text)) {
      if (cp == 0 || cp == 0xFFFD || bert_control(cp)) continue;
      if (bert_whitespace(cp)) {
        clean += U' ';
      } else if (cjk_ideograph(cp)) {
        clean += U' ';
        clean += cp;
        clean += U' ';
      } else {
        clean += cp;
      }
    }
    // HF normalizes to NFC so that precomposed and combining spellings give the same tokens.
    const std::u32string normalized = uni::nfc(clean);
    std::vector<std::u32string> out;
    for (size_t pos = 0; pos < normalized.size();) {
      if (py_space(normalized[pos])) {
        ++pos;
        continue;
      }
      size_t end = pos;
      while (end < normalized.size() && !py_space(normalized[end])) ++end;
      std::u32string word = normalized.substr(pos, end - pos);
      pos = end;
      if (lower_case_) word = strip_accents(uni::to_lower(word));
      // Every punctuation character becomes a word of its own.
      size_t start = 0;
      for (size_t i = 0; i <= word.size(); ++i) {
        if (i < word.size() && !bert_punctuation(word[i])) continue;
        if (i > start) out.push_back(word.substr(start, i - start));
        if (i < word.size()) out.push_back(word.substr(i, 1));
        start = i + 1;
      }
    }
    return out;
  }

  void add_word_pieces(const std::u32string& word, std::vector<int64_t>& ids) const {
    constexpr size_t kMaxWordChars = 100;  // longer words become [UNK] whole, as in BERT
    auto unknown = [&] {
      HP_CHECK(unk_id >= 0, "WordPiece vocab ", path_, " has no [UNK] for the word '", uni::encode_utf8(word),
               "'");
      ids.push_back(unk_id);
    };
    if (word.size() > kMaxWordChars) return unknown();
    std::vector<size_t> offset(word.size() + 1, 0);  // byte offset of each character in the UTF-8 form
    std::string utf8;
    for (size_t i = 0; i < word.size(); ++i) {
      uni::append_utf8(utf8, word[i]);
      offset[i + 1] = utf8.size();
    }
    const size_t first_new = ids.size();
    std::string candidate;
    for (size_t start = 0; start < word.size();) {
      size_t end = word.size();
      int64_t found = -1;
      for (; end > start; --end) {
        candidate = start > 0 ? "##" : "";
        candidate.append(utf8, offset[start], offset[end] - offset[start]);
        auto it = vocab_.find(candidate);
        if (it != vocab_.end()) {
          found = it->second;
          break;
        }
      }
      if (found < 0) {
        ids.resize(first_new);  // one unmatchable piece makes the whole word [UNK]
        return unknown();
      }
      ids.push_back(found);
      start = end;
    }
  }

  std::string path_;
  bool lower_case_;
  std::vector<std::string> pieces_;
  std::unordered_map<std::string, int64_t> vocab_;
  std::vector<std::pair<std::string, int64_t>> specials_;
};

}  // namespace

std::unique_ptr<Tokenizer> load_wordpiece(const std::string& vocab_txt, bool lower_case) {
  return std::make_unique<WordPiece>(vocab_txt, lower_case);
}

}  // namespace hp
