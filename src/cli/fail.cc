#include <fmt/format.h>

#include "cli/commands.h"

namespace dsv4::cli {

int fail(const std::string& cmd, const std::string& message) {
  fmt::print(stderr, "dsv4 {}: {}\n", cmd, message);
  return 1;
}

}  // namespace dsv4::cli
