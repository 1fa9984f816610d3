// Helpers shared by the tokenizer implementations (wordpiece.cc, bpe.cc, spm.cc, hf_tokenizer_json.cc);
// internal to src/io.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hp::detail {

// A stretch of ordinary text (special_id < 0) or one literal special token (its id).
struct TextSegment {
  std::string_view text;
  int64_t special_id;
};

// Cuts text around literal occurrences of the special tokens, leftmost first and the longest at a
// position, as HF's added-token trie does before the model's own tokenization.
std::vector<TextSegment> split_special_tokens(
    std::string_view text, const std::vector<std::pair<std::string, int64_t>>& specials);

// GPT-2's byte-level alphabet: the printable stand-in character of each byte value, UTF-8 encoded. Printable
// Latin-1 bytes stand for themselves; the others (controls, space, DEL, NBSP, soft hyphen) move to U+0100
// and up, in byte order, so that no token contains whitespace. Defined in bpe.cc.
const std::vector<std::string>& byte_level_alphabet();

// The pieces GPT-2's pre-tokenization regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// finds in text, as views into it; together they cover every byte. Defined in bpe.cc.
std::vector<std::string_view> gpt2_pre_tokenize(std::string_view text);

// Whole file as bytes; `what` names the file's role in the error ("WordPiece vocab").
std::string read_file(const std::string& path, const char* what);

}  // namespace hp::detail
