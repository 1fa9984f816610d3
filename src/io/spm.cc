// SentencePiece models (LLaMA, Marian, and headprune's own small vocabularies), read and applied natively.
// libsentencepiece cannot be linked here: Debian's build bundles protobuf 3.14 and exports its symbols, which
// collide with the protobuf 3.21 LibTorch loads and crash the program before main(). So the .model file (a
// ModelProto) is parsed by hand, the normalizer (precompiled charsmap, whitespace rules, dummy prefix) and
// the unigram (Viterbi) / BPE (score-ordered merges) encoders are re-implemented to give the ids
// SentencePieceProcessor::Encode gives, and training runs the spm_train program. Not supported: BPE models
// with UNUSED pieces (sentencepiece re-splits those), WORD/CHAR models, sampling and n-best.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <queue>
#include <string_view>
#include <unordered_map>

#include "core/check.h"
#include "io/tokenizer.h"
#include "io/tokenizer_internal.h"

extern char** environ;

namespace hp {
namespace {

// ---- protobuf wire format, just enough for ModelProto

struct ProtoReader {
  std::string_view data;
  const std::string& path;

  bool done() const { return data.empty(); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      HP_CHECK(!data.empty(), "SentencePiece model ", path, ": truncated varint");
      const auto b = static_cast<uint8_t>(data[0]);
      data.remove_prefix(1);
      v |= uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    fail(str("SentencePiece model ", path, ": malformed varint"));
  }
  std::string_view bytes(size_t n) {
    HP_CHECK(n <= data.size(), "SentencePiece model ", path, ": field of ", n, " bytes runs past the end");
    std::string_view out = data.substr(0, n);
    data.remove_prefix(n);
    return out;
  }
  // Reads the next field; `len` holds a length-delimited payload, `value` a varint or fixed32/64 value.
  int field(int& wire, uint64_t& value, std::string_view& len) {
    const uint64_t key = varint();
    wire = static_cast<int>(key & 7);
    switch (wire) {
      case 0: value = varint(); break;
      case 1: std::memcpy(&value, bytes(8).data(), 8); break;
      case 2: len = bytes(varint()); break;
      case 5: {
        uint32_t v32;
        std::memcpy(&v32, bytes(4).data(), 4);
        value = v32;
        break;
      }
      default: fail(str("SentencePiece model ", path, ": unsupported wire type ", wire));
    }
    return static_cast<int>(key >> 3);
  }
};

enum PieceType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct Piece {
  std::string text;
  float score = 0;
  int type = kNormal;
};

// darts-clone double array, as stored in NormalizerSpec.precompiled_charsmap.
struct CharsMap {
  std::vector<uint32_t> units;
  std::string normalized;  // '\0'-separated replacement strings, indexed by trie values

  // Longest key that prefixes s: (length, replacement) or (0, "").
  std::pair<size_t, std::string_view> longest_prefix(std::string_view s) const {
    size_t best_len = 0;
    uint32_t best_value = 0;
    if (units.empty()) return {0, {}};
    auto offset = [](uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); };
    size_t node = offset(units[0]);
    for (size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<uint8_t>(s[i]);
      node ^= c;
      if (node >= units.size()) break;
      const uint32_t u = units[node];
      if ((u & ((1u << 31) | 0xFF)) != c) break;
      node ^= offset(u);
      if (node >= units.size()) break;
      if ((u >> 8) & 1) best_len = i + 1, best_value = units[node] & ((1u << 31) - 1);
    }
    if (best_len == 0 || best_value >= normalized.size()) return {0, {}};
    return {best_len, std::string_view(normalized.c_str() + best_value)};
  }
};

size_t utf8_len(std::string_view s) {
  static const uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return std::min<size_t>(kLen[static_cast<uint8_t>(s[0]) >> 4], s.size());
}

bool valid_utf8_char(std::string_view s, size_t len) {
  if (len == 1) return static_cast<uint8_t>(s[0]) < 0x80;
  uint32_t cp = static_cast<uint8_t>(s[0]) & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    if ((static_cast<uint8_t>(s[k]) & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (static_cast<uint8_t>(s[k]) & 0x3F);
  }
  const uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
  return cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
}

constexpr std::string_view kSpaceSymbol = "\xe2\x96\x81";  // ▁

class SentencePiece final : public Tokenizer {
 public:
  explicit SentencePiece(const std::string& model_file) : path_(model_file) {
    parse(detail::read_file(model_file, "SentencePiece model"));
    HP_CHECK(!pieces_.empty(), "SentencePiece model ", path_, ": no pieces");
    HP_CHECK(model_type_ == 1 || model_type_ == 2, "SentencePiece model ", path_, ": model type ",
             model_type_, " is not supported (unigram = 1, bpe = 2)");
    for (size_t i = 0; i < pieces_.size(); ++i) {
      const Piece& p = pieces_[i];
      const auto id = static_cast<int64_t>(i);
      if (p.type == kNormal || p.type == kUserDefined || p.type == kUnused) {
        vocab_.emplace(p.text, id);
        max_piece_bytes_ = std::max(max_piece_bytes_, p.text.size());
      } else {
        reserved_.emplace(p.text, id);
      }
      if (p.type == kUnknown) unk_id = id;
      if (p.type == kUserDefined) user_defined_.emplace_back(p.text, id);
      if (p.type == kNormal) {
        min_score_ = std::min(min_score_, p.score);
        max_score_ = std::max(max_score_, p.score);
      }
    }
    HP_CHECK(unk_id >= 0, "SentencePiece model ", path_, ": no piece of type UNKNOWN");
    auto control = [&](std::string_view piece) -> int64_t {
      auto it = reserved_.find(piece);
      return it != reserved_.end() && pieces_[it->second].type == kControl ? it->second : -1;
    };
    bos_id = control(bos_piece_);
    eos_id = control(eos_piece_);
    pad_id = control(pad_piece_);
    auto user = [&](std::string_view piece) -> int64_t {
      auto it = vocab_.find(piece);
      return it != vocab_.end() && pieces_[it->second].type == kUserDefined ? it->second : -1;
    };
    cls_id = user("[CLS]");
    sep_id = user("[SEP]");
    mask_id = user("[MASK]");
  }
  SentencePiece(const SentencePiece&) = delete;  // the maps hold views into pieces_
  SentencePiece& operator=(const SentencePiece&) = delete;

  std::vector<int64_t> encode(const std::string& text) const override {
    const std::string normalized = normalize(text);
    std::vector<std::pair<std::string_view, int64_t>> pieces =
        model_type_ == 1 ? encode_unigram(normalized) : encode_bpe(normalized);
    std::vector<int64_t> ids;
    bool prev_unk = false;
    for (const auto& [piece, id] : pieces) {
      const bool unk = id == unk_id;
      if (unk && byte_fallback_) {
        for (unsigned char b : piece) {
          char name[8];
          std::snprintf(name, sizeof name, "<0x%02X>", b);
          auto it = reserved_.find(name);
          ids.push_back(it != reserved_.end() ? it->second : unk_id);
        }
      } else if (!(unk && prev_unk)) {  // a run of unknown pieces becomes one [UNK]
        ids.push_back(id);
      }
      prev_unk = unk;
    }
    return ids;
  }

  int64_t vocab_size() const override { return static_cast<int64_t>(pieces_.size()); }
  std::string kind() const override { return "spm"; }
  Pieces pieces() const override { return Pieces::Metaspace; }
  std::string id_to_piece(int64_t id) const override {
    HP_CHECK(id >= 0 && id < vocab_size(), "SentencePiece model ", path_, ": id ", id, " outside [0, ",
             vocab_size(), ")");
    return pieces_[id].text;
  }

 private:
  void parse(const std::string& blob) {
    ProtoReader model{blob, path_};
    int wire;
    uint64_t v;
    std::string_view len;
    while (!model.done()) {
      const int f = model.field(wire, v, len);
      if (f == 1 && wire == 2) {
        Piece p;
        for (ProtoReader r{len, path_}; !r.done();) {
          std::string_view s;
          const int pf = r.field(wire, v, s);
          if (pf == 1 && wire == 2) p.text = s;
          if (pf == 2 && wire == 5) std::memcpy(&p.score, &v, 4);
          if (pf == 3 && wire == 0) p.type = static_cast<int>(v);
        }
        HP_CHECK(!p.text.empty(), "SentencePiece model ", path_, ": piece ", pieces_.size(), " is empty");
        pieces_.push_back(std::move(p));
      } else if (f == 2 && wire == 2) {  // TrainerSpec
        for (ProtoReader r{len, path_}; !r.done();) {
          std::string_view s;
          const int tf = r.field(wire, v, s);
          if (tf == 3 && wire == 0) model_type_ = static_cast<int>(v);
          if (tf == 24 && wire == 0) whitespace_suffix_ = v != 0;
          if (tf == 35 && wire == 0) byte_fallback_ = v != 0;
          if (tf == 46 && wire == 2) bos_piece_ = s;
          if (tf == 47 && wire == 2) eos_piece_ = s;
          if (tf == 48 && wire == 2) pad_piece_ = s;
        }
      } else if (f == 3 && wire == 2) {  // NormalizerSpec
        for (ProtoReader r{len, path_}; !r.done();) {
          std::string_view s;
          const int nf = r.field(wire, v, s);
          if (nf == 2 && wire == 2) load_charsmap(s);
          if (nf == 3 && wire == 0) add_dummy_prefix_ = v != 0;
          if (nf == 4 && wire == 0) remove_extra_whitespaces_ = v != 0;
          if (nf == 5 && wire == 0) escape_whitespaces_ = v != 0;
        }
      }
    }
  }

  // [uint32 trie size in bytes][trie units][replacement strings]
  void load_charsmap(std::string_view blob) {
    if (blob.empty()) return;  // the "identity" normalization
    uint32_t trie_bytes = 0;
    HP_CHECK(blob.size() > 4, "SentencePiece model ", path_, ": precompiled charsmap too short");
    std::memcpy(&trie_bytes, blob.data(), 4);
    HP_CHECK(trie_bytes % 4 == 0 && trie_bytes < blob.size() - 4, "SentencePiece model ", path_,
             ": precompiled charsmap trie size ", trie_bytes, " does not fit its ", blob.size(), " bytes");
    charsmap_.units.resize(trie_bytes / 4);
    std::memcpy(charsmap_.units.data(), blob.data() + 4, trie_bytes);
    charsmap_.normalized.assign(blob.substr(4 + trie_bytes));
  }

  // Length of the user-defined symbol at the start of s, or 0.
  size_t user_symbol_at(std::string_view s) const {
    size_t best = 0;
    for (const auto& [text, id] : user_defined_)
      if (text.size() > best && s.substr(0, text.size()) == text) best = text.size();
    return best;
  }

  // One normalization step at the start of s: (replacement, bytes consumed).
  std::pair<std::string_view, size_t> normalize_prefix(std::string_view s) const {
    if (size_t n = user_symbol_at(s)) return {s.substr(0, n), n};  // user symbols pass through verbatim
    auto [n, replacement] = charsmap_.longest_prefix(s);
    if (n > 0) return {replacement, n};
    const size_t len = utf8_len(s);
    if (!valid_utf8_char(s, len)) return {"\xef\xbf\xbd", 1};  // one bad byte becomes U+FFFD
    return {s.substr(0, len), len};
  }

  std::string normalize(std::string_view input) const {
    std::string out;
    const std::string_view space = escape_whitespaces_ ? kSpaceSymbol : " ";
    if (remove_extra_whitespaces_) {
      while (!input.empty()) {
        auto [rep, n] = normalize_prefix(input);
        if (rep != " ") break;
        input.remove_prefix(n);
      }
    }
    if (input.empty()) return out;
    if (add_dummy_prefix_ && !whitespace_suffix_) out += space;
    bool prev_space = remove_extra_whitespaces_;
    while (!input.empty()) {
      auto [rep, n] = normalize_prefix(input);
      input.remove_prefix(n);
      while (prev_space && !rep.empty() && rep[0] == ' ') rep.remove_prefix(1);
      if (!rep.empty()) {
        for (char c : rep) {
          if (c == ' ' && escape_whitespaces_) out += kSpaceSymbol;
          else out += c;
        }
        prev_space = rep.back() == ' ';
      }
      if (!remove_extra_whitespaces_) prev_space = false;
    }
    if (remove_extra_whitespaces_)
      while (out.size() >= space.size() && out.compare(out.size() - space.size(), space.size(), space) == 0)
        out.resize(out.size() - space.size());
    if (add_dummy_prefix_ && whitespace_suffix_) out += space;
    return out;
  }

  int64_t lookup(std::string_view piece) const {
    auto it = vocab_.find(piece);
    return it == vocab_.end() ? -1 : it->second;
  }

  // Viterbi over byte positions with sentencepiece's exact scoring, float/double mix included, so that
  // ties break the same way.
  std::vector<std::pair<std::string_view, int64_t>> encode_unigram(std::string_view s) const {
    struct Node {
      int64_t id = -1;
      float score = 0;
      long start = -1;
    };
    std::vector<Node> best(s.size() + 1);
    const float unk_score = min_score_ - 10.0f;
    for (size_t start = 0; start < s.size();) {
      const float till_here = best[start].score;
      const size_t char_len = utf8_len(s.substr(start));
      bool has_single_char = false;
      for (size_t end = start + 1; end <= s.size() && end - start <= max_piece_bytes_; ++end) {
        const int64_t id = lookup(s.substr(start, end - start));
        if (id < 0 || pieces_[id].type == kUnused) continue;
        const size_t length = end - start;
        const double score = pieces_[id].type == kUserDefined ? length * max_score_ - 0.1 : pieces_[id].score;
        const double candidate = score + till_here;
        Node& target = best[end];
        if (target.start == -1 || candidate > target.score)
          target = {id, static_cast<float>(candidate), long(start)};
        if (length == char_len) has_single_char = true;
      }
      if (!has_single_char) {
        Node& target = best[start + char_len];
        const float candidate = unk_score + till_here;
        if (target.start == -1 || candidate > target.score) target = {unk_id, candidate, long(start)};
      }
      start += char_len;
    }
    std::vector<std::pair<std::string_view, int64_t>> out;
    for (size_t end = s.size(); end > 0;) {
      const Node& n = best[end];
      out.emplace_back(s.substr(n.start, end - n.start), n.id);
      end = n.start;
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

  // Merge the adjacent pair whose merged piece scores highest (leftmost on ties) until none is in the
  // vocabulary; user-defined symbols never merge.
  std::vector<std::pair<std::string_view, int64_t>> encode_bpe(std::string_view s) const {
    struct Symbol {
      std::string_view text;
      int prev, next;
      bool frozen;
    };
    struct Pair {
      float score;
      int left, right;
      size_t size;
      bool operator<(const Pair& o) const { return score < o.score || (score == o.score && left > o.left); }
    };
    std::vector<Symbol> sym;
    for (size_t pos = 0; pos < s.size();) {
      const size_t user = user_symbol_at(s.substr(pos));
      const size_t n = user ? user : utf8_len(s.substr(pos));
      sym.push_back({s.substr(pos, n), static_cast<int>(sym.size()) - 1, -1, user > 0});
      pos += n;
      if (pos < s.size()) sym.back().next = static_cast<int>(sym.size());
    }
    std::priority_queue<Pair> agenda;
    auto consider = [&](int left, int right) {
      if (left < 0 || right < 0 || sym[left].frozen || sym[right].frozen) return;
      const std::string_view merged(sym[left].text.data(), sym[left].text.size() + sym[right].text.size());
      const int64_t id = lookup(merged);
      if (id >= 0) agenda.push({pieces_[id].score, left, right, merged.size()});
    };
    for (size_t i = 1; i < sym.size(); ++i) consider(static_cast<int>(i) - 1, static_cast<int>(i));
    while (!agenda.empty()) {
      const Pair top = agenda.top();
      agenda.pop();
      Symbol &l = sym[top.left], &r = sym[top.right];
      if (l.text.empty() || r.text.empty() || l.text.size() + r.text.size() != top.size) continue;  // stale
      l.text = std::string_view(l.text.data(), top.size);
      l.next = r.next;
      if (r.next >= 0) sym[r.next].prev = top.left;
      r.text = {};
      consider(l.prev, top.left);
      consider(top.left, l.next);
    }
    std::vector<std::pair<std::string_view, int64_t>> out;
    for (int i = sym.empty() ? -1 : 0; i >= 0; i = sym[i].next) {
      // sentencepiece's PieceToId: reserved pieces first, then the vocabulary, else unknown.
      auto reserved = reserved_.find(sym[i].text);
      const int64_t id = reserved != reserved_.end() ? reserved->second : lookup(sym[i].text);
      out.emplace_back(sym[i].text, id >= 0 ? id : unk_id);
    }
    return out;
  }

  std::string path_;
  std::vector<Piece> pieces_;
  // Views into pieces_, which is complete before they are made.
  std::unordered_map<std::string_view, int64_t> vocab_;     // pieces the encoders may produce
  std::unordered_map<std::string_view, int64_t> reserved_;  // unknown, control and byte pieces
  std::vector<std::pair<std::string, int64_t>> user_defined_;
  size_t max_piece_bytes_ = 0;
  float min_score_ = FLT_MAX, max_score_ = FLT_MIN;  // FLT_MIN as sentencepiece starts it, not -FLT_MAX
  int model_type_ = 1;
  bool byte_fallback_ = false, whitespace_suffix_ = false;
  bool add_dummy_prefix_ = true, remove_extra_whitespaces_ = true, escape_whitespaces_ = true;
  std::string bos_piece_ = "<s>", eos_piece_ = "</s>", pad_piece_ = "<pad>";
  CharsMap charsmap_;
};

}  // namespace

std::unique_ptr<Tokenizer> load_spm(const std::string& model_file) {
  return std::make_unique<SentencePiece>(model_file);
}

void train_spm(const std::vector<std::string>& input_files, const std::string& model_prefix, int vocab_size,
               const std::string& model_type) {
  HP_CHECK(!input_files.empty(), "train_spm: no input files");
  HP_CHECK(model_type == "unigram" || model_type == "bpe",
           "train_spm: model_type must be unigram or bpe, got '", model_type, "'");
  HP_CHECK(vocab_size > 7, "train_spm: vocab_size ", vocab_size,
           " leaves no room beside the 7 special tokens");
  std::string inputs;
  for (const auto& f : input_files) {
    HP_CHECK(std::filesystem::is_regular_file(f), "train_spm: input file ", f, " not found");
    HP_CHECK(f.find(',') == std::string::npos, "train_spm: input file name ", f,
             " contains a comma, which spm_train reads as a list separator");
    inputs += (inputs.empty() ? "" : ",") + f;
  }
  std::vector<std::string> args = {
      "spm_train",
      "--input=" + inputs,
      "--model_prefix=" + model_prefix,
      "--vocab_size=" + std::to_string(vocab_size),
      "--model_type=" + model_type,
      "--pad_id=0", "--pad_piece=[PAD]",
      "--unk_id=1", "--unk_piece=[UNK]",
      "--user_defined_symbols=[CLS],[SEP],[MASK]",  // take the next free ids: 2, 3, 4
      "--bos_id=5", "--bos_piece=<s>",
      "--eos_id=6", "--eos_piece=</s>",
      // Determinism: a single thread, all sentences in file order, a fixed seed.
      "--num_threads=1",
      "--input_sentence_size=0",
      "--shuffle_input_sentence=false",
      "--random_seed=42",
      "--max_sentence_length=65536",  // keep long reviews instead of silently dropping them
      "--minloglevel=1",
  };
  const std::string log = model_prefix + ".train.log";
  posix_spawn_file_actions_t io;
  posix_spawn_file_actions_init(&io);
  posix_spawn_file_actions_addopen(&io, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&io, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int err = posix_spawnp(&pid, "spm_train", &io, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&io);
  HP_CHECK(err == 0, "train_spm: cannot run spm_train (", std::strerror(err),
           "); install it with apt-get install sentencepiece");
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) HP_CHECK(errno == EINTR, "train_spm: waitpid: ", std::strerror(errno));
  std::string tail;
  if (std::ifstream in{log}) {
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    tail = all.substr(all.size() > 600 ? all.size() - 600 : 0);
  }
  HP_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "train_spm: spm_train failed for ", model_prefix,
           ".model from ", inputs, ": ", tail);
  std::filesystem::remove(log);
}

}  // namespace hp
