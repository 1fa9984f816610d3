// Tokenizers: text → token ids, matching the reference implementations id for id so that headprune can
// feed HF checkpoints and HF can read headprune's. The kind is picked by the files in a model dir, first
// match wins:
//   HF tokenizer.json, BPE model   tokenizer.json [+ tokenizer_config.json]  like the `tokenizers` library's
//     (GPT-2, LLaMA-2, LLaMA-3)                                          Tokenizer.encode (see
//                                                                          hf_tokenizer_json.cc)
//   WordPiece (BERT)           vocab.txt [+ tokenizer_config.json]  like HF BertTokenizer (slow, python)
//   byte-level BPE (GPT-2)     vocab.json + merges.txt, or encoder.json + vocab.bpe  like HF GPT2Tokenizer
//   SentencePiece              spm.model or tokenizer.model          like SentencePieceProcessor::Encode
//                                                                    (read natively, see spm.cc)
// A tokenizer.json whose model is WordPiece (with vocab.txt beside it) or Unigram (with spm.model or
// tokenizer.model beside it) gives way to those files; any other tokenizer.json is read, or refused with
// the reason.
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
  virtual std::string kind() const = 0;  // "wordpiece", "bpe", "hf-bpe" (tokenizer.json) or "spm"
  // The vocabulary entry of an id ("##ing", "Ġthe", "▁the"); throws for an id outside the vocabulary.
  virtual std::string id_to_piece(int64_t id) const = 0;

  // How vocabulary entries spell text: GPT-2's byte alphabet ("Ġthe"), SentencePiece's "▁" for a
  // space with <0xNN> byte pieces, or WordPiece's "##" continuations.
  enum class Pieces { ByteLevel, Metaspace, WordPiece };
  virtual Pieces pieces() const = 0;
  // Text of ids (generation output): special ids (cls, sep, pad, mask, bos, eos) are skipped, the
  // pieces are turned back into bytes; not guaranteed to re-encode to the same ids.
  std::string decode(const std::vector<int64_t>& ids) const;

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
// A Hugging Face tokenizer.json with a BPE model (byte-level like GPT-2 and LLaMA-3, or byte-fallback like
// LLaMA-2); ids as the `tokenizers` library's Tokenizer.encode(text, add_special_tokens=False). Reads
// tokenizer_config.json beside it, when present, for the bos/eos/pad/unk/cls/sep/mask tokens. Throws an
// hp::Error naming the field and its value for anything in the file that would change ids and is not
// implemented (docs/formats.md lists what is).
std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::string& path);
// What a tokenizer from load_hf_tokenizer_json makes of text before its BPE model runs: the added tokens
// found in it (as matched) and the words of the pre-tokenizer (byte-level tokenizers: in GPT-2's byte
// alphabet), in order. For checking a tokenizer.json's pipeline; throws for other tokenizers.
std::vector<std::string> hf_pre_tokenize(const Tokenizer& tok, const std::string& text);

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
