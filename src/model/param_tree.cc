#include "model/param_tree.h"

namespace hp {

torch::Tensor ParamTree::add(const std::string& dotted, torch::Tensor init, bool requires_grad) {
  auto dot = dotted.find('.');
  if (dot == std::string::npos) return register_parameter(dotted, std::move(init), requires_grad);
  std::string head = dotted.substr(0, dot);
  std::shared_ptr<ParamTree> child;
  for (const auto& c : named_children())
    if (c.key() == head) child = std::dynamic_pointer_cast<ParamTree>(c.value());
  if (!child) child = register_module(head, std::make_shared<ParamTree>());
  return child->add(dotted.substr(dot + 1), std::move(init), requires_grad);
}

torch::Tensor init_normal(std::vector<int64_t> shape, double std) {
  return torch::randn(shape) * std;
}

}  // namespace hp
