// Architecture registry: one entry per architecture (the only place that lists them).
#include "model/bert.h"

namespace hp {

const std::vector<Architecture>& architectures() {
  static const std::vector<Architecture> table = {
      {"bert", [](const ModelConfig& c) { return std::make_shared<BertModel>(c); },
       BertModel::describe, BertModel::tiny, {"classify", "regress", "mlm"}},
  };
  return table;
}

}  // namespace hp
