#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/check.h"

namespace hp {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little endian; this reader copies bytes as they are");

namespace {

using json = nlohmann::json;

// The reference implementation's limit: it bounds the memory a hostile header can make us allocate.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeInfo {
  const char* name;
  c10::ScalarType type;
  uint64_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {"F32", c10::kFloat, 4},  {"F16", c10::kHalf, 2}, {"BF16", c10::kBFloat16, 2},
    {"F64", c10::kDouble, 8}, {"I64", c10::kLong, 8}, {"I32", c10::kInt, 4},
    {"I16", c10::kShort, 2},  {"I8", c10::kChar, 1},  {"U8", c10::kByte, 1},
    {"BOOL", c10::kBool, 1},
};

const DtypeInfo* dtype_by_name(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const DtypeInfo* dtype_by_type(c10::ScalarType type) {
  for (const auto& d : kDtypes)
    if (type == d.type) return &d;
  return nullptr;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // close(2) reports deferred write errors (e.g. NFS), so writers must check it.
  int reset() {
    int rc = fd_ >= 0 ? ::close(fd_) : 0;
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

void pread_exact(int fd, void* dst, uint64_t n, uint64_t offset, const std::string& path) {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    ssize_t got = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    HP_CHECK(got >= 0, path, ": read failed at offset ", offset, ": ", std::strerror(errno));
    HP_CHECK(got > 0, path, ": unexpected end of file at offset ", offset);
    p += got;
    n -= got;
    offset += got;
  }
}

void write_all(int fd, const void* src, size_t n, const std::string& path) {
  const auto* p = static_cast<const char*>(src);
  while (n > 0) {
    ssize_t put = ::write(fd, p, n);
    if (put < 0 && errno == EINTR) continue;
    HP_CHECK(put > 0, path, ": write failed: ", std::strerror(errno));
    p += put;
    n -= put;
  }
}

struct Entry {
  std::string name;
  const DtypeInfo* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

Entry parse_entry(const std::string& path, const std::string& name, const json& v,
                  uint64_t data_size) {
  const std::string at = path + ": tensor '" + name + "'";
  HP_CHECK(v.is_object(), at, ": entry must be an object, got ", v.dump());
  Entry e{name, nullptr, {}, 0, 0};

  auto dt = v.find("dtype");
  HP_CHECK(dt != v.end() && dt->is_string(), at, ": dtype must be a string, got ",
           dt == v.end() ? "nothing" : dt->dump());
  e.dtype = dtype_by_name(dt->get<std::string>());
  HP_CHECK(e.dtype, at, ": unknown dtype ", dt->dump(),
           " (supported: F32 F16 BF16 F64 I64 I32 I16 I8 U8 BOOL)");

  auto sh = v.find("shape");
  HP_CHECK(sh != v.end() && sh->is_array(), at, ": shape must be an array, got ",
           sh == v.end() ? "nothing" : sh->dump());
  uint64_t numel = 1;
  for (const auto& d : *sh) {
    HP_CHECK(d.is_number_integer(), at, ": shape must hold integers, got ", sh->dump());
    HP_CHECK(d.is_number_unsigned(), at, ": shape has a negative dimension: ", sh->dump());
    uint64_t n = d.get<uint64_t>();
    HP_CHECK(n <= static_cast<uint64_t>(INT64_MAX) && !__builtin_mul_overflow(numel, n, &numel), at,
             ": shape ", sh->dump(), " overflows");
    e.shape.push_back(static_cast<int64_t>(n));
  }
  uint64_t nbytes = 0;
  HP_CHECK(!__builtin_mul_overflow(numel, e.dtype->size, &nbytes), at, ": shape ", sh->dump(),
           " overflows");

  auto off = v.find("data_offsets");
  bool two_ints = off != v.end() && off->is_array() && off->size() == 2 &&
                  (*off)[0].is_number_unsigned() && (*off)[1].is_number_unsigned();
  HP_CHECK(two_ints, at, ": data_offsets must be 2 non-negative integers, got ",
           off == v.end() ? "nothing" : off->dump());
  e.begin = (*off)[0].get<uint64_t>();
  e.end = (*off)[1].get<uint64_t>();
  HP_CHECK(e.end >= e.begin, at, ": data_offsets end ", e.end, " < begin ", e.begin);
  HP_CHECK(e.end <= data_size, at, ": data_offsets [", e.begin, ", ", e.end,
           "] go beyond the data region of ", data_size, " bytes");
  HP_CHECK(e.end - e.begin == nbytes, at, ": data_offsets span ", e.end - e.begin,
           " bytes but dtype ", e.dtype->name, " and shape ", sh->dump(), " need ", nbytes);
  return e;
}

}  // namespace

TensorMap read_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  HP_CHECK(fd.get() >= 0, path, ": cannot open: ", std::strerror(errno));
  struct stat st;
  HP_CHECK(::fstat(fd.get(), &st) == 0, path, ": cannot stat: ", std::strerror(errno));
  HP_CHECK(S_ISREG(st.st_mode), path, ": not a regular file");
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  HP_CHECK(file_size >= 8, path, ": file too short (", file_size,
           " bytes) to hold the 8-byte header length");

  unsigned char len_bytes[8];
  pread_exact(fd.get(), len_bytes, 8, 0, path);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  HP_CHECK(header_len <= kMaxHeaderBytes, path, ": header length ", header_len,
           " exceeds the limit of ", kMaxHeaderBytes, " bytes");
  HP_CHECK(header_len <= file_size - 8, path, ": header length ", header_len,
           " is larger than the file (", file_size, " bytes)");

  std::string header(header_len, '\0');
  pread_exact(fd.get(), header.data(), header_len, 8, path);
  json j = json::parse(header, nullptr, /*allow_exceptions=*/false);
  HP_CHECK(!j.is_discarded(), path, ": header is not valid JSON");
  HP_CHECK(j.is_object(), path, ": header must be a JSON object, got ", j.type_name());

  const uint64_t data_start = 8 + header_len, data_size = file_size - data_start;
  std::vector<Entry> entries;
  if (metadata) metadata->clear();
  for (const auto& [name, v] : j.items()) {
    if (name != "__metadata__") {
      entries.push_back(parse_entry(path, name, v, data_size));
      continue;
    }
    HP_CHECK(v.is_object(), path, ": __metadata__ must be an object, got ", v.dump());
    for (const auto& [k, s] : v.items()) {
      HP_CHECK(s.is_string(), path, ": __metadata__ value of '", k, "' must be a string, got ",
               s.dump());
      if (metadata) (*metadata)[k] = s.get<std::string>();
    }
  }

  // Overlapping tensors would alias each other's bytes; a writer bug we refuse to load silently.
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries)
    if (e.end > e.begin) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const Entry *prev = by_offset[i - 1], *cur = by_offset[i];
    HP_CHECK(cur->begin >= prev->end, path, ": tensors '", prev->name, "' [", prev->begin, ", ",
             prev->end, ") and '", cur->name, "' [", cur->begin, ", ", cur->end, ") overlap");
  }

  TensorMap out;
  for (const auto& e : entries) {
    auto t = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype->type));
    if (e.end > e.begin)
      pread_exact(fd.get(), t.data_ptr(), e.end - e.begin, data_start + e.begin, path);
    out.emplace(e.name, std::move(t));
  }
  return out;
}

void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;  // keeps the contiguous copies alive until written
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    HP_CHECK(!name.empty() && name != "__metadata__", path, ": invalid tensor name '", name, "'");
    HP_CHECK(t.defined(), path, ": tensor '", name, "' is undefined");
    HP_CHECK(t.layout() == torch::kStrided, path, ": tensor '", name, "' is not dense (layout ",
             t.layout(), ")");
    const DtypeInfo* dt = dtype_by_type(t.scalar_type());
    HP_CHECK(dt, path, ": tensor '", name, "' has dtype ", t.scalar_type(),
             " which safetensors export does not support");
    auto c = t.detach().to(torch::kCPU).contiguous();
    const uint64_t nbytes = static_cast<uint64_t>(c.numel()) * dt->size;
    header[name] = {{"dtype", dt->name},
                    {"shape", c.sizes().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    data.push_back(std::move(c));
  }

  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {  // e.g. a name or metadata value that is not UTF-8
    fail(str(path, ": cannot encode the header: ", e.what()));
  }
  // Padding keeps the data buffer 8-byte aligned for readers that mmap it.
  text.append((8 - text.size() % 8) % 8, ' ');
  unsigned char len_bytes[8];
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(text.size() >> (8 * i));

  std::vector<ByteSpan> chunks{{len_bytes, 8}, {text.data(), text.size()}};
  for (const auto& c : data)
    chunks.push_back({c.data_ptr(), static_cast<size_t>(c.numel()) * c.element_size()});
  write_bytes_atomic(path, chunks);
}

void fsync_parent_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void write_bytes_atomic(const std::string& path, const std::vector<ByteSpan>& chunks) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  HP_CHECK(fd.get() >= 0, path, ": cannot create temporary file ", tmp, ": ", std::strerror(errno));
  try {
    for (const auto& c : chunks) write_all(fd.get(), c.data, c.size, tmp);
    HP_CHECK(::fsync(fd.get()) == 0, tmp, ": fsync failed: ", std::strerror(errno));
    HP_CHECK(fd.reset() == 0, tmp, ": close failed: ", std::strerror(errno));
    HP_CHECK(::rename(tmp.c_str(), path.c_str()) == 0, path, ": cannot rename ", tmp,
             " over it: ", std::strerror(errno));
  } catch (...) {
    fd.reset();
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_parent_dir(path);
}

}  // namespace hp
