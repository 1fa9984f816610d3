// Error handling for headprune: library code throws hp::Error with the offending values in the
// message; only main() catches, prints one line and exits non-zero. No abort() in library code.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace hp {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... Rest>
void append(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  append(os, rest...);
}
}  // namespace detail

// Builds a message from any streamable parts: hp::str("layer ", il, " has ", n, " heads").
template <typename... Parts>
std::string str(const Parts&... parts) {
  std::ostringstream os;
  detail::append(os, parts...);
  return os.str();
}

[[noreturn]] inline void fail(const std::string& msg) { throw Error(msg); }

}  // namespace hp

// HP_CHECK(cond, "parts", values...) throws hp::Error("parts values...") when cond is false.
#define HP_CHECK(cond, ...)                    \
  do {                                         \
    if (!(cond)) ::hp::fail(::hp::str(__VA_ARGS__)); \
  } while (0)
