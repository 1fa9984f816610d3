// The task registry: what each task is, as flags every module reads instead of comparing task
// names. Data loading, collation, losses, calibration, evaluation and the model heads branch on
// these properties, so a new task (a decoder LM, translation) is one entry here plus the code for
// the property it introduces. The HF mapping (src/io/hf_config.cc) keeps the one table from HF
// architecture names to tasks.
#pragma once
#include <string>
#include <vector>

namespace hp {

struct TaskInfo {
  std::string name;
  bool token_level = false;     // predictions per predicted token ([N, V]), else one per sequence
  bool regression = false;      // real-valued target (MSE), else class ids (cross-entropy)
  bool labelled_files = false;  // examples are TSV/JSONL rows with labels, else plain text
  bool masked_inputs = false;   // inputs are corrupted with [MASK] and the masked tokens predicted
  bool reads_first_token = false;  // the head reads the first token ([CLS]) of each sequence
  bool causal = false;          // each position predicts the next token (decoder LM)
  int min_labels = 0;           // classes a model of this task needs
  std::string metric;           // headline metric of `eval`
  std::string summary;
};

const std::vector<TaskInfo>& task_infos();
// Throws naming the known tasks for anything else.
const TaskInfo& task_info(const std::string& name);
// "classify, regress, mlm" for messages and --help.
std::string task_names();

}  // namespace hp
