// The generation engine: one owner thread holds the model, every sequence's state and the
// scheduler; callers submit requests from any thread and read each request's events from its
// Stream. Every step mixes the decode tokens of all running sequences with prefill chunks of new
// ones under a token budget (continuous batching), so a long prompt never stalls the decoders
// for more than one step. A sequence's logits are bitwise the same whatever runs beside it
// (model::Model::forward_batch), so outputs do not depend on the load.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>

#include "engine/request.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::engine {

struct EngineOptions {
  int step_tokens = 256;      // token budget of one step (decode tokens first, then prefill chunks)
  int64_t max_context = 0;    // 0: the config's max_position_embeddings
  int speculative = 1;        // default MTP draft tokens per step when the model has MTP (0 = off)
  // A choice whose drafts are accepted less often than this after `spec_probe` drafts stops
  // speculating (drafts that are mostly rejected only cost time; outputs are the same either way).
  double spec_min_accept = 0.2;
  int spec_probe = 16;
  int max_running = 256;      // requests admitted at once; later ones wait in the queue
  // Bytes of sequence state (window rings, compressor state, KV rows at prompt + max_tokens,
  // capped by the context; times n choices; model/memory_plan.h) all admitted requests may plan
  // to hold; 0 = unlimited. A request that would take the total over it waits in the queue until
  // others finish; one that exceeds it alone ends with an error naming the numbers.
  int64_t kv_budget = 0;
  // Test and debug hook, called on the owner thread with every logits row a token is drawn
  // from: the request id, the choice, the position of the drawn token and the raw logits.
  std::function<void(uint64_t, int, int64_t, std::span<const float>)> on_logits;
};

// The events of one request, in order. Thread-safe; cancel() may be called from any thread.
class Stream {
 public:
  explicit Stream(uint64_t id) : id_(id) {}
  // Blocks until the next event; false once the last event has been read.
  bool next(Event* e);
  // The next event if one is ready.
  std::optional<Event> try_next();
  // Waits up to `timeout` for an event; false when none came (or the stream has ended).
  bool wait_for(std::chrono::milliseconds timeout);
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }
  uint64_t id() const { return id_; }

  void push(Event e);  // engine side

 private:
  uint64_t id_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> q_;
  bool ended_ = false, drained_ = false;
  std::atomic<bool> cancelled_{false};
};

struct EngineStats {
  int64_t steps = 0;
  int64_t max_step_tokens = 0;  // most tokens fed in one step
  int64_t forward_tokens = 0;   // tokens fed in all steps
  int64_t running = 0;          // requests admitted (prefilling or decoding)
  int64_t waiting = 0;          // requests submitted and not admitted yet (max_running reached)
};

class Engine {
 public:
  // `tokenizer` may be null: then events carry no text and stop strings are rejected.
  Engine(const model::Model& m, const Tokenizer* tokenizer, EngineOptions opt = {});
  ~Engine();  // ends every running request (cancelled) and joins the owner thread
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  std::shared_ptr<Stream> submit(Request r);
  EngineStats stats() const;
  const EngineOptions& options() const { return opt_; }
  int64_t max_context() const { return max_ctx_; }

  struct Job;  // engine_step.cc

 private:
  void loop();
  void step();
  bool kv_admits(Job& j) const;  // owner thread: fits the KV budget beside jobs_ (engine_step.cc)

  const model::Model& m_;
  const Tokenizer* tok_;
  EngineOptions opt_;
  int64_t max_ctx_;
  std::thread owner_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> incoming_;
  std::deque<std::unique_ptr<Job>> jobs_;  // owner thread only
  bool stop_ = false;
  uint64_t next_id_ = 1;
  EngineStats stats_;
  // Admitted requests whose last event has not gone out (EngineStats::running). Decremented as
  // that event is pushed, before the caller can see it: a request whose reply is complete is no
  // longer running, although it leaves jobs_ only at the next step.
  std::atomic<int64_t> live_{0};
};

}  // namespace dsv4::engine
