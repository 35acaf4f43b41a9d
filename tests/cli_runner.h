// Shared helpers of the end-to-end tests: run a shell command (usually the dsv4 binary, DSV4_EXE)
// with a given stdin and capture its exit code, stdout and stderr.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace dsv4::testing_cli {

struct CmdResult {
  int rc = -1;
  std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fresh scratch directory for this process (tests may run in parallel processes).
inline std::filesystem::path scratch_dir() {
  static std::atomic<int> counter{0};
  std::filesystem::path d = std::filesystem::path(testing::TempDir()) /
                            ("dsv4_cli_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::filesystem::create_directories(d);
  return d;
}

// Runs a shell command line with `input` on stdin.
inline CmdResult run_shell(const std::string& cmd, const std::string& input = {}) {
  const std::filesystem::path dir = scratch_dir();
  const auto in = dir / "stdin", out = dir / "stdout", err = dir / "stderr";
  std::ofstream(in, std::ios::binary) << input;
  const std::string full = cmd + " < '" + in.string() + "' > '" + out.string() + "' 2> '" + err.string() + "'";
  const int status = std::system(full.c_str());
  CmdResult r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  r.out = slurp(out);
  r.err = slurp(err);
  std::filesystem::remove_all(dir);
  return r;
}

// Runs the dsv4 binary with `args` (already shell-quoted where needed).
inline CmdResult run_dsv4(const std::string& args, const std::string& input = {}) {
  return run_shell(std::string("'") + DSV4_EXE + "' " + args, input);
}

}  // namespace dsv4::testing_cli
