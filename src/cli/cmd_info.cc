#include "cli/commands.h"

namespace dsv4::cli {

void add_info(CLI::App& app, int* rc) {
  auto* cmd = app.add_subcommand("info", "(not yet implemented)");
  cmd->callback([rc] { *rc = fail("info", "not implemented yet"); });
}

}  // namespace dsv4::cli
