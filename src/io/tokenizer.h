// Tokenizers: text → token ids, matching the reference implementations id for id so that headprune can
// feed HF checkpoints and HF can read headprune's. Three kinds, picked by the files in a model dir:
//   WordPiece (BERT)           vocab.txt [+ tokenizer_config.json]  like HF BertTokenizer (slow, python)
//   byte-level BPE (GPT-2)     vocab.json + merges.txt, or encoder.json + vocab.bpe  like HF GPT2Tokenizer
//   SentencePiece              spm.model or tokenizer.model          like SentencePieceProcessor::Encode
//                                                                    (read natively, see spm.cc)
// Literal special tokens in the text ("[CLS]", "<|endoftext|>") map to their ids, as HF's tokenizer(text)
// does; encode() never adds special tokens around the text.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hp {

class Tokenizer {
 public:
  virtual ~Tokenizer();
  virtual std::vector<int64_t> encode(const std::string& text) const = 0;  // no special tokens added
  virtual int64_t vocab_size() const = 0;
  virtual std::string kind() const = 0;  // "wordpiece", "bpe" or "spm"
  // The vocabulary entry of an id ("##ing", "Ġthe", "▁the"); throws for an id outside the vocabulary.
  virtual std::string id_to_piece(int64_t id) const = 0;

  // -1 where the vocabulary has no such token.
  int64_t cls_id = -1, sep_id = -1, pad_id = -1, mask_id = -1, unk_id = -1, bos_id = -1, eos_id = -1;
};

// Chooses the tokenizer by the files present in model_dir (see the table above); throws listing the
// expected files when none match.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& model_dir);

// BERT WordPiece from a vocab.txt (one token per line, id = line number). strip_accents follows lower_case,
// as in BERT; tokenize_chinese_chars is on.
std::unique_ptr<Tokenizer> load_wordpiece(const std::string& vocab_txt, bool lower_case);
// GPT-2 byte-level BPE from the token → id JSON map and the merges file (first line "#version: ...").
std::unique_ptr<Tokenizer> load_bpe(const std::string& encoder_json, const std::string& merges_txt);
std::unique_ptr<Tokenizer> load_spm(const std::string& model_file);

// Trains a SentencePiece model (model_type "unigram" or "bpe") with the spm_train program (Debian package
// sentencepiece) and writes <model_prefix>.model/.vocab; name the prefix "<dir>/spm" for load_tokenizer(dir)
// to find it. The ids headprune's models rely on are fixed: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4 <s>=5
// </s>=6. Deterministic: one thread, every input sentence (lines up to 64 KiB), no sampling, fixed seed.
void train_spm(const std::vector<std::string>& input_files, const std::string& model_prefix, int vocab_size,
               const std::string& model_type);

// Encoder input for one text or a text pair: [CLS] a [SEP] (b [SEP]), type ids 0 for the first segment and 1
// for the second. When longer than max_len (> 0), tokens are dropped from the end of the longer segment one
// at a time (the second on ties), as HF's truncation="longest_first". max_len <= 0: no truncation.
struct EncoderInput {
  std::vector<int64_t> ids, type_ids;
};
EncoderInput encode_pair_for_encoder(const Tokenizer& tok, const std::string& a, const std::string* b,
                                     int max_len);

}  // namespace hp
