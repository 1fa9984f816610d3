#include "data/readers.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <utility>

#include "core/check.h"

namespace hp {

namespace {

// Text column names in order of preference: GLUE pair tasks first, so that e.g. a QNLI header
// (index, question, sentence, label) is read as a pair rather than as the single `sentence`.
const std::vector<std::pair<std::string, std::string>> kPairColumns = {
    {"sentence1", "sentence2"}, {"question1", "question2"}, {"premise", "hypothesis"},
    {"question", "sentence"},   {"text_a", "text_b"}};
const std::vector<std::string> kSingleColumns = {"sentence", "text", "text_a"};

// One example before its label is resolved; the label stays text until the whole file is read,
// because without known labels the label set (and so every id) depends on all rows.
struct RawRow {
  int line = 0;
  std::string a, b;
  bool has_b = false;
  std::string label;
  bool label_is_json_number = false;
  double label_number = 0;
};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s;
}

std::string extension_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  auto dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot);
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

std::ifstream open_or_throw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  HP_CHECK(in.good(), path, ": cannot open file");
  return in;
}

// Line reader that numbers lines from 1, drops a UTF-8 byte-order mark and Windows line ends.
class LineReader {
 public:
  explicit LineReader(std::istream& in) : in_(in) {}
  bool next(std::string& line) {
    if (!std::getline(in_, line)) return false;
    ++number_;
    if (number_ == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return true;
  }
  int number() const { return number_; }

 private:
  std::istream& in_;
  int number_ = 0;
};

bool is_blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t tab = line.find('\t', start);
    out.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) return out;
    start = tab + 1;
  }
}

bool parse_int(const std::string& s, long long* v) {
  if (s.empty()) return false;
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i == s.size()) return false;
  for (size_t k = i; k < s.size(); ++k)
    if (!std::isdigit(static_cast<unsigned char>(s[k]))) return false;
  errno = 0;
  char* end = nullptr;
  long long x = std::strtoll(s.c_str(), &end, 10);
  if (errno == ERANGE) return false;
  *v = x;
  return true;
}

bool parse_finite_float(const std::string& s, double* v) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  errno = 0;
  char* end = nullptr;
  double x = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(x)) return false;
  *v = x;
  return true;
}

// A header cell is a column name: identifier-like. Rejecting anything else catches files whose
// first line is already data, which would otherwise be swallowed as a header.
bool looks_like_column_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  long long ignored;
  if (parse_int(s, &ignored)) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-' || c == '.';
  });
}

bool is_text_column(const std::string& name) {
  for (const auto& [a, b] : kPairColumns)
    if (name == a || name == b) return true;
  return std::find(kSingleColumns.begin(), kSingleColumns.end(), name) != kSingleColumns.end();
}

std::vector<RawRow> read_tsv_rows(const std::string& path) {
  auto in = open_or_throw(path);
  LineReader reader(in);
  std::string line;
  HP_CHECK(reader.next(line), path, ": empty file (expected a header row such as 'sentence<TAB>label')");
  const auto header = split_tabs(line);
  auto col = [&](const std::string& name) -> int {
    auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  const int label_col = col("label") >= 0 ? col("label") : static_cast<int>(header.size()) - 1;
  int a_col = -1, b_col = -1;
  for (const auto& [a, b] : kPairColumns) {
    if (col(a) >= 0 && col(b) >= 0 && col(a) != label_col && col(b) != label_col) {
      a_col = col(a), b_col = col(b);
      break;
    }
  }
  for (const auto& name : kSingleColumns) {
    if (a_col >= 0) break;
    if (col(name) >= 0 && col(name) != label_col) a_col = col(name);
  }
  if (a_col < 0) {
    const bool names_only = std::all_of(header.begin(), header.end(), looks_like_column_name);
    HP_CHECK(names_only, path, ":1: '", line.substr(0, 80),
             "' does not look like a header row; one such as 'sentence<TAB>label' is required");
    // Two plain names with no known text column: (text, label), e.g. 'review<TAB>score'. Not when
    // the label would be a text column, as in a label-less 'index<TAB>sentence' test file.
    HP_CHECK(header.size() == 2 && !is_text_column(header[label_col]), path,
             ":1: no text and label columns among '", join(header),
             "' (expected sentence, text, text_a or a pair such as sentence1/sentence2, and label)");
    a_col = 1 - label_col;
  }

  std::vector<RawRow> rows;
  while (reader.next(line)) {
    if (line.empty()) continue;
    auto f = split_tabs(line);
    HP_CHECK(f.size() == header.size(), path, ":", reader.number(), ": expected ", header.size(),
             " tab-separated fields (", join(header), "), got ", f.size());
    RawRow r;
    r.line = reader.number();
    r.a = std::move(f[a_col]);
    if (b_col >= 0) r.b = std::move(f[b_col]), r.has_b = true;
    r.label = std::move(f[label_col]);
    HP_CHECK(!r.label.empty(), path, ":", r.line, ": empty label (column '", header[label_col], "')");
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<RawRow> read_jsonl_rows(const std::string& path) {
  auto in = open_or_throw(path);
  LineReader reader(in);
  std::string line;
  std::vector<RawRow> rows;
  while (reader.next(line)) {
    if (is_blank(line)) continue;
    const int ln = reader.number();
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      fail(str(path, ":", ln, ": invalid JSON: ", e.what()));
    }
    HP_CHECK(j.is_object(), path, ":", ln, ": expected a JSON object, got ", j.type_name());
    auto text = [&](const char* key) {
      const auto& v = j.at(key);
      HP_CHECK(v.is_string(), path, ":", ln, ": '", key, "' must be a string, got ", v.type_name());
      return v.get<std::string>();
    };
    RawRow r;
    r.line = ln;
    bool found = false;
    for (const auto& [a, b] : kPairColumns) {
      if (j.contains(a) && j.contains(b)) {
        r.a = text(a.c_str()), r.b = text(b.c_str()), r.has_b = true, found = true;
        break;
      }
    }
    for (const char* key : {"text", "sentence", "text_a"}) {
      if (found) break;
      if (j.contains(key)) r.a = text(key), found = true;
    }
    HP_CHECK(found, path, ":", ln, ": no text field (expected text, sentence, text_a, or a pair such ",
             "as text_a/text_b or sentence1/sentence2)");
    HP_CHECK(j.contains("label"), path, ":", ln, ": no 'label' field");
    const auto& lab = j.at("label");
    if (lab.is_string()) {
      r.label = lab.get<std::string>();
      HP_CHECK(!r.label.empty(), path, ":", ln, ": empty label");
    } else if (lab.is_number_integer()) {
      r.label = std::to_string(lab.get<long long>());
      r.label_is_json_number = true, r.label_number = lab.get<double>();
    } else if (lab.is_number()) {
      r.label = lab.dump();
      r.label_is_json_number = true, r.label_number = lab.get<double>();
    } else {
      fail(str(path, ":", ln, ": 'label' must be a string or a number, got ", lab.type_name()));
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

// Integer labels sort as numbers so that "2" < "10" and the ids equal the label values of 0..n-1.
std::vector<std::string> sorted_label_set(const std::vector<RawRow>& rows) {
  std::set<std::string> names;
  for (const auto& r : rows) names.insert(r.label);
  std::vector<std::string> out(names.begin(), names.end());
  bool all_int = true;
  long long v;
  for (const auto& s : out) all_int = all_int && parse_int(s, &v);
  if (all_int) {
    std::stable_sort(out.begin(), out.end(), [](const std::string& x, const std::string& y) {
      long long a = 0, b = 0;
      parse_int(x, &a), parse_int(y, &b);
      return a < b;
    });
  }
  return out;
}

}  // namespace

Dataset read_classification(const std::string& path, const std::vector<std::string>& known_labels,
                            bool regression) {
  const std::string ext = extension_of(path);
  std::vector<RawRow> rows;
  if (ext == ".tsv") {
    rows = read_tsv_rows(path);
  } else if (ext == ".jsonl") {
    rows = read_jsonl_rows(path);
  } else {
    fail(str(path, ": unsupported file type '", ext, "' (expected .tsv or .jsonl)"));
  }
  HP_CHECK(!rows.empty(), path, ": no examples (only a header or blank lines)");

  Dataset ds;
  ds.path = path;
  ds.regression = regression;
  ds.examples.reserve(rows.size());
  std::map<std::string, int> index;
  if (!regression) {
    ds.labels = known_labels.empty() ? sorted_label_set(rows) : known_labels;
    for (size_t i = 0; i < ds.labels.size(); ++i) index.emplace(ds.labels[i], static_cast<int>(i));
  }
  for (auto& r : rows) {
    Example ex;
    ex.text_a = std::move(r.a);
    ex.text_b = std::move(r.b);
    ex.has_b = r.has_b;
    if (regression) {
      double v = r.label_number;
      HP_CHECK(r.label_is_json_number || parse_finite_float(r.label, &v), path, ":", r.line,
               ": regression label '", r.label, "' is not a finite number");
      ex.target = static_cast<float>(v);
    } else {
      auto it = index.find(r.label);
      long long k = -1;
      if (it != index.end()) {
        ex.label = it->second;
      } else if (!known_labels.empty() && parse_int(r.label, &k) && k >= 0 &&
                 k < static_cast<long long>(known_labels.size())) {
        ex.label = static_cast<int>(k);
      } else {
        fail(str(path, ":", r.line, ": label '", r.label, "' is not one of the known labels [",
                 join(ds.labels), "] (names, or indices 0..", ds.labels.size() - 1, ")"));
      }
    }
    ds.examples.push_back(std::move(ex));
  }
  return ds;
}

std::vector<std::string> read_text_lines(const std::string& path) {
  auto in = open_or_throw(path);
  LineReader reader(in);
  std::vector<std::string> lines;
  std::string line;
  while (reader.next(line))
    if (!is_blank(line)) lines.push_back(line);
  HP_CHECK(!lines.empty(), path, ": no non-empty lines");
  return lines;
}

}  // namespace hp
