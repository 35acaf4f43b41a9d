#include "cli/dist_cli.h"

#include <cmath>
#include <cstdlib>

namespace dsv4::cli {

void add_dist_options(CLI::App* cmd, dist::DistOptions* o) {
  cmd->add_option("--pp", o->pp, "pipeline-parallel stages (under mpirun; ranks = pp x ep)")->check(CLI::PositiveNumber);
  cmd->add_option("--ep", o->ep, "expert-parallel ranks per stage (under mpirun)")->check(CLI::PositiveNumber);
  cmd->add_option("--pp-split", o->split, "layers per stage, comma separated (default: balanced by weight bytes)");
  cmd->add_option("--pp-microbatches", o->micro_batches,
                  "groups a batch is split into so pipeline stages overlap (default: one per stage)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--dist-timeout", o->timeout_s, "seconds a rank waits for a peer within a step (default 120)")
      ->check(CLI::PositiveNumber);
}

Status check_not_accidentally_parallel(const dist::DistOptions& o) {
  if (o.requested()) return ok_status();
  const char* n = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (n && std::atoi(n) > 1)
    return error("started by mpirun with {} ranks but without --pp or --ep: every rank would run the whole "
                 "command alone (add --pp N and/or --ep M with N x M = {})",
                 n, n);
  return ok_status();
}

double comm_floor_bytes_per_token(const ModelConfig& c, const dist::Layout& lo) {
  const double d = static_cast<double>(c.hidden_size);
  double b = 0;
  if (lo.pp > 1) b += lo.pp * (2.0 * c.hc_dim() + 4.0);  // bf16 HC state + the token id, every hop
  if (lo.ep > 1) {
    // Per MoE layer: k experts, (ep-1)/ep of them elsewhere on average; each sends its output
    // row back (bf16 values: the reference rounds every linear's output), and each member
    // holding any of them needs the bf16 input row once. Main layers (MTP steps add their own).
    const double k = c.num_experts_per_tok, remote = (lo.ep - 1.0) / lo.ep;
    const double members_hit = (lo.ep - 1.0) * (1.0 - std::pow(1.0 - 1.0 / lo.ep, k));
    const double layers = c.num_hidden_layers;
    b += layers * (k * remote * 2.0 * d + members_hit * 2.0 * d);
  }
  return b;
}

}  // namespace dsv4::cli
