// Evaluation of a (possibly masked) model on a task's data: accuracy/F1/MCC for classification,
// Pearson/Spearman for regression, masked-token perplexity for masked-LM. Masked-LM evaluation
// masks every sequence with its own seeded generator, so the masked positions do not depend on
// batch size, device or which model is evaluated: every number on the same file is comparable.
#pragma once
#include <nlohmann/json.hpp>

#include "io/tokenizer.h"
#include "model/model.h"
#include "task/task.h"

namespace hp {

struct EvalResult {
  std::string task, metric;  // e.g. classify / accuracy, mlm / mlm_perplexity
  double value = 0;
  int64_t examples = 0;
  double loss = 0;           // mean task loss (NLL per masked token for mlm)
  nlohmann::json extra = nlohmann::json::object();  // other metrics
  nlohmann::json to_json() const;
};

EvalResult evaluate(Model& model, const TaskData& data, const Tokenizer& tok,
                    const MaskSet* masks, torch::Device device, int batch_size = 64,
                    uint64_t seed = 1234, bool progress = true);

}  // namespace hp
