// `dsv4 serve`: the OpenAI / DeepSeek / Anthropic-compatible HTTP server. The port is bound
// before the model loads, so /health answers "loading" meanwhile; SIGINT / SIGTERM drain it.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "cache/prefix_cache.h"
#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/dist_cli.h"
#include "cli/loaded_model.h"
#include "cli/memory_budget.h"
#include "engine/engine.h"
#include "server/server.h"
#include "server/constraints.h"

namespace dsv4::cli {
namespace {

struct ServeOptions {
  std::string model_dir, model_name, default_mode = "thinking";
  server::ServerOptions http;
  int64_t ctx = 0;
  int64_t default_max_tokens = 4096;
  int step_tokens = 256;
  bool no_mtp = false;
  double grace_s = 30;
  dist::DistOptions dist;
  int64_t memory_budget = -1;  // -1: MemAvailable minus a margin; 0: no check
  cache::CacheOptions cache = [] {
    cache::CacheOptions c;
    c.ram_bytes = 2ull << 30;
    c.disk_bytes = 16ull << 30;
    return c;
  }();
};

// The memory plan of these options against the budget (docs/memory.md), before anything loads.
// Returns the engine's KV budget: what the budget leaves for sequences (0 = unlimited).
Result<int64_t> check_memory(const ServeOptions& o) {
  if (o.memory_budget == 0) return int64_t{0};
  const std::string dir = o.model_dir.empty() ? default_model_dir() : o.model_dir;
  DSV4_ASSIGN_OR_RETURN(ModelConfig cfg, load_model_config(dir));
  DSV4_ASSIGN_OR_RETURN(int64_t weights, checkpoint_file_bytes(dir));
  if (o.dist.requested()) {  // rank 0 maps only its part (the KV of every layer is counted: an upper bound)
    DSV4_ASSIGN_OR_RETURN(dist::Layout lo, dist::make_layout(cfg, o.dist.pp, o.dist.ep, o.dist.split));
    weights = dist::placement_bytes(cfg, lo.placement(0));
  }
  int64_t budget = o.memory_budget;
  std::string source = "--memory-budget";
  if (budget < 0) {
    DSV4_ASSIGN_OR_RETURN(int64_t avail, mem_available_bytes());
    const int64_t margin = default_budget_margin(avail);
    budget = std::max<int64_t>(0, avail - margin);
    source = fmt::format("MemAvailable {} minus a margin of {}; set --memory-budget to change", bytes_both(avail), bytes_both(margin));
  }
  MemoryPlanInput in;
  in.ctx = o.ctx > 0 ? std::min<int64_t>(o.ctx, cfg.max_position_embeddings) : cfg.max_position_embeddings;
  in.parallel = o.http.parallel;
  in.step_tokens = o.step_tokens;
  in.speculative = !o.no_mtp;
  in.checkpoint_bytes = weights;
  in.prefix_cache_bytes = static_cast<int64_t>(o.cache.ram_bytes);
  const MemoryPlan p = plan_memory(cfg, in);
  const std::string parts = fmt::format(
      "weights {} mapped, {} sequences x {} (KV {} at --ctx {} + rings / compressor state {} + MTP mark {} + "
      "growth slack {}), activations {}, attention scratch {}, prefix cache {}",
      bytes_both(p.weights_mapped), p.in.parallel, bytes_both(p.per_sequence), bytes_both(p.seq.kv),
      p.in.ctx, bytes_both(p.seq.fixed()), bytes_both(p.mark), bytes_both(p.growth_slack), bytes_both(p.activations),
      bytes_both(p.attention_scratch), bytes_both(p.prefix_cache));
  if (p.total > budget) return error("refusing to start: the memory plan {} ({})", verdict_text(cfg, p, budget, source), parts);
  fmt::print(stderr, "dsv4 serve: memory plan {} ({})\n", verdict_text(cfg, p, budget, source), parts);
  return budget - (p.total - p.sequences);
}

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

int serve(ServeOptions o) {
  // Signals are taken by sigwait() below: block them before any thread exists so every thread
  // inherits the mask. A peer that closes its socket must not kill the process (SIGPIPE).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (const char* k = std::getenv("DSV4_API_KEY"); k && o.http.api_key.empty()) o.http.api_key = k;
  if (!is_loopback(o.http.host) && o.http.api_key.empty())
    fmt::print(stderr, "dsv4 serve: warning: listening on {} without an API key: anyone who can reach this address can use the model "
                       "(set --api-key or DSV4_API_KEY)\n", o.http.host);

  // Distributed: every rank loads its part first; ranks other than 0 then serve rank 0's engine
  // steps until it stops (signals stay blocked there: mpirun's SIGTERM reaches rank 0, which
  // drains its requests and then stops the others). Only rank 0 listens.
  Result<LoadedModel> lm = error("not loaded");
  if (o.dist.requested()) {
    if (!o.cache.dir.empty() && o.dist.pp > 1)
      return fail("serve", "--cache-dir snapshots hold this process's layers only, so they cannot be used with --pp > 1 "
                           "(the RAM prefix cache works)");
    lm = load_model_dir(o.model_dir, o.dist);
    if (!lm.ok()) return fail("serve", lm.message());
    if (lm->worker_rc) return *lm->worker_rc;
  } else if (auto s = check_not_accidentally_parallel(o.dist); !s.ok()) {
    return fail("serve", s.message());
  }

  auto kv_budget = check_memory(o);
  if (!kv_budget.ok()) return fail("serve", kv_budget.message());

  server::Server srv(o.http);
  if (auto s = srv.start(); !s.ok()) return fail("serve", s.message());
  fmt::print(stderr, "dsv4 serve: listening on http://{}:{} ({})\n", o.http.host, srv.port(),
             lm.ok() ? fmt::format("{} ranks", lm->dist->layout().ranks()) : "loading the model");

  if (!lm.ok()) lm = load_model_dir(o.model_dir);
  if (!lm.ok()) {
    srv.shutdown(0);
    return fail("serve", lm.message());
  }
  if (!lm->tokenizer) {
    srv.shutdown(0);
    return fail("serve", fmt::format("no tokenizer.json in {}: the server needs one", lm->dir));
  }
  const auto& cfg = lm->model->config();
  engine::EngineOptions eo;
  eo.max_running = o.http.parallel;
  eo.step_tokens = o.step_tokens;
  eo.max_context = o.ctx > 0 ? std::min<int64_t>(o.ctx, cfg.max_position_embeddings) : cfg.max_position_embeddings;
  if (o.no_mtp) eo.speculative = 0;
  eo.kv_budget = *kv_budget;
  engine::Engine eng(*lm->model, &*lm->tokenizer, eo);

  std::unique_ptr<cache::PrefixCache> pc;
  if (o.cache.ram_bytes > 0 || !o.cache.dir.empty()) {
    auto c = cache::PrefixCache::open(*lm->model, o.cache, [](const std::string& m) { fmt::print(stderr, "dsv4 serve: {}\n", m); });
    if (!c.ok()) {
      srv.shutdown(0);
      return fail("serve", c.message());
    }
    pc = std::move(*c);
    const auto st = pc->stats();
    fmt::print(stderr, "dsv4 serve: prefix cache: {} MiB in RAM{}\n", o.cache.ram_bytes >> 20,
               o.cache.dir.empty() ? std::string()
                                   : fmt::format(", {} MiB on disk in {} ({} snapshots there{})", o.cache.disk_bytes >> 20,
                                                 o.cache.dir, st.disk.files, st.disk.writer ? "" : ", read-only"));
  }
  server::Backend b;
  b.engine = &eng;
  b.cache = pc.get();
  b.tokenizer = &*lm->tokenizer;
  b.vocab = server::make_vocabulary(*lm->tokenizer, static_cast<int32_t>(cfg.eos_token_id), cfg.vocab_size);
  b.model_id = !o.model_name.empty() ? o.model_name
               : o.model_dir.empty()  ? "dsv4-default"
                                      : std::filesystem::path(lm->dir).lexically_normal().filename().string();
  if (b.model_id.empty()) b.model_id = std::filesystem::path(lm->dir).parent_path().filename().string();
  if (o.model_name.empty() && b.model_id.size() > 5 && b.model_id.ends_with(".gguf"))
    b.model_id.resize(b.model_id.size() - 5);  // a GGUF file: its name without the extension
  b.max_context = eng.max_context();
  b.default_max_tokens = o.default_max_tokens;
  b.default_thinking = o.default_mode == "thinking";
  b.eos_id = static_cast<int32_t>(cfg.eos_token_id);
  srv.set_backend(&b);
  fmt::print(stderr, "dsv4 serve: ready: model '{}' ({}), context {} tokens, {} parallel + {} queued requests\n", b.model_id, lm->dir,
             b.max_context, o.http.parallel, o.http.queue);

  int sig = 0;
  sigwait(&set, &sig);
  fmt::print(stderr, "dsv4 serve: {} received: finishing {} running request(s) (up to {} s)\n", sig == SIGTERM ? "SIGTERM" : "SIGINT",
             srv.in_flight(), o.grace_s);
  srv.shutdown(o.grace_s);
  srv.wait();
  srv.set_backend(nullptr);
  if (pc) pc->flush_disk();  // the queued snapshot writes finish before exit
  fmt::print(stderr, "dsv4 serve: stopped\n");
  return 0;
}

}  // namespace

void add_serve(CLI::App& app, int* rc) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "OpenAI-, DeepSeek- and Anthropic-compatible HTTP server");
  cmd->add_option("-m,--model", o->model_dir, "checkpoint directory (default: the built-in default model)");
  cmd->add_option("--model-name", o->model_name, "model id clients use (default: the directory's name, or the .gguf file's without the extension)");
  cmd->add_option("--host", o->http.host, "address to bind (default 127.0.0.1)");
  cmd->add_option("--port", o->http.port, "port (default 8000; 0 = any free port)")->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", o->http.api_key, "require this key (Authorization: Bearer KEY or x-api-key; also DSV4_API_KEY)");
  cmd->add_option("--ctx", o->ctx, "context length in tokens (default: the model's)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--parallel", o->http.parallel, "requests decoded at once (default 8)")->check(CLI::Range(1, 256));
  cmd->add_option("--queue", o->http.queue, "requests that may wait beyond --parallel; more get 429 (default 64)")->check(CLI::Range(0, 100000));
  cmd->add_option("--max-body", o->http.max_body_bytes, "largest request body in bytes (default 32 MiB; larger: 413)");
  cmd->add_option("--timeout", o->http.request_timeout_s, "seconds a generation may run (default 600)")->check(CLI::PositiveNumber);
  cmd->add_option("--default-max-tokens", o->default_max_tokens, "max_tokens when a request gives none (default 4096)")->check(CLI::PositiveNumber);
  cmd->add_option("--default-mode", o->default_mode, "thinking or chat when a request does not say (default thinking)")
      ->check(CLI::IsMember({"thinking", "chat"}));
  cmd->add_option("--step-tokens", o->step_tokens, "token budget of one engine step (default 256)")->check(CLI::PositiveNumber);
  cmd->add_option("--keepalive", o->http.keepalive_s, "seconds between SSE keep-alive comments while nothing is sent (default 5)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--shutdown-grace", o->grace_s, "seconds SIGTERM waits for running requests (default 30)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--no-mtp", o->no_mtp, "no MTP speculative decoding");
  add_dist_options(cmd, &o->dist);
  cmd->add_option("--cache-ram", o->cache.ram_bytes, "prefix cache budget in RAM, e.g. 512M, 4G (default 2G; 0 = off)")
      ->transform(CLI::AsSizeValue(false));
  cmd->add_option("--memory-budget", o->memory_budget,
                  "bytes weights, sequences at --ctx x --parallel, scratch and the prefix cache may take, e.g. 200G; "
                  "the server refuses to start when the plan exceeds it (default: MemAvailable minus max(1G, 10 %); 0 = no check)")
      ->transform(CLI::AsSizeValue(false));
  cmd->add_option("--cache-dir", o->cache.dir, "keep prefix-cache snapshots in this directory too (survive restarts)");
  cmd->add_option("--cache-disk-budget", o->cache.disk_bytes, "bytes the cache directory may hold, e.g. 64G (default 16G)")
      ->transform(CLI::AsSizeValue(false));
  cmd->add_option("--cache-interval", o->cache.interval, "also snapshot every N prompt tokens (default 4096; 0 = only at the ends)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([o, rc] { *rc = serve(*o); });
}

}  // namespace dsv4::cli
