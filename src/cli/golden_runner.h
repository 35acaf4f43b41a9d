// `dsv4 golden`: checks the forward pass against reference outputs of DeepSeek's official code
// (format: shared/golden/README.md). Prints one line per check and a final summary line.
#pragma once
#include <cstdio>
#include <string>

#include "base/status.h"
#include "dist/session.h"

namespace dsv4::cli {

struct GoldenOptions {
  std::string manifest;
  std::string model_dir;  // overrides the manifest's checkpoint when set
  std::string dump_dir;  // when set, probe layer outputs are written there as raw f32 (debugging)
  // Under mpirun: the model split over ranks; each pipeline stage checks the probes of its layers.
  dist::DistOptions dist;
};

struct GoldenSummary {
  bool pass = false;
  double worst_layer_rel_rms = 0;  // layers, MTP block, head and caches (probe case)
  double decisions_match = 1;      // worst of router / indexer set agreement
  double e2e_rel_rms = 0;          // over all logit rows of the manifest
  double worst_case_rel_rms = 0;   // worst single case
  double top1_margin1 = 1;         // top-1 agreement on rows with margin > 1
  bool worker = false;             // a rank other than 0 of a distributed run (it checked nothing)
};

Result<GoldenSummary> run_golden(const GoldenOptions& opt, std::FILE* out);

}  // namespace dsv4::cli
