#include "cli/default_model.h"

#include <cstdlib>
#include <filesystem>

namespace dsv4::cli {

std::string default_model_dir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("DSV4_DEFAULT_MODEL"); env && *env) return env;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    // <checkout>/<build dir>/tools/dsv4 -> <checkout>/models/default
    for (fs::path p = exe.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
      fs::path cand = p / "models" / "default";
      if (fs::exists(cand / "config.json", ec)) return cand.string();
    }
  }
  return "models/default";
}

}  // namespace dsv4::cli
