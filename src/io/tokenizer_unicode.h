// Unicode support for the tokenizers, without ICU: UTF-8 decoding, general category, Python's str.lower()
// (including Final_Sigma), NFD and NFC. Tables are generated from Python's unicodedata by
// tests/data/tok/gen_unicode_tables.py, so results match the Python reference tokenizers code point for code
// point. Internal to src/io; other modules go through tokenizer.h.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace hp::uni {

// Unicode general categories, in the generator's order.
enum class Cat : uint8_t {
  Lu, Ll, Lt, Lm, Lo, Mn, Mc, Me, Nd, Nl, No, Pc, Pd, Ps, Pe, Pi, Pf, Po,
  Sm, Sc, Sk, So, Zs, Zl, Zp, Cc, Cf, Cs, Co, Cn
};

Cat category(char32_t cp);
int combining_class(char32_t cp);

inline bool is_letter(Cat c) { return c <= Cat::Lo; }
inline bool is_number(Cat c) { return c >= Cat::Nd && c <= Cat::No; }
inline bool is_punctuation(Cat c) { return c >= Cat::Pc && c <= Cat::Po; }
inline bool is_other(Cat c) { return c >= Cat::Cc; }  // the C* categories

// Code points of the White_Space property (what regex's \s matches).
bool is_white_space(char32_t cp);

// Decodes one code point at s[pos] and advances pos. An invalid or truncated sequence yields U+FFFD and
// advances by one byte, so every byte of the input is consumed exactly once.
char32_t next_code_point(std::string_view s, size_t& pos);
std::u32string decode_utf8(std::string_view s);
void append_utf8(std::string& out, char32_t cp);
std::string encode_utf8(std::u32string_view s);

// Python's str.lower(): full lowercase mapping, with Σ → ς in Final_Sigma context.
std::u32string to_lower(std::u32string_view s);
std::u32string nfd(std::u32string_view s);
std::u32string nfc(std::u32string_view s);

}  // namespace hp::uni
