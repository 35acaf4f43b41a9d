// The distributed-run flags shared by run, serve, bench and golden (--pp, --ep, --pp-split,
// --dist-timeout), and what a rank other than 0 does with them: serve its part, then exit.
#pragma once
#include <CLI/CLI.hpp>

#include "dist/session.h"

namespace dsv4::cli {

void add_dist_options(CLI::App* cmd, dist::DistOptions* o);

// Started by mpirun with several ranks but without --pp / --ep: every rank would run the whole
// command on its own, which is never what was meant.
Status check_not_accidentally_parallel(const dist::DistOptions& o);

// Communication the model's shapes require per token of a forward pass for this layout (the HC
// state across every stage boundary and back, each MoE layer's rows to and from the expert
// members, at the expected share of experts held elsewhere).
double comm_floor_bytes_per_token(const ModelConfig& c, const dist::Layout& lo);

}  // namespace dsv4::cli
