// SentencePiece models (LLaMA, Marian, and headprune's own small vocabularies): a thin wrapper over
// libsentencepiece, plus deterministic training with the special-token ids headprune's models use.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <filesystem>
#include <unordered_map>

#include "core/check.h"
#include "io/tokenizer.h"

namespace hp {
namespace {

class SentencePiece final : public Tokenizer {
 public:
  explicit SentencePiece(const std::string& model_file) : path_(model_file) {
    const auto status = sp_.Load(model_file);
    HP_CHECK(status.ok(), "SentencePiece model ", model_file, ": ", status.ToString());
    pad_id = sp_.pad_id();
    unk_id = sp_.unk_id();
    bos_id = sp_.bos_id();
    eos_id = sp_.eos_id();
    cls_id = find("[CLS]");
    sep_id = find("[SEP]");
    mask_id = find("[MASK]");
  }

  std::vector<int64_t> encode(const std::string& text) const override {
    std::vector<int> ids;
    const auto status = sp_.Encode(text, &ids);
    HP_CHECK(status.ok(), "SentencePiece model ", path_, ": encode failed: ", status.ToString());
    return std::vector<int64_t>(ids.begin(), ids.end());
  }

  int64_t vocab_size() const override { return sp_.GetPieceSize(); }
  std::string kind() const override { return "spm"; }
  std::string id_to_piece(int64_t id) const override {
    HP_CHECK(id >= 0 && id < vocab_size(), "SentencePiece model ", path_, ": id ", id, " outside [0, ",
             vocab_size(), ")");
    return sp_.IdToPiece(static_cast<int>(id));
  }

 private:
  // PieceToId answers unk_id for a piece it lacks, so confirm the round trip.
  int64_t find(const std::string& piece) const {
    const int id = sp_.PieceToId(piece);
    return sp_.IdToPiece(id) == piece ? id : -1;
  }

  std::string path_;
  sentencepiece::SentencePieceProcessor sp_;
};

}  // namespace

std::unique_ptr<Tokenizer> load_spm(const std::string& model_file) {
  return std::make_unique<SentencePiece>(model_file);
}

void train_spm(const std::vector<std::string>& input_files, const std::string& model_prefix, int vocab_size,
               const std::string& model_type) {
  HP_CHECK(!input_files.empty(), "train_spm: no input files");
  HP_CHECK(model_type == "unigram" || model_type == "bpe", "train_spm: model_type must be unigram or bpe, got '",
           model_type, "'");
  HP_CHECK(vocab_size > 7, "train_spm: vocab_size ", vocab_size, " leaves no room beside the 7 special tokens");
  std::string inputs;
  for (const auto& f : input_files) {
    HP_CHECK(std::filesystem::is_regular_file(f), "train_spm: input file ", f, " not found");
    HP_CHECK(f.find(',') == std::string::npos, "train_spm: input file name ", f,
             " contains a comma, which sentencepiece reads as a list separator");
    inputs += (inputs.empty() ? "" : ",") + f;
  }
  const std::unordered_map<std::string, std::string> args = {
      {"input", inputs},
      {"model_prefix", model_prefix},
      {"vocab_size", std::to_string(vocab_size)},
      {"model_type", model_type},
      {"pad_id", "0"}, {"pad_piece", "[PAD]"},
      {"unk_id", "1"}, {"unk_piece", "[UNK]"},
      {"user_defined_symbols", "[CLS],[SEP],[MASK]"},  // take the next free ids: 2, 3, 4
      {"bos_id", "5"}, {"bos_piece", "<s>"},
      {"eos_id", "6"}, {"eos_piece", "</s>"},
      // Determinism: a single thread, all sentences in file order, a fixed seed.
      {"num_threads", "1"},
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"random_seed", "42"},
      {"max_sentence_length", "65536"},  // keep long reviews instead of silently dropping them
      {"minloglevel", "2"},
  };
  sentencepiece::SetRandomGeneratorSeed(42);
  const auto status = sentencepiece::SentencePieceTrainer::Train(args);
  HP_CHECK(status.ok(), "train_spm: training ", model_prefix, ".model from ", inputs, " failed: ",
           status.ToString());
}

}  // namespace hp
