// Expert parallelism inside one pipeline stage: the stage's leader routes every token, sends each
// member the rows of the experts it owns (each distinct row once per member), runs its own
// experts meanwhile and gathers the members' outputs; the model then combines all of them in
// increasing expert id, then the shared expert, exactly as one process would.
#pragma once
#include <cstdint>
#include <vector>

#include "dist/comm.h"
#include "model/model.h"

namespace dsv4::dist {

enum ExpertOp : uint8_t { kExpertRun = 1, kExpertStop = 2, kExpertStats = 3 };

class ExpertGroupLink final : public model::ExpertLink {
 public:
  // `leader` is this rank; members are ranks leader + 1 ... leader + members - 1.
  ExpertGroupLink(Comm* comm, int leader, int members, int64_t n_experts)
      : comm_(comm), leader_(leader), members_(members), E_(n_experts) {}
  void begin(int layer, const float* f, int64_t d, std::span<const model::ExpertRows> jobs) override;
  void finish(std::span<const model::ExpertRows> jobs, std::vector<std::vector<float>>* out) override;

  void stop_members();
  // Bytes and messages the members sent since their start.
  void member_traffic(int64_t* bytes, int64_t* messages);

 private:
  Comm* comm_;
  int leader_, members_;
  int64_t E_;
  int64_t d_ = 0;
  std::vector<std::vector<uint8_t>> out_msgs_;   // per member, alive until the sends completed
  std::vector<int64_t> tickets_;                 // those sends
  std::vector<std::vector<size_t>> member_jobs_;  // per member: indices into jobs
};

// A member's life: answer the leader's requests with this process's experts until it stops.
void serve_experts(Comm* comm, const model::Model& m, int leader);

}  // namespace dsv4::dist
