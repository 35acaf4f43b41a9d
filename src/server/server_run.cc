// The generation endpoints' HTTP side: body parsing, admission, and running a Generation as a
// JSON reply or an SSE stream with keep-alives, disconnect detection and timeouts.
#include <httplib.h>

#include <fmt/format.h>

#include "server/anthropic_request.h"
#include "server/server_job.h"

namespace dsv4::server {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kMaxJsonDepth = 256;

// nlohmann's parser recurses per nesting level; a deep enough body would overflow the stack.
bool too_deep(const std::string& s) {
  int depth = 0;
  bool in_str = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_str) {
      if (c == '\\') ++i;
      else if (c == '"') in_str = false;
    } else if (c == '"') {
      in_str = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

MaybeError parse_body(const httplib::Request& req, Json* out) {
  if (req.body.empty()) return bad_request("the request body is empty; send a JSON object", "", "invalid_json");
  if (too_deep(req.body)) return bad_request(fmt::format("the request body nests deeper than {} levels", kMaxJsonDepth), "", "invalid_json");
  try {
    *out = Json::parse(req.body);
  } catch (const Json::parse_error& e) {
    return bad_request(fmt::format("the request body is not valid JSON: {}", e.what()), "", "invalid_json");
  }
  return std::nullopt;
}

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

void cancel_job(Server::Job& j) {
  j.cancelled = true;
  if (j.gen) j.gen->cancel();
}

Server::Job::~Job() {
  std::lock_guard<std::mutex> l(server->jobs_mu_);
  server->jobs_.erase(this);
  --server->in_flight_;
}

// The shutdown's grace ran out before this generation finished: the reply is cut short, which
// the client must learn as an error (503), not as a normal finish.
static std::optional<ApiError> stopped_by_shutdown(const Server::Job& j) {
  if (!j.cancelled) return std::nullopt;
  int64_t cut = 0;
  for (const ChoiceResult& r : j.gen->results()) cut += r.finish_reason == "cancelled";
  if (cut == 0) return std::nullopt;
  return ApiError{503, fmt::format("the server is shutting down: the generation was stopped after {} completion tokens",
                                   j.gen->usage().completion_tokens), "", "server_shutting_down"};
}

void Server::finish_job(Job& j) {
  if (j.finished) return;
  j.finished = true;
  const Generation& g = *j.gen;
  const int status = j.client_gone ? 499 : g.error() ? g.api_error().status : stopped_by_shutdown(j) ? 503 : 200;
  metrics_.request(j.endpoint, status);
  const engine::Usage& u = g.usage();
  metrics_.tokens(u.prompt_tokens, u.cached_tokens, u.completion_tokens, g.reasoning_tokens());
  metrics_.speculative(u.drafted_tokens, u.accepted_tokens);
  if (j.client_gone) metrics_.disconnect();
  const double total = seconds_since(j.start);
  metrics_.request_duration(total);
  if (auto t = g.ttft_seconds()) {
    metrics_.ttft(*t);
    metrics_.prefill(u.prefilled_tokens, *t);
    metrics_.decode(u.completion_tokens - g.prepared().req.n, total - *t);
  }
}

// Polls the generation once: deltas become frames (stream) and metrics; timeouts cancel.
static std::vector<ChoiceDelta> step(Server::Job& j, Metrics& m, double timeout_s, std::chrono::milliseconds wait) {
  auto d = j.gen->poll(wait);
  for (double gap : j.gen->take_token_gaps()) m.token_gap(gap);
  if (!j.gen->done() && !j.timed_out && seconds_since(j.start) > timeout_s) {
    j.timed_out = true;
    j.gen->cancel(true);
  }
  return d;
}

void Server::run(std::shared_ptr<Job> job, httplib::Response& res) {
  const auto keepalive = std::chrono::duration<double>(opt_.keepalive_s);
  const double timeout = opt_.request_timeout_s;
  if (!job->stream) {
    // Quick replies get a plain response; slow ones switch to a chunked body whose leading
    // whitespace (insignificant in JSON) probes the connection so a client that left is noticed.
    const auto quick = Clock::now() + std::chrono::duration<double>(opt_.heartbeat_s);
    while (!job->gen->done() && Clock::now() < quick) step(*job, metrics_, timeout, std::chrono::milliseconds(50));
    auto body = [this](Job& j) {
      finish_job(j);
      if (j.gen->error()) {
        const ApiError e = j.gen->api_error();
        return std::make_pair(e.status, dump(j.fmt->error(e)));
      }
      if (auto e = stopped_by_shutdown(j)) return std::make_pair(503, dump(j.fmt->error(*e)));
      return std::make_pair(200, dump(j.fmt->response(*j.gen)));
    };
    if (job->gen->done()) {
      auto [status, text] = body(*job);
      res.status = status;
      res.set_content(text, "application/json");
      return;
    }
    const double heartbeat = opt_.heartbeat_s;
    res.set_chunked_content_provider("application/json", [this, job, heartbeat, timeout, body](size_t, httplib::DataSink& sink) {
      auto last = Clock::now();
      while (!job->gen->done()) {
        step(*job, metrics_, timeout, std::chrono::milliseconds(100));
        if (seconds_since(last) >= heartbeat) {
          last = Clock::now();
          if (!sink.write(" ", 1)) {
            job->client_gone = true;
            job->gen->cancel();
          }
        }
      }
      auto [status, text] = body(*job);
      if (job->client_gone) return false;
      sink.write(text.data(), text.size());
      sink.done();
      return true;
    });
    return;
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider("text/event-stream", [this, job, keepalive, timeout](size_t, httplib::DataSink& sink) {
    Job& j = *job;
    auto last = Clock::now();
    auto send = [&](const std::vector<std::string>& frames) {
      for (const auto& f : frames)
        if (!j.client_gone && !sink.write(f.data(), f.size())) {
          j.client_gone = true;
          j.gen->cancel();
        }
      if (!frames.empty()) last = Clock::now();
    };
    send(j.fmt->stream_start(*j.gen));
    while (!j.gen->done()) {
      for (const ChoiceDelta& d : step(j, metrics_, timeout, std::chrono::milliseconds(100))) send(j.fmt->stream_delta(*j.gen, d));
      if (Clock::now() - last >= keepalive) send({": keep-alive\n\n"});
    }
    finish_job(j);
    if (j.client_gone) return false;
    if (j.gen->error()) send(j.fmt->stream_error(j.gen->api_error()));
    else if (auto s = stopped_by_shutdown(j)) send(j.fmt->stream_error(*s));
    else send(j.fmt->stream_end(*j.gen));
    if (j.client_gone) return false;
    sink.done();
    return true;
  });
}

namespace {

// Registers an admitted request (in-flight count and the shutdown's cancel list).
std::shared_ptr<Server::Job> new_job(Server* s, std::string endpoint) {
  auto j = std::make_shared<Server::Job>();
  j->server = s;
  j->endpoint = std::move(endpoint);
  j->start = Clock::now();
  return j;
}

}  // namespace

void Server::handle_chat(const httplib::Request& req, httplib::Response& res) {
  const std::string ep = "/v1/chat/completions";
  auto fail = [&](const ApiError& e) {
    reply_error(res, e, false);
    metrics_.request(ep, e.status);
  };
  const Backend* b = admit(res, false);
  if (!b) return metrics_.request(ep, res.status);
  Json body;
  if (auto e = parse_body(req, &body)) return fail(*e);
  RequestLimits lim{b->max_context};
  ChatRequest cr;
  if (auto e = parse_chat_request(body, lim, &cr)) return fail(*e);
  Prepared p;
  if (auto e = prepare_chat(*b, cr, &p)) return fail(*e);
  auto job = enqueue(ep, *b, std::move(p), res, false);
  if (!job) return;
  job->stream = cr.gen.stream;
  job->fmt = openai_chat_formatter(cr.model.empty() ? b->model_id : cr.model, cr.gen.include_usage);
  run(job, res);
}

void Server::handle_completion(const httplib::Request& req, httplib::Response& res) {
  const std::string ep = "/v1/completions";
  auto fail = [&](const ApiError& e) {
    reply_error(res, e, false);
    metrics_.request(ep, e.status);
  };
  const Backend* b = admit(res, false);
  if (!b) return metrics_.request(ep, res.status);
  Json body;
  if (auto e = parse_body(req, &body)) return fail(*e);
  RequestLimits lim{b->max_context};
  CompletionRequest cr;
  if (auto e = parse_completion_request(body, lim, &cr)) return fail(*e);
  Prepared p;
  if (auto e = prepare_completion(*b, cr, &p)) return fail(*e);
  auto job = enqueue(ep, *b, std::move(p), res, false);
  if (!job) return;
  job->stream = cr.gen.stream;
  job->fmt = openai_completion_formatter(cr.model.empty() ? b->model_id : cr.model, cr.gen.include_usage);
  run(job, res);
}

void Server::handle_messages(const httplib::Request& req, httplib::Response& res) {
  const std::string ep = "/v1/messages";
  auto fail = [&](const ApiError& e) {
    reply_error(res, e, true);
    metrics_.request(ep, e.status);
  };
  const Backend* b = admit(res, true);
  if (!b) return metrics_.request(ep, res.status);
  Json body;
  if (auto e = parse_body(req, &body)) return fail(*e);
  RequestLimits lim{b->max_context};
  ChatRequest cr;
  if (auto e = parse_messages_request(body, lim, false, &cr)) return fail(*e);
  Prepared p;
  if (auto e = prepare_chat(*b, cr, &p)) return fail(*e);
  auto job = enqueue(ep, *b, std::move(p), res, true);
  if (!job) return;
  job->stream = cr.gen.stream;
  job->fmt = anthropic_messages_formatter(cr.model.empty() ? b->model_id : cr.model);
  run(job, res);
}

void Server::handle_count_tokens(const httplib::Request& req, httplib::Response& res) {
  const std::string ep = "/v1/messages/count_tokens";
  auto fail = [&](const ApiError& e) {
    reply_error(res, e, true);
    metrics_.request(ep, e.status);
  };
  const Backend* b = admit(res, true);
  if (!b) return metrics_.request(ep, res.status);
  Json body;
  if (auto e = parse_body(req, &body)) return fail(*e);
  RequestLimits lim{b->max_context};
  ChatRequest cr;
  if (auto e = parse_messages_request(body, lim, true, &cr)) return fail(*e);
  Prepared p;
  cr.gen.max_tokens = -1;
  if (auto e = prepare_chat(*b, cr, &p)) {
    if (e->code != "context_length_exceeded") return fail(*e);
  }
  res.set_content(Json{{"input_tokens", p.req.prompt.size()}}.dump(), "application/json");
  metrics_.request(ep, 200);
}

std::shared_ptr<Server::Job> Server::enqueue(const std::string& ep, const Backend& b, Prepared p, httplib::Response& res, bool anthropic) {
  // The bounded queue: beyond `parallel` running and `queue` waiting requests, 429.
  if (in_flight_.fetch_add(1) >= opt_.parallel + opt_.queue) {
    --in_flight_;
    reply_error(res, ApiError{429, fmt::format("too many requests: {} running and {} queued; retry later", opt_.parallel, opt_.queue), "", "queue_full"},
                anthropic);
    metrics_.request(ep, 429);
    return nullptr;
  }
  auto job = new_job(this, ep);
  job->anthropic = anthropic;
  {
    std::lock_guard<std::mutex> l(jobs_mu_);
    jobs_.insert(job.get());
  }
  job->gen = std::make_unique<Generation>(b, std::move(p));
  if (draining_) cancel_job(*job);
  return job;
}

}  // namespace dsv4::server
