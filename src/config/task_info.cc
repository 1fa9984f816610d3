#include "config/task_info.h"

#include "core/check.h"

namespace hp {

const std::vector<TaskInfo>& task_infos() {
  static const std::vector<TaskInfo> table = [] {
    std::vector<TaskInfo> t(4);
    t[0].name = "classify";
    t[0].labelled_files = t[0].reads_first_token = true;
    t[0].min_labels = 2;
    t[0].metric = "accuracy";
    t[0].summary = "sequence (pair) classification from TSV/JSONL rows";
    t[1].name = "regress";
    t[1].labelled_files = t[1].reads_first_token = t[1].regression = true;
    t[1].metric = "pearson";
    t[1].summary = "sequence (pair) regression from TSV/JSONL rows";
    t[2].name = "mlm";
    t[2].token_level = t[2].masked_inputs = true;
    t[2].metric = "mlm_perplexity";
    t[2].summary = "masked-token prediction on plain text (15% masked, 80/10/10)";
    t[3].name = "lm";
    t[3].token_level = t[3].causal = true;
    t[3].metric = "perplexity";
    t[3].summary = "next-token prediction on plain text (documents packed into context windows)";
    return t;
  }();
  return table;
}

std::string task_names() {
  std::string s;
  for (const auto& t : task_infos()) s += (s.empty() ? "" : ", ") + t.name;
  return s;
}

const TaskInfo& task_info(const std::string& name) {
  for (const auto& t : task_infos())
    if (t.name == name) return t;
  fail(str("unknown task '", name, "' (known: ", task_names(), ")"));
}

}  // namespace hp
