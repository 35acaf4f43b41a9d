// The server in-process on the built-in default model: real HTTP over loopback with
// cpp-httplib's client, covering the replies, SSE framing, auth, limits, the bounded queue,
// client disconnects (the sequence is freed) and the draining shutdown.
#include <gtest/gtest.h>
#include <httplib.h>

#include <signal.h>

#include <filesystem>
#include <thread>

#include "cache/prefix_cache.h"
#include "engine/engine.h"
#include "model/model.h"
#include "server/constraints.h"
#include "server/server.h"

namespace dsv4::server {
namespace {

using namespace std::chrono_literals;
const std::string kDir = std::string(DSV4_SOURCE_DIR) + "/models/default";

struct Fixture {
  std::unique_ptr<model::Model> model;
  std::optional<Tokenizer> tok;
  std::unique_ptr<engine::Engine> engine;
  Backend backend;
  std::unique_ptr<cache::PrefixCache> cache;
  std::unique_ptr<Server> server;

  explicit Fixture(ServerOptions o, int64_t ctx = 4096, std::optional<cache::CacheOptions> co = std::nullopt,
                   int64_t kv_budget = 0) {
    signal(SIGPIPE, SIG_IGN);
    auto m = model::Model::load(kDir);
    if (!m.ok()) throw std::runtime_error(m.message());
    model = std::move(*m);
    auto t = Tokenizer::load(kDir + "/tokenizer.json");
    if (!t.ok()) throw std::runtime_error(t.message());
    tok = std::move(*t);
    engine::EngineOptions eo;
    eo.max_running = o.parallel;
    eo.max_context = ctx;
    eo.kv_budget = kv_budget;
    engine = std::make_unique<engine::Engine>(*model, &*tok, eo);
    backend.engine = engine.get();
    backend.tokenizer = &*tok;
    backend.model_id = "test-model";
    backend.max_context = engine->max_context();
    backend.eos_id = static_cast<int32_t>(model->config().eos_token_id);
    backend.vocab = make_vocabulary(*tok, backend.eos_id, model->config().vocab_size);
    if (co) {
      auto c = cache::PrefixCache::open(*model, *co, nullptr);
      if (!c.ok()) throw std::runtime_error(c.message());
      cache = std::move(*c);
      backend.cache = cache.get();
    }
    o.port = 0;
    server = std::make_unique<Server>(o);
    Status s = server->start();
    if (!s.ok()) throw std::runtime_error(s.message());
    server->set_backend(&backend);
  }
  ~Fixture() {
    server->shutdown(0);
    server->wait();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", server->port());
    c.set_read_timeout(60, 0);
    return c;
  }
};

bool skip_without_model() { return !std::filesystem::exists(kDir + "/tokenizer.json"); }
#define NEED_MODEL() \
  if (skip_without_model()) GTEST_SKIP() << "no " << kDir << " (run scripts/make_default_model.sh)"

// EOS suppressed so generations run to max_tokens (the random-weight model emits it now and then).
const std::string kNoEos = R"("logit_bias":{"1":-100})";

std::string chat_body(const std::string& extra) {
  return R"({"model":"test-model","messages":[{"role":"user","content":"Hello there"}],)" + extra + "}";
}

// Parses "data: ..." frames of an SSE body; comments are counted apart.
std::vector<std::string> sse_data(const std::string& body, int* comments = nullptr) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos) << "unterminated SSE event: " << body.substr(pos);
    if (end == std::string::npos) break;
    std::string ev = body.substr(pos, end - pos);
    pos = end + 2;
    if (ev.rfind(": ", 0) == 0) {
      if (comments) ++*comments;
      continue;
    }
    if (ev.rfind("event: ", 0) == 0) {  // Anthropic: "event: TYPE\ndata: {...}"
      const size_t nl = ev.find('\n');
      EXPECT_NE(nl, std::string::npos) << ev;
      if (nl == std::string::npos) continue;
      ev = ev.substr(nl + 1);
    }
    if (ev.rfind("data: ", 0) == 0) out.push_back(ev.substr(6));
    else ADD_FAILURE() << "unexpected SSE line: " << ev;
  }
  return out;
}

TEST(Server, ChatCompletionWithUsage) {
  NEED_MODEL();
  Fixture f(ServerOptions{});
  auto c = f.client();
  auto r = c.Post("/v1/chat/completions", chat_body(R"("max_tokens":6,"seed":3,)" + kNoEos), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = Json::parse(r->body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "test-model");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["completion_tokens"], 6);
  EXPECT_EQ(j["usage"]["completion_tokens_details"]["reasoning_tokens"], 6);  // thinking by default, never closed
  EXPECT_EQ(j["usage"]["prompt_cache_hit_tokens"].get<int>() + j["usage"]["prompt_cache_miss_tokens"].get<int>(),
            j["usage"]["prompt_tokens"].get<int>());
  EXPECT_TRUE(j["choices"][0]["message"].contains("reasoning_content"));
  // The same seed gives the same reply.
  auto r2 = c.Post("/v1/chat/completions", chat_body(R"("max_tokens":6,"seed":3,)" + kNoEos), "application/json");
  ASSERT_TRUE(r2);
  EXPECT_EQ(Json::parse(r2->body)["choices"][0]["message"], j["choices"][0]["message"]);
}

TEST(Server, PrefixCacheResumesTheRepeatedPromptAndTheNextTurn) {
  NEED_MODEL();
  cache::CacheOptions co;
  co.ram_bytes = 64 << 20;
  co.min_tokens = 16;
  Fixture f(ServerOptions{}, 4096, co);
  auto c = f.client();
  Json msgs = Json::array({{{"role", "system"}, {"content", "You are a careful assistant. Answer in one short sentence, and "
                                                             "never use more words than the question needs."}},
                           {{"role", "user"}, {"content", "Name a prime number."}}});
  auto ask = [&](const Json& m) {
    Json body = {{"model", "deepseek-chat"}, {"messages", m}, {"max_tokens", 5}, {"seed", 11}, {"logit_bias", {{"1", -100}}}};
    auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no reply");
    return r ? Json::parse(r->body) : Json();
  };
  const Json a = ask(msgs);
  const int P = a["usage"]["prompt_tokens"];
  ASSERT_GE(P, 16);
  EXPECT_EQ(a["usage"]["prompt_cache_hit_tokens"], 0);
  // The same prompt again: all of it comes from the snapshot at its end, and the reply (same
  // seed) is the same, which it would not be from a wrong state.
  const Json b = ask(msgs);
  EXPECT_EQ(b["usage"]["prompt_cache_hit_tokens"], P);
  EXPECT_EQ(b["usage"]["prompt_cache_miss_tokens"], 0);
  EXPECT_EQ(b["usage"]["prompt_tokens_details"]["cached_tokens"], P);
  EXPECT_EQ(b["choices"][0]["message"]["content"], a["choices"][0]["message"]["content"]);
  // The next turn resends the conversation: at least the first turn's prompt is a hit.
  Json next = msgs;
  next.push_back({{"role", "assistant"}, {"content", a["choices"][0]["message"]["content"]}});
  next.push_back({{"role", "user"}, {"content", "And another one?"}});
  const Json t2 = ask(next);
  EXPECT_GE(t2["usage"]["prompt_cache_hit_tokens"].get<int>(), P);
  EXPECT_LT(t2["usage"]["prompt_cache_hit_tokens"].get<int>(), t2["usage"]["prompt_tokens"].get<int>());
  const auto st = f.cache->stats();
  EXPECT_EQ(st.lookups, 3);
  EXPECT_EQ(st.ram_hits, 2);
  {
    auto m0 = c.Get("/metrics");
    ASSERT_TRUE(m0);
    EXPECT_NE(m0->body.find("dsv4_prefix_cache_hits_total{tier=\"ram\"} 2"), std::string::npos) << m0->body;
  }
  // Thinking mode: the prompt ends "<think>", the next turn renders the reply as "</think>…"
  // with its reasoning dropped; everything before "<think>" is still a hit.
  auto ask_thinking = [&](const Json& m) {
    Json body = {{"model", "deepseek-reasoner"}, {"messages", m}, {"max_tokens", 5}, {"seed", 12}, {"logit_bias", {{"1", -100}}}};
    auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no reply");
    return r ? Json::parse(r->body) : Json();
  };
  Json tm = msgs;
  tm[1]["content"] = "Think about a prime number.";
  const Json th1 = ask_thinking(tm);
  const int TP = th1["usage"]["prompt_tokens"];
  tm.push_back({{"role", "assistant"}, {"content", "Seven."}, {"reasoning_content", th1["choices"][0]["message"]["reasoning_content"]}});
  tm.push_back({{"role", "user"}, {"content", "Why?"}});
  const Json th2 = ask_thinking(tm);
  EXPECT_GE(th2["usage"]["prompt_cache_hit_tokens"].get<int>(), TP - 1) << th2["usage"].dump();
  // Another user question after the same system prompt: the previous prompts part from this one
  // right after the system prompt, where a snapshot is taken; a third question resumes there.
  Json q2 = msgs, q3 = msgs;
  q2[1]["content"] = "What is the capital of Peru?";
  q3[1]["content"] = "Which ocean is the largest?";
  const Json u2 = ask(q2), u3 = ask(q3);
  const int shared = u3["usage"]["prompt_cache_hit_tokens"];
  EXPECT_GT(shared, 16) << "the shared system prompt is a hit";
  EXPECT_LT(shared, u3["usage"]["prompt_tokens"].get<int>());
  EXPECT_GE(u2["usage"]["prompt_cache_hit_tokens"].get<int>(), 0);
  auto m = c.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("dsv4_prefix_cache_hit_tokens_total"), std::string::npos) << m->body;
  EXPECT_NE(m->body.find("dsv4_prefix_cache_hit_tokens_total"), std::string::npos);
}

TEST(Server, ARequestOverTheKvBudgetIsA400) {
  NEED_MODEL();
  Fixture f(ServerOptions{}, 4096, std::nullopt, /*kv_budget=*/1);
  auto c = f.client();
  auto r = c.Post("/v1/chat/completions", chat_body(R"("max_tokens":4)"), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  const Json j = Json::parse(r->body);
  EXPECT_EQ(j["error"]["code"], "kv_budget_exceeded");
  EXPECT_NE(j["error"]["message"].get<std::string>().find("KV budget"), std::string::npos) << r->body;
  // Streamed: the refusal is the stream's error event.
  auto s = c.Post("/v1/chat/completions", chat_body(R"("max_tokens":4,"stream":true)"), "application/json");
  ASSERT_TRUE(s);
  EXPECT_NE(s->body.find(R"("code":"kv_budget_exceeded")"), std::string::npos) << s->body;
  // (The handler finishes its bookkeeping just after the body is out.)
  for (int i = 0; i < 250 && f.server->in_flight() != 0; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(f.server->in_flight(), 0);
}

TEST(Server, StreamFramingUsageAndDone) {
  NEED_MODEL();
  Fixture f(ServerOptions{});
  auto c = f.client();
  auto r = c.Post("/v1/chat/completions",
                  chat_body(R"("max_tokens":5,"n":2,"stream":true,"stream_options":{"include_usage":true},"thinking":{"type":"disabled"},)" + kNoEos),
                  "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  auto frames = sse_data(r->body);
  ASSERT_GE(frames.size(), 3u);
  EXPECT_EQ(frames.back(), "[DONE]");
  std::string text[2];
  int finished = 0;
  for (size_t i = 0; i + 2 < frames.size(); ++i) {
    auto j = Json::parse(frames[i]);
    EXPECT_EQ(j["object"], "chat.completion.chunk");
    EXPECT_TRUE(j["usage"].is_null());
    for (const auto& ch : j["choices"]) {
      const int idx = ch["index"];
      if (ch["delta"].contains("content")) text[idx] += ch["delta"]["content"].get<std::string>();
      EXPECT_FALSE(ch["delta"].contains("reasoning_content"));
      if (!ch["finish_reason"].is_null()) ++finished;
    }
  }
  EXPECT_EQ(finished, 2);
  auto usage = Json::parse(frames[frames.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 10);
  EXPECT_FALSE(text[0].empty());
}

TEST(Server, AuthLimitsAndErrorObjects) {
  NEED_MODEL();
  ServerOptions o;
  o.api_key = "sekret";
  o.max_body_bytes = 4096;
  Fixture f(o, 256);
  auto c = f.client();
  auto r = c.Post("/v1/chat/completions", chat_body(R"("max_tokens":2)"), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(Json::parse(r->body)["error"]["type"], "authentication_error");
  auto a = c.Post("/v1/messages", R"({"max_tokens":2,"messages":[{"role":"user","content":"x"}]})", "application/json");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 401);
  EXPECT_EQ(Json::parse(a->body)["type"], "error");  // Anthropic's shape
  EXPECT_EQ(c.Get("/health")->status, 200);          // health needs no key

  httplib::Headers h = {{"Authorization", "Bearer sekret"}};
  auto ok = c.Post("/v1/chat/completions", h, chat_body(R"("max_tokens":2)"), "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  httplib::Headers xk = {{"x-api-key", "sekret"}};
  EXPECT_EQ(c.Post("/v1/messages", xk, R"({"max_tokens":2,"messages":[{"role":"user","content":"x"}]})", "application/json")->status, 200);

  auto big = c.Post("/v1/chat/completions", h, chat_body(R"("max_tokens":2,"pad":")" + std::string(8000, 'x') + "\""), "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(Json::parse(big->body)["error"]["type"], "invalid_request_error");

  std::string long_prompt;
  for (int i = 0; i < 300; ++i) long_prompt += "word ";
  auto over = c.Post("/v1/chat/completions", h, R"({"messages":[{"role":"user","content":")" + long_prompt + R"("}]})", "application/json");
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 400);
  EXPECT_EQ(Json::parse(over->body)["error"]["code"], "context_length_exceeded");

  auto bad_model = c.Post("/v1/chat/completions", h, R"({"model":"gpt-9","messages":[{"role":"user","content":"x"}]})", "application/json");
  EXPECT_EQ(bad_model->status, 404);
  EXPECT_EQ(Json::parse(bad_model->body)["error"]["code"], "model_not_found");
  EXPECT_EQ(c.Post("/v1/chat/completions", h, "{nope", "application/json")->status, 400);
  EXPECT_EQ(c.Post("/v1/chat/completions", h, std::string(300, '[') + std::string(300, ']'), "application/json")->status, 400);
  EXPECT_EQ(c.Post("/v1/chat/completions", h, R"({"messages":[{"role":"user","content":"x"}],"temperature":"hot"})", "application/json")->status, 422);
  auto route = c.Get("/v1/nothing", h);
  EXPECT_EQ(route->status, 404);
  EXPECT_TRUE(Json::parse(route->body).contains("error"));
  // Still serving.
  EXPECT_EQ(c.Post("/v1/chat/completions", h, chat_body(R"("max_tokens":2)"), "application/json")->status, 200);
}

// Starts a long streaming request on its own connection; stops reading (closing the
// connection) once `stop_after` bytes arrived or when `stop` is set.
std::thread long_request(int port, bool stream, std::atomic<bool>* started, std::atomic<bool>* stop, int* status,
                         std::string* body = nullptr) {
  return std::thread([=] {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60, 0);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.body = chat_body(std::string(R"("max_tokens":4000,"stream":)") + (stream ? "true," : "false,") + kNoEos);
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [=](const char* data, size_t n, uint64_t, uint64_t) {
      if (body) body->append(data, n);
      *started = true;
      return !stop->load();
    };
    httplib::Response res;
    httplib::Error err;
    c.send(req, res, err);
    *status = res.status;
  });
}

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return cond();
}

TEST(Server, QueueFullIs429AndADisconnectFreesTheSequence) {
  NEED_MODEL();
  ServerOptions o;
  o.parallel = 1;
  o.queue = 0;
  o.keepalive_s = 0.2;
  Fixture f(o);
  std::atomic<bool> started{false}, stop{false};
  int status = 0;
  std::thread t = long_request(f.server->port(), true, &started, &stop, &status);
  ASSERT_TRUE(eventually([&] { return started.load(); }));
  auto c = f.client();
  auto r = c.Post("/v1/chat/completions", chat_body(R"("max_tokens":2)"), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(Json::parse(r->body)["error"]["type"], "rate_limit_error");
  EXPECT_EQ(f.engine->stats().running, 1);
  stop = true;  // the client goes away
  t.join();
  EXPECT_TRUE(eventually([&] { return f.server->in_flight() == 0 && f.engine->stats().running == 0; }))
      << "in flight " << f.server->in_flight() << ", running " << f.engine->stats().running;
  const std::string m = c.Get("/metrics")->body;
  EXPECT_NE(m.find("dsv4_client_disconnects_total 1"), std::string::npos) << m;
  EXPECT_NE(m.find(R"(dsv4_requests_total{endpoint="/v1/chat/completions",status="429"} 1)"), std::string::npos);
  EXPECT_EQ(c.Post("/v1/chat/completions", chat_body(R"("max_tokens":2)"), "application/json")->status, 200);
}

TEST(Server, NonStreamDisconnectIsNoticedByTheHeartbeat) {
  NEED_MODEL();
  ServerOptions o;
  o.heartbeat_s = 0.2;
  Fixture f(o);
  std::atomic<bool> started{false}, stop{false};
  int status = 0;
  std::thread t = long_request(f.server->port(), false, &started, &stop, &status);
  ASSERT_TRUE(eventually([&] { return started.load(); }));  // the first whitespace probe arrived
  stop = true;
  t.join();
  EXPECT_TRUE(eventually([&] { return f.server->in_flight() == 0 && f.engine->stats().running == 0; }));
  EXPECT_NE(f.client().Get("/metrics")->body.find("dsv4_client_disconnects_total 1"), std::string::npos);
}

TEST(Server, ShutdownDrainsRunningRequestsAndRefusesNewOnes) {
  NEED_MODEL();
  ServerOptions o;
  Fixture f(o);
  std::atomic<bool> started{false}, stop{false};
  int status = 0;
  std::string body;
  std::thread t = long_request(f.server->port(), true, &started, &stop, &status, &body);
  ASSERT_TRUE(eventually([&] { return started.load(); }));
  std::thread down([&] { f.server->shutdown(0.3); });
  ASSERT_TRUE(eventually([&] { return f.client().Get("/health")->status == 503; }, 2s));
  auto h = f.client().Get("/health");
  if (h) EXPECT_EQ(Json::parse(h->body)["status"], "draining");
  down.join();
  t.join();
  EXPECT_EQ(status, 200);  // the running stream was ended (cancelled) and closed cleanly
  // ... with an error event saying why it stopped (not a normal finish).
  EXPECT_NE(body.find(R"("code":"server_shutting_down")"), std::string::npos) << body.substr(body.size() > 600 ? body.size() - 600 : 0);
  EXPECT_EQ(body.find(R"("finish_reason":"cancelled")"), std::string::npos);
  EXPECT_EQ(f.server->in_flight(), 0);
}

TEST(Server, AnthropicMessagesAndCountTokens) {
  NEED_MODEL();
  Fixture f(ServerOptions{});
  auto c = f.client();
  auto r = c.Post("/v1/messages", R"({"model":"test-model","max_tokens":4,"messages":[{"role":"user","content":"hi"}],"stream":true,"logit_bias":{"1":-100}})",
                  "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  std::vector<std::string> types;
  for (const auto& d : sse_data(r->body)) types.push_back(Json::parse(d)["type"]);
  ASSERT_GE(types.size(), 5u);
  EXPECT_EQ(types.front(), "message_start");
  EXPECT_EQ(types[1], "content_block_start");
  EXPECT_EQ(types[types.size() - 2], "message_delta");
  EXPECT_EQ(types.back(), "message_stop");
  auto n = c.Post("/v1/messages/count_tokens", R"({"messages":[{"role":"user","content":"hi"}]})", "application/json");
  ASSERT_EQ(n->status, 200);
  EXPECT_GT(Json::parse(n->body)["input_tokens"].get<int>(), 1);
}

TEST(Server, MetricsAreWellFormedPrometheusText) {
  NEED_MODEL();
  Fixture f(ServerOptions{});
  auto c = f.client();
  ASSERT_EQ(c.Post("/v1/completions", R"({"prompt":"abc","max_tokens":3})", "application/json")->status, 200);
  const std::string m = c.Get("/metrics")->body;
  for (const char* name : {"dsv4_requests_total{endpoint=\"/v1/completions\",status=\"200\"} 1", "dsv4_time_to_first_token_seconds_count 1",
                           "dsv4_completion_tokens_total 3", "dsv4_queue_depth 0", "dsv4_running_sequences 0"})
    EXPECT_NE(m.find(name), std::string::npos) << name << "\n" << m;
  // Every sample line belongs to a declared family.
  std::set<std::string> families;
  std::istringstream in(m);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) == 0) families.insert(line.substr(7, line.find(' ', 7) - 7));
    if (line.empty() || line[0] == '#') continue;
    std::string name = line.substr(0, line.find_first_of("{ "));
    for (const char* suffix : {"_bucket", "_sum", "_count"})
      if (name.size() > strlen(suffix) && name.ends_with(suffix) && families.count(name.substr(0, name.size() - strlen(suffix))))
        name = name.substr(0, name.size() - strlen(suffix));
    EXPECT_TRUE(families.count(name)) << line;
  }
}

}  // namespace
}  // namespace dsv4::server
