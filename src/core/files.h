// File-system helpers that must not go through libstdc++'s std::filesystem tree walkers.
//
// Why: the LibTorch shipped in PyTorch wheels exports its own copies of many std::filesystem
// symbols (recursive_directory_iterator among them, built with the wheel's older GCC). An
// executable built with a newer GCC can bind to those at load time, and std::filesystem::remove_all
// on a non-empty directory then crashes inside the mismatched iterator (seen with PyTorch 2.11 +
// GCC 13: the second checkpoint save of `train` segfaulted). Code that deletes directory trees
// uses remove_tree, which walks with POSIX nftw.
#pragma once
#include <string>
#include <system_error>

namespace hp {

// Deletes `path` and everything below it; symbolic links are removed, never followed. A path that
// does not exist is not an error. Returns false and sets `ec` to the first failure otherwise.
bool remove_tree(const std::string& path, std::error_code& ec) noexcept;
// As above, but throws hp::Error naming the path on failure.
void remove_tree(const std::string& path);

}  // namespace hp
