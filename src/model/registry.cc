// Architecture registry: one line per architecture.
#include "core/check.h"
#include "model/bert.h"

namespace hp {

std::shared_ptr<Model> make_model(const ModelConfig& cfg) {
  if (cfg.arch == "bert") return std::make_shared<BertModel>(cfg);
  fail(str("unknown architecture '", cfg.arch, "' (known: bert)"));
}

}  // namespace hp
