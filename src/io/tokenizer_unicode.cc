#include "io/tokenizer_unicode.h"

#include <algorithm>
#include <iterator>
#include <unordered_map>

namespace hp::uni {
namespace {

struct LowerRun {
  uint32_t first, last;
  int32_t delta;
  uint32_t stride;
};
struct Decomposition {
  uint32_t cp, first, second;
};
struct SigmaRun {
  uint32_t first, last;
  uint8_t state;
};
constexpr uint32_t kComposes = 1u << 31;

#include "io/tokenizer_unicode_tables.inc"

// Value of the run containing cp in a table of (start << shift | value) entries sorted by start.
uint32_t run_value(const uint32_t* begin, const uint32_t* end, char32_t cp, int shift) {
  const uint32_t key = (static_cast<uint32_t>(cp) << shift) | ((1u << shift) - 1);
  const uint32_t* it = std::upper_bound(begin, end, key);
  return it == begin ? 0 : *(it - 1) & ((1u << shift) - 1);
}

template <typename Run>
const Run* find_run(const Run* begin, const Run* end, char32_t cp) {
  const Run* it = std::upper_bound(begin, end, cp, [](char32_t c, const Run& r) { return c < r.first; });
  if (it == begin || cp > (it - 1)->last) return nullptr;
  return it - 1;
}

const Decomposition* find_decomposition(char32_t cp) {
  const auto* begin = std::begin(kDecompositions);
  const auto* end = std::end(kDecompositions);
  const auto* it = std::lower_bound(begin, end, cp, [](const Decomposition& d, char32_t c) {
    return (d.cp & ~kComposes) < c;
  });
  return it != end && (it->cp & ~kComposes) == cp ? it : nullptr;
}

// Hangul syllables decompose and compose arithmetically (Unicode ch. 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr int kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
              kSCount = kLCount * kNCount;

void decompose_into(char32_t cp, std::u32string& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const int s = static_cast<int>(cp - kSBase);
    out += kLBase + s / kNCount;
    out += kVBase + (s % kNCount) / kTCount;
    if (s % kTCount) out += kTBase + s % kTCount;
    return;
  }
  const Decomposition* d = find_decomposition(cp);
  if (!d) {
    out += cp;
    return;
  }
  decompose_into(d->first, out);
  if (d->second) decompose_into(d->second, out);
}

char32_t compose_pair(char32_t a, char32_t b) {
  if (b < 0x300) return 0;  // every second half of a composition is a mark or a Hangul vowel/trailer
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount)
    return a + (b - kTBase);
  static const std::unordered_map<uint64_t, char32_t> pairs = [] {
    std::unordered_map<uint64_t, char32_t> m;
    for (const auto& d : kDecompositions)
      if (d.cp & kComposes) m[(uint64_t(d.first) << 32) | d.second] = d.cp & ~kComposes;
    return m;
  }();
  auto it = pairs.find((uint64_t(a) << 32) | b);
  return it == pairs.end() ? 0 : it->second;
}

// 0: neither, 1: case-ignorable, 2: cased, as Python's Final_Sigma test sees them.
int sigma_state(char32_t cp) {
  if (const SigmaRun* r = find_run(std::begin(kSigmaExceptions), std::end(kSigmaExceptions), cp))
    return r->state;
  switch (category(cp)) {
    case Cat::Mn: case Cat::Me: case Cat::Cf: case Cat::Lm: case Cat::Sk: return 1;
    case Cat::Lu: case Cat::Ll: case Cat::Lt: return 2;
    default: return 0;
  }
}

// Σ at s[i] lowercases to final ς when a cased letter precedes it and none follows, skipping
// case-ignorable characters on both sides (Unicode SpecialCasing Final_Sigma, as CPython implements it).
bool final_sigma(std::u32string_view s, size_t i) {
  size_t j = i;
  int state = 0;
  while (j > 0 && (state = sigma_state(s[--j])) == 1) {}
  if (state != 2) return false;
  for (j = i + 1; j < s.size(); ++j) {
    state = sigma_state(s[j]);
    if (state != 1) return state != 2;
  }
  return true;
}

}  // namespace

Cat category(char32_t cp) {
  if (cp > 0x10FFFF) return Cat::Cn;
  return static_cast<Cat>(run_value(std::begin(kCategoryRuns), std::end(kCategoryRuns), cp, 5));
}

int combining_class(char32_t cp) {
  if (cp < 0x300 || cp > 0x10FFFF) return 0;
  return static_cast<int>(run_value(std::begin(kCombiningRuns), std::end(kCombiningRuns), cp, 8));
}

bool is_white_space(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

char32_t next_code_point(std::string_view s, size_t& pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  int len = 0;
  char32_t cp = 0, min = 0;
  if ((b0 & 0xE0) == 0xC0) len = 2, cp = b0 & 0x1F, min = 0x80;
  else if ((b0 & 0xF0) == 0xE0) len = 3, cp = b0 & 0x0F, min = 0x800;
  else if ((b0 & 0xF8) == 0xF0) len = 4, cp = b0 & 0x07, min = 0x10000;
  if (len == 0 || pos + len > s.size()) {
    ++pos;
    return 0xFFFD;
  }
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[pos + k]);
    if ((b & 0xC0) != 0x80) {
      ++pos;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++pos;
    return 0xFFFD;
  }
  pos += len;
  return cp;
}

std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) out += next_code_point(s, pos);
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string encode_utf8(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t cp : s) append_utf8(out, cp);
  return out;
}

std::u32string to_lower(std::u32string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char32_t cp = s[i];
    if (cp < 0x80) {
      out += (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    } else if (cp == 0x130) {  // the one unconditional multi-code-point lowercase: İ → i + U+0307
      out += U'i';
      out += char32_t{0x307};
    } else if (cp == 0x3A3) {
      out += final_sigma(s, i) ? char32_t{0x3C2} : char32_t{0x3C3};
    } else {
      const LowerRun* r = find_run(std::begin(kLowerRuns), std::end(kLowerRuns), cp);
      out += (r && (cp - r->first) % r->stride == 0) ? static_cast<char32_t>(cp + r->delta) : cp;
    }
  }
  return out;
}

std::u32string nfd(std::u32string_view s) {
  // Nothing below U+00C0 decomposes: plain ASCII/Latin-1 text passes through untouched.
  if (std::all_of(s.begin(), s.end(), [](char32_t cp) { return cp < 0xC0; })) return std::u32string(s);
  std::u32string out;
  out.reserve(s.size());
  for (char32_t cp : s) {
    if (cp < 0xC0) out += cp;
    else decompose_into(cp, out);
  }
  // Canonical ordering: stable-sort each run of non-starters by combining class.
  for (size_t i = 0; i < out.size();) {
    if (combining_class(out[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < out.size() && combining_class(out[j]) != 0) ++j;
    std::stable_sort(out.begin() + i, out.begin() + j,
                     [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = j;
  }
  return out;
}

std::u32string nfc(std::u32string_view s) {
  // Below U+0300 every character is already in NFC and nothing composes with it.
  if (std::all_of(s.begin(), s.end(), [](char32_t cp) { return cp < 0x300; })) return std::u32string(s);
  const std::u32string d = nfd(s);
  std::u32string out;
  out.reserve(d.size());
  size_t starter = std::u32string::npos;
  int last_ccc = 0;  // class of the last character kept after the starter
  for (char32_t cp : d) {
    const int ccc = combining_class(cp);
    if (starter != std::u32string::npos) {
      // A character between the starter and cp blocks composition if it is a starter or has a class >= cp's.
      const bool adjacent = starter + 1 == out.size();
      if (adjacent || (last_ccc != 0 && last_ccc < ccc)) {
        if (char32_t composite = compose_pair(out[starter], cp)) {
          out[starter] = composite;
          continue;
        }
      }
    }
    if (ccc == 0) starter = out.size();
    out += cp;
    last_ccc = ccc;
  }
  return out;
}

}  // namespace hp::uni
