// What one process of a distributed run holds and how it reaches the parts it does not hold.
// model/ only honours these; src/dist decides them and implements the links over MPI. With the
// default Placement and no links, the model is the single-process one, unchanged.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace dsv4::model {

struct Placement {
  // Main layers whose attention (and whole block) runs here: [layer_begin, layer_end); -1 = all.
  int layer_begin = 0, layer_end = -1;
  // Embedding, final HC head, norm, LM head and the MTP block (rank 0 of a pipeline).
  bool owns_ends = true;
  // The routed experts of every layer here are spread over `expert_members` processes in
  // balanced contiguous ranges of expert ids; this process is member `expert_member`.
  int expert_members = 1, expert_member = 0;
  // False on an expert-only member: it loads only its routed experts of the layers above.
  bool owns_attention = true;

  bool all_layers() const { return layer_begin == 0 && layer_end < 0; }
  bool owns_layer(int layer, int n_main) const {
    if (layer >= n_main) return owns_ends;  // MTP blocks live with the ends
    return layer >= layer_begin && (layer_end < 0 || layer < layer_end);
  }
  // The member owning expert e of E: member j holds [floor(j E / N), floor((j + 1) E / N)).
  static int expert_owner(int64_t e, int64_t E, int members) {
    return static_cast<int>(((e + 1) * members - 1) / E);
  }
  bool owns_expert(int64_t e, int64_t E) const { return expert_owner(e, E, expert_members) == expert_member; }
};

// The state one sequence holds on the later stages of a pipeline, named by an id those stages
// know. Copies of a Sequence share it; the model forks it (clone on the stages) before feeding a
// shared one, so copies behave like independent values. Released when the last copy goes.
class StageLink;
struct RemoteState {
  RemoteState(StageLink* l, uint64_t i) : link(l), id(i) {}
  ~RemoteState();
  RemoteState(const RemoteState&) = delete;
  RemoteState& operator=(const RemoteState&) = delete;
  StageLink* link;
  uint64_t id;
};

struct RemoteSegment {
  uint64_t id = 0;   // RemoteState::id
  int64_t len = 0;   // rows of x (in order)
  int64_t pos0 = 0;  // position of the first row
};

// The later pipeline stages, seen from the process that owns the ends (dist/pipeline.h). A
// failure there (a rank gone or silent) ends the whole job with a message: there is nothing a
// caller could do about it, and no state may diverge between ranks.
class StageLink {
 public:
  virtual ~StageLink() = default;
  virtual uint64_t new_id() = 0;
  // Queued; both travel with the next forward. release() may be called from any thread.
  virtual void clone(uint64_t from, uint64_t to) = 0;
  virtual void release(uint64_t id) = 0;
  // Micro-batching: submit() hands the later stages one group of rows and returns at once, so
  // this process can run its layers on the next group while they work on this one; collect()
  // waits for the oldest submitted group and writes the rows after the last stage's layers back
  // into the x it was submitted from (bf16 values). Main layers only.
  virtual void submit(std::span<const RemoteSegment> segs, const int32_t* tokens, int64_t n, float* x) = 0;
  virtual void collect() = 0;
  // How many groups a batch is split into (one per stage keeps every stage busy).
  virtual int micro_batches() const = 0;
};

inline RemoteState::~RemoteState() { link->release(id); }

// One routed expert's rows in a call to the experts other processes own.
struct ExpertRows {
  int32_t expert = 0;
  std::vector<int64_t> rows;  // row indices into the MoE input
  std::vector<float> g;       // routing weight of each row
};

// The routed experts this process does not own (dist/expert_group.h). `out[i]` receives
// [rows, d] for jobs[i]: the expert's output exactly as a local call would compute it.
class ExpertLink {
 public:
  virtual ~ExpertLink() = default;
  virtual void begin(int layer, const float* f, int64_t d, std::span<const ExpertRows> jobs) = 0;
  virtual void finish(std::span<const ExpertRows> jobs, std::vector<std::vector<float>>* out) = 0;
};

}  // namespace dsv4::model
