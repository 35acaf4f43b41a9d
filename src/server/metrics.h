// The server's metrics in the Prometheus text exposition format (version 0.0.4): counters,
// gauges and histograms, thread-safe, rendered by GET /metrics.
#pragma once
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cache/prefix_cache.h"

namespace dsv4::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
  void observe(double v);
  void render(std::string& out, const std::string& name) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); the last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();

  void request(const std::string& endpoint, int status);
  void tokens(int64_t prompt, int64_t cached, int64_t completion, int64_t reasoning);
  void speculative(int64_t drafted, int64_t accepted);
  void ttft(double seconds);
  void token_gap(double seconds);
  void request_duration(double seconds);
  void prefill(int64_t tokens, double seconds);  // one request's prompt processing
  void decode(int64_t tokens, double seconds);   // one request's generation after its first token
  void disconnect();

  // Gauges read at render time.
  struct Live {
    int64_t queue_depth = 0, running = 0, in_flight = 0;
    bool ready = false;
    std::optional<cache::CacheStats> cache;  // when a prefix cache is on
  };
  std::string render(const Live& live) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  double prompt_ = 0, cached_ = 0, completion_ = 0, reasoning_ = 0, drafted_ = 0, accepted_ = 0, disconnects_ = 0;
  double prefill_tokens_ = 0, prefill_seconds_ = 0, decode_tokens_ = 0, decode_seconds_ = 0;
  double last_prefill_rate_ = 0, last_decode_rate_ = 0;
  Histogram ttft_, gap_, duration_;
};

}  // namespace dsv4::server
