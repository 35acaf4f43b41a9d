#include "cli/commands.h"

namespace dsv4::cli {

void add_golden(CLI::App& app, int* rc) {
  auto* cmd = app.add_subcommand("golden", "(not yet implemented)");
  cmd->callback([rc] { *rc = fail("golden", "not implemented yet"); });
}

}  // namespace dsv4::cli
