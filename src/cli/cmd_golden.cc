#include "cli/commands.h"
#include "cli/dist_cli.h"
#include "cli/golden_runner.h"

namespace dsv4::cli {

void add_golden(CLI::App& app, int* rc) {
  auto* cmd = app.add_subcommand("golden", "Check the forward pass against DeepSeek reference outputs");
  auto opt = std::make_shared<GoldenOptions>();
  cmd->add_option("--manifest", opt->manifest, "golden manifest.json")->required();
  cmd->add_option("-m,--model", opt->model_dir, "checkpoint directory (default: the manifest's checkpoint)");
  cmd->add_option("--dump", opt->dump_dir, "write each probed layer's output here as raw f32 (debugging)");
  add_dist_options(cmd, &opt->dist);
  cmd->callback([rc, opt] {
    auto r = run_golden(*opt, stdout);
    if (!r.ok()) {
      *rc = fail("golden", r.message());
      return;
    }
    *rc = r->pass ? 0 : 1;
  });
}

}  // namespace dsv4::cli
