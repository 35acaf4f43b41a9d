#include "server/metrics.h"

#include <fmt/format.h>

namespace dsv4::server {
namespace {

std::string num(double v) { return fmt::format("{}", v); }

// Label values escaped as the text format requires (backslash, quote, newline).
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void scalar(std::string& out, const char* name, const char* type, const char* help, double v) {
  header(out, name, type, help);
  out += fmt::format("{} {}\n", name, num(v));
}

}  // namespace

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name) const {
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, num(bounds_[i]), cum);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, count_, name, num(sum_), name, count_);
}

Metrics::Metrics()
    : ttft_({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}),
      gap_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}),
      duration_({0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}) {}

void Metrics::request(const std::string& endpoint, int status) {
  std::lock_guard<std::mutex> l(mu_);
  ++requests_[{endpoint, status}];
}

void Metrics::tokens(int64_t prompt, int64_t cached, int64_t completion, int64_t reasoning) {
  std::lock_guard<std::mutex> l(mu_);
  prompt_ += static_cast<double>(prompt);
  cached_ += static_cast<double>(cached);
  completion_ += static_cast<double>(completion);
  reasoning_ += static_cast<double>(reasoning);
}

void Metrics::speculative(int64_t drafted, int64_t accepted) {
  std::lock_guard<std::mutex> l(mu_);
  drafted_ += static_cast<double>(drafted);
  accepted_ += static_cast<double>(accepted);
}

void Metrics::ttft(double s) {
  std::lock_guard<std::mutex> l(mu_);
  ttft_.observe(s);
}

void Metrics::token_gap(double s) {
  std::lock_guard<std::mutex> l(mu_);
  gap_.observe(s);
}

void Metrics::request_duration(double s) {
  std::lock_guard<std::mutex> l(mu_);
  duration_.observe(s);
}

void Metrics::prefill(int64_t tokens, double seconds) {
  if (tokens <= 0 || seconds <= 0) return;
  std::lock_guard<std::mutex> l(mu_);
  prefill_tokens_ += static_cast<double>(tokens);
  prefill_seconds_ += seconds;
  last_prefill_rate_ = static_cast<double>(tokens) / seconds;
}

void Metrics::decode(int64_t tokens, double seconds) {
  if (tokens <= 0 || seconds <= 0) return;
  std::lock_guard<std::mutex> l(mu_);
  decode_tokens_ += static_cast<double>(tokens);
  decode_seconds_ += seconds;
  last_decode_rate_ = static_cast<double>(tokens) / seconds;
}

void Metrics::disconnect() {
  std::lock_guard<std::mutex> l(mu_);
  ++disconnects_;
}

// The prefix cache's families: one series per tier (ram, and disk when a directory is set).
static void render_cache(std::string& out, const cache::CacheStats& c) {
  auto tiers = [&](const char* name, const char* type, const char* help, double ram, double disk) {
    header(out, name, type, help);
    out += fmt::format("{}{{tier=\"ram\"}} {}\n", name, ram);
    if (c.has_disk) out += fmt::format("{}{{tier=\"disk\"}} {}\n", name, disk);
  };
  scalar(out, "dsv4_prefix_cache_lookups_total", "counter", "Prompts looked up in the prefix cache.", static_cast<double>(c.lookups));
  tiers("dsv4_prefix_cache_hits_total", "counter", "Lookups that resumed from cached state, by where it was found.",
        static_cast<double>(c.ram_hits), static_cast<double>(c.disk_hits));
  scalar(out, "dsv4_prefix_cache_misses_total", "counter", "Lookups that found no cached state.",
         static_cast<double>(c.lookups - c.ram_hits - c.disk_hits));
  scalar(out, "dsv4_prefix_cache_hit_tokens_total", "counter", "Prompt tokens resumed from cached state.", static_cast<double>(c.hit_tokens));
  scalar(out, "dsv4_prefix_cache_miss_tokens_total", "counter", "Prompt tokens looked up and not found in the cache.",
         static_cast<double>(c.lookup_tokens - c.hit_tokens));
  tiers("dsv4_prefix_cache_entries", "gauge", "Snapshots held.", static_cast<double>(c.entries), static_cast<double>(c.disk.files));
  tiers("dsv4_prefix_cache_bytes", "gauge", "Bytes of snapshots held.", static_cast<double>(c.bytes), static_cast<double>(c.disk.bytes));
  scalar(out, "dsv4_prefix_cache_ram_unshared_bytes", "gauge",
         "RAM the held snapshots would take without sharing the rows of common prefixes.",
         static_cast<double>(c.unshared_bytes));
  tiers("dsv4_prefix_cache_evictions_total", "counter", "Snapshots evicted to stay within the budget.",
        static_cast<double>(c.evictions), static_cast<double>(c.disk.evictions));
  if (!c.has_disk) return;
  scalar(out, "dsv4_prefix_cache_disk_writes_total", "counter", "Snapshots written to the cache directory.", static_cast<double>(c.disk.writes));
  scalar(out, "dsv4_prefix_cache_disk_written_bytes_total", "counter", "Bytes of snapshots written to the cache directory.",
         static_cast<double>(c.disk.written_bytes));
  scalar(out, "dsv4_prefix_cache_disk_write_failures_total", "counter", "Snapshot writes that failed (disk full, I/O error).",
         static_cast<double>(c.disk.write_failures));
  scalar(out, "dsv4_prefix_cache_disk_removed_files_total", "counter", "Damaged, truncated or stray cache files removed.",
         static_cast<double>(c.disk.removed_bad));
}

std::string Metrics::render(const Live& live) const {
  std::lock_guard<std::mutex> l(mu_);
  std::string out;
  header(out, "dsv4_requests_total", "counter", "HTTP requests by endpoint and status code.");
  for (const auto& [key, n] : requests_)
    out += fmt::format("dsv4_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", label(key.first), key.second, n);
  scalar(out, "dsv4_prompt_tokens_total", "counter", "Prompt tokens of finished requests.", prompt_);
  scalar(out, "dsv4_prompt_cached_tokens_total", "counter", "Prompt tokens served from the prefix cache.", cached_);
  scalar(out, "dsv4_completion_tokens_total", "counter", "Generated tokens.", completion_);
  scalar(out, "dsv4_reasoning_tokens_total", "counter", "Generated tokens inside the reasoning.", reasoning_);
  scalar(out, "dsv4_speculative_drafted_tokens_total", "counter", "MTP draft tokens proposed.", drafted_);
  scalar(out, "dsv4_speculative_accepted_tokens_total", "counter", "MTP draft tokens accepted.", accepted_);
  scalar(out, "dsv4_client_disconnects_total", "counter", "Requests cancelled because the client went away.", disconnects_);
  scalar(out, "dsv4_prefill_tokens_total", "counter", "Prompt tokens processed (prefill).", prefill_tokens_);
  scalar(out, "dsv4_prefill_seconds_total", "counter", "Time from submission to first token, summed over requests.", prefill_seconds_);
  scalar(out, "dsv4_decode_tokens_total", "counter", "Tokens generated after each request's first token.", decode_tokens_);
  scalar(out, "dsv4_decode_seconds_total", "counter", "Time spent generating after the first token, summed over requests.", decode_seconds_);
  scalar(out, "dsv4_prefill_tokens_per_second", "gauge", "Prefill rate of the last finished request.", last_prefill_rate_);
  scalar(out, "dsv4_decode_tokens_per_second", "gauge", "Decode rate of the last finished request.", last_decode_rate_);
  scalar(out, "dsv4_queue_depth", "gauge", "Requests waiting for a sequence slot.", static_cast<double>(live.queue_depth));
  scalar(out, "dsv4_running_sequences", "gauge", "Requests being prefilled or decoded.", static_cast<double>(live.running));
  scalar(out, "dsv4_requests_in_flight", "gauge", "Requests accepted and not answered yet.", static_cast<double>(live.in_flight));
  scalar(out, "dsv4_ready", "gauge", "1 when the model is loaded and requests are served.", live.ready ? 1 : 0);
  if (live.cache) render_cache(out, *live.cache);
  header(out, "dsv4_time_to_first_token_seconds", "histogram", "Time from submission to the first generated token.");
  ttft_.render(out, "dsv4_time_to_first_token_seconds");
  header(out, "dsv4_inter_token_latency_seconds", "histogram", "Time between consecutive tokens of a choice.");
  gap_.render(out, "dsv4_inter_token_latency_seconds");
  header(out, "dsv4_request_duration_seconds", "histogram", "Time from submission to the last token.");
  duration_.render(out, "dsv4_request_duration_seconds");
  return out;
}

}  // namespace dsv4::server
