#include "cli/options.h"

#include <dlfcn.h>

#include <torch/torch.h>

#include <cstdlib>
#include <iostream>
#include <sstream>

#include "core/check.h"
#include "core/log.h"
#include "config/model_config.h"

namespace hp {

Options::Options(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {
  flag("help", "print this help and exit");
}

Options& Options::add(const std::string& name, const std::string& def, const std::string& help,
                      bool required) {
  opts_.push_back({name, def, help, false, required});
  return *this;
}

Options& Options::flag(const std::string& name, const std::string& help) {
  opts_.push_back({name, "", help, true, false});
  return *this;
}

const Options::Opt& Options::find(const std::string& name) const {
  for (const auto& o : opts_)
    if (o.name == name) return o;
  fail(hp::str("internal: option --", name, " is not declared for '", command_, "'"));
}

bool Options::parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    HP_CHECK(a.rfind("--", 0) == 0, command_, ": unexpected argument '", a,
             "' (options start with --; see headprune ", command_, " --help)");
    std::string name = a.substr(2), value;
    auto eq = name.find('=');
    bool has_eq = eq != std::string::npos;
    if (has_eq) value = name.substr(eq + 1), name = name.substr(0, eq);
    const Opt* opt = nullptr;
    for (const auto& o : opts_)
      if (o.name == name) opt = &o;
    HP_CHECK(opt, command_, ": unknown option --", name, " (see headprune ", command_, " --help)");
    if (opt->is_flag) {
      HP_CHECK(!has_eq, command_, ": --", name, " takes no value");
      values_[name] = "1";
    } else {
      if (!has_eq) {
        HP_CHECK(i + 1 < args.size(), command_, ": --", name, " needs a value");
        value = args[++i];
      }
      values_[name] = value;
    }
  }
  if (on("help")) {
    std::cout << help();
    return false;
  }
  for (const auto& o : opts_)
    HP_CHECK(!o.required || given(o.name), command_, ": --", o.name, " is required (",
             o.help, ")");
  return true;
}

std::string Options::help() const {
  std::ostringstream os;
  os << "usage: headprune " << command_ << " [options]\n\n" << summary_ << "\n\noptions:\n";
  for (const auto& o : opts_) {
    std::string lhs = "  --" + o.name + (o.is_flag ? "" : " X");
    os << lhs << std::string(lhs.size() < 26 ? 26 - lhs.size() : 1, ' ') << o.help;
    if (o.required) os << " (required)";
    else if (!o.is_flag && !o.def.empty()) os << " [default: " << o.def << "]";
    os << "\n";
  }
  return os.str();
}

bool Options::given(const std::string& name) const {
  find(name);
  return values_.count(name) > 0;
}

std::string Options::str(const std::string& name) const {
  const auto& o = find(name);
  auto it = values_.find(name);
  return it != values_.end() ? it->second : o.def;
}

int64_t Options::integer(const std::string& name) const {
  std::string v = str(name);
  try {
    size_t pos = 0;
    long long x = std::stoll(v, &pos);
    if (pos == v.size()) return x;
  } catch (...) {
  }
  fail(hp::str(command_, ": --", name, " must be an integer, got '", v, "'"));
}

double Options::number(const std::string& name) const {
  std::string v = str(name);
  try {
    size_t pos = 0;
    double x = std::stod(v, &pos);
    if (pos == v.size()) return x;
  } catch (...) {
  }
  fail(hp::str(command_, ": --", name, " must be a number, got '", v, "'"));
}

bool Options::on(const std::string& name) const { return given(name); }

std::vector<std::string> Options::list(const std::string& name) const {
  std::vector<std::string> out;
  std::stringstream ss(str(name));
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

nlohmann::json Options::effective() const {
  nlohmann::json j = {{"command", command_}};
  for (const auto& o : opts_) {
    if (o.name == "help") continue;
    if (o.is_flag) j[o.name] = on(o.name);
    else j[o.name] = str(o.name);
  }
  j["headprune_version"] = HP_VERSION;
  j["git"] = HP_GIT;
  return j;
}

int default_max_len(const Options& o, const ModelConfig& cfg) {
  if (o.given("max-len")) return static_cast<int>(o.integer("max-len"));
  return trained_max_len(cfg);
}

int trained_max_len(const ModelConfig& cfg) { return cfg.passthrough.value("headprune_max_len", 128); }

void add_common(Options& o) {
  o.flag("json", "print exactly one JSON object on stdout");
  o.flag("quiet", "no progress output on stderr");
  o.add("threads", "1", "intra-op threads for LibTorch; OpenBLAS itself runs one thread unless\n"
        "OPENBLAS_NUM_THREADS is set (two pools on the same cores oversubscribe them)");
  o.add("device", "cpu", "cpu or cuda[:N]");
  o.flag("tf32", "CUDA: let fp32 matrix products and convolutions use TF32 tensor cores (faster,\n"
         "about 1e-3 relative error). Off unless given; every JSON output records it");
}

std::string apply_common(const Options& o) {
  if (o.on("quiet")) set_log_level(LogLevel::kQuiet);
  int64_t threads = o.integer("threads");
  HP_CHECK(threads >= 1, "--threads must be >= 1, got ", threads);
  torch::set_num_threads(static_cast<int>(threads));
  // LibTorch's own threads and OpenBLAS's pool would otherwise both spin on the same cores
  // (finefoods-bert, batch 32, 2 threads: 800 ms per forward with OpenBLAS at its default of all
  // cores, 615 ms with one). Respect an explicit OPENBLAS_NUM_THREADS.
  if (!std::getenv("OPENBLAS_NUM_THREADS")) {
    using SetThreads = void (*)(int);
    if (auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(1);
  }
  std::string dev = o.str("device");
  HP_CHECK(dev == "cpu" || dev.rfind("cuda", 0) == 0, "--device must be cpu or cuda[:N], got '",
           dev, "'");
  const bool cuda = dev.rfind("cuda", 0) == 0;
  if (cuda)
    HP_CHECK(torch::cuda::is_available(), "--device ", dev,
             ": this build of headprune/LibTorch has no CUDA device available");
  HP_CHECK(cuda || !o.on("tf32"), "--tf32 applies to --device cuda only (CPU matrix products "
           "have no TF32 mode)");
  // Explicit either way: LibTorch's default for cuDNN is on.
  at::globalContext().setAllowTF32CuBLAS(o.on("tf32"));
  at::globalContext().setAllowTF32CuDNN(o.on("tf32"));
  return dev;
}

}  // namespace hp
