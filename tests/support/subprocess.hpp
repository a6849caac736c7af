#pragma once

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace hearth::testing {

struct command_output {
  int exit_code = -1;
  std::string out;
};

/// Runs `command` through the shell and collects its standard output.
inline command_output run_command(const std::string& command) {
  command_output result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr)
    return result;
  std::array<char, 4096> chunk{};
  std::size_t got;
  while ((got = fread(chunk.data(), 1, chunk.size(), pipe)) > 0)
    result.out.append(chunk.data(), got);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

/// The path of one of the project's binaries.
inline std::string binary(const std::string& name) {
  return std::string(HEARTH_BIN_DIR) + "/" + name;
}

} // namespace hearth::testing
