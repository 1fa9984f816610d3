#include "io/tokenizer.h"

#include <unordered_map>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.h"
#include "io/tokenizer_internal.h"

namespace fs = std::filesystem;

namespace hp {

Tokenizer::~Tokenizer() = default;

std::string Tokenizer::decode(const std::vector<int64_t>& ids) const {
  static const std::unordered_map<std::string, int> byte_of = [] {
    std::unordered_map<std::string, int> m;
    const auto& a = detail::byte_level_alphabet();
    for (int b = 0; b < 256; ++b) m[a[b]] = b;
    return m;
  }();
  const Pieces style = pieces();
  std::string out;
  for (int64_t id : ids) {
    if (id == cls_id || id == sep_id || id == pad_id || id == mask_id || id == bos_id || id == eos_id) continue;
    const std::string p = id_to_piece(id);
    if (style == Pieces::ByteLevel) {
      for (size_t i = 0; i < p.size();) {  // one UTF-8 character of the byte alphabet per byte
        size_t len = 1;
        const unsigned char c = p[i];
        if (c >= 0xF0) len = 4;
        else if (c >= 0xE0) len = 3;
        else if (c >= 0xC0) len = 2;
        const std::string ch = p.substr(i, len);
        auto it = byte_of.find(ch);
        if (it != byte_of.end()) out.push_back(static_cast<char>(it->second));
        else out += ch;  // an added token spelt in plain text
        i += len;
      }
    } else if (style == Pieces::Metaspace) {
      if (p.size() == 6 && p.rfind("<0x", 0) == 0 && p[5] == '>') {
        out.push_back(static_cast<char>(std::stoi(p.substr(3, 2), nullptr, 16)));
        continue;
      }
      for (size_t i = 0; i < p.size(); ++i) {
        if (p.compare(i, 3, "\xE2\x96\x81") == 0) out.push_back(' '), i += 2;  // U+2581
        else out.push_back(p[i]);
      }
    } else {
      if (p.rfind("##", 0) == 0) out += p.substr(2);
      else out += (out.empty() ? "" : " ") + p;
    }
  }
  if (style == Pieces::Metaspace && !out.empty() && out[0] == ' ') out.erase(0, 1);
  return out;
}

namespace detail {

std::vector<TextSegment> split_special_tokens(
    std::string_view text, const std::vector<std::pair<std::string, int64_t>>& specials) {
  std::vector<TextSegment> out;
  size_t plain_start = 0;
  for (size_t pos = 0; pos < text.size();) {
    const std::pair<std::string, int64_t>* best = nullptr;
    for (const auto& sp : specials)
      if (!sp.first.empty() && text.compare(pos, sp.first.size(), sp.first) == 0 &&
          (!best || sp.first.size() > best->first.size()))
        best = &sp;
    if (!best) {
      ++pos;
      continue;
    }
    if (pos > plain_start) out.push_back({text.substr(plain_start, pos - plain_start), -1});
    out.push_back({text.substr(pos, best->first.size()), best->second});
    pos += best->first.size();
    plain_start = pos;
  }
  if (plain_start < text.size()) out.push_back({text.substr(plain_start), -1});
  return out;
}

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  HP_CHECK(in, what, " ", path, ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  HP_CHECK(!in.bad(), what, " ", path, ": read failed");
  return ss.str();
}

}  // namespace detail

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& model_dir) {
  const fs::path dir(model_dir);
  HP_CHECK(fs::is_directory(dir), "tokenizer: ", model_dir, " is not a directory");
  auto has = [&](const char* name) { return fs::is_regular_file(dir / name); };
  if (has("tokenizer.json")) {
    // WordPiece and Unigram tokenizer.json files give way to the vocab.txt / SentencePiece model beside
    // them, which headprune reads natively; any other tokenizer.json is read or refused with the reason.
    const std::string path = (dir / "tokenizer.json").string();
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(detail::read_file(path, "tokenizer.json"));
    } catch (const nlohmann::json::exception& e) {
      fail(str("tokenizer.json ", path, ": ", e.what()));
    }
    std::string type;
    if (doc.is_object() && doc.contains("model") && doc["model"].is_object() && doc["model"].contains("type") &&
        doc["model"]["type"].is_string())
      type = doc["model"]["type"].get<std::string>();
    const bool native = (type == "WordPiece" && has("vocab.txt")) ||
                        (type == "Unigram" && (has("spm.model") || has("tokenizer.model")));
    if (!native) return load_hf_tokenizer_json(path);
  }
  if (has("vocab.txt")) {
    bool lower_case = true;  // BertTokenizer's default when the config does not say
    if (has("tokenizer_config.json")) {
      const std::string path = (dir / "tokenizer_config.json").string();
      nlohmann::json cfg;
      try {
        cfg = nlohmann::json::parse(detail::read_file(path, "tokenizer config"));
      } catch (const nlohmann::json::exception& e) {
        fail(str("tokenizer config ", path, ": ", e.what()));
      }
      if (cfg.contains("do_lower_case")) {
        HP_CHECK(cfg["do_lower_case"].is_boolean(), "tokenizer config ", path,
                 ": do_lower_case must be true or false, got ", cfg["do_lower_case"].dump());
        lower_case = cfg["do_lower_case"].get<bool>();
      }
    }
    return load_wordpiece((dir / "vocab.txt").string(), lower_case);
  }
  if (has("vocab.json") && has("merges.txt"))
    return load_bpe((dir / "vocab.json").string(), (dir / "merges.txt").string());
  if (has("encoder.json") && has("vocab.bpe"))
    return load_bpe((dir / "encoder.json").string(), (dir / "vocab.bpe").string());
  for (const char* name : {"spm.model", "tokenizer.model"})
    if (has(name)) return load_spm((dir / name).string());
  fail(str("tokenizer: no tokenizer files in ", model_dir,
           "; expected one of: tokenizer.json (Hugging Face, BPE model), vocab.txt (WordPiece), vocab.json + "
           "merges.txt or encoder.json + vocab.bpe (byte-level BPE), spm.model or tokenizer.model "
           "(SentencePiece)"));
}

EncoderInput encode_pair_for_encoder(const Tokenizer& tok, const std::string& a, const std::string* b,
                                     int max_len) {
  HP_CHECK(tok.cls_id >= 0 && tok.sep_id >= 0, "encode_pair_for_encoder: the ", tok.kind(),
           " tokenizer has no [CLS]/[SEP] (cls_id ", tok.cls_id, ", sep_id ", tok.sep_id, ")");
  std::vector<int64_t> ids_a = tok.encode(a), ids_b;
  if (b) ids_b = tok.encode(*b);
  const int n_special = b ? 3 : 2;
  if (max_len > 0) {
    HP_CHECK(max_len >= n_special, "encode_pair_for_encoder: max_len ", max_len, " leaves no room for the ",
             n_special, " special tokens");
    const size_t budget = static_cast<size_t>(max_len - n_special);
    while (ids_a.size() + ids_b.size() > budget) {
      if (ids_a.size() > ids_b.size()) ids_a.pop_back();
      else ids_b.pop_back();
    }
  }
  EncoderInput out;
  out.ids.reserve(ids_a.size() + ids_b.size() + n_special);
  out.ids.push_back(tok.cls_id);
  out.ids.insert(out.ids.end(), ids_a.begin(), ids_a.end());
  out.ids.push_back(tok.sep_id);
  out.type_ids.assign(out.ids.size(), 0);
  if (b) {
    out.ids.insert(out.ids.end(), ids_b.begin(), ids_b.end());
    out.ids.push_back(tok.sep_id);
    out.type_ids.resize(out.ids.size(), 1);
  }
  return out;
}

}  // namespace hp
