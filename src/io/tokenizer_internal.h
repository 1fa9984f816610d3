// Helpers shared by the tokenizer implementations (wordpiece.cc, bpe.cc, spm.cc); internal to src/io.
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

// Whole file as bytes; `what` names the file's role in the error ("WordPiece vocab").
std::string read_file(const std::string& path, const char* what);

}  // namespace hp::detail
