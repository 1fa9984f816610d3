#include "config/model_config.h"

#include "config/task_info.h"
#include "core/check.h"

namespace hp {

bool ModelConfig::uniform() const {
  for (const auto& l : layers)
    if (l.n_head != n_head_dense || l.n_ff != n_ff_dense || l.n_head_kv != kv_dense())
      return false;
  return true;
}

bool ModelConfig::same_widths() const {
  for (const auto& l : layers)
    if (!(l == layers.front())) return false;
  return true;
}

int64_t ModelConfig::total_heads() const {
  int64_t n = 0;
  for (const auto& l : layers) n += l.n_head;
  return n;
}

int64_t ModelConfig::total_neurons() const {
  int64_t n = 0;
  for (const auto& l : layers) n += l.n_ff;
  return n;
}

void ModelConfig::set_dense_layers() {
  layers.assign(n_layer, LayerConfig{n_head_dense, kv_dense(), n_ff_dense});
}

void ModelConfig::validate() const {
  HP_CHECK(vocab_size > 0, "config: vocab_size must be > 0, got ", vocab_size);
  HP_CHECK(d_model > 0, "config: hidden_size must be > 0, got ", d_model);
  HP_CHECK(d_head > 0, "config: head size must be > 0, got ", d_head);
  HP_CHECK(n_layer > 0, "config: num_hidden_layers must be > 0, got ", n_layer);
  HP_CHECK(static_cast<int>(layers.size()) == n_layer, "config: ", layers.size(),
           " per-layer entries for num_hidden_layers=", n_layer);
  const TaskInfo& ti = task_info(task);  // throws naming the known tasks
  HP_CHECK(n_kv_dense >= 0 && (n_head_dense == 0 || n_head_dense % kv_dense() == 0), "config: num_attention_heads=",
           n_head_dense, " is not a multiple of num_key_value_heads=", kv_dense());
  HP_CHECK(gqa_unit == "group" || gqa_unit == "query", "config: gqa unit '", gqa_unit,
           "' is not one of group, query");
  for (int il = 0; il < n_layer; ++il) {
    const auto& l = layers[il];
    HP_CHECK(l.n_head >= 0 && l.n_head_kv >= 0 && l.n_ff >= 0, "config: layer ", il,
             " has negative sizes");
    HP_CHECK(l.n_head == 0 || (l.n_head_kv > 0 && l.n_head % l.n_head_kv == 0), "config: layer ",
             il, " n_head=", l.n_head, " is not a multiple of n_head_kv=", l.n_head_kv);
  }
  HP_CHECK(n_labels >= ti.min_labels, "config: task ", task, " needs >= ", ti.min_labels,
           " labels, got ", n_labels);
}

}  // namespace hp
