#include "server/server.h"

#include <sys/socket.h>

#include <chrono>

#include <fmt/format.h>
#include <httplib.h>

#include "server/formatter.h"
#include "server/server_job.h"
#include "server/web_assets.h"

namespace dsv4::server {
namespace {

bool is_anthropic_path(const std::string& path) { return path.rfind("/v1/messages", 0) == 0; }

// The metrics label of a path: known routes by name, everything else one value, so clients
// cannot add series (or break the exposition format) with arbitrary paths.
std::string endpoint_label(const std::string& path) {
  static const char* kKnown[] = {"/v1/chat/completions", "/chat/completions", "/beta/chat/completions", "/v1/completions",
                                 "/beta/completions", "/v1/messages", "/v1/messages/count_tokens", "/v1/models",
                                 "/health", "/metrics", "/"};
  for (const char* k : kKnown)
    if (path == k) return k;
  if (path.rfind("/v1/models/", 0) == 0) return "/v1/models";
  if (path.rfind("/web/", 0) == 0) return "/web";
  return "other";
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Server::Server(ServerOptions o) : opt_(std::move(o)), http_(std::make_unique<httplib::Server>()) {
  const int threads = opt_.http_threads > 0 ? opt_.http_threads : opt_.parallel + opt_.queue + 16;
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http_->set_payload_max_length(opt_.max_body_bytes);
  http_->set_read_timeout(30, 0);
  http_->set_write_timeout(30, 0);
  http_->set_keep_alive_timeout(5);
  routes();
}

Server::~Server() {
  shutdown(0);
  wait();
}

void Server::reply_error(httplib::Response& res, const ApiError& e, bool anthropic) const {
  res.status = e.status;
  const nlohmann::json body = anthropic ? e.anthropic_json() : e.openai_json();
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

bool Server::authorized(const httplib::Request& req) const {
  if (opt_.api_key.empty()) return true;
  const std::string auth = req.get_header_value("Authorization");
  if (auth == "Bearer " + opt_.api_key) return true;
  return req.get_header_value("x-api-key") == opt_.api_key;
}

const Backend* Server::admit(httplib::Response& res, bool anthropic) {
  const Backend* b = backend_.load();
  if (draining_) {
    reply_error(res, ApiError{503, "the server is shutting down", "", "shutting_down"}, anthropic);
    return nullptr;
  }
  if (!b) {
    reply_error(res, ApiError{503, "the model is still loading; retry shortly", "", "loading"}, anthropic);
    return nullptr;
  }
  return b;
}

void Server::set_backend(const Backend* b) { backend_.store(b); }

void Server::routes() {
  httplib::Server& s = *http_;
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // The chat page needs no key: it asks for one and sends it on its API calls.
    const bool page = req.path == "/" || req.path == "/index.html" || req.path.rfind("/web/", 0) == 0;
    if (req.path == "/health" || page || req.method == "OPTIONS") return httplib::Server::HandlerResponse::Unhandled;
    if (!authorized(req)) {
      reply_error(res, ApiError{401, "Invalid or missing API key (send 'Authorization: Bearer KEY' or 'x-api-key: KEY')", "", "invalid_api_key"},
                  is_anthropic_path(req.path));
      metrics_.request(endpoint_label(req.path), 401);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Errors httplib raises itself (unknown route, body too large, unparsable request) get the
  // API's error object too.
  s.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string msg;
    switch (res.status) {
      case 404: msg = fmt::format("no such endpoint: {} {}", req.method, req.path); break;
      case 405: msg = fmt::format("method {} is not allowed on {}", req.method, req.path); break;
      case 413: msg = fmt::format("the request body is larger than the limit of {} bytes", opt_.max_body_bytes); break;
      case 414: msg = "the request URI is too long"; break;
      default: msg = fmt::format("bad request (HTTP {})", res.status); break;
    }
    const int status = res.status;
    reply_error(res, ApiError{status, msg, "", ""}, is_anthropic_path(req.path));
    metrics_.request(endpoint_label(req.path), status);
  });
  s.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = fmt::format("internal error: {}", e.what());
    } catch (...) {
    }
    reply_error(res, ApiError{500, what, "", ""}, is_anthropic_path(req.path));
    metrics_.request(endpoint_label(req.path), 500);
  });

  // The chat page (web_assets.h, src/server/web/), with its security headers and an ETag.
  auto page = [](const httplib::Request& req, httplib::Response& res) {
    const WebAsset* a = find_web_asset(req.path);
    if (!a) {
      res.status = 404;
      return;
    }
    for (const auto& [k, v] : web_security_headers()) res.set_header(std::string(k), std::string(v));
    res.set_header("ETag", std::string(a->etag));
    if (req.get_header_value("If-None-Match") == a->etag) {
      res.status = 304;
      return;
    }
    res.set_content(a->body.data(), a->body.size(), std::string(a->content_type).c_str());
  };
  s.Get("/", page);
  s.Get("/index.html", page);
  s.Get(R"(/web/[^/]+)", page);
  s.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    const char* st = draining_ ? "draining" : backend_.load() ? "ok" : "loading";
    res.status = std::string_view(st) == "ok" ? 200 : 503;
    res.set_content(nlohmann::json{{"status", st}}.dump(), "application/json");
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    Metrics::Live live;
    if (const Backend* b = backend_.load()) {
      const auto st = b->engine->stats();
      live.queue_depth = st.waiting;
      live.running = st.running;
      live.ready = !draining_;
      if (b->cache) live.cache = b->cache->stats();
    }
    live.in_flight = in_flight_.load();
    res.set_content(metrics_.render(live), "text/plain; version=0.0.4; charset=utf-8");
  });
  auto models = [this](const httplib::Request& req, httplib::Response& res) {
    const Backend* b = backend_.load();
    if (!b) return reply_error(res, ApiError{503, "the model is still loading; retry shortly", "", "loading"}, false);
    nlohmann::json data = nlohmann::json::array();
    for (const std::string& id : {b->model_id, std::string("deepseek-chat"), std::string("deepseek-reasoner")})
      data.push_back({{"id", id}, {"object", "model"}, {"created", unix_now()}, {"owned_by", "dsv4"},
                      {"context_length", b->max_context}});
    if (req.matches.size() > 1) {
      for (const auto& m : data)
        if (m["id"] == req.matches[1].str()) return res.set_content(m.dump(), "application/json");
      return reply_error(res, ApiError{404, fmt::format("The model '{}' does not exist", req.matches[1].str()), "model", "model_not_found"}, false);
    }
    res.set_content(nlohmann::json{{"object", "list"}, {"data", data}}.dump(), "application/json");
  };
  s.Get("/v1/models", models);
  s.Get(R"(/v1/models/([^/]+))", models);
  s.Post("/v1/chat/completions", [this](const httplib::Request& q, httplib::Response& r) { handle_chat(q, r); });
  s.Post("/chat/completions", [this](const httplib::Request& q, httplib::Response& r) { handle_chat(q, r); });
  s.Post("/beta/chat/completions", [this](const httplib::Request& q, httplib::Response& r) { handle_chat(q, r); });
  s.Post("/v1/completions", [this](const httplib::Request& q, httplib::Response& r) { handle_completion(q, r); });
  s.Post("/beta/completions", [this](const httplib::Request& q, httplib::Response& r) { handle_completion(q, r); });
  s.Post("/v1/messages", [this](const httplib::Request& q, httplib::Response& r) { handle_messages(q, r); });
  s.Post("/v1/messages/count_tokens", [this](const httplib::Request& q, httplib::Response& r) { handle_count_tokens(q, r); });
}

Status Server::start() {
  // cpp-httplib's listen backlog is 5, which drops connections under a burst of clients; the
  // listening socket is captured here and given a deeper backlog after bind.
  auto captured = std::make_shared<int>(-1);
  http_->set_socket_options([captured](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    *captured = sock;
  });
  if (opt_.port == 0) {
    port_ = http_->bind_to_any_port(opt_.host);
    if (port_ <= 0) return error("cannot bind {}:any port", opt_.host);
  } else {
    if (!http_->bind_to_port(opt_.host, opt_.port)) return error("cannot bind {}:{} (in use, or not an address of this host?)", opt_.host, opt_.port);
    port_ = opt_.port;
  }
  if (*captured >= 0) ::listen(*captured, 1024);
  listener_ = std::thread([this] { http_->listen_after_bind(); });
  return ok_status();
}

void Server::wait() {
  if (listener_.joinable()) listener_.join();
}

void Server::shutdown(double grace_s) {
  std::call_once(shutdown_once_, [&] {
    draining_ = true;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace_s);
    while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    {
      std::lock_guard<std::mutex> l(jobs_mu_);
      for (Job* j : jobs_) cancel_job(*j);
    }
    // Cancelled generations end within an engine step; give their handlers time to answer.
    const auto hard = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < hard)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    http_->stop();
  });
}

}  // namespace dsv4::server
