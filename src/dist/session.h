// One process's part of a distributed run (`mpirun -np N dsv4 run|serve|bench|golden --pp P --ep E`):
// starts MPI, checks that every rank was launched alike (same checkpoint, config and layout
// flags, N = P x E, P <= layers), loads only this rank's part of the checkpoint and wires the
// links. Rank 0 then uses model() like a single-process model; every other rank calls serve(),
// which answers rank 0 until it calls shutdown().
#pragma once
#include <memory>
#include <string>

#include "base/status.h"
#include "dist/comm.h"
#include "dist/layout.h"
#include "model/model.h"

namespace dsv4::dist {

struct DistOptions {
  int pp = 1, ep = 1;
  std::string split;       // --pp-split
  double timeout_s = 120;  // --dist-timeout: the longest a rank waits for a peer within a step
  int micro_batches = 0;   // --pp-microbatches: groups a batch is split into (0 = one per stage)
  bool warm_pages = false; // read this rank's shards once after loading (benchmarks: no first-touch I/O timed)
  bool requested() const { return pp > 1 || ep > 1 || !split.empty(); }
};

struct Traffic {
  int64_t bytes = 0, messages = 0;  // sent by all ranks together
};

class ExpertGroupLink;
class PipelineLink;

class Session {
 public:
  // `dir` is the checkpoint directory. Errors (a mismatched launch, a bad layout) come back on
  // every rank with the same message; MPI is finalised then.
  static Result<std::unique_ptr<Session>> start(const std::string& dir, const DistOptions& o);
  ~Session();

  bool is_root() const { return comm_->rank() == 0; }
  int rank() const { return comm_->rank(); }
  const Layout& layout() const { return layout_; }
  Comm* comm() { return comm_; }
  std::unique_ptr<model::Model>& model() { return model_; }
  int serve();  // non-root ranks: until rank 0 shuts down; returns the exit code
  void shutdown();  // rank 0: stops every other rank; then MPI ends (also from the destructor)

  Traffic traffic();  // rank 0: bytes and messages sent by all ranks since the start
  int64_t placement_bytes() const { return placement_bytes_; }

 private:
  Session() = default;
  Comm* comm_ = nullptr;
  Layout layout_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<ExpertGroupLink> experts_;
  std::unique_ptr<PipelineLink> pipeline_;
  int64_t placement_bytes_ = 0;
  bool stopped_ = false;
};

// Threads per rank when the launcher starts several ranks on one machine (the cores divided by
// the local ranks) unless DSV4_THREADS says otherwise.
void share_cores_between_local_ranks();

}  // namespace dsv4::dist
