// The owner thread's bookkeeping of one request (Job) and each of its choices (Choice).
#pragma once
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/sampler.h"
#include "engine/stop_matcher.h"
#include "model/sequence_state.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::engine {

// MTP bookkeeping of a sequence: pair k is (h_k, t_{k+1}), h_k the final HC state at position k.
// Pairs are fed in order; `h` holds the states of positions mtp_fed, mtp_fed + 1, ...
struct MtpFeed {
  int64_t fed = 0;
  std::deque<std::vector<float>> h;
};

struct Choice {
  int index = 0;
  model::Sequence seq;
  std::vector<int32_t> tokens;  // every token of the sequence known so far (prompt + output)
  std::vector<int32_t> feed;    // known tokens not consumed yet (fed next step)
  int32_t draft = -1;           // MTP draft to verify next step
  Distribution draft_q;
  std::optional<model::SequenceMark> mark;  // main-layer state before a verify step
  std::vector<float> last_logits, last_state;  // of the last consumed position
  MtpFeed mtp;
  TokenHistory history;
  Rng rng;
  std::optional<StreamDecoder> decoder;
  StopMatcher stop{{}};
  std::unique_ptr<TokenConstraint> constraint;
  int generated = 0;
  int drafted = 0, accepted = 0;
  bool speculate = true;  // off once the acceptance rate proved too low
  bool done = false;
};

struct Engine::Job {
  std::shared_ptr<Stream> stream;
  Request req;
  bool started = false;  // validated and set up
  bool failed = false;
  int64_t state_bytes = -1;  // planned sequence state (EngineOptions::kv_budget); -1: not computed yet
  // Prefill phase: one sequence for all choices.
  model::Sequence seq;
  int64_t consumed = 0;  // prompt tokens consumed by `seq`
  std::vector<float> last_logits, last_state;
  MtpFeed mtp;
  size_t next_snapshot = 0;  // index into req.snapshot_at (sorted)
  // Decode phase.
  std::vector<std::unique_ptr<Choice>> choices;
  int finished = 0;
  Usage usage;
  int speculative = 0;
};

}  // namespace dsv4::engine
