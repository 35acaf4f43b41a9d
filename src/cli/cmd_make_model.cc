#include "cli/commands.h"

namespace dsv4::cli {

void add_make_model(CLI::App& app, int* rc) {
  auto* cmd = app.add_subcommand("make-model", "(not yet implemented)");
  cmd->callback([rc] { *rc = fail("make-model", "not implemented yet"); });
}

}  // namespace dsv4::cli
