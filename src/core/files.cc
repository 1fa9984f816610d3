#include "core/files.h"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/check.h"

namespace hp {
namespace {

thread_local int g_first_errno = 0;

int remove_entry(const char* fpath, const struct stat*, int typeflag, struct FTW*) {
  // FTW_DNR: a directory we cannot read; still try to remove it so the error names it.
  int rc = (typeflag == FTW_DP || typeflag == FTW_DNR) ? ::rmdir(fpath) : ::unlink(fpath);
  if (rc != 0 && errno != ENOENT && g_first_errno == 0) g_first_errno = errno;
  return 0;  // keep going: remove as much as possible, report the first failure
}

}  // namespace

bool remove_tree(const std::string& path, std::error_code& ec) noexcept {
  ec.clear();
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return true;
    ec.assign(errno, std::generic_category());
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      ec.assign(errno, std::generic_category());
      return false;
    }
    return true;
  }
  g_first_errno = 0;
  if (::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && g_first_errno == 0)
    g_first_errno = errno ? errno : EIO;
  if (g_first_errno != 0) {
    ec.assign(g_first_errno, std::generic_category());
    return false;
  }
  return true;
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  HP_CHECK(remove_tree(path, ec), path, ": cannot remove: ", ec.message());
}

}  // namespace hp
