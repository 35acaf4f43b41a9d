// Pipeline parallelism: stage 0 (rank 0: tokenizer, scheduler, sampling, embedding, head, MTP)
// runs its layers, then hands the HC state of every row (bf16, hc x hidden) down the chain of
// stage leaders, each running its consecutive layers on its own copy of every sequence's state
// for those layers; the last stage hands it back to rank 0. Sequence copies, forks and releases
// travel with the next step, in the order they happened, so every stage's states follow rank 0's.
#pragma once
#include <algorithm>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <vector>

#include "dist/comm.h"
#include "dist/layout.h"
#include "model/model.h"

namespace dsv4::dist {

enum StepOp : uint8_t { kStepForward = 1, kStepStop = 2, kStepStats = 3 };

class PipelineLink final : public model::StageLink {
 public:
  PipelineLink(Comm* comm, const Layout& lo, int64_t row_floats)
      : comm_(comm), lo_(lo), row_(row_floats) {}
  uint64_t new_id() override { return next_id_++; }
  void clone(uint64_t from, uint64_t to) override;
  void release(uint64_t id) override;
  void submit(std::span<const model::RemoteSegment> segs, const int32_t* tokens, int64_t n, float* x) override;
  void collect() override;
  int micro_batches() const override { return micro_batches_; }
  void set_micro_batches(int k) { micro_batches_ = std::max(1, k); }

  void stop_stages();
  // Bytes and messages sent by every rank of stages 1.. (their leaders and members).
  void stage_traffic(int64_t* bytes, int64_t* messages);

 private:
  struct Op {
    uint8_t kind;  // 1 clone, 2 release
    uint64_t a, b;
  };
  Comm* comm_;
  Layout lo_;
  int64_t row_;
  uint64_t next_id_ = 1;
  std::mutex mu_;  // ops_: release() comes from any thread
  std::vector<Op> ops_;
  struct InFlight {
    std::vector<uint8_t> bytes;  // the isend buffer, alive until every group is back
    float* x;
    int64_t n;
    int64_t ticket;
  };
  std::deque<InFlight> in_flight_;
  size_t collected_ = 0;  // groups of in_flight_ already back
  int micro_batches_ = 1;
};

struct StageServer;
// A stage leader's life (stages 1..): run the steps that come down the chain until rank 0 stops.
void serve_stage(Comm* comm, const Layout& lo, const model::Model& m, class ExpertGroupLink* experts);

}  // namespace dsv4::dist
