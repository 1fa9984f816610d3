// Helpers shared by several test files.
#pragma once
#include <string>
#include <vector>

#include "io/tokenizer.h"

namespace hp_test {

// Test-only tokenizer: the ids headprune's models use for specials, vocabulary of 40, nothing to
// encode (tests build token ids directly).
class SpecialsTokenizer : public hp::Tokenizer {
 public:
  SpecialsTokenizer() {
    pad_id = 0;
    unk_id = 1;
    cls_id = 2;
    sep_id = 3;
    mask_id = 4;
  }
  std::vector<int64_t> encode(const std::string&) const override { return {}; }
  int64_t vocab_size() const override { return 40; }
  std::string kind() const override { return "test"; }
  std::string id_to_piece(int64_t id) const override { return "t" + std::to_string(id); }
};

}  // namespace hp_test
