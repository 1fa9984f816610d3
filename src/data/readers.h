// Readers for task data files: labelled examples for classification/regression (GLUE-style TSV or
// JSONL) and plain text lines for language modelling. They only parse; tokenizing and batching
// happen elsewhere (data/batch.h, data/mlm.h). Every error names the file, the line and the problem.
#pragma once
#include <string>
#include <vector>

namespace hp {

struct Example {
  std::string text_a;
  std::string text_b;
  bool has_b = false;
  int label = -1;    // index into Dataset::labels (classification)
  float target = 0;  // regression value
};

struct Dataset {
  std::vector<Example> examples;
  std::vector<std::string> labels;  // class names, index = class id; empty for regression
  bool regression = false;
  std::string path;
};

// Reads `path` by extension:
//  .tsv   header row required, fields taken literally (no quoting, as GLUE files are written).
//         Label column: `label`, else the last column. Text column(s), first match wins:
//         sentence1/sentence2, question1/question2, premise/hypothesis, question/sentence,
//         text_a/text_b (pairs); sentence, text, text_a (single); else, for a two-column header of
//         plain names (e.g. review/score), the other column. A first line that is not made of
//         column names is reported as a missing header.
//  .jsonl one object per line with the same text keys (pairs or `text` / `sentence` / `text_a`)
//         and `label` (string or integer; a number for regression).
// Labels: with `known_labels` (a model's label names) each label maps by name, or an integer
// string / JSON integer maps as an index; anything else is an error. Without them the label set
// is collected from the file and sorted (numerically when every label is an integer, else
// lexicographically) so the class ids do not depend on row order.
// Regression: the label is parsed as a finite float into `target`; `labels` stays empty.
// Blank lines are skipped; a file without any example is an error.
Dataset read_classification(const std::string& path,
                            const std::vector<std::string>& known_labels = {},
                            bool regression = false);

// Non-empty lines of a text file (trailing CR stripped; whitespace-only lines dropped).
// Error if the file is missing or holds no such line.
std::vector<std::string> read_text_lines(const std::string& path);

}  // namespace hp
