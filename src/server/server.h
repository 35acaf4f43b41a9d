// `dsv4 serve`'s HTTP server (cpp-httplib): OpenAI chat/completions and completions, Anthropic
// messages, models, health and Prometheus metrics, with API-key auth, a bounded queue, request
// timeouts, client-disconnect cancellation and a draining shutdown. It runs generations through
// a Backend (the engine and tokenizer) and knows nothing of the model's internals.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "base/status.h"
#include "server/generation.h"
#include "server/metrics.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace dsv4::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;               // 0: any free port (see Server::port())
  std::string api_key;           // "" = no authentication
  int parallel = 8;              // requests the engine runs at once (its max_running)
  int queue = 64;                // requests that may wait beyond those; 429 when full
  size_t max_body_bytes = 32u << 20;
  double request_timeout_s = 600;  // a generation still running after this is ended
  double keepalive_s = 5;        // SSE comment after this long without output (probes the client)
  double heartbeat_s = 2;        // non-stream: past this, whitespace probes the connection
  int http_threads = 0;          // 0: parallel + queue + 16
};

class Server {
 public:
  explicit Server(ServerOptions o);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving on a background thread; /health says "loading" until set_backend.
  Status start();
  int port() const { return port_; }
  // The backend must outlive the server (or the next set_backend(nullptr)).
  void set_backend(const Backend* b);
  // Stops taking requests (503), waits up to `grace_s` for the running ones, cancels the rest,
  // and stops the listener. Idempotent.
  void shutdown(double grace_s);
  // Blocks until the listener has stopped.
  void wait();
  Metrics& metrics() { return metrics_; }
  int64_t in_flight() const { return in_flight_.load(); }

  struct Job;  // server_run.cc

 private:
  void routes();
  bool authorized(const httplib::Request& req) const;
  void reply_error(httplib::Response& res, const ApiError& e, bool anthropic) const;
  // Admission: ready, not draining, queue not full. Null (and `res` set) when refused.
  const Backend* admit(httplib::Response& res, bool anthropic);
  void handle_chat(const httplib::Request& req, httplib::Response& res);
  void handle_completion(const httplib::Request& req, httplib::Response& res);
  void handle_messages(const httplib::Request& req, httplib::Response& res);
  void handle_count_tokens(const httplib::Request& req, httplib::Response& res);
  void run(std::shared_ptr<Job> job, httplib::Response& res);
  // Admits a prepared request into the bounded queue and starts its generation; null (with a
  // 429 in `res`) when the queue is full.
  std::shared_ptr<Job> enqueue(const std::string& endpoint, const Backend& b, Prepared p, httplib::Response& res, bool anthropic);
  void finish_job(Job& job);

  ServerOptions opt_;
  std::unique_ptr<httplib::Server> http_;
  std::thread listener_;
  int port_ = 0;
  std::atomic<const Backend*> backend_{nullptr};
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> in_flight_{0};
  std::mutex jobs_mu_;
  std::set<Job*> jobs_;
  Metrics metrics_;
  std::once_flag shutdown_once_;
};

}  // namespace dsv4::server
