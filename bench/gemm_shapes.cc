// GEMM shape microbenchmark: times y = x W^T (torch::linear) for the FFN shapes a pruned model
// produces, to show how throughput depends on the pruned width (alignment to 8/64, tile
// quantisation) and on the token count. One JSON line per shape on stdout.
//
//   gemm_shapes --device cuda --dtype bf16 --tokens 4096 --d 256 --widths 1024,512,448,445,442,384,256,215
//
// For every width n it times the up projection [tokens, d] x [n, d]^T and the down projection
// [tokens, n] x [d, n]^T, with warm-up, device synchronisation and the median of --repeats runs
// (each run loops --inner times so that kernel time, not launch overhead, is measured).
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {
std::string arg(int argc, char** argv, const std::string& name, const std::string& def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == "--" + name) return argv[i + 1];
  return def;
}
std::vector<int64_t> ints(const std::string& s) {
  std::vector<int64_t> v;
  size_t p = 0;
  while (p < s.size()) {
    size_t q = s.find(',', p);
    if (q == std::string::npos) q = s.size();
    v.push_back(std::stoll(s.substr(p, q - p)));
    p = q + 1;
  }
  return v;
}
void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}
double time_ms(const std::function<void()>& f, const torch::Device& dev, int repeats, int inner) {
  for (int i = 0; i < 3; ++i) f();
  sync(dev);
  std::vector<double> v;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < inner; ++i) f();
    sync(dev);
    v.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / inner);
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--help") {
      std::printf("gemm_shapes --device cpu|cuda --dtype fp32|bf16 --tokens N --d D --widths a,b,c "
                  "[--repeats R --inner I --threads T]\n");
      return 0;
    }
  torch::Device dev(arg(argc, argv, "device", "cpu"));
  std::string dt = arg(argc, argv, "dtype", "fp32");
  auto dtype = dt == "bf16" ? torch::kBFloat16 : dt == "fp16" ? torch::kFloat16 : torch::kFloat32;
  int64_t tokens = std::stoll(arg(argc, argv, "tokens", "4096"));
  int64_t d = std::stoll(arg(argc, argv, "d", "256"));
  int repeats = std::stoi(arg(argc, argv, "repeats", "20"));
  int inner = std::stoi(arg(argc, argv, "inner", dev.is_cuda() ? "50" : "3"));
  torch::set_num_threads(std::stoi(arg(argc, argv, "threads", "1")));
  torch::NoGradGuard ng;
  auto opt = torch::TensorOptions().device(dev).dtype(dtype);
  for (int64_t n : ints(arg(argc, argv, "widths", "1024,512,448,445,442,384,256,215"))) {
    auto x = torch::randn({tokens, d}, opt), w_up = torch::randn({n, d}, opt);
    auto h = torch::randn({tokens, n}, opt), w_down = torch::randn({d, n}, opt);
    double up = time_ms([&] { (void)torch::linear(x, w_up); }, dev, repeats, inner);
    double down = time_ms([&] { (void)torch::linear(h, w_down); }, dev, repeats, inner);
    double flops = 2.0 * tokens * d * n;
    nlohmann::json j = {{"device", dev.str()}, {"dtype", dt}, {"tokens", tokens}, {"d", d}, {"width", n},
                        {"up_ms", up}, {"down_ms", down}, {"up_tflops", flops / up / 1e9},
                        {"down_tflops", flops / down / 1e9}, {"threads", torch::get_num_threads()}};
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
  }
  return 0;
}
