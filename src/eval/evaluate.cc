#include "eval/evaluate.h"

#include <cmath>
#include <optional>
#include <unordered_map>

#include "core/check.h"
#include "core/log.h"
#include "data/mlm.h"
#include "eval/metrics.h"

namespace hp {

nlohmann::json EvalResult::to_json() const {
  nlohmann::json j = {{"task", task}, {"metric", metric}, {"value", value},
                      {"examples", examples}, {"loss", loss}};
  for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
  return j;
}


static EvalResult evaluate_mlm(Model& model, const TaskData& data, const Tokenizer& tok,
                               const MaskSet* masks, torch::Device device, int batch_size,
                               uint64_t seed, bool progress) {
  auto set = make_mlm_eval_set(data, tok, seed);
  // Unigram baseline: frequencies of the same text, scored on the same masked targets.
  std::unordered_map<int64_t, double> freq;
  double total = 0;
  for (const auto& it : data.items)
    for (auto id : it.ids)
      if (id != tok.cls_id && id != tok.sep_id) freq[id] += 1, total += 1;
  double nll = 0, uni_nll = 0, correct = 0;
  int64_t count = 0;
  const int64_t n = set.inputs.size();
  std::optional<Progress> bar;
  if (progress) bar.emplace("eval", n);
  for (int64_t s = 0; s < n; s += batch_size) {
    std::vector<int> idx;
    for (int64_t i = s; i < std::min(n, s + batch_size); ++i) idx.push_back(i);
    torch::Tensor tg;
    Batch b = collate_mlm(set, idx, tok.pad_id >= 0 ? tok.pad_id : 0, &tg);
    ForwardInput in{b.input_ids.to(device), b.attention_mask.to(device), b.token_type_ids.to(device)};
    auto pos = tg.ne(-100);
    auto logits = model.forward(in, masks, nullptr, pos.to(device)).to(torch::kFloat32);  // [N, V]
    auto y = tg.index({pos}).to(device);
    nll += torch::cross_entropy_loss(logits, y, {}, torch::Reduction::Sum).item<double>();
    correct += logits.argmax(-1).eq(y).sum().item<double>();
    auto ycpu = y.cpu();
    for (int64_t k = 0; k < ycpu.numel(); ++k) {
      auto it = freq.find(ycpu[k].item<int64_t>());
      uni_nll -= std::log(it == freq.end() ? 0.5 / total : it->second / total);
    }
    count += y.numel();
    if (bar) bar->step(idx.size());
  }
  if (bar) bar->finish();
  HP_CHECK(count > 0, data.path, ": no tokens were masked (text too short?)");
  EvalResult r;
  r.task = data.task;
  r.metric = "mlm_perplexity";
  r.loss = nll / count;
  r.value = std::exp(r.loss);
  r.examples = n;
  r.extra = {{"masked_tokens", count},
             {"unigram_perplexity", std::exp(uni_nll / count)},
             {"masked_accuracy", correct / count},
             {"mask_seed", seed}};
  return r;
}

// Strided next-token perplexity (data/lm.h windows): exp of the mean NLL over every scored token,
// the document separators included. The unigram baseline uses the token frequencies of the same
// text (an oracle unigram model: a lower bound for any unigram model fitted elsewhere).
static EvalResult evaluate_lm(Model& model, const TaskData& data, const Tokenizer& tok,
                              const MaskSet* masks, torch::Device device, int batch_size, bool progress) {
  std::unordered_map<int64_t, double> freq;
  double total = 0;
  std::vector<int> lengths;
  for (const auto& it : data.items) {
    for (size_t j = std::max<size_t>(1, it.first_target); j < it.ids.size(); ++j) freq[it.ids[j]] += 1, total += 1;
    lengths.push_back(static_cast<int>(it.ids.size()));
  }
  double nll = 0, uni_nll = 0, correct = 0;
  int64_t count = 0;
  const int64_t n = data.items.size();
  std::optional<Progress> bar;
  if (progress) bar.emplace("eval", n);
  for (int64_t s = 0; s < n; s += batch_size) {
    std::vector<int> idx;
    for (int64_t i = s; i < std::min(n, s + batch_size); ++i) idx.push_back(i);
    Batch b = make_batch(data, idx, tok);
    auto out = task_loss(model, b, tok, masks, 0, device);
    auto logits = out.logits.to(torch::kFloat32);
    nll += torch::cross_entropy_loss(logits, out.targets, {}, torch::Reduction::Sum).item<double>();
    correct += logits.argmax(-1).eq(out.targets).sum().item<double>();
    auto y = out.targets.cpu();
    auto acc = y.accessor<int64_t, 1>();
    for (int64_t k = 0; k < y.numel(); ++k) uni_nll -= std::log(freq.at(acc[k]) / total);
    count += y.numel();
    if (bar) bar->step(idx.size());
  }
  if (bar) bar->finish();
  HP_CHECK(count > 0, data.path, ": no token to score (text shorter than 2 tokens?)");
  EvalResult r;
  r.task = data.task;
  r.metric = "perplexity";
  r.loss = nll / count;
  r.value = std::exp(r.loss);
  r.examples = n;
  r.extra = {{"tokens", count},
             {"context", data.context},
             {"stride", data.stride},
             {"unigram_perplexity", std::exp(uni_nll / count)},
             {"next_token_accuracy", correct / count}};
  return r;
}

EvalResult evaluate(Model& model, const TaskData& data, const Tokenizer& tok, const MaskSet* masks,
                    torch::Device device, int batch_size, uint64_t seed, bool progress) {
  torch::NoGradGuard ng;
  bool was_training = model.is_training();
  model.eval();
  EvalResult r;
  const TaskInfo& task = task_info(data.task);
  if (task.masked_inputs) {
    r = evaluate_mlm(model, data, tok, masks, device, batch_size, seed, progress);
  } else if (task.causal) {
    r = evaluate_lm(model, data, tok, masks, device, batch_size, progress);
  } else {
    std::vector<double> pred, gold;
    std::vector<int> ipred, igold;
    double loss = 0;
    const int64_t n = data.items.size();
    std::optional<Progress> bar;
    if (progress) bar.emplace("eval", n);
    for (int64_t s = 0; s < n; s += batch_size) {
      std::vector<int> idx;
      for (int64_t i = s; i < std::min(n, s + batch_size); ++i) idx.push_back(i);
      Batch b = make_batch(data, idx, tok);
      auto out = task_loss(model, b, tok, masks, 0, device);
      loss += out.loss.item<double>() * idx.size();
      auto lg = out.logits.to(torch::kFloat32).cpu();
      auto tg = out.targets.cpu();
      for (int64_t i = 0; i < (int64_t)idx.size(); ++i) {
        if (task.regression) {
          pred.push_back(lg[i].item<double>());
          gold.push_back(tg[i].item<double>());
        } else {
          ipred.push_back(lg[i].argmax().item<int>());
          igold.push_back(tg[i].item<int>());
        }
      }
      if (bar) bar->step(idx.size());
    }
    if (bar) bar->finish();
    r.task = data.task;
    r.examples = n;
    r.loss = loss / n;
    if (task.regression) {
      r.metric = "pearson";
      r.value = pearson(pred, gold);
      r.extra = {{"spearman", spearman(pred, gold)}};
    } else {
      r.metric = "accuracy";
      r.value = accuracy(ipred, igold);
      r.extra = {{"mcc", matthews_corr(ipred, igold, (int)data.labels.size())}};
      if (data.labels.size() == 2) r.extra["f1"] = f1_binary(ipred, igold);
      else r.extra["macro_f1"] = f1_macro(ipred, igold, (int)data.labels.size());
    }
  }
  if (was_training) model.train();
  return r;
}

}  // namespace hp
