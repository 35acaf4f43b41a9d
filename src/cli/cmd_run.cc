#include "cli/commands.h"

namespace dsv4::cli {

void add_run(CLI::App& app, int* rc) {
  auto* cmd = app.add_subcommand("run", "(not yet implemented)");
  cmd->callback([rc] { *rc = fail("run", "not implemented yet"); });
}

}  // namespace dsv4::cli
