// The V4 model: embedding -> HC expansion -> blocks -> HC head -> norm -> fp32 LM head (spec §2),
// plus the MTP block (§2.14). A Sequence holds one sequence's state (every layer's caches and the
// MTP window); feeding tokens in any chunking gives bitwise the same logits and state.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/block.h"
#include "model/layer_state.h"
#include "model/rope.h"
#include "model/weights.h"

namespace dsv4::model {

class Model;

struct Sequence {
  int64_t pos = 0;                    // tokens consumed so far
  std::vector<LayerState> layers;     // main layers
  std::vector<LayerState> mtp;        // MTP blocks
  int64_t mtp_pos = 0;
  // The state of the layers later pipeline stages run (placement.h); null in one process.
  std::shared_ptr<RemoteState> remote;
};

// One sequence's part of a batched forward: feed `tokens` at positions seq->pos...
struct SeqInput {
  Sequence* seq = nullptr;
  std::span<const int32_t> tokens;
  int64_t n_out = 0;        // logits of the last n_out positions
  bool want_states = false; // also the final HC state [n, hc*d] of every fed position (MTP input)
};
struct SeqOutput {
  std::vector<float> logits;  // [n_out, V]
  std::vector<float> states;  // [n, hc*d] when asked for
};

// One sequence's part of a batched MTP call: pairs (h[j], next_tokens[j]) at positions seq->mtp_pos...
struct MtpInput {
  Sequence* seq = nullptr;
  const float* h = nullptr;  // [n, hc*d]
  std::span<const int32_t> next_tokens;
};

class Model {
 public:
  static Result<std::unique_ptr<Model>> load(const std::string& dir);
  // Only the part `p` places in this process (placement.h). The process owning the ends needs
  // set_stage_link() when later stages exist; layers with experts elsewhere need set_expert_link().
  static Result<std::unique_ptr<Model>> load(const std::string& dir, const Placement& p);
  explicit Model(std::unique_ptr<ModelWeights> w);

  const ModelConfig& config() const { return w_->config; }
  const ModelWeights& weights() const { return *w_; }
  const Placement& placement() const { return w_->placement; }
  Sequence new_sequence() const;  // with state for the layers placed here
  void set_stage_link(StageLink* l) { stage_link_ = l; }
  void set_expert_link(ExpertLink* l);

  // A later pipeline stage's part of forward_batch: this process's main layers on x [n, hc*d]
  // in place, rows split over `seqs` in order (lens[i] rows each, from seqs[i]->pos on, which
  // then advances). No embedding or head: the process owning the ends does those.
  void run_stage(std::span<Sequence* const> seqs, std::span<const int64_t> lens, const int32_t* tokens, int64_t n,
                 float* x) const;

  // Feeds tokens at positions seq.pos...; returns the logits [n_out, V] of the last `n_out`
  // positions (n_out <= tokens.size()). If final_state is set it receives the last layer's HC
  // state [n, hc, d] of every fed position (the MTP block's input).
  Result<std::vector<float>> forward(Sequence& seq, std::span<const int32_t> tokens, int64_t n_out,
                                     std::vector<float>* final_state = nullptr) const;

  // Many sequences in one forward: the rows of all inputs go through every linear and MoE
  // expert together (each weight is read once per call), while attention runs per sequence on its
  // own state. Each sequence's logits are bitwise the same as when it runs alone. Sequences must
  // be distinct; an error (bad token id, bad n_out) leaves every sequence unchanged.
  Result<std::vector<SeqOutput>> forward_batch(std::span<const SeqInput> inputs) const;
  // The MTP block for many sequences at once; returns the logits [V] of each input's last pair.
  Result<std::vector<std::vector<float>>> mtp_forward_batch(std::span<const MtpInput> inputs) const;

  // The MTP block on pairs (h[j], next_tokens[j]) at positions seq.mtp_pos...: h [n, hc, d].
  // Returns logits [1, V] of the last pair; block_out (optional) gets the block output [n, hc, d].
  Result<std::vector<float>> mtp_forward(Sequence& seq, const float* h, std::span<const int32_t> next_tokens,
                                         std::vector<float>* block_out = nullptr) const;

  // Building blocks exposed for per-layer probes and tests.
  void embed(std::span<const int32_t> tokens, float* x) const;  // x: [n, hc, d]
  void run_layer(int layer, LayerState& st, float* x, const int32_t* tokens, int64_t n, int64_t pos0,
                 LayerTrace* trace) const;
  void head_logits(const float* x_final, float* logits) const;  // one position: [hc, d] -> [V]
  // The MTP head (its own HC head and norm, then the shared LM head) on m MTP block outputs
  // [m, hc, d] -> [m, V]. Requires an MTP block.
  void mtp_head_logits(const float* block_out, int64_t m, float* logits) const;
  // m positions at once (rows of x_final may be spaced `stride` floats apart): [m, V].
  void head_logits_rows(const float* x_final, int64_t stride, int64_t m, float* logits) const;
  void init_state(int layer, LayerState& st) const;

 private:
  Status check_tokens(std::span<const int32_t> tokens) const;
  Status mtp_rows(std::span<const MtpInput> inputs, std::vector<std::vector<float>>* logits,
                  std::vector<float>* block_out) const;
  void run_main_layers(std::span<Sequence* const> seqs, std::span<const int64_t> lens, const int32_t* tokens,
                       int64_t n, float* x) const;
  std::unique_ptr<ModelWeights> w_;
  StageLink* stage_link_ = nullptr;
  RopeTable rope_window_, rope_compressed_;
};

}  // namespace dsv4::model
