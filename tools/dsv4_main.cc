// dsv4: one executable, one subcommand per job (see README).
#include <CLI/CLI.hpp>

#include "base/cpu_features.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"dsv4: a native engine for the DeepSeek-V4 model family"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("dsv4 0.1 (cpu: ") +
                                        dsv4::cpu_tier_name(dsv4::cpu_features().tier) + ")");
  int rc = 0;
  dsv4::cli::add_info(app, &rc);
  dsv4::cli::add_make_model(app, &rc);
  dsv4::cli::add_run(app, &rc);
  dsv4::cli::add_golden(app, &rc);
  dsv4::cli::add_tokenize(app, &rc);
  dsv4::cli::add_render(app, &rc);
  dsv4::cli::add_bench(app, &rc);
  dsv4::cli::add_chat(app, &rc);
  dsv4::cli::add_engine_bench(app, &rc);
  dsv4::cli::add_serve(app, &rc);
  dsv4::cli::add_convert(app, &rc);
  dsv4::cli::add_score(app, &rc);
  dsv4::cli::add_perplexity(app, &rc);
  dsv4::cli::add_train(app, &rc);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return rc;
}
