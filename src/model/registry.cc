// Architecture registry: one line per architecture (each model file defines its entry).
#include "model/model.h"

namespace hp {

Architecture bert_architecture();   // model/bert.cc
Architecture llama_architecture();  // model/llama.cc
Architecture gpt2_architecture();   // model/gpt2.cc
Architecture opt_architecture();    // model/opt.cc
Architecture allattn_architecture();  // model/allattn.cc

const std::vector<Architecture>& architectures() {
  static const std::vector<Architecture> table = {bert_architecture(), llama_architecture(),
                                                   gpt2_architecture(), opt_architecture(),
                                                   allattn_architecture()};
  return table;
}

}  // namespace hp
