#include "io/checkpoint.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/check.h"
#include "core/files.h"
#include "core/log.h"
#include "io/hf_config.h"

namespace hp {

namespace fs = std::filesystem;

namespace {

const char* const kConfigName = "config.json";
const char* const kWeightsName = "model.safetensors";

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// HF weight files (single, sharded, index, other frameworks). An old copy beside a new
// model.safetensors could be loaded instead of it, or merged with it, by transformers.
bool is_weight_file(const std::string& name) {
  if (name == "tf_model.h5" || name == "flax_model.msgpack") return true;
  bool stem = starts_with(name, "model") || starts_with(name, "pytorch_model");
  return stem && (ends_with(name, ".safetensors") || ends_with(name, ".bin") ||
                  ends_with(name, ".index.json"));
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  HP_CHECK(in, path.string(), ": cannot open for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  HP_CHECK(!in.bad(), path.string(), ": read failed");
  return ss.str();
}

// The directory as an absolute path without a trailing slash, so that the sibling names
// dir.tmp-<pid> / dir.old-<pid> land beside it and not inside it.
fs::path normalize_dir(const std::string& dir) {
  HP_CHECK(!dir.empty(), "save_checkpoint: empty directory name");
  fs::path p = fs::absolute(dir).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  HP_CHECK(p.has_filename() && p != p.root_path(), dir, ": not usable as a model directory");
  return p;
}

// Hard links make carrying over large files free and leave the old directory untouched.
void link_or_copy(const fs::path& src, const fs::path& dst) {
  const auto st = fs::symlink_status(src);
  if (fs::is_symlink(st)) {
    fs::copy_symlink(src, dst);
  } else if (fs::is_directory(st)) {
    fs::create_directory(dst, src);
    for (const auto& e : fs::directory_iterator(src))
      link_or_copy(e.path(), dst / e.path().filename());
  } else if (fs::is_regular_file(st)) {
    std::error_code ec;
    fs::create_hard_link(src, dst, ec);
    if (ec) fs::copy_file(src, dst);
  }  // sockets, fifos: nothing a model needs
}

void check_extra_name(const std::string& name, const std::string& dir) {
  bool plain = !name.empty() && name != "." && name != ".." &&
               name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
  HP_CHECK(plain, dir, ": extra file name '", name, "' must be a plain file name");
  HP_CHECK(name != kConfigName && name != kWeightsName, dir, ": extra file '", name,
           "' would overwrite the checkpoint itself");
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& content) {
  write_bytes_atomic(path, {{content.data(), content.size()}});
}

ModelConfig load_config(const std::string& dir, nlohmann::json* raw) {
  std::error_code ec;
  HP_CHECK(fs::is_directory(dir, ec), dir, ": model directory does not exist");
  const fs::path cfg_path = fs::path(dir) / kConfigName;
  HP_CHECK(fs::exists(cfg_path, ec), dir, ": missing ", kConfigName, " (not a model directory?)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(cfg_path));
  } catch (const nlohmann::json::parse_error& e) {
    fail(str(cfg_path.string(), ": not valid JSON: ", e.what()));
  }
  ModelConfig cfg = config_from_hf(j, cfg_path.string());
  if (raw) *raw = std::move(j);
  return cfg;
}

Checkpoint load_checkpoint(const std::string& dir) {
  Checkpoint ck;
  ck.config = load_config(dir, &ck.raw_config);
  std::error_code ec;
  const fs::path d(dir), st_path = d / kWeightsName;
  if (!fs::exists(st_path, ec)) {
    std::string hint;
    if (fs::exists(d / "model.safetensors.index.json", ec))
      hint = "; sharded checkpoints are not supported, save the model unsharded";
    else if (fs::exists(d / "pytorch_model.bin", ec))
      hint = "; only safetensors is read: in Python, model.save_pretrained(dir) writes it";
    fail(str(dir, ": missing ", kWeightsName, hint));
  }
  ck.tensors = read_safetensors(st_path.string());
  return ck;
}

void save_checkpoint(const std::string& dir, const ModelConfig& cfg, const TensorMap& tensors,
                     const std::map<std::string, std::string>& extra_files,
                     const std::vector<std::vector<int>>* pruned_heads) {
  // Everything that can be checked without touching the disk is checked first.
  for (const auto& kv : extra_files) check_extra_name(kv.first, dir);
  const std::string config_text = config_to_hf(cfg, pruned_heads).dump(2) + "\n";
  const fs::path target = normalize_dir(dir);
  const std::string pid = std::to_string(::getpid());
  const fs::path tmp = target.string() + ".tmp-" + pid, old = target.string() + ".old-" + pid;

  std::error_code ec;
  bool exists = false;
  try {
    const auto st = fs::status(target);
    exists = fs::exists(st);
    HP_CHECK(!exists || fs::is_directory(st), dir, ": exists and is not a directory");
    fs::create_directories(target.parent_path());
    remove_tree(tmp.string());  // left over from a crashed save by an earlier process with our pid
    remove_tree(old.string());
  } catch (const fs::filesystem_error& e) {
    fail(str(dir, ": cannot prepare checkpoint save: ", e.what()));
  }

  try {
    fs::create_directory(tmp);
    if (exists)
      for (const auto& e : fs::directory_iterator(target)) {
        const std::string name = e.path().filename().string();
        if (name == kConfigName || name == kWeightsName || extra_files.count(name)) continue;
        if (is_weight_file(name)) {
          log_info(str(dir, ": not carrying over old weight file ", name));
          continue;
        }
        link_or_copy(e.path(), tmp / name);
      }
    write_file_atomic((tmp / kConfigName).string(), config_text);
    write_safetensors((tmp / kWeightsName).string(), tensors, {{"format", "pt"}});
    for (const auto& [name, content] : extra_files)
      write_file_atomic((tmp / name).string(), content);

    if (exists) fs::rename(target, old);
    try {
      fs::rename(tmp, target);
    } catch (...) {
      if (exists) fs::rename(old, target, ec);
      throw;
    }
  } catch (const fs::filesystem_error& e) {
    remove_tree(tmp.string(), ec);
    fail(str(dir, ": cannot save checkpoint: ", e.what()));
  } catch (...) {
    remove_tree(tmp.string(), ec);
    throw;
  }
  if (exists) {
    remove_tree(old.string(), ec);
    if (ec)
      log_warn(str(dir, ": saved, but could not remove the previous version at ", old.string(),
                   ": ", ec.message()));
  }
  fsync_parent_dir(target.string());
}

std::map<std::string, std::string> read_aux_files(const std::string& dir) {
  std::error_code ec;
  HP_CHECK(fs::is_directory(dir, ec), dir, ": model directory does not exist");
  std::map<std::string, std::string> out;
  fs::directory_iterator it(dir, ec);
  HP_CHECK(!ec, dir, ": cannot list directory: ", ec.message());
  for (const auto& e : it) {
    const std::string name = e.path().filename().string();
    std::error_code type_ec;  // is_regular_file follows symlinks, as in HF cache snapshots
    if (name == kConfigName || is_weight_file(name) || !fs::is_regular_file(e.path(), type_ec))
      continue;
    out[name] = read_file(e.path());
  }
  return out;
}

}  // namespace hp
