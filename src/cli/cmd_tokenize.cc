#include "cli/commands.h"

namespace dsv4::cli {

void add_tokenize(CLI::App& app, int* rc) {
  auto* cmd = app.add_subcommand("tokenize", "(not yet implemented)");
  cmd->callback([rc] { *rc = fail("tokenize", "not implemented yet"); });
}

}  // namespace dsv4::cli
