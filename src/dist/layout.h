// How a distributed run splits one V4 checkpoint over `pp * ep` processes: `pp` pipeline stages of
// consecutive main layers (stage 0 also holds the embedding, head and MTP block), each stage an
// expert-parallel group of `ep` ranks over which every layer's routed experts are spread. Rank
// r is member r % ep of stage r / ep; member 0 of a stage (its leader) runs attention, the
// shared expert and the routing, the others only routed experts. Pure arithmetic on the config,
// so every rank computes the same layout without talking to the others.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "io/config.h"
#include "model/placement.h"

namespace dsv4::dist {

struct Layout {
  int pp = 1, ep = 1;
  std::vector<int> stage_begin;      // [pp + 1]: stage s runs main layers [begin[s], begin[s + 1])
  std::vector<int64_t> stage_bytes;  // weight bytes of each stage (all its members together)
  int ranks() const { return pp * ep; }
  int stage_of(int rank) const { return rank / ep; }
  int member_of(int rank) const { return rank % ep; }
  int leader_of_stage(int s) const { return s * ep; }
  model::Placement placement(int rank) const;
  std::string describe() const;  // one line per stage
};

// `split`: "" = balanced by bytes of weights, else the layer count of every stage, comma
// separated ("3,3"). Errors name the numbers (more stages than layers, counts that do not add
// up, more expert ranks than experts).
Result<Layout> make_layout(const ModelConfig& c, int pp, int ep, const std::string& split);

// Bytes of weights a process with this placement holds (what it maps and may touch).
int64_t placement_bytes(const ModelConfig& c, const model::Placement& p);

}  // namespace dsv4::dist
