// headprune train: masked-LM or causal-LM pre-training from plain text, classification/regression training
// from TSV/JSONL, from scratch or from an existing model directory (--init), resumable.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "cli/options.h"
#include "config/task_info.h"
#include "core/check.h"
#include "core/files.h"
#include "core/log.h"
#include "data/readers.h"
#include "io/checkpoint.h"
#include "model/model_dir.h"
#include "report/pruning_map.h"
#include "train/trainer.h"

namespace hp {

namespace fs = std::filesystem;

static std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  HP_CHECK(f.good(), p.string(), ": cannot read");
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Trains a SentencePiece vocabulary on the text of `files` and returns {"spm.model": bytes}.
static std::map<std::string, std::string> train_vocab(const std::vector<std::string>& files,
                                                      const std::string& task, int vocab,
                                                      const std::string& out_dir) {
  fs::path tmp = fs::path(out_dir + ".spm-tmp");
  fs::create_directories(tmp);
  std::vector<std::string> inputs;
  for (size_t i = 0; i < files.size(); ++i) {
    const auto& f = files[i];
    std::string ext = fs::path(f).extension().string();
    if (ext == ".tsv" || ext == ".jsonl") {  // vocabulary from the text columns only
      auto ds = read_classification(f, {}, task_info(task).regression);
      std::string p = (tmp / ("text" + std::to_string(i) + ".txt")).string();
      std::ofstream o(p);
      for (const auto& e : ds.examples) o << e.text_a << "\n" << (e.has_b ? e.text_b + "\n" : "");
      inputs.push_back(p);
    } else {
      inputs.push_back(f);
    }
  }
  log_info(str("train: building a ", vocab, "-piece SentencePiece vocabulary"));
  train_spm(inputs, (tmp / "spm").string(), vocab, "unigram");
  std::map<std::string, std::string> files_out = {{"spm.model", slurp(tmp / "spm.model")}};
  remove_tree(tmp.string());
  return files_out;
}

// Classification heads take their label set from the training data (sorted, see readers.h).
static void set_labels_from_data(ModelConfig& cfg, const std::string& train) {
  const TaskInfo& task = task_info(cfg.task);
  if (!task.labelled_files) return;
  Dataset ds = read_classification(train, {}, task.regression);
  cfg.labels = ds.labels;
  cfg.n_labels = task.regression ? 1 : static_cast<int>(ds.labels.size());
}

int cmd_train(const Args& args) {
  Options o("train",
            "Train a model. --task mlm pre-trains a BERT-style encoder with masked-LM on plain text\n"
            "(15% of tokens, 80/10/10). --task lm trains a decoder (--arch llama) on plain text: one\n"
            "document per line, each followed by the end-of-text token, packed into windows of\n"
            "--max-len tokens. --task classify|regress trains on TSV/JSONL, from scratch or\n"
            "from --init DIR (e.g. a masked-LM model; its encoder and tokenizer are reused).\n"
            "A pruned --init model stays pruned: its pruning.json (which heads and neurons were\n"
            "removed) and config.json's pruned_heads carry over to --out.\n"
            "A checkpoint is written to --out after every epoch; --resume continues from it.");
  o.add("task", "classify", "mlm | lm | classify | regress")
      .add("arch", "", "architecture from scratch: llama or allattn for --task lm (default llama),\n"
           "bert otherwise")
      .add("train", "", "training data (.txt for mlm/lm, comma-separated files allowed; .tsv/.jsonl for classification)", true)
      .add("eval", "", "evaluation data, evaluated after every epoch")
      .add("out", "", "output model directory", true)
      .add("init", "", "start from this model directory (fine-tuning)")
      .add("tokenizer", "", "take the tokenizer files from this directory")
      .add("vocab-text", "", "extra text files (comma-separated) for training a new vocabulary")
      .add("vocab-size", "8000", "SentencePiece vocabulary size when training one")
      .add("layers", "4", "layers (from scratch)")
      .add("heads", "8", "attention (query) heads per layer (from scratch)")
      .add("kv-heads", "0", "K/V heads per layer, dividing --heads (grouped-query attention; 0 = --heads)")
      .add("d-model", "256", "hidden size (from scratch)")
      .add("d-ff", "1024", "FFN width (from scratch; allattn has none)")
      .add("memory-slots", "", "allattn: persistent key/value vectors per head (from scratch; the\n"
           "All-attention model's replacement for the FFN)")
      .add("max-pos", "512", "maximum positions (from scratch)")
      .add("rope-theta", "10000", "rotary base (from scratch, rotary architectures)")
      .flag("untied", "separate output embedding (from scratch; default: tied to the input one)")
      .add("dropout", "0.1", "dropout (from scratch): BERT hidden states and attention probabilities; llama attention probabilities")
      .add("epochs", "3", "training epochs")
      .add("batch", "32", "batch size")
      .add("lr", "5e-5", "peak learning rate (AdamW)")
      .add("schedule", "linear", "learning-rate decay after warm-up: linear | cosine (both to 0)")
      .add("warmup", "0.06", "fraction of steps with linear warm-up")
      .add("weight-decay", "0.01", "AdamW weight decay (not on biases/LayerNorm)")
      .add("clip", "1.0", "gradient-norm clipping (0 = none)")
      .add("max-len", "128", "maximum tokens per sequence (specials included); lm: the context window")
      .add("max-steps", "0", "stop after this many steps (0 = run all epochs)")
      .add("seed", "42", "random seed (init, shuffling, masking)")
      .add("save-every", "1", "write a checkpoint every N epochs (always after the last)")
      .add("save-dtype", "fp32", "dtype of the saved weights: fp32 | bf16 (half the size)")
      .flag("bf16", "CUDA: bf16 autocast for the forward and backward passes (weights and optimizer stay fp32); recorded in the log")
      .flag("resume", "continue from the checkpoint in --out");
  add_common(o);
  if (!o.parse(args)) return 0;
  std::string device = apply_common(o);
  torch::manual_seed(o.integer("seed"));
  const std::string task = o.str("task"), out = o.str("out");
  task_info(task);  // throws naming the known tasks
  for (const auto& f : o.list("train")) HP_CHECK(fs::exists(f), f, ": training data not found");

  std::shared_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;
  std::map<std::string, std::string> aux;
  bool resume = o.on("resume") && fs::exists(fs::path(out) / "trainer_state.json");
  if (resume) {
    auto lm = load_model_dir(out, torch::kCPU);
    model = lm.model;
    tok = std::move(lm.tokenizer);
    aux = lm.aux_files;
  } else if (o.given("init")) {
    auto lm = load_model_dir(o.str("init"), torch::kCPU);
    tok = std::move(lm.tokenizer);
    aux = lm.aux_files;
    ModelConfig cfg = lm.model->config();
    if (cfg.task == task) {
      model = lm.model;
    } else {
      cfg.task = task;
      cfg.passthrough.erase("architectures");
      set_labels_from_data(cfg, o.str("train"));
      model = make_model(cfg);
      // Reuse every tensor the two tasks share (the encoder); heads start fresh.
      TensorMap src = lm.model->state(), init;
      int reused = 0;
      for (const auto& [k, v] : model->state()) {
        auto it = src.find(k);
        init[k] = (it != src.end() && it->second.sizes() == v.sizes()) ? (++reused, it->second) : v;
      }
      model->load_state(init, o.str("init"));
      log_info(str("train: initialised ", reused, " of ", init.size(), " tensors from ", o.str("init")));
    }
  } else {
    const std::string arch = o.given("arch") ? o.str("arch") : task_info(task).causal ? "llama" : "bert";
    const auto& entry = architecture(arch);  // throws listing the known ones
    HP_CHECK(std::find(entry.tasks.begin(), entry.tasks.end(), task) != entry.tasks.end(), "--arch ",
             arch, " has no head for --task ", task);
    ModelConfig cfg = entry.tiny(task);  // the architecture's own defaults, then the sizes asked for
    cfg.arch_opts = nlohmann::json::object();
    cfg.passthrough = nlohmann::json::object();
    cfg.n_layer = o.integer("layers");
    cfg.n_head_dense = o.integer("heads");
    cfg.n_kv_dense = o.integer("kv-heads");
    cfg.d_model = o.integer("d-model");
    cfg.n_ff_dense = o.integer("d-ff");
    cfg.max_pos = o.integer("max-pos");
    cfg.tie_embeddings = !o.on("untied");
    HP_CHECK(cfg.n_head_dense > 0 && cfg.d_model % cfg.n_head_dense == 0, "--d-model ", cfg.d_model,
             " must be a multiple of --heads ", cfg.n_head_dense);
    HP_CHECK(cfg.n_kv_dense >= 0 && (cfg.n_kv_dense == 0 || cfg.n_head_dense % cfg.n_kv_dense == 0),
             "--kv-heads ", cfg.n_kv_dense, " must divide --heads ", cfg.n_head_dense);
    cfg.d_head = cfg.d_model / cfg.n_head_dense;
    cfg.set_dense_layers();
    HP_CHECK(!o.given("memory-slots") || arch == "allattn", "--memory-slots applies to --arch allattn only");
    const double dropout = o.number("dropout");
    if (arch == "bert") {
      HP_CHECK(cfg.n_kv_dense == 0 || cfg.n_kv_dense == cfg.n_head_dense, "--kv-heads: bert has no grouped-query attention");
      HP_CHECK(!o.given("rope-theta"), "--rope-theta: bert has learned positions");
      cfg.passthrough["hidden_dropout_prob"] = dropout;
      cfg.passthrough["attention_probs_dropout_prob"] = dropout;
    } else if (arch == "llama") {
      cfg.arch_opts["rope_theta"] = o.number("rope-theta");
      cfg.arch_opts["attention_dropout"] = dropout;
    } else if (arch == "allattn") {
      HP_CHECK(cfg.n_kv_dense == 0 || cfg.n_kv_dense == cfg.n_head_dense,
               "--kv-heads: allattn has no grouped-query attention");
      HP_CHECK(!o.given("d-ff"), "--d-ff: allattn has no FFN (its size is --memory-slots)");
      HP_CHECK(o.given("memory-slots"), "--arch allattn needs --memory-slots N (persistent vectors per head)");
      cfg.n_kv_dense = cfg.n_head_dense;
      cfg.n_ff_dense = 0;
      cfg.set_dense_layers();
      cfg.arch_opts["memory_slots"] = o.integer("memory-slots");
      cfg.arch_opts["rope_theta"] = o.number("rope-theta");
      cfg.arch_opts["attention_dropout"] = dropout;
    } else {
      fail(str("train: training --arch ", arch, " from scratch is not wired up (use --init DIR)"));
    }
    if (o.given("tokenizer")) {
      auto t = load_tokenizer(o.str("tokenizer"));
      for (const auto& e : fs::directory_iterator(o.str("tokenizer")))
        for (const char* f : {"spm.model", "vocab.txt", "tokenizer_config.json", "encoder.json", "vocab.bpe"})
          if (e.path().filename() == f) aux[f] = slurp(e.path());
      tok = std::move(t);
    } else {
      auto files = o.list("train");
      for (const auto& f : o.list("vocab-text")) files.push_back(f);
      aux = train_vocab(files, task, o.integer("vocab-size"), out);
      fs::path tmp = fs::path(out + ".tok-tmp");
      fs::create_directories(tmp);
      { std::ofstream f(tmp / "spm.model", std::ios::binary); f << aux["spm.model"]; }
      tok = load_tokenizer(tmp.string());
      remove_tree(tmp.string());
    }
    cfg.vocab_size = tok->vocab_size();
    cfg.pad_id = tok->pad_id >= 0 ? tok->pad_id : 0;
    set_labels_from_data(cfg, o.str("train"));
    model = make_model(cfg);
  }
  HP_CHECK(tok, "train: no tokenizer (give --tokenizer DIR or let headprune train a vocabulary)");

  TrainOptions t;
  t.train_path = o.str("train");
  t.eval_path = o.str("eval");
  t.out_dir = out;
  t.epochs = o.integer("epochs");
  t.batch = o.integer("batch");
  t.lr = o.number("lr");
  t.warmup = o.number("warmup");
  t.weight_decay = o.number("weight-decay");
  t.max_len = o.integer("max-len");
  t.schedule = o.str("schedule");
  t.clip = o.number("clip");
  t.bf16 = o.on("bf16");
  HP_CHECK(t.schedule == "linear" || t.schedule == "cosine", "--schedule must be linear or cosine, got '", t.schedule, "'");
  HP_CHECK(!t.bf16 || device.rfind("cuda", 0) == 0, "--bf16 is a CUDA setting (autocast); --device is ", device);
  t.max_steps = o.integer("max-steps");
  t.seed = o.integer("seed");
  t.resume = resume;
  t.device = device;
  t.save_dtype = o.str("save-dtype");
  t.save_every = o.integer("save-every");
  HP_CHECK(t.save_dtype == "fp32" || t.save_dtype == "bf16", "--save-dtype must be fp32 or bf16");

  // A pruned model stays one after training: its map travels with it (a map taken from --init
  // records this training; one in --out being resumed already does) and config.json keeps
  // pruned_heads.
  if (aux.count("pruning.json")) {
    auto map = nlohmann::json::parse(aux["pruning.json"]);
    if (!resume) {
      map = pruning_map_after_training(
          std::move(map), {{"init", o.str("init")}, {"task", task}, {"train", o.str("train")}});
      aux["pruning.json"] = map.dump(1);
    }
    t.pruned_heads = pruned_heads_from_map(map);
  }
  t.progress = !o.on("quiet");
  aux["train_args.json"] = o.effective().dump(1);
  auto log = train_model(model, *tok, aux, t);
  nlohmann::json res = {{"out", out}, {"task", task}, {"log", log}};
  if (o.on("json")) print_json(res);
  else log_info(str("train: wrote ", out, " in ", log["seconds"].get<double>(), " s"));
  return 0;
}

}  // namespace hp
