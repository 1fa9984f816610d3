// Reading and writing the safetensors format (the weight file of a Hugging Face model dir):
// 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}},
// optional "__metadata__" {str: str}, then the row-major little-endian data buffer.
// Own implementation, so headprune needs no Python and no Rust to read or write checkpoints.
#pragma once
#include <torch/torch.h>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace hp {

using TensorMap = std::map<std::string, torch::Tensor>;

// Supported dtypes: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL. Returns contiguous CPU
// tensors in their stored dtype (callers convert). Throws hp::Error naming `path` and the problem
// for any malformed file (short, bad header, bad offsets, overlapping tensors, ...).
TensorMap read_safetensors(const std::string& path,
                           std::map<std::string, std::string>* metadata = nullptr);

// Writes CPU copies of `tensors` in sorted-name order, header space-padded to a multiple of 8
// bytes. Atomic: the file appears complete under `path` or not at all (an existing file stays
// untouched).
void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Atomic write of the concatenation of `chunks`: writes `path + ".tmp-<pid>"`, fsyncs it, renames
// it over `path` and fsyncs the directory; on error removes the temp file and rethrows.
// Shared by write_safetensors and write_file_atomic (checkpoint.h).
struct ByteSpan {
  const void* data;
  size_t size;
};
void write_bytes_atomic(const std::string& path, const std::vector<ByteSpan>& chunks);

// Makes a rename into path's parent directory durable (best effort: some filesystems refuse
// fsync on directories).
void fsync_parent_dir(const std::string& path);

}  // namespace hp
