// The dsv4 subcommands. Each add_* registers one CLI11 subcommand on `app`; when it runs it
// stores the process exit code in *rc. One file per subcommand (cmd_<name>.cc); mains stay thin.
#pragma once
#include <CLI/CLI.hpp>

namespace dsv4::cli {

void add_info(CLI::App& app, int* rc);         // cmd_info.cc
void add_make_model(CLI::App& app, int* rc);   // cmd_make_model.cc
void add_run(CLI::App& app, int* rc);          // cmd_run.cc
void add_golden(CLI::App& app, int* rc);       // cmd_golden.cc
void add_tokenize(CLI::App& app, int* rc);     // cmd_tokenize.cc (tokenize, detokenize, make-tokenizer)
void add_render(CLI::App& app, int* rc);       // cmd_render.cc (render, parse-completion)
void add_bench(CLI::App& app, int* rc);        // cmd_bench.cc (+ bench_*.cc)
void add_chat(CLI::App& app, int* rc);         // cmd_chat.cc
void add_engine_bench(CLI::App& app, int* rc); // cmd_bench_engine.cc
void add_serve(CLI::App& app, int* rc);        // cmd_serve.cc
void add_convert(CLI::App& app, int* rc);      // cmd_convert.cc
void add_score(CLI::App& app, int* rc);        // cmd_score.cc
void add_train(CLI::App& app, int* rc);        // cmd_train.cc
void add_perplexity(CLI::App& app, int* rc);   // cmd_perplexity.cc

// Prints "dsv4 <cmd>: <message>" to stderr and returns 1: the one-line error every command uses.
int fail(const std::string& cmd, const std::string& message);

}  // namespace dsv4::cli
