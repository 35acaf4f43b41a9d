#include "engine/engine.h"

#include "engine/job.h"

namespace dsv4::engine {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kError: return "error";
    case FinishReason::kNone: break;
  }
  return "none";
}

void Stream::push(Event e) {
  std::lock_guard<std::mutex> l(mu_);
  if (ended_) return;
  ended_ = e.last;
  e.time = std::chrono::steady_clock::now();
  q_.push_back(std::move(e));
  cv_.notify_all();
}

bool Stream::next(Event* e) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return !q_.empty() || drained_; });
  if (q_.empty()) return false;
  *e = std::move(q_.front());
  q_.pop_front();
  if (e->last) drained_ = true;
  return true;
}

bool Stream::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, timeout, [&] { return !q_.empty() || drained_; }) && !q_.empty();
}

std::optional<Event> Stream::try_next() {
  std::lock_guard<std::mutex> l(mu_);
  if (q_.empty()) return std::nullopt;
  Event e = std::move(q_.front());
  q_.pop_front();
  if (e.last) drained_ = true;
  return e;
}

Engine::Engine(const model::Model& m, const Tokenizer* tokenizer, EngineOptions opt)
    : m_(m), tok_(tokenizer), opt_(opt) {
  max_ctx_ = opt_.max_context > 0 ? opt_.max_context : m_.config().max_position_embeddings;
  if (opt_.step_tokens < 1) opt_.step_tokens = 1;
  if (m_.weights().mtp.empty()) opt_.speculative = 0;
  owner_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  owner_.join();
}

std::shared_ptr<Stream> Engine::submit(Request r) {
  std::lock_guard<std::mutex> l(mu_);
  auto s = std::make_shared<Stream>(next_id_++);
  auto job = std::make_unique<Job>();
  job->stream = s;
  job->req = std::move(r);
  incoming_.push_back(std::move(job));
  cv_.notify_all();
  return s;
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  EngineStats s = stats_;
  s.running = live_.load();
  s.waiting = static_cast<int64_t>(incoming_.size());
  return s;
}

void Engine::loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stop_ || !incoming_.empty() || !jobs_.empty(); });
      if (stop_) break;
      while (!incoming_.empty() && static_cast<int>(jobs_.size()) < opt_.max_running && kv_admits(*incoming_.front())) {
        jobs_.push_back(std::move(incoming_.front()));
        incoming_.pop_front();
        ++live_;
      }
    }
    step();
  }
  // Shutting down: every request still open ends as cancelled.
  std::lock_guard<std::mutex> l(mu_);
  for (auto* q : {&jobs_, &incoming_})
    for (auto& j : *q) {
      Event e;
      e.kind = Event::Kind::kFinish;
      e.finish = FinishReason::kCancelled;
      e.last = true;
      j->stream->push(std::move(e));
    }
}

}  // namespace dsv4::engine
