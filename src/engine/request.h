// What callers hand the engine and what they get back. Plain structs: the engine knows no HTTP
// or JSON; the server and the CLI translate to and from these.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/constraint.h"
#include "engine/sampler.h"
#include "model/model.h"

namespace dsv4::engine {

// A sequence's whole state after consuming `tokens`, plus what continuing needs: the logits and
// the final HC state (the MTP input) of its last position. Immutable once made; shareable.
struct Snapshot {
  std::vector<int32_t> tokens;
  model::Sequence seq;
  std::vector<float> last_logits;  // [V]
  std::vector<float> last_state;   // [hc*d]
  size_t fixed_bytes = 0;          // window rings + partial compressor blocks
  size_t growing_bytes = 0;        // compressed rows + indexer keys (grow with the position)
};

struct Request {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int max_tokens = 256;
  std::vector<std::string> stop;     // stop strings (need a tokenizer), matched across tokens
  std::vector<int32_t> stop_ids;     // generation ends after one of these (it is reported)
  bool ignore_eos = false;           // otherwise the model's EOS id is a stop id
  int n = 1;                         // choices sharing one prefill
  bool logprobs = false;             // report the sampled token's logprob (+ sampling.top_logprobs)
  int speculative = -1;              // MTP draft tokens per step: -1 = engine default, 0 = off
  std::shared_ptr<const Snapshot> snapshot;  // start from this state (its tokens must prefix the prompt)
  std::vector<int64_t> snapshot_at;  // also emit snapshots after consuming this many prompt tokens
  bool snapshot_at_end = false;      // emit a snapshot of the final state (prompt + reply consumed)
  // Restricts every drawn token (each choice works on its own clone). Turns MTP speculation off
  // for the request: a draft would have to be checked against the constraint too.
  std::shared_ptr<const TokenConstraint> constraint;
};

enum class FinishReason { kNone, kStop, kLength, kCancelled, kError };
const char* finish_reason_name(FinishReason r);

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;      // prompt tokens taken from the snapshot instead of prefilled
  int64_t completion_tokens = 0;  // over all choices
  int64_t drafted_tokens = 0;     // MTP drafts proposed
  int64_t accepted_tokens = 0;    // MTP drafts accepted
  int64_t prefilled_tokens = 0;   // tokens actually run through prefill
};

struct TokenLogprob {
  double logprob = 0;
  std::vector<std::pair<int32_t, double>> top;
};

struct Event {
  enum class Kind { kToken, kSnapshot, kFinish, kError } kind = Kind::kToken;
  int choice = 0;
  int32_t token = -1;
  std::string text;  // UTF-8 text delta (complete characters; stop text removed)
  std::shared_ptr<TokenLogprob> logprob;  // when asked for
  FinishReason finish = FinishReason::kNone;
  std::string stop_sequence;  // kFinish by a stop string: the one that matched
  std::shared_ptr<const Snapshot> snapshot;  // kSnapshot, or kFinish with snapshot_at_end
  Usage usage;        // kFinish of the last choice: the request's totals
  std::string error;  // kError (the request ends; no kFinish follows)
  // kError: whose fault. kInvalidRequest: the request itself (bad token ids, a snapshot that is
  // not a prefix, ...); kTooLarge: it can never fit the engine's KV budget; kInternal: a bug.
  enum class ErrorKind { kInternal, kInvalidRequest, kTooLarge } error_kind = ErrorKind::kInternal;
  bool last = false;  // no more events for this request
  int64_t step = 0;   // the engine step that produced it (for scheduling tests)
  std::chrono::steady_clock::time_point time;  // when the engine emitted it
};

}  // namespace dsv4::engine
