#!/usr/bin/env bash
# Builds headprune on the GPU machine against PyTorch's LibTorch (CUDA). Headers/libraries that
# Debian provides on the CPU machines (nlohmann-json, sentencepiece) are carried in .gpudeps/
# (see scripts/gpu/README.md). Usage: bash scripts/gpu/build.sh  -> build-gpu/headprune
set -euo pipefail
cd "$(dirname "$0")/../.."
prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
export LD_LIBRARY_PATH="$PWD/.gpudeps/lib:${LD_LIBRARY_PATH:-}"
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DHEADPRUNE_BUILD_TESTS=OFF \
  -DCMAKE_PREFIX_PATH="$prefix;$PWD/.gpudeps" -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
if ! cmake --build build-gpu -j "$(nproc)" --target headprune -- -k 0 >/tmp/hp-build.log 2>&1; then
  grep -E "error|FAILED" /tmp/hp-build.log | head -80
  exit 1
fi
