// Hugging Face tokenizer.json (the `tokenizers` library's serialised Tokenizer) with a BPE model: GPT-2,
// LLaMA-2 and LLaMA-3 style tokenizers. encode() gives the ids of tokenizers' Tokenizer.encode(text,
// add_special_tokens=False), following its steps:
//   1. added tokens with "normalized": false are cut out of the raw text (leftmost match, longest first,
//      then single_word / lstrip / rstrip);
//   2. the normalizer runs on each remaining piece, and added tokens with "normalized": true are cut out
//      of the normalized pieces;
//   3. the pre-tokenizer splits the pieces into words;
//   4. the BPE model turns each word into ids: characters to vocabulary ids (byte fallback, unknown token),
//      then the merges, lowest rank first and leftmost on ties.
// Split patterns run on the small backtracking regex engine below (namespace rx), which follows
// Oniguruma, the engine tokenizers uses, for the constructs it accepts; std::regex has no \p{..}.
// Anything in the file that could change ids and is not implemented is refused with an hp::Error naming
// the field and its value, unknown fields included. Not applied, because they do not change what encode()
// returns: the decoder, the post-processor (read for the ids of the tokens it adds), "truncation" (encode()
// returns every id, as transformers' tokenizer(text) does unless asked to truncate) and "padding" (read for
// pad_id).
#include <algorithm>
#include <array>
#include <climits>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <string_view>
#include <unordered_map>

#include "core/check.h"
#include "io/tokenizer.h"
#include "io/tokenizer_internal.h"
#include "io/tokenizer_unicode.h"

namespace hp {
namespace {

using json = nlohmann::json;

// ---- Unicode predicates shared by the regex engine and the added-token rules

// \w of Oniguruma and of Rust's regex crate: Alphabetic, marks, decimal digits, connector punctuation and
// the joiners. Alphabetic beyond the letters: letter numbers (Nl) and the circled/squared Latin letters
// (category So, Other_Alphabetic).
bool is_word_char(char32_t c) {
  const uni::Cat cat = uni::category(c);
  if (uni::is_letter(cat)) return true;
  switch (cat) {
    case uni::Cat::Mn: case uni::Cat::Mc: case uni::Cat::Me: case uni::Cat::Nd: case uni::Cat::Nl:
    case uni::Cat::Pc:
      return true;
    default:
      break;
  }
  return c == 0x200C || c == 0x200D || (c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) ||
         (c >= 0x1F150 && c <= 0x1F169) || (c >= 0x1F170 && c <= 0x1F189);
}

// Simple case folding for (?i): ASCII, the three characters that fold into ASCII or Latin-1 (long s,
// Kelvin and Angstrom signs), final sigma, and otherwise a one-character lowercase mapping.
char32_t simple_fold(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  switch (c) {
    case 0x17F: return 's';
    case 0x212A: return 'k';
    case 0x212B: return 0xE5;
    case 0x3C2: return 0x3C3;
    default: break;
  }
  const std::u32string lower = uni::to_lower(std::u32string_view(&c, 1));
  return lower.size() == 1 ? lower[0] : c;
}

std::string quote(std::string_view s) { return json(std::string(s)).dump(); }

// ---- A backtracking regex engine for the patterns of Split pre-tokenizers and Replace normalizers

namespace rx {

// One member of a character class: a range, a set of general categories, \s or \w, possibly negated.
struct ClassItem {
  enum Kind : uint8_t { kRange, kCats, kSpace, kWord } kind = kRange;
  bool negated = false;
  char32_t lo = 0, hi = 0;
  uint32_t cats = 0;  // bit i: uni::Cat i

  bool contains(char32_t c) const {
    bool in;
    switch (kind) {
      case kRange: in = c >= lo && c <= hi; break;
      case kCats: in = (cats >> static_cast<int>(uni::category(c))) & 1u; break;
      case kSpace: in = uni::is_white_space(c); break;
      default: in = is_word_char(c); break;
    }
    return in != negated;
  }
};

struct CharClass {
  std::vector<ClassItem> items;
  bool negated = false, fold = false;

  bool any(char32_t c) const {
    for (const ClassItem& it : items)
      if (it.contains(c)) return true;
    return false;
  }
  bool matches(char32_t c) const {
    bool in = any(c);
    if (!in && fold) {  // some case variant of c is in the class
      const char32_t f = simple_fold(c);
      in = (f != c && any(f)) || (f >= 'a' && f <= 'z' && any(f - 32)) || (f == 's' && any(0x17F)) ||
           (f == 'k' && any(0x212A));
    }
    return in != negated;
  }
};

uint32_t bit(uni::Cat c) { return 1u << static_cast<int>(c); }

// General category masks by property name, as Oniguruma spells them (case, spaces, '_' and '-' ignored).
bool category_mask(std::string_view raw, uint32_t& mask) {
  std::string name;
  for (char ch : raw)
    if (ch != ' ' && ch != '_' && ch != '-') name += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  using C = uni::Cat;
  const uint32_t L = bit(C::Lu) | bit(C::Ll) | bit(C::Lt) | bit(C::Lm) | bit(C::Lo);
  const uint32_t M = bit(C::Mn) | bit(C::Mc) | bit(C::Me);
  const uint32_t N = bit(C::Nd) | bit(C::Nl) | bit(C::No);
  const uint32_t P = bit(C::Pc) | bit(C::Pd) | bit(C::Ps) | bit(C::Pe) | bit(C::Pi) | bit(C::Pf) | bit(C::Po);
  const uint32_t S = bit(C::Sm) | bit(C::Sc) | bit(C::Sk) | bit(C::So);
  const uint32_t Z = bit(C::Zs) | bit(C::Zl) | bit(C::Zp);
  const uint32_t Cx = bit(C::Cc) | bit(C::Cf) | bit(C::Cs) | bit(C::Co) | bit(C::Cn);
  static const std::pair<const char*, C> kSingle[] = {
      {"lu", C::Lu}, {"ll", C::Ll}, {"lt", C::Lt}, {"lm", C::Lm}, {"lo", C::Lo}, {"mn", C::Mn},
      {"mc", C::Mc}, {"me", C::Me}, {"nd", C::Nd}, {"nl", C::Nl}, {"no", C::No}, {"pc", C::Pc},
      {"pd", C::Pd}, {"ps", C::Ps}, {"pe", C::Pe}, {"pi", C::Pi}, {"pf", C::Pf}, {"po", C::Po},
      {"sm", C::Sm}, {"sc", C::Sc}, {"sk", C::Sk}, {"so", C::So}, {"zs", C::Zs}, {"zl", C::Zl},
      {"zp", C::Zp}, {"cc", C::Cc}, {"cf", C::Cf}, {"cs", C::Cs}, {"co", C::Co}, {"cn", C::Cn},
      {"uppercaseletter", C::Lu}, {"lowercaseletter", C::Ll}, {"titlecaseletter", C::Lt},
      {"modifierletter", C::Lm}, {"otherletter", C::Lo}, {"nonspacingmark", C::Mn},
      {"spacingmark", C::Mc}, {"enclosingmark", C::Me}, {"decimalnumber", C::Nd}, {"letternumber", C::Nl},
      {"othernumber", C::No}, {"connectorpunctuation", C::Pc}, {"dashpunctuation", C::Pd},
      {"openpunctuation", C::Ps}, {"closepunctuation", C::Pe}, {"initialpunctuation", C::Pi},
      {"finalpunctuation", C::Pf}, {"otherpunctuation", C::Po}, {"mathsymbol", C::Sm},
      {"currencysymbol", C::Sc}, {"modifiersymbol", C::Sk}, {"othersymbol", C::So},
      {"spaceseparator", C::Zs}, {"lineseparator", C::Zl}, {"paragraphseparator", C::Zp},
      {"control", C::Cc}, {"format", C::Cf}, {"surrogate", C::Cs}, {"privateuse", C::Co},
      {"unassigned", C::Cn}};
  const std::pair<const char*, uint32_t> kGroups[] = {
      {"l", L}, {"letter", L}, {"lc", bit(C::Lu) | bit(C::Ll) | bit(C::Lt)}, {"l&", bit(C::Lu) | bit(C::Ll) | bit(C::Lt)},
      {"casedletter", bit(C::Lu) | bit(C::Ll) | bit(C::Lt)}, {"m", M}, {"mark", M}, {"combiningmark", M},
      {"n", N}, {"number", N}, {"p", P}, {"punctuation", P}, {"s", S}, {"symbol", S}, {"z", Z},
      {"separator", Z}, {"c", Cx}, {"other", Cx}};
  for (const auto& [n, c] : kSingle)
    if (name == n) return mask = bit(c), true;
  for (const auto& [n, m] : kGroups)
    if (name == n) return mask = m, true;
  return false;
}

enum class Assert : uint8_t { kLineBegin, kLineEnd, kBegin, kEnd, kEndBeforeNewline, kWordBoundary, kNotWordBoundary };

struct Node {
  enum Kind : uint8_t { kEmpty, kLit, kClass, kAny, kCat, kAlt, kRepeat, kLook, kAtomic, kAssert } kind = kEmpty;
  char32_t ch = 0;
  bool fold = false;     // kLit: compare folded
  int cls = -1;          // kClass
  int min = 0, max = 0;  // kRepeat; max < 0: unbounded
  bool greedy = true;    // kRepeat
  bool negate = false;   // kLook
  Assert assertion = Assert::kBegin;
  std::vector<Node> kids;
};

bool can_be_empty(const Node& n) {
  switch (n.kind) {
    case Node::kLit: case Node::kClass: case Node::kAny: return false;
    case Node::kCat: return std::all_of(n.kids.begin(), n.kids.end(), can_be_empty);
    case Node::kAlt: return std::any_of(n.kids.begin(), n.kids.end(), can_be_empty);
    case Node::kRepeat: return n.min == 0 || can_be_empty(n.kids[0]);
    case Node::kAtomic: return can_be_empty(n.kids[0]);
    default: return true;  // empty, assertions, lookahead
  }
}

class Parser {
 public:
  Parser(const std::string& source, const std::string& where, std::vector<CharClass>& classes)
      : src_(source), where_(where), p_(uni::decode_utf8(source)), classes_(classes) {}

  Node parse() {
    Node n = alternation(false);
    if (i_ < p_.size()) error("unbalanced ')'");
    return n;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    fail(str(where_, ": regex ", quote(src_), " at character ", i_, ": ", what,
             " (headprune's regex engine implements literals, classes with \\p{..} general categories, "
             "\\s \\S \\d \\D \\w \\W, groups, (?i:..), alternation, greedy/lazy/possessive repeats, "
             "lookahead, atomic groups and the anchors ^ $ \\A \\z \\Z \\b \\B)"));
  }
  bool at(char32_t c) const { return i_ < p_.size() && p_[i_] == c; }

  // "(?i)" or "(?-i)" at the start of the pattern or of a group: applies to the whole group.
  void leading_flags(bool& fold) {
    while (i_ + 2 < p_.size() && p_[i_] == '(' && p_[i_ + 1] == '?') {
      size_t k = i_ + 2;
      while (k < p_.size() && (p_[k] == 'i' || p_[k] == '-')) ++k;
      if (k >= p_.size() || p_[k] != ')' || k == i_ + 2) return;
      bool on = true;
      for (size_t j = i_ + 2; j < k; ++j) {
        if (p_[j] == '-') on = false;
        else fold = on;
      }
      i_ = k + 1;
    }
  }

  Node alternation(bool fold) {
    leading_flags(fold);
    Node alt;
    alt.kind = Node::kAlt;
    for (;;) {
      alt.kids.push_back(sequence(fold));
      if (!at('|')) break;
      ++i_;
    }
    if (alt.kids.size() == 1) return std::move(alt.kids[0]);
    return alt;
  }

  Node sequence(bool fold) {
    Node cat;
    cat.kind = Node::kCat;
    while (i_ < p_.size() && p_[i_] != '|' && p_[i_] != ')') {
      Node a = atom(fold);
      quantifier(a);
      cat.kids.push_back(std::move(a));
    }
    if (cat.kids.empty()) return Node{};
    if (cat.kids.size() == 1) return std::move(cat.kids[0]);
    return cat;
  }

  // {n} {n,} {n,m} {,m} at i_; false (i_ unchanged) where '{' starts no repeat and is a literal.
  bool braces(int& mn, int& mx) {
    size_t k = i_ + 1;
    auto number = [&](int& v) {
      const size_t start = k;
      long x = 0;
      while (k < p_.size() && p_[k] >= '0' && p_[k] <= '9' && x <= 100000) x = x * 10 + (p_[k++] - '0');
      v = static_cast<int>(x);
      return k > start;
    };
    const bool has_min = number(mn);
    if (!has_min) mn = 0;
    if (k < p_.size() && p_[k] == '}') {
      if (!has_min) return false;
      mx = mn;
    } else if (k < p_.size() && p_[k] == ',') {
      ++k;
      if (!number(mx)) mx = -1;
      if (!has_min && mx < 0) return false;
      if (k >= p_.size() || p_[k] != '}') return false;
    } else {
      return false;
    }
    i_ = k + 1;
    return true;
  }

  void quantifier(Node& a) {
    if (i_ >= p_.size()) return;
    int mn = 0, mx = 0;
    bool counted = false;
    const char32_t c = p_[i_];
    if (c == '*') mn = 0, mx = -1, ++i_;
    else if (c == '+') mn = 1, mx = -1, ++i_;
    else if (c == '?') mn = 0, mx = 1, ++i_;
    else if (c == '{' && braces(mn, mx)) counted = true;
    else return;
    if (a.kind == Node::kAssert || a.kind == Node::kLook) error("a repeat of an assertion");
    if (mx >= 0 && mn > mx) error("a repeat {n,m} with n > m");
    if (mn > 1000 || mx > 1000) error("a repeat count over 1000");
    Node rep;
    rep.kind = Node::kRepeat;
    rep.min = mn;
    rep.max = mx;
    bool possessive = false;
    if (at('?')) {
      rep.greedy = false;
      ++i_;
    } else if (at('+')) {
      if (counted) error("'+' after {n,m} (Oniguruma reads it as a second repeat)");
      possessive = true;
      ++i_;
    }
    if (at('*') || at('+') || at('?')) error("a repeat of a repeat");
    if (at('{')) {
      const size_t save = i_;
      int a1, a2;
      if (braces(a1, a2)) {
        i_ = save;
        error("a repeat of a repeat");
      }
    }
    if (mx < 0 && can_be_empty(a)) error("an unbounded repeat of something that can match the empty string");
    rep.kids.push_back(std::move(a));
    if (possessive) {
      Node atomic;
      atomic.kind = Node::kAtomic;
      atomic.kids.push_back(std::move(rep));
      a = std::move(atomic);
    } else {
      a = std::move(rep);
    }
  }

  Node literal(char32_t c, bool fold) {
    Node n;
    n.kind = Node::kLit;
    n.fold = fold && (simple_fold(c) != c || uni::is_letter(uni::category(c)));
    n.ch = n.fold ? simple_fold(c) : c;
    return n;
  }
  Node assertion(Assert a) {
    Node n;
    n.kind = Node::kAssert;
    n.assertion = a;
    return n;
  }
  Node class_node(CharClass cc) {
    Node n;
    n.kind = Node::kClass;
    n.cls = static_cast<int>(classes_.size());
    classes_.push_back(std::move(cc));
    return n;
  }
  static ClassItem item(ClassItem::Kind kind, bool negated, uint32_t cats = 0) {
    ClassItem it;
    it.kind = kind;
    it.negated = negated;
    it.cats = cats;
    return it;
  }

  int hex_digit(char32_t c) const {
    if (c >= '0' && c <= '9') return static_cast<int>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<int>(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return static_cast<int>(c - 'A' + 10);
    return -1;
  }
  char32_t hex(size_t min_digits, size_t max_digits) {
    char32_t v = 0;
    size_t n = 0;
    while (n < max_digits && i_ < p_.size() && hex_digit(p_[i_]) >= 0) v = v * 16 + hex_digit(p_[i_++]), ++n;
    if (n < min_digits) error("a malformed hex escape");
    return v;
  }

  // The character of a one-character escape (after the backslash, e consumed); false if e is no such escape.
  bool char_escape(char32_t e, char32_t& out) {
    switch (e) {
      case 't': out = '\t'; return true;
      case 'n': out = '\n'; return true;
      case 'r': out = '\r'; return true;
      case 'f': out = '\f'; return true;
      case 'v': out = '\v'; return true;
      case 'a': out = 0x07; return true;
      case 'e': out = 0x1B; return true;
      case '0':
        if (i_ < p_.size() && p_[i_] >= '0' && p_[i_] <= '7') error("octal escapes are not supported");
        out = 0;
        return true;
      case 'x':
        if (at('{')) {
          ++i_;
          out = hex(1, 8);
          if (!at('}')) error("a malformed \\x{...} escape");
          ++i_;
        } else {
          out = hex(1, 2);
        }
        return true;
      case 'u': out = hex(4, 4); return true;
      default: break;
    }
    if (e < 0x80 && !std::isalnum(static_cast<int>(e))) return out = e, true;  // \. \\ \' \- ...
    if (e >= 0x80) return out = e, true;
    return false;
  }

  // \p{..} \P{..} \p{^..} after the backslash and the letter (p_[i_-1] is 'p' or 'P').
  ClassItem property(bool upper) {
    if (!at('{')) error("\\p without {name}");
    ++i_;
    bool negated = upper;
    if (at('^')) negated = !negated, ++i_;
    std::string name;
    while (i_ < p_.size() && p_[i_] != '}') uni::append_utf8(name, p_[i_++]);
    if (!at('}')) error("unterminated \\p{");
    ++i_;
    uint32_t mask = 0;
    if (!category_mask(name, mask))
      error(str("the property \\p{", name, "} (only general categories such as L, Lu, N, Nd, P, S, Z are known)"));
    return item(ClassItem::kCats, negated, mask);
  }

  // A class escape after the backslash (\d \D \s \S \w \W \p \P), e consumed; false if e is none.
  bool class_escape(char32_t e, ClassItem& it) {
    switch (e) {
      case 'd': it = item(ClassItem::kCats, false, bit(uni::Cat::Nd)); return true;
      case 'D': it = item(ClassItem::kCats, true, bit(uni::Cat::Nd)); return true;
      case 's': it = item(ClassItem::kSpace, false); return true;
      case 'S': it = item(ClassItem::kSpace, true); return true;
      case 'w': it = item(ClassItem::kWord, false); return true;
      case 'W': it = item(ClassItem::kWord, true); return true;
      case 'p': it = property(false); return true;
      case 'P': it = property(true); return true;
      default: return false;
    }
  }

  Node escape(bool fold) {
    ++i_;
    if (i_ >= p_.size()) error("a trailing backslash");
    const char32_t e = p_[i_++];
    ClassItem it;
    if (class_escape(e, it)) {
      CharClass cc;
      cc.items.push_back(it);
      return class_node(std::move(cc));
    }
    switch (e) {
      case 'b': return assertion(Assert::kWordBoundary);
      case 'B': return assertion(Assert::kNotWordBoundary);
      case 'A': return assertion(Assert::kBegin);
      case 'z': return assertion(Assert::kEnd);
      case 'Z': return assertion(Assert::kEndBeforeNewline);
      default: break;
    }
    char32_t c;
    if (!char_escape(e, c)) {
      std::string s = "\\";
      uni::append_utf8(s, e);
      --i_;
      error(str("the escape ", s, " (backreferences, \\h, \\R, \\X, \\K, \\G, \\k, \\g are not supported)"));
    }
    return literal(c, fold);
  }

  // One class member at i_: a character (returned in c, true) or a class escape (added to cc, false).
  bool class_atom(CharClass& cc, char32_t& c) {
    const char32_t ch = p_[i_++];
    if (ch != '\\') return c = ch, true;
    if (i_ >= p_.size()) error("a trailing backslash");
    const char32_t e = p_[i_++];
    ClassItem it;
    if (class_escape(e, it)) {
      cc.items.push_back(it);
      return false;
    }
    if (e == 'b') return c = 0x08, true;
    if (!char_escape(e, c)) {
      --i_;
      error("an unknown escape in a class");
    }
    return true;
  }

  Node char_class(bool fold) {
    ++i_;  // '['
    CharClass cc;
    cc.fold = fold;
    if (at('^')) cc.negated = true, ++i_;
    for (bool first = true;; first = false) {
      if (i_ >= p_.size()) error("a missing ']'");
      if (p_[i_] == ']' && !first) {
        ++i_;
        break;
      }
      if (p_[i_] == '[') error("nested classes and [:name:] classes are not supported");
      if (p_[i_] == '&' && i_ + 1 < p_.size() && p_[i_ + 1] == '&') error("class intersection && is not supported");
      char32_t lo;
      if (!class_atom(cc, lo)) continue;
      char32_t hi = lo;
      if (at('-') && i_ + 1 < p_.size() && p_[i_ + 1] != ']') {
        ++i_;
        if (!class_atom(cc, hi)) error("a range ending in a class escape");
        if (hi < lo) error("a range out of order");
      }
      ClassItem range;
      range.lo = lo;
      range.hi = hi;
      cc.items.push_back(range);
    }
    return class_node(std::move(cc));
  }

  Node group(bool fold) {
    ++i_;  // '('
    Node inner;
    if (at('?')) {
      ++i_;
      if (at(':')) {
        ++i_;
        inner = alternation(fold);
      } else if (at('=') || at('!')) {
        inner.kind = Node::kLook;
        inner.negate = p_[i_++] == '!';
        inner.kids.push_back(alternation(fold));
      } else if (at('>')) {
        ++i_;
        inner.kind = Node::kAtomic;
        inner.kids.push_back(alternation(fold));
      } else if (at('<') && i_ + 1 < p_.size() && (p_[i_ + 1] == '=' || p_[i_ + 1] == '!')) {
        error("lookbehind is not supported");
      } else if (at('<')) {  // named group: matches like a plain one
        while (i_ < p_.size() && p_[i_] != '>') ++i_;
        if (!at('>')) error("an unterminated group name");
        ++i_;
        inner = alternation(fold);
      } else {
        bool on = true, f = fold;
        while (i_ < p_.size() && p_[i_] != ':' && p_[i_] != ')') {
          const char32_t flag = p_[i_];
          if (flag == '-') on = false;
          else if (flag == 'i') f = on;
          else error("an inline flag other than i");
          ++i_;
        }
        if (at(')')) error("inline flags such as (?i) are supported only at the start of the pattern or of a group");
        if (!at(':')) error("a malformed group");
        ++i_;
        inner = alternation(f);
      }
    } else {
      inner = alternation(fold);
    }
    if (!at(')')) error("a missing ')'");
    ++i_;
    return inner;
  }

  Node atom(bool fold) {
    const char32_t c = p_[i_];
    switch (c) {
      case '(': return group(fold);
      case '[': return char_class(fold);
      case '\\': return escape(fold);
      case '.': {
        ++i_;
        Node n;
        n.kind = Node::kAny;
        return n;
      }
      case '^': ++i_; return assertion(Assert::kLineBegin);
      case '$': ++i_; return assertion(Assert::kLineEnd);
      case '*': case '+': case '?': error("a repeat with nothing to repeat");
      default: ++i_; return literal(c, fold);
    }
  }

  const std::string& src_;
  const std::string& where_;
  std::u32string p_;
  size_t i_ = 0;
  std::vector<CharClass>& classes_;
};

enum class Op : uint8_t { kChar, kCharFold, kClass, kAny, kSplit, kJmp, kLook, kAtomic, kAssert, kMatch };

struct Inst {
  Op op;
  bool flag = false;  // kLook: negative
  int x = 0, y = 0;   // kSplit: preferred, other; kJmp: target; kLook/kAtomic: body, continuation
  char32_t c = 0;     // kChar/kCharFold: the character; kClass: class index; kAssert: the assertion
};

class Regex {
 public:
  Regex(const std::string& pattern, const std::string& where) : pattern_(pattern), where_(where) {
    Node root = Parser(pattern, where, classes_).parse();
    emit(root);
    code_.push_back({Op::kMatch});
  }

  // Every match in s, as tokenizers' Oniguruma iterator reports them: leftmost first, searching on from
  // the end of the previous match; an empty match right where the previous one ended is skipped.
  std::vector<std::pair<size_t, size_t>> find_all(const std::u32string& s) const {
    std::vector<std::pair<size_t, size_t>> out;
    State st{s, {}, 0};
    size_t from = 0;
    bool have_last = false;
    size_t last_end = 0;
    while (from <= s.size()) {
      size_t start = 0, end = 0;
      if (!search(st, from, start, end)) break;
      if (start == end && have_last && last_end == end) {
        from += 1;
        continue;
      }
      out.emplace_back(start, end);
      from = end;
      have_last = true;
      last_end = end;
    }
    return out;
  }

 private:
  struct State {
    const std::u32string& s;
    std::vector<std::pair<int, size_t>> stack;  // backtrack points: (pc, position)
    uint64_t steps;
  };
  static constexpr uint64_t kMaxSteps = 200'000'000;

  int push(Inst in) {
    code_.push_back(in);
    HP_CHECK(code_.size() < 200000, where_, ": regex ", quote(pattern_),
             " compiles to over 200000 instructions (large repeat counts); not supported");
    return static_cast<int>(code_.size()) - 1;
  }
  void set_split(int at, int body, int exit, bool greedy) {
    code_[at].x = greedy ? body : exit;
    code_[at].y = greedy ? exit : body;
  }

  void emit(const Node& n) {
    switch (n.kind) {
      case Node::kEmpty: break;
      case Node::kLit: push({n.fold ? Op::kCharFold : Op::kChar, false, 0, 0, n.ch}); break;
      case Node::kClass: push({Op::kClass, false, 0, 0, static_cast<char32_t>(n.cls)}); break;
      case Node::kAny: push({Op::kAny}); break;
      case Node::kCat:
        for (const Node& k : n.kids) emit(k);
        break;
      case Node::kAlt: {
        std::vector<int> jumps;
        for (size_t k = 0; k < n.kids.size(); ++k) {
          if (k + 1 == n.kids.size()) {
            emit(n.kids[k]);
            break;
          }
          const int split = push({Op::kSplit});
          code_[split].x = split + 1;
          emit(n.kids[k]);
          jumps.push_back(push({Op::kJmp}));
          code_[split].y = static_cast<int>(code_.size());
        }
        for (int j : jumps) code_[j].x = static_cast<int>(code_.size());
        break;
      }
      case Node::kRepeat: {
        for (int k = 0; k < n.min; ++k) emit(n.kids[0]);
        if (n.max < 0) {
          const int split = push({Op::kSplit});
          emit(n.kids[0]);
          push({Op::kJmp, false, split});
          set_split(split, split + 1, static_cast<int>(code_.size()), n.greedy);
        } else {
          std::vector<int> splits;
          for (int k = n.min; k < n.max; ++k) {
            splits.push_back(push({Op::kSplit}));
            emit(n.kids[0]);
          }
          for (int s : splits) set_split(s, s + 1, static_cast<int>(code_.size()), n.greedy);
        }
        break;
      }
      case Node::kLook:
      case Node::kAtomic: {
        const int at = push({n.kind == Node::kLook ? Op::kLook : Op::kAtomic, n.negate});
        emit(n.kids[0]);
        push({Op::kMatch});
        code_[at].x = at + 1;
        code_[at].y = static_cast<int>(code_.size());
        break;
      }
      case Node::kAssert: push({Op::kAssert, false, 0, 0, static_cast<char32_t>(n.assertion)}); break;
    }
  }

  bool word_at(const std::u32string& s, size_t i) const { return i < s.size() && is_word_char(s[i]); }

  bool assertion_holds(Assert a, const std::u32string& s, size_t pos) const {
    const size_t n = s.size();
    switch (a) {
      case Assert::kLineBegin: return pos == 0 || s[pos - 1] == '\n';
      case Assert::kLineEnd: return pos == n || s[pos] == '\n';
      case Assert::kBegin: return pos == 0;
      case Assert::kEnd: return pos == n;
      case Assert::kEndBeforeNewline: return pos == n || (pos + 1 == n && s[pos] == '\n');
      case Assert::kWordBoundary: return (pos > 0 && word_at(s, pos - 1)) != word_at(s, pos);
      case Assert::kNotWordBoundary: return (pos > 0 && word_at(s, pos - 1)) == word_at(s, pos);
    }
    return false;
  }

  // Runs the program from pc at pos with backtracking; the end of the first match in priority order,
  // or -1. Lookahead and atomic bodies run as nested calls on the same stack.
  long run(State& st, int pc, size_t pos) const {
    const std::u32string& s = st.s;
    const size_t base = st.stack.size();
    for (;;) {
      bool failed = false;
      while (!failed) {
        if (++st.steps > kMaxSteps)
          fail(str(where_, ": regex ", quote(pattern_), " backtracks too much on a text of ", s.size(),
                   " characters"));
        const Inst& in = code_[pc];
        switch (in.op) {
          case Op::kChar:
            if (pos < s.size() && s[pos] == in.c) ++pos, ++pc;
            else failed = true;
            break;
          case Op::kCharFold:
            if (pos < s.size() && simple_fold(s[pos]) == in.c) ++pos, ++pc;
            else failed = true;
            break;
          case Op::kClass:
            if (pos < s.size() && classes_[in.c].matches(s[pos])) ++pos, ++pc;
            else failed = true;
            break;
          case Op::kAny:
            if (pos < s.size() && s[pos] != '\n') ++pos, ++pc;
            else failed = true;
            break;
          case Op::kSplit:
            st.stack.emplace_back(in.y, pos);
            pc = in.x;
            break;
          case Op::kJmp: pc = in.x; break;
          case Op::kLook: {
            const bool hit = run(st, in.x, pos) >= 0;
            if (hit != in.flag) pc = in.y;
            else failed = true;
            break;
          }
          case Op::kAtomic: {
            const long end = run(st, in.x, pos);
            if (end >= 0) pos = static_cast<size_t>(end), pc = in.y;
            else failed = true;
            break;
          }
          case Op::kAssert:
            if (assertion_holds(static_cast<Assert>(in.c), s, pos)) ++pc;
            else failed = true;
            break;
          case Op::kMatch:
            st.stack.resize(base);
            return static_cast<long>(pos);
        }
      }
      if (st.stack.size() == base) return -1;
      std::tie(pc, pos) = st.stack.back();
      st.stack.pop_back();
    }
  }

  bool search(State& st, size_t from, size_t& start, size_t& end) const {
    st.steps = 0;
    for (size_t p = from; p <= st.s.size(); ++p) {
      const long e = run(st, 0, p);
      if (e >= 0) {
        start = p;
        end = static_cast<size_t>(e);
        return true;
      }
    }
    return false;
  }

  std::string pattern_, where_;
  std::vector<CharClass> classes_;
  std::vector<Inst> code_;
};

}  // namespace rx

// ---- Text pieces with their alignment to the original text

// A stretch of (normalized) text on its way through the pipeline. orig[i] is where the character of byte
// i came from in the original text; shift is where the piece starts there, as tokenizers'
// offsets_original() reports it (set when the piece is cut out, unchanged by normalization).
struct Piece {
  std::string text;
  std::vector<uint32_t> orig;
  uint32_t shift = 0;
  int64_t id = -1;  // >= 0: an added token, final
};

Piece slice(const Piece& p, size_t a, size_t b) {
  Piece out;
  out.text = p.text.substr(a, b - a);
  out.orig.assign(p.orig.begin() + a, p.orig.begin() + b);
  out.shift = a < p.orig.size() ? p.orig[a] : p.shift;
  return out;
}

// Appends UTF-8 bytes that all come from original offset o.
void append(Piece& p, std::string_view bytes, uint32_t o) {
  p.text.append(bytes);
  p.orig.insert(p.orig.end(), bytes.size(), o);
}

void append_cp(Piece& p, char32_t c, uint32_t o) {
  const size_t before = p.text.size();
  uni::append_utf8(p.text, c);
  p.orig.insert(p.orig.end(), p.text.size() - before, o);
}

// Code points of a piece with the byte offset of each, plus the end.
struct Decoded {
  std::u32string cps;
  std::vector<size_t> at;
};
Decoded decode(std::string_view s) {
  Decoded d;
  for (size_t pos = 0; pos < s.size();) {
    d.at.push_back(pos);
    d.cps.push_back(uni::next_code_point(s, pos));
  }
  d.at.push_back(s.size());
  return d;
}

// A cover of a piece by byte ranges, each a match of a split pattern or not, as tokenizers' Pattern
// find_matches gives it (an empty piece: one empty non-match).
struct Span {
  size_t a, b;
  bool match;
};

std::vector<Span> cover(const std::vector<std::pair<size_t, size_t>>& matches, size_t len) {
  std::vector<Span> out;
  if (len == 0) return {{0, 0, false}};
  size_t prev = 0;
  for (auto [a, b] : matches) {
    if (prev != a) out.push_back({prev, a, false});
    out.push_back({a, b, true});
    prev = b;
  }
  if (prev != len) out.push_back({prev, len, false});
  return out;
}

std::vector<Span> regex_spans(const rx::Regex& re, const std::string& text) {
  const Decoded d = decode(text);
  std::vector<std::pair<size_t, size_t>> m;
  for (auto [a, b] : re.find_all(d.cps)) m.emplace_back(d.at[a], d.at[b]);
  return cover(m, text.size());
}

std::vector<Span> literal_spans(std::string_view needle, const std::string& text) {
  std::vector<std::pair<size_t, size_t>> m;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + needle.size()))
    m.emplace_back(pos, pos + needle.size());
  return cover(m, text.size());
}

template <typename Pred>
std::vector<Span> char_spans(const std::string& text, Pred pred) {
  std::vector<std::pair<size_t, size_t>> m;
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    if (pred(uni::next_code_point(text, pos))) m.emplace_back(start, pos);
  }
  return cover(m, text.size());
}

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// tokenizers' NormalizedString::split: which spans become pieces, and which are dropped.
void split_piece(const Piece& p, std::vector<Span> spans, Behavior behavior, std::vector<Piece>& out) {
  std::vector<std::pair<Span, bool>> keep;  // span, removed
  switch (behavior) {
    case Behavior::kIsolated:
      for (const Span& s : spans) keep.push_back({s, false});
      break;
    case Behavior::kRemoved:
      for (const Span& s : spans) keep.push_back({s, s.match});
      break;
    case Behavior::kContiguous: {
      bool prev_match = false;
      for (const Span& s : spans) {
        if (s.match == prev_match && !keep.empty()) keep.back().first.b = s.b;
        else keep.push_back({s, false});
        prev_match = s.match;
      }
      break;
    }
    case Behavior::kMergedWithPrevious: {
      bool prev_match = false;
      for (const Span& s : spans) {
        if (s.match && !prev_match && !keep.empty()) keep.back().first.b = s.b;
        else keep.push_back({s, false});
        prev_match = s.match;
      }
      break;
    }
    case Behavior::kMergedWithNext: {
      bool prev_match = false;
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->match && !prev_match && !keep.empty()) keep.back().first.a = it->a;
        else keep.push_back({*it, false});
        prev_match = it->match;
      }
      std::reverse(keep.begin(), keep.end());
      break;
    }
  }
  for (const auto& [s, removed] : keep)
    if (!removed && s.b > s.a) out.push_back(slice(p, s.a, s.b));
}

// ---- Normalizers

struct NormStep {
  enum Kind { kPrepend, kReplace, kNfc, kNfd, kLowercase, kStrip } kind = kPrepend;
  std::string text;                 // kPrepend: the prefix; kReplace: the literal pattern
  std::string content;              // kReplace
  std::shared_ptr<rx::Regex> regex;  // kReplace with a Regex pattern
  bool left = false, right = false;  // kStrip
};

void normalize_step(const NormStep& st, Piece& p) {
  switch (st.kind) {
    case NormStep::kPrepend:
      if (!p.text.empty()) {
        p.text.insert(0, st.text);
        p.orig.insert(p.orig.begin(), st.text.size(), p.orig[0]);
      }
      return;
    case NormStep::kReplace: {
      const std::vector<Span> spans = st.regex ? regex_spans(*st.regex, p.text) : literal_spans(st.text, p.text);
      Piece out;
      out.shift = p.shift;
      for (const Span& s : spans) {
        if (s.b == s.a) continue;
        if (s.match) append(out, st.content, p.orig[s.a]);
        else {
          out.text.append(p.text, s.a, s.b - s.a);
          out.orig.insert(out.orig.end(), p.orig.begin() + s.a, p.orig.begin() + s.b);
        }
      }
      p.text = std::move(out.text);
      p.orig = std::move(out.orig);
      return;
    }
    case NormStep::kNfc:
    case NormStep::kNfd: {
      const Decoded d = decode(p.text);
      const std::u32string n = st.kind == NormStep::kNfc ? uni::nfc(d.cps) : uni::nfd(d.cps);
      Piece out;
      // Composition and reordering keep the first character's origin first; the others map monotonically.
      for (size_t j = 0; j < n.size(); ++j) {
        const size_t src = d.cps.empty() ? 0 : std::min(d.cps.size() - 1, j * d.cps.size() / n.size());
        append_cp(out, n[j], p.orig[d.at[src]]);
      }
      p.text = std::move(out.text);
      p.orig = std::move(out.orig);
      return;
    }
    case NormStep::kLowercase: {  // one character at a time, as tokenizers does (no final-sigma context)
      Piece out;
      for (size_t pos = 0; pos < p.text.size();) {
        const size_t start = pos;
        const char32_t c = uni::next_code_point(p.text, pos);
        for (char32_t l : uni::to_lower(std::u32string_view(&c, 1))) append_cp(out, l, p.orig[start]);
      }
      p.text = std::move(out.text);
      p.orig = std::move(out.orig);
      return;
    }
    case NormStep::kStrip: {
      const Decoded d = decode(p.text);
      size_t a = 0, b = d.cps.size();
      if (st.left)
        while (a < b && uni::is_white_space(d.cps[a])) ++a;
      if (st.right)
        while (b > a && uni::is_white_space(d.cps[b - 1])) --b;
      const size_t ba = d.at[a], bb = d.at[b];
      p.text = p.text.substr(ba, bb - ba);
      p.orig = std::vector<uint32_t>(p.orig.begin() + ba, p.orig.begin() + bb);
      return;
    }
  }
}

// ---- Pre-tokenizers

struct PreStep {
  enum Kind { kByteLevel, kSplit, kMetaspace, kDigits, kWhitespaceSplit } kind = kByteLevel;
  bool add_prefix_space = false, use_regex = true;  // kByteLevel
  std::shared_ptr<rx::Regex> regex;                 // kSplit with a Regex pattern
  std::string literal;                              // kSplit with a String pattern
  Behavior behavior = Behavior::kIsolated;          // kSplit
  bool invert = false;                              // kSplit
  std::string replacement;                          // kMetaspace, one character
  enum Scheme { kAlways, kFirst, kNever } scheme = kAlways;
  bool split = true;                                // kMetaspace
  bool individual_digits = false;                   // kDigits
};

void byte_level_map(Piece& p) {
  const std::vector<std::string>& alphabet = detail::byte_level_alphabet();
  Piece out;
  out.shift = p.shift;
  for (size_t i = 0; i < p.text.size(); ++i) append(out, alphabet[static_cast<unsigned char>(p.text[i])], p.orig[i]);
  p.text = std::move(out.text);
  p.orig = std::move(out.orig);
}

void pre_tokenize_step(const PreStep& st, Piece& p, std::vector<Piece>& out) {
  switch (st.kind) {
    case PreStep::kByteLevel: {
      if (st.add_prefix_space && p.text[0] != ' ') {
        p.text.insert(0, 1, ' ');
        p.orig.insert(p.orig.begin(), p.orig[0]);
      }
      const size_t first = out.size();
      if (st.use_regex) {
        std::vector<Span> spans;
        for (std::string_view w : detail::gpt2_pre_tokenize(p.text)) {
          const size_t a = static_cast<size_t>(w.data() - p.text.data());
          spans.push_back({a, a + w.size(), true});
        }
        split_piece(p, std::move(spans), Behavior::kIsolated, out);
      } else {
        out.push_back(std::move(p));
      }
      for (size_t k = first; k < out.size(); ++k) byte_level_map(out[k]);
      return;
    }
    case PreStep::kSplit: {
      std::vector<Span> spans = st.regex ? regex_spans(*st.regex, p.text) : literal_spans(st.literal, p.text);
      if (st.invert)
        for (Span& s : spans) s.match = !s.match;
      split_piece(p, std::move(spans), st.behavior, out);
      return;
    }
    case PreStep::kMetaspace: {
      Piece r;
      r.shift = p.shift;
      for (size_t i = 0; i < p.text.size(); ++i) {
        if (p.text[i] == ' ') append(r, st.replacement, p.orig[i]);
        else append(r, std::string_view(&p.text[i], 1), p.orig[i]);
      }
      const bool starts = r.text.compare(0, st.replacement.size(), st.replacement) == 0;
      if (!starts && (st.scheme == PreStep::kAlways || (st.scheme == PreStep::kFirst && r.shift == 0))) {
        r.text.insert(0, st.replacement);
        r.orig.insert(r.orig.begin(), st.replacement.size(), r.orig[0]);
      }
      if (st.split) split_piece(r, literal_spans(st.replacement, r.text), Behavior::kMergedWithNext, out);
      else out.push_back(std::move(r));
      return;
    }
    case PreStep::kDigits:
      split_piece(p, char_spans(p.text, [](char32_t c) { return uni::is_number(uni::category(c)); }),
                  st.individual_digits ? Behavior::kIsolated : Behavior::kContiguous, out);
      return;
    case PreStep::kWhitespaceSplit:
      split_piece(p, char_spans(p.text, uni::is_white_space), Behavior::kRemoved, out);
      return;
  }
}

// ---- Added tokens

struct AddedToken {
  std::string content;
  int64_t id = -1;
  bool single_word = false, lstrip = false, rstrip = false, normalized = true, special = false;
  std::string pattern;  // what is matched: the content, normalized when `normalized`
};

// Leftmost-longest search over a set of literal patterns (tokenizers uses Aho-Corasick in this mode).
class TokenMatcher {
 public:
  void build(std::vector<const AddedToken*> tokens) {
    tokens_ = std::move(tokens);
    for (auto& b : by_first_) b.clear();
    for (size_t k = 0; k < tokens_.size(); ++k)
      if (!tokens_[k]->pattern.empty())
        by_first_[static_cast<unsigned char>(tokens_[k]->pattern[0])].push_back(static_cast<int>(k));
    for (auto& b : by_first_)
      std::stable_sort(b.begin(), b.end(),
                       [&](int x, int y) { return tokens_[x]->pattern.size() > tokens_[y]->pattern.size(); });
  }
  bool empty() const { return tokens_.empty(); }

  // (start, end, token) of each match, left to right, not overlapping.
  std::vector<std::tuple<size_t, size_t, const AddedToken*>> find(std::string_view s) const {
    std::vector<std::tuple<size_t, size_t, const AddedToken*>> out;
    for (size_t pos = 0; pos < s.size();) {
      const AddedToken* hit = nullptr;
      for (int k : by_first_[static_cast<unsigned char>(s[pos])]) {
        const std::string& pat = tokens_[k]->pattern;
        if (s.compare(pos, pat.size(), pat) == 0) {
          hit = tokens_[k];
          break;
        }
      }
      if (!hit) {
        ++pos;
        continue;
      }
      out.emplace_back(pos, pos + hit->pattern.size(), hit);
      pos += hit->pattern.size();
    }
    return out;
  }

 private:
  std::vector<const AddedToken*> tokens_;
  std::array<std::vector<int>, 256> by_first_;
};

bool first_is_word(std::string_view s) {
  size_t pos = 0;
  return !s.empty() && is_word_char(uni::next_code_point(s, pos));
}
bool last_is_word(std::string_view s) {
  if (s.empty()) return false;
  size_t start = s.size() - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  size_t pos = start;
  return is_word_char(uni::next_code_point(s, pos));
}
// Where the trailing whitespace of s begins / how long its leading whitespace is.
size_t trailing_space_start(std::string_view s) {
  const Decoded d = decode(s);
  size_t k = d.cps.size();
  while (k > 0 && uni::is_white_space(d.cps[k - 1])) --k;
  return d.at[k];
}
size_t leading_space_len(std::string_view s) {
  const Decoded d = decode(s);
  size_t k = 0;
  while (k < d.cps.size() && uni::is_white_space(d.cps[k])) ++k;
  return d.at[k];
}

// tokenizers' AddedVocabulary split of one piece: matches filtered by single_word, widened by lstrip /
// rstrip, and the text between them.
void split_added(const Piece& p, const TokenMatcher& m, std::vector<Piece>& out) {
  if (m.empty()) {  // still a cut: the piece's start is taken from its first character
    if (!p.text.empty()) out.push_back(slice(p, 0, p.text.size()));
    return;
  }
  const std::string& s = p.text;
  size_t done = 0;
  auto emit_text = [&](size_t a, size_t b) {
    if (b > a) out.push_back(slice(p, a, b));
  };
  for (auto [start, stop, tok] : m.find(s)) {
    if (tok->single_word) {
      const bool space_before = start == 0 || !last_is_word(std::string_view(s).substr(0, start));
      const bool space_after = stop == s.size() || !first_is_word(std::string_view(s).substr(stop));
      if (!space_before || !space_after) continue;
    }
    if (tok->lstrip) start = std::max(trailing_space_start(std::string_view(s).substr(0, start)), done);
    if (tok->rstrip) stop += leading_space_len(std::string_view(s).substr(stop));
    emit_text(done, start);
    Piece t = slice(p, start, stop);
    t.id = tok->id;
    out.push_back(std::move(t));
    done = stop;
  }
  emit_text(done, s.size());
}

// ---- The BPE model

class BpeModel {
 public:
  std::unordered_map<std::string, int64_t> vocab;
  std::unordered_map<int64_t, std::string> pieces;
  std::string unk_token;  // empty: none
  bool fuse_unk = false, byte_fallback = false, ignore_merges = false;

  void add_merge(int64_t a, int64_t b, int rank, int64_t merged) {
    merges_[key(a, b)] = {rank, merged};  // a repeated pair keeps its last rank, as tokenizers' map does
  }
  void finish() {
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      auto it = vocab.find(name);
      byte_id_[b] = it == vocab.end() ? -1 : it->second;
    }
  }

  void encode_word(const std::string& word, std::vector<int64_t>& ids, const std::string& path) const {
    if (word.empty()) return;
    if (ignore_merges) {
      auto it = vocab.find(word);
      if (it != vocab.end()) {
        ids.push_back(it->second);
        return;
      }
    }
    const bool cacheable = word.size() < 256;
    if (cacheable) {
      std::lock_guard<std::mutex> lock(cache_mutex_);
      auto it = cache_.find(word);
      if (it != cache_.end()) {
        ids.insert(ids.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<int64_t> out = merge(symbols(word, path));
    ids.insert(ids.end(), out.begin(), out.end());
    if (cacheable) {
      std::lock_guard<std::mutex> lock(cache_mutex_);
      if (cache_.size() >= kMaxCache) cache_.clear();
      cache_.emplace(word, std::move(out));
    }
  }

 private:
  struct Symbol {
    int64_t id;
    int prev, next;
    bool live;
  };
  static uint64_t key(int64_t a, int64_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint64_t>(b); }
  const std::pair<int, int64_t>* find_merge(int64_t a, int64_t b) const {
    auto it = merges_.find(key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  }

  // One symbol per character: its vocabulary id, else its bytes' <0xXX> ids (byte_fallback), else the
  // unknown token (a run of unknown characters fused into one with fuse_unk), else nothing: tokenizers
  // drops characters it has no id for when the model has no unknown token.
  std::vector<int64_t> symbols(const std::string& w, const std::string& path) const {
    std::vector<int64_t> out;
    bool pending_unk = false;
    int64_t unk = -1;
    for (size_t pos = 0; pos < w.size();) {
      const size_t start = pos;
      uni::next_code_point(w, pos);
      const std::string_view ch(w.data() + start, pos - start);
      auto it = vocab.find(std::string(ch));
      if (it != vocab.end()) {
        if (pending_unk) out.push_back(unk), pending_unk = false;
        out.push_back(it->second);
        continue;
      }
      if (byte_fallback) {
        bool all = true;
        for (unsigned char b : ch) all = all && byte_id_[b] >= 0;
        if (all) {  // a pending unknown token stays pending here, after these bytes, as in tokenizers
          for (unsigned char b : ch) out.push_back(byte_id_[b]);
          continue;
        }
      }
      if (unk_token.empty()) continue;
      if (unk < 0) {
        auto u = vocab.find(unk_token);
        HP_CHECK(u != vocab.end(), "tokenizer.json ", path, ": model.unk_token ", quote(unk_token),
                 " is not in model.vocab, and the text has a character without an id: ", quote(std::string(ch)));
        unk = u->second;
      }
      if (pending_unk && !fuse_unk) out.push_back(unk);
      pending_unk = true;
    }
    if (pending_unk) out.push_back(unk);
    return out;
  }

  // tokenizers' Word::merge_all: repeatedly apply the merge of lowest rank, leftmost among equal ranks;
  // a queued merge whose pair has changed since is skipped.
  std::vector<int64_t> merge(std::vector<int64_t> ids) const {
    const int n = static_cast<int>(ids.size());
    std::vector<Symbol> sym(n);
    for (int i = 0; i < n; ++i) sym[i] = {ids[i], i - 1, i + 1 < n ? i + 1 : -1, true};
    struct Cand {
      int rank, pos;
      int64_t merged;
    };
    auto later = [](const Cand& x, const Cand& y) { return x.rank != y.rank ? x.rank > y.rank : x.pos > y.pos; };
    std::priority_queue<Cand, std::vector<Cand>, decltype(later)> queue(later);
    for (int i = 0; i + 1 < n; ++i)
      if (auto m = find_merge(sym[i].id, sym[i + 1].id)) queue.push({m->first, i, m->second});
    while (!queue.empty()) {
      const Cand c = queue.top();
      queue.pop();
      Symbol& left = sym[c.pos];
      if (!left.live || left.next < 0) continue;
      const int right_pos = left.next;
      Symbol& right = sym[right_pos];
      const auto m = find_merge(left.id, right.id);
      if (!m || m->second != c.merged) continue;
      left.id = c.merged;
      left.next = right.next;
      right.live = false;
      if (right.next >= 0) sym[right.next].prev = c.pos;
      if (left.prev >= 0)
        if (auto pm = find_merge(sym[left.prev].id, left.id)) queue.push({pm->first, left.prev, pm->second});
      if (left.next >= 0)
        if (auto nm = find_merge(left.id, sym[left.next].id)) queue.push({nm->first, c.pos, nm->second});
    }
    std::vector<int64_t> out;
    for (const Symbol& s : sym)
      if (s.live) out.push_back(s.id);
    return out;
  }

  static constexpr size_t kMaxCache = 1 << 17;
  std::unordered_map<uint64_t, std::pair<int, int64_t>> merges_;  // (left, right) → (rank, merged id)
  std::array<int64_t, 256> byte_id_{};
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int64_t>> cache_;
};

// ---- Reading the file

class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }

  [[noreturn]] void bad(const std::string& field, const std::string& msg) const {
    fail(str("tokenizer.json ", path_, ": ", field, " ", msg));
  }
  static std::string show(const json& v) {
    std::string s = v.dump();
    return s.size() > 160 ? s.substr(0, 157) + "..." : s;
  }
  [[noreturn]] void unsupported(const std::string& field, const json& value, const std::string& why) const {
    bad(field, str("= ", show(value), " is not supported", why.empty() ? "" : ": " + why));
  }

  void known_fields(const json& obj, const std::string& field, std::initializer_list<std::string_view> names) const {
    if (!obj.is_object()) bad(field, str("= ", show(obj), ": expected an object"));
    for (const auto& [k, v] : obj.items())
      if (std::find(names.begin(), names.end(), k) == names.end())
        bad(field + "." + k, str("= ", show(v), " is a field headprune does not know here; it is refused rather "
                                 "than ignored, since it might change the ids"));
  }
  bool get_bool(const json& obj, const std::string& field, const char* key, bool def) const {
    if (!obj.contains(key) || obj[key].is_null()) return def;
    if (!obj[key].is_boolean()) bad(field + "." + key, str("= ", show(obj[key]), ": expected true or false"));
    return obj[key].get<bool>();
  }
  std::string get_string(const json& obj, const std::string& field, const char* key) const {
    if (!obj.contains(key) || !obj[key].is_string())
      bad(field + "." + key, str("= ", obj.contains(key) ? show(obj[key]) : "(missing)", ": expected a string"));
    return obj[key].get<std::string>();
  }
  std::string type_of(const json& obj, const std::string& field) const {
    if (!obj.is_object()) bad(field, str("= ", show(obj), ": expected an object"));
    return get_string(obj, field, "type");
  }

 private:
  std::string path_;
};

// {"String": s} or {"Regex": r}: a literal (regex null) or a compiled pattern.
void read_pattern(const Reader& r, const json& pat, const std::string& field, std::string& literal,
                  std::shared_ptr<rx::Regex>& regex) {
  if (!pat.is_object() || pat.size() != 1) r.bad(field, str("= ", Reader::show(pat), ": expected {\"String\": ...} or {\"Regex\": ...}"));
  if (pat.contains("String")) {
    literal = r.get_string(pat, field, "String");
    if (literal.empty()) r.unsupported(field, pat, "an empty pattern");
  } else if (pat.contains("Regex")) {
    regex = std::make_shared<rx::Regex>(r.get_string(pat, field, "Regex"), "tokenizer.json " + r.path() + ": " + field + ".Regex");
  } else {
    r.bad(field, str("= ", Reader::show(pat), ": expected {\"String\": ...} or {\"Regex\": ...}"));
  }
}

void read_normalizer(const Reader& r, const json& n, const std::string& field, std::vector<NormStep>& out) {
  if (n.is_null()) return;
  const std::string type = r.type_of(n, field);
  NormStep st;
  if (type == "Sequence") {
    r.known_fields(n, field, {"type", "normalizers"});
    if (!n.contains("normalizers") || !n["normalizers"].is_array()) r.bad(field + ".normalizers", "must be a list");
    for (size_t k = 0; k < n["normalizers"].size(); ++k)
      read_normalizer(r, n["normalizers"][k], str(field, ".normalizers[", k, "]"), out);
    return;
  } else if (type == "Prepend") {
    r.known_fields(n, field, {"type", "prepend"});
    st.kind = NormStep::kPrepend;
    st.text = r.get_string(n, field, "prepend");
  } else if (type == "Replace") {
    r.known_fields(n, field, {"type", "pattern", "content"});
    st.kind = NormStep::kReplace;
    if (!n.contains("pattern")) r.bad(field + ".pattern", "is missing");
    read_pattern(r, n["pattern"], field + ".pattern", st.text, st.regex);
    st.content = r.get_string(n, field, "content");
  } else if (type == "NFC" || type == "NFD") {
    r.known_fields(n, field, {"type"});
    st.kind = type == "NFC" ? NormStep::kNfc : NormStep::kNfd;
  } else if (type == "Lowercase") {
    r.known_fields(n, field, {"type"});
    st.kind = NormStep::kLowercase;
  } else if (type == "Strip") {
    r.known_fields(n, field, {"type", "strip_left", "strip_right"});
    st.kind = NormStep::kStrip;
    st.left = r.get_bool(n, field, "strip_left", true);
    st.right = r.get_bool(n, field, "strip_right", true);
  } else {
    r.unsupported(field + ".type", n["type"],
                  "headprune implements the normalizers Sequence, Prepend, Replace, NFC, NFD, Lowercase and "
                  "Strip (not NFKC/NFKD, BertNormalizer, Precompiled, StripAccents, Nmt, ByteLevel)");
  }
  out.push_back(std::move(st));
}

Behavior read_behavior(const Reader& r, const json& v, const std::string& field) {
  static const std::pair<const char*, Behavior> kNames[] = {
      {"Removed", Behavior::kRemoved}, {"Isolated", Behavior::kIsolated},
      {"MergedWithPrevious", Behavior::kMergedWithPrevious}, {"MergedWithNext", Behavior::kMergedWithNext},
      {"Contiguous", Behavior::kContiguous}};
  if (v.is_string())
    for (const auto& [name, b] : kNames)
      if (v.get<std::string>() == name) return b;
  r.unsupported(field, v, "expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous");
}

void read_pre_tokenizer(const Reader& r, const json& p, const std::string& field, std::vector<PreStep>& out) {
  if (p.is_null()) return;
  const std::string type = r.type_of(p, field);
  PreStep st;
  if (type == "Sequence") {
    r.known_fields(p, field, {"type", "pretokenizers"});
    if (!p.contains("pretokenizers") || !p["pretokenizers"].is_array()) r.bad(field + ".pretokenizers", "must be a list");
    for (size_t k = 0; k < p["pretokenizers"].size(); ++k)
      read_pre_tokenizer(r, p["pretokenizers"][k], str(field, ".pretokenizers[", k, "]"), out);
    return;
  } else if (type == "ByteLevel") {
    r.known_fields(p, field, {"type", "add_prefix_space", "trim_offsets", "use_regex"});
    st.kind = PreStep::kByteLevel;
    st.add_prefix_space = r.get_bool(p, field, "add_prefix_space", true);
    st.use_regex = r.get_bool(p, field, "use_regex", true);
    r.get_bool(p, field, "trim_offsets", true);  // offsets only
  } else if (type == "Split") {
    r.known_fields(p, field, {"type", "pattern", "behavior", "invert"});
    st.kind = PreStep::kSplit;
    if (!p.contains("pattern")) r.bad(field + ".pattern", "is missing");
    read_pattern(r, p["pattern"], field + ".pattern", st.literal, st.regex);
    if (!p.contains("behavior")) r.bad(field + ".behavior", "is missing");
    st.behavior = read_behavior(r, p["behavior"], field + ".behavior");
    st.invert = r.get_bool(p, field, "invert", false);
  } else if (type == "Metaspace") {
    r.known_fields(p, field, {"type", "replacement", "add_prefix_space", "prepend_scheme", "split", "str_rep"});
    st.kind = PreStep::kMetaspace;
    st.replacement = r.get_string(p, field, "replacement");
    if (uni::decode_utf8(st.replacement).size() != 1)
      r.unsupported(field + ".replacement", p["replacement"], "must be one character");
    std::string scheme = "always";
    if (p.contains("prepend_scheme") && !p["prepend_scheme"].is_null()) scheme = r.get_string(p, field, "prepend_scheme");
    if (scheme == "always") st.scheme = PreStep::kAlways;
    else if (scheme == "first") st.scheme = PreStep::kFirst;
    else if (scheme == "never") st.scheme = PreStep::kNever;
    else r.unsupported(field + ".prepend_scheme", p["prepend_scheme"], "expected always, first or never");
    // Files from before prepend_scheme: add_prefix_space false means never (and contradicts any other).
    if (!r.get_bool(p, field, "add_prefix_space", true) && st.scheme != PreStep::kNever)
      r.bad(field + ".add_prefix_space", str("= false contradicts prepend_scheme \"", scheme, "\""));
    st.split = r.get_bool(p, field, "split", true);
  } else if (type == "Digits") {
    r.known_fields(p, field, {"type", "individual_digits"});
    st.kind = PreStep::kDigits;
    st.individual_digits = r.get_bool(p, field, "individual_digits", false);
  } else if (type == "WhitespaceSplit") {
    r.known_fields(p, field, {"type"});
    st.kind = PreStep::kWhitespaceSplit;
  } else if (type == "Whitespace") {  // \w+|[^\w\s]+, keeping the matches
    r.known_fields(p, field, {"type"});
    st.kind = PreStep::kSplit;
    st.regex = std::make_shared<rx::Regex>("\\w+|[^\\w\\s]+", field);
    st.behavior = Behavior::kRemoved;
    st.invert = true;
  } else {
    r.unsupported(field + ".type", p["type"],
                  "headprune implements the pre-tokenizers Sequence, ByteLevel, Split, Metaspace, Digits, "
                  "Whitespace and WhitespaceSplit (not BertPreTokenizer, Punctuation, CharDelimiterSplit, "
                  "UnicodeScripts, FixedLength)");
  }
  out.push_back(std::move(st));
}

int64_t read_id(const Reader& r, const json& v, const std::string& field) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
    r.bad(field, str("= ", Reader::show(v), ": expected an id in [0, 2^31)"));
  return v.get<int64_t>();
}

void read_model(const Reader& r, const json& m, BpeModel& bpe) {
  if (!m.is_object()) r.bad("model", str("= ", Reader::show(m), ": expected an object"));
  std::string type = m.contains("type") ? r.get_string(m, "model", "type") : (m.contains("merges") ? "BPE" : "");
  if (type != "BPE")
    r.unsupported("model.type", m.contains("type") ? m["type"] : json(nullptr),
                  "headprune reads tokenizer.json files with BPE models only (for WordPiece use vocab.txt, "
                  "for Unigram the SentencePiece .model file)");
  r.known_fields(m, "model", {"type", "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix",
                              "fuse_unk", "byte_fallback", "ignore_merges", "vocab", "merges"});
  if (m.contains("dropout") && !m["dropout"].is_null()) {
    if (!m["dropout"].is_number()) r.bad("model.dropout", str("= ", Reader::show(m["dropout"]), ": expected a number"));
    if (m["dropout"].get<double>() != 0.0) r.unsupported("model.dropout", m["dropout"], "BPE dropout is random");
  }
  for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (m.contains(affix) && !m[affix].is_null() && !(m[affix].is_string() && m[affix].get<std::string>().empty()))
      r.unsupported(str("model.", affix), m[affix], "only null");
  if (m.contains("unk_token") && !m["unk_token"].is_null()) bpe.unk_token = r.get_string(m, "model", "unk_token");
  bpe.fuse_unk = r.get_bool(m, "model", "fuse_unk", false);
  bpe.byte_fallback = r.get_bool(m, "model", "byte_fallback", false);
  bpe.ignore_merges = r.get_bool(m, "model", "ignore_merges", false);

  if (!m.contains("vocab") || !m["vocab"].is_object()) r.bad("model.vocab", "must be a {token: id} object");
  for (const auto& [token, id] : m["vocab"].items()) {
    const int64_t v = read_id(r, id, "model.vocab[" + quote(token) + "]");
    bpe.vocab[token] = v;
    bpe.pieces.emplace(v, token);
  }
  if (!m.contains("merges") || !m["merges"].is_array()) r.bad("model.merges", "must be a list");
  int rank = 0;
  for (size_t k = 0; k < m["merges"].size(); ++k) {
    const json& e = m["merges"][k];
    const std::string field = str("model.merges[", k, "]");
    std::string a, b;
    if (e.is_string()) {  // "a b"
      const std::string s = e.get<std::string>();
      if (s.rfind("#version", 0) == 0) continue;  // tokenizers skips these lines
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        r.bad(field, str("= ", Reader::show(e), ": expected two tokens separated by one space"));
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {  // ["a", "b"]
      a = e[0].get<std::string>();
      b = e[1].get<std::string>();
    } else {
      r.bad(field, str("= ", Reader::show(e), ": expected \"a b\" or [\"a\", \"b\"]"));
    }
    auto ia = bpe.vocab.find(a), ib = bpe.vocab.find(b), iab = bpe.vocab.find(a + b);
    for (auto [it, tok] : {std::pair{ia, &a}, {ib, &b}})
      if (it == bpe.vocab.end()) r.bad(field, str("= ", Reader::show(e), ": ", quote(*tok), " is not in model.vocab"));
    if (iab == bpe.vocab.end()) r.bad(field, str("= ", Reader::show(e), ": the merged token ", quote(a + b), " is not in model.vocab"));
    bpe.add_merge(ia->second, ib->second, rank++, iab->second);
  }
  bpe.finish();
}

// ---- The tokenizer

class HfTokenizer final : public Tokenizer {
 public:
  explicit HfTokenizer(const std::string& path) : path_(path) {
    json doc;
    try {
      doc = json::parse(detail::read_file(path, "tokenizer.json"));
    } catch (const json::exception& e) {
      fail(str("tokenizer.json ", path, ": ", e.what()));
    }
    const Reader r(path);
    if (!doc.is_object()) r.bad("(top level)", "must be a JSON object");
    if (doc.contains("version") && !(doc["version"].is_string() && doc["version"].get<std::string>() == "1.0"))
      r.unsupported("version", doc["version"], "tokenizers writes \"1.0\"");
    if (!doc.contains("model")) r.bad("model", "is missing");
    read_model(r, doc["model"], model_);
    if (doc.contains("normalizer")) read_normalizer(r, doc["normalizer"], "normalizer", norm_);
    if (doc.contains("pre_tokenizer")) read_pre_tokenizer(r, doc["pre_tokenizer"], "pre_tokenizer", pre_);
    if (doc.contains("added_tokens") && !doc["added_tokens"].is_null()) read_added_tokens(r, doc["added_tokens"]);
    special_ids(r, doc);
  }

  std::vector<int64_t> encode(const std::string& text) const override {
    std::vector<int64_t> ids;
    for (const Piece& p : pipeline(text)) {
      if (p.id >= 0) ids.push_back(p.id);
      else model_.encode_word(p.text, ids, path_);
    }
    return ids;
  }

  std::vector<std::string> pre_tokenize(const std::string& text) const {
    std::vector<std::string> out;
    for (Piece& p : pipeline(text)) out.push_back(std::move(p.text));
    return out;
  }

  int64_t vocab_size() const override { return size_; }
  std::string kind() const override { return "hf-bpe"; }
  Pieces pieces() const override {
    for (const PreStep& st : pre_)
      if (st.kind == PreStep::kByteLevel) return Pieces::ByteLevel;
    return Pieces::Metaspace;
  }
  std::string id_to_piece(int64_t id) const override {
    for (const AddedToken& t : added_)
      if (t.id == id) return t.content;
    auto it = model_.pieces.find(id);
    HP_CHECK(it != model_.pieces.end(), "tokenizer.json ", path_, ": no token with id ", id);
    return it->second;
  }

 private:
  std::vector<Piece> pipeline(const std::string& raw) const {
    // Text that is not valid UTF-8 (tokenizers only takes str) has each bad byte replaced by U+FFFD.
    std::string text;
    for (size_t pos = 0; pos < raw.size();) {
      const size_t start = pos;
      const char32_t c = uni::next_code_point(raw, pos);
      if (c == 0xFFFD && raw.compare(start, 3, "\xef\xbf\xbd") != 0) uni::append_utf8(text, c);
      else text.append(raw, start, pos - start);
    }
    Piece whole;
    whole.text = std::move(text);
    whole.orig.resize(whole.text.size());
    for (size_t pos = 0; pos < whole.text.size();) {
      const size_t start = pos;
      uni::next_code_point(whole.text, pos);
      for (size_t k = start; k < pos; ++k) whole.orig[k] = static_cast<uint32_t>(start);
    }
    std::vector<Piece> raw_split, pieces;
    split_added(whole, raw_tokens_, raw_split);
    for (Piece& p : raw_split) {
      if (p.id >= 0) {
        pieces.push_back(std::move(p));
        continue;
      }
      for (const NormStep& st : norm_) normalize_step(st, p);
      split_added(p, normalized_tokens_, pieces);
    }
    for (const PreStep& st : pre_) {
      std::vector<Piece> next;
      next.reserve(pieces.size());
      for (Piece& p : pieces) {
        if (p.id >= 0) next.push_back(std::move(p));
        else pre_tokenize_step(st, p, next);
      }
      pieces = std::move(next);
    }
    return pieces;
  }

  void read_added_tokens(const Reader& r, const json& list) {
    if (!list.is_array()) r.bad("added_tokens", "must be a list");
    // tokenizers gives a token its id in the model vocabulary, else the next id after the vocabulary and
    // the added tokens before it; a file whose ids disagree is refused rather than guessed at.
    std::unordered_map<std::string, int64_t> given;
    for (size_t k = 0; k < list.size(); ++k) {
      const json& t = list[k];
      const std::string field = str("added_tokens[", k, "]");
      r.known_fields(t, field, {"id", "content", "single_word", "lstrip", "rstrip", "normalized", "special"});
      AddedToken tok;
      tok.content = r.get_string(t, field, "content");
      if (!t.contains("id")) r.bad(field + ".id", "is missing");
      tok.id = read_id(r, t["id"], field + ".id");
      tok.single_word = r.get_bool(t, field, "single_word", false);
      tok.lstrip = r.get_bool(t, field, "lstrip", false);
      tok.rstrip = r.get_bool(t, field, "rstrip", false);
      tok.special = r.get_bool(t, field, "special", false);
      tok.normalized = r.get_bool(t, field, "normalized", !tok.special);
      if (tok.content.empty()) continue;  // tokenizers ignores these
      int64_t expected;
      if (auto it = given.find(tok.content); it != given.end()) {
        expected = it->second;
      } else if (auto v = model_.vocab.find(tok.content); v != model_.vocab.end()) {
        expected = v->second;
      } else {
        int64_t max_added = -1;
        for (const auto& [c, id] : given) max_added = std::max(max_added, id);
        const auto vs = static_cast<int64_t>(model_.vocab.size());
        expected = (max_added < 0) ? vs : (max_added >= vs || vs == 0) ? max_added + 1 : vs;
      }
      if (expected != tok.id)
        r.bad(field, str("= ", quote(tok.content), " with id ", tok.id, ": the tokenizers library would give it id ",
                         expected, " (its model vocabulary id, or the next id after the vocabulary and the added "
                         "tokens listed before it)"));
      if (given.count(tok.content)) {
        for (AddedToken& prev : added_)
          if (prev.content == tok.content) prev = tok;  // the later entry's flags win
        continue;
      }
      given.emplace(tok.content, tok.id);
      added_.push_back(tok);
    }
    for (AddedToken& t : added_) {
      t.pattern = t.content;
      if (t.normalized) {
        Piece p;
        p.text = t.content;
        p.orig.assign(p.text.size(), 0);
        for (const NormStep& st : norm_) normalize_step(st, p);
        t.pattern = p.text;
      }
    }
    // Patterns in tokenizers' order: the special tokens, then the others, each in file order.
    std::vector<const AddedToken*> raw, normalized;
    for (bool special : {true, false})
      for (const AddedToken& t : added_)
        if (t.special == special) (t.normalized ? normalized : raw).push_back(&t);
    raw_tokens_.build(raw);
    normalized_tokens_.build(normalized);
  }

  int64_t lookup(const std::string& token) const {
    for (const AddedToken& t : added_)
      if (t.content == token) return t.id;
    auto it = model_.vocab.find(token);
    return it == model_.vocab.end() ? -1 : it->second;
  }

  // bos/eos/pad/unk/cls/sep/mask: tokenizer_config.json beside the file wins, then the post-processor and
  // padding, then the model's unknown token, then the usual names.
  void special_ids(const Reader& r, const json& doc) {
    size_ = 0;
    for (const auto& [tok, id] : model_.vocab) size_ = std::max(size_, id + 1);
    for (const AddedToken& t : added_) size_ = std::max(size_, t.id + 1);

    if (!model_.unk_token.empty()) unk_id = lookup(model_.unk_token);
    if (doc.contains("padding") && doc["padding"].is_object() && doc["padding"].contains("pad_id") &&
        doc["padding"]["pad_id"].is_number_integer())
      pad_id = doc["padding"]["pad_id"].get<int64_t>();
    if (doc.contains("post_processor")) read_post_processor(doc["post_processor"]);

    auto by_name = [&](int64_t& field, std::initializer_list<const char*> names) {
      for (const char* n : names)
        if (field < 0) field = lookup(n);
    };
    by_name(bos_id, {"<|begin_of_text|>", "<s>", "<|endoftext|>"});
    by_name(eos_id, {"<|end_of_text|>", "</s>", "<|endoftext|>"});
    by_name(pad_id, {"<pad>", "[PAD]", "<|pad|>"});
    by_name(unk_id, {"<unk>", "[UNK]"});
    by_name(cls_id, {"[CLS]"});
    by_name(sep_id, {"[SEP]"});
    by_name(mask_id, {"[MASK]", "<mask>"});

    const std::filesystem::path config = std::filesystem::path(path_).parent_path() / "tokenizer_config.json";
    if (std::filesystem::is_regular_file(config)) read_config(r, config.string());
  }

  void read_post_processor(const json& pp) {
    if (!pp.is_object() || !pp.contains("type") || !pp["type"].is_string()) return;
    const std::string type = pp["type"].get<std::string>();
    auto id_of_pair = [&](const char* key) -> int64_t {  // ["</s>", 2]
      if (!pp.contains(key) || !pp[key].is_array() || pp[key].size() != 2 || !pp[key][1].is_number_integer()) return -1;
      return pp[key][1].get<int64_t>();
    };
    if (type == "Sequence" && pp.contains("processors") && pp["processors"].is_array()) {
      for (const json& p : pp["processors"]) read_post_processor(p);
    } else if (type == "BertProcessing" || type == "RobertaProcessing") {
      cls_id = id_of_pair("cls");
      sep_id = id_of_pair("sep");
      if (type == "RobertaProcessing") bos_id = cls_id, eos_id = sep_id;
    } else if (type == "TemplateProcessing" && pp.contains("single") && pp["single"].is_array()) {
      // The single-sequence template: a special token before $A is the bos, one after it the eos.
      bool seen_sequence = false;
      for (const json& piece : pp["single"]) {
        if (!piece.is_object()) continue;
        if (piece.contains("Sequence")) {
          seen_sequence = true;
          continue;
        }
        const auto tok = piece.find("SpecialToken");
        if (tok == piece.end() || !tok->is_object() || !tok->contains("id") || !(*tok)["id"].is_string()) continue;
        const auto specials = pp.find("special_tokens");
        if (specials == pp.end() || !specials->is_object()) continue;
        const auto entry = specials->find((*tok)["id"].get<std::string>());
        if (entry == specials->end() || !entry->is_object()) continue;
        const auto ids = entry->find("ids");
        if (ids == entry->end() || !ids->is_array() || ids->size() != 1 || !(*ids)[0].is_number_integer()) continue;
        (seen_sequence ? eos_id : bos_id) = (*ids)[0].get<int64_t>();
      }
    }
  }

  void read_config(const Reader& r, const std::string& config_path) {
    json cfg;
    try {
      cfg = json::parse(detail::read_file(config_path, "tokenizer config"));
    } catch (const json::exception& e) {
      fail(str("tokenizer config ", config_path, ": ", e.what()));
    }
    if (!cfg.is_object()) fail(str("tokenizer config ", config_path, ": must be a JSON object"));
    const std::pair<const char*, int64_t*> fields[] = {
        {"bos_token", &bos_id}, {"eos_token", &eos_id}, {"pad_token", &pad_id}, {"unk_token", &unk_id},
        {"cls_token", &cls_id}, {"sep_token", &sep_id}, {"mask_token", &mask_id}};
    for (auto [key, field] : fields) {
      if (!cfg.contains(key)) continue;
      const json& v = cfg[key];
      if (v.is_null()) {
        *field = -1;
        continue;
      }
      std::string content;
      if (v.is_string()) content = v.get<std::string>();
      else if (v.is_object() && v.contains("content") && v["content"].is_string()) content = v["content"].get<std::string>();
      else fail(str("tokenizer config ", config_path, ": ", key, " = ", Reader::show(v), ": expected a token"));
      *field = lookup(content);
      HP_CHECK(*field >= 0, "tokenizer config ", config_path, ": ", key, " ", quote(content),
               " is neither an added token nor in the vocabulary of ", r.path());
    }
    // transformers adds the tokens of added_tokens_decoder that tokenizer.json lacks, which changes ids.
    if (cfg.contains("added_tokens_decoder") && cfg["added_tokens_decoder"].is_object()) {
      for (const auto& [id_str, t] : cfg["added_tokens_decoder"].items()) {
        const std::string content = t.is_object() && t.contains("content") && t["content"].is_string()
                                        ? t["content"].get<std::string>() : "";
        bool found = false;
        for (const AddedToken& a : added_) found = found || (a.content == content && std::to_string(a.id) == id_str);
        HP_CHECK(found, "tokenizer config ", config_path, ": added_tokens_decoder[\"", id_str, "\"] ", quote(content),
                 " is not an added token with that id in ", r.path(),
                 "; transformers would add it, headprune does not");
      }
    }
  }

  std::string path_;
  BpeModel model_;
  std::vector<NormStep> norm_;
  std::vector<PreStep> pre_;
  std::vector<AddedToken> added_;
  TokenMatcher raw_tokens_, normalized_tokens_;  // point into added_, complete before they are built
  int64_t size_ = 0;
};

}  // namespace

std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::string& path) {
  return std::make_unique<HfTokenizer>(path);
}

std::vector<std::string> hf_pre_tokenize(const Tokenizer& tok, const std::string& text) {
  const auto* hf = dynamic_cast<const HfTokenizer*>(&tok);
  HP_CHECK(hf, "hf_pre_tokenize: the ", tok.kind(), " tokenizer was not read from a tokenizer.json");
  return hf->pre_tokenize(text);
}

}  // namespace hp
