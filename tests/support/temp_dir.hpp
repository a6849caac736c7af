#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace hearth::testing {

/// A fresh directory under $TMPDIR, removed with everything in it at scope end.
class temp_dir {
public:
  temp_dir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "hearth-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr)
      std::abort();
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str(const std::string& child = "") const {
    return child.empty() ? path_.string() : (path_ / child).string();
  }

private:
  std::filesystem::path path_;
};

} // namespace hearth::testing
