#include "cli/commands.h"

namespace dsv4::cli {

void add_render(CLI::App& app, int* rc) {
  auto* cmd = app.add_subcommand("render", "(not yet implemented)");
  cmd->callback([rc] { *rc = fail("render", "not implemented yet"); });
}

}  // namespace dsv4::cli
