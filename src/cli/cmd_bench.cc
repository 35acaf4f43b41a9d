// dsv4 bench: speed of a model against this machine's own limits, in one run.
//   (a) the machine: DRAM read bandwidth (our streaming kernel) and a bf16 GEMM rate (oneDNN);
//   (b) the model: prefill and decode tokens/s through model::Model::forward;
//   (c) the yardsticks from the config: bytes read per decoded token, FLOPs per prefilled token;
// then achieved GB/s and GFLOP/s as fractions of (a), a per-op profile of each phase, and a last
// line `decode_tps=... prefill_tps=... decode_bw_fraction=... prefill_peak_fraction=...`.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "base/thread_pool.h"
#include "cli/bench_memory.h"
#include "cli/bench_model.h"
#include "cli/bench_onednn.h"
#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/dist_cli.h"
#include "cli/loaded_model.h"
#include "model/memory_plan.h"
#include "model/schema_cost.h"
#ifdef DSV4_HAVE_OPENMP
#include <omp.h>
#endif

namespace dsv4::cli {
namespace {

struct BenchOptions {
  std::string model_dir;
  ModelBenchOptions run;
  int threads = 0;
  int64_t bw_mb = 2048;
  int reps = 5;
  int64_t gemm_m = 512, gemm_n = 4096, gemm_k = 4096;
  bool warm = true;
  std::vector<int64_t> ctx;  // one: decode starts there (filled for real); several: the sweep
  bool synthetic = false;
  dist::DistOptions dist;
};

// A scope's ms per token in a phase's profile (0 when absent).
double scope_ms_per_token(const PhaseTiming& t, const char* name) {
  double s = 0;
  for (const profile::Entry& e : t.profile)
    if (e.name == name) s += e.seconds;
  return t.tokens > 0 ? s * 1e3 / static_cast<double>(t.tokens) : 0;
}

// Kernel threads: the engine's pool, and OpenMP's (oneDNN's runtime).
void set_threads(int n) {
  set_num_threads(n);
#ifdef DSV4_HAVE_OPENMP
  omp_set_num_threads(n);
#endif
}

void print_profile(const char* phase, const PhaseTiming& t) {
  if (t.profile.empty()) return;
  fmt::print("profile {} ({} tokens, {:.1f} ms; inclusive, nested scopes indented):\n", phase, t.tokens,
             t.seconds * 1e3);
  fmt::print("  {:<44} {:>9} {:>11} {:>12} {:>7}\n", "scope", "calls", "total ms", "ms/token", "share");
  double top = 0;
  for (const profile::Entry& e : t.profile) {
    if (e.depth == 0) top += e.seconds;
    fmt::print("  {:<44} {:>9} {:>11.2f} {:>12.3f} {:>6.1f}%\n", std::string(2 * e.depth, ' ') + e.name, e.calls,
               e.seconds * 1e3, e.seconds * 1e3 / t.tokens, 100 * e.seconds / t.seconds);
  }
  const double rest = std::max(0.0, t.seconds - top);
  fmt::print("  {:<44} {:>9} {:>11.2f} {:>12.3f} {:>6.1f}%\n", "(not instrumented: attention, head, ...)", "",
             rest * 1e3, rest * 1e3 / t.tokens, 100 * rest / t.seconds);
}

int bench(BenchOptions o) {
  if (o.ctx.size() == 1 && !o.synthetic) o.run.ctx = o.ctx[0];
  else o.run.sweep = o.ctx;
  std::sort(o.run.sweep.begin(), o.run.sweep.end());
  int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (o.run.prompt < 1) return fail("bench", "--prompt must be >= 1");
  if (o.run.gen < 1) return fail("bench", "--gen must be >= 1");
  if (o.run.chunk < 1) return fail("bench", "--chunk must be >= 1");
  if (o.bw_mb < 1) return fail("bench", "--bw-mb must be >= 1");
  if (o.reps < 1) return fail("bench", "--reps must be >= 1");
  if (o.gemm_m < 1 || o.gemm_n < 1 || o.gemm_k < 1) return fail("bench", "--gemm-m/n/k must be >= 1");
  const std::string dir = o.model_dir.empty() ? default_model_dir() : o.model_dir;
  // Distributed: every rank loads (and warms) its part first; ranks other than 0 then serve the
  // timed runs of rank 0 and exit. Several ranks on one machine share its cores.
  std::optional<LoadedModel> lm;
  if (o.dist.requested() && !o.run.sweep.empty())
    return fail("bench", "the --ctx sweep fills synthetic rows in this process only: run it without --pp / --ep");
  if (o.dist.requested() || std::getenv("OMPI_COMM_WORLD_SIZE")) {
    o.dist.warm_pages = o.warm;
    auto r = load_model_dir(dir, o.dist);
    if (!r.ok()) return fail("bench", r.message());
    if (r->worker_rc) return *r->worker_rc;
    lm = std::move(*r);
    if (o.threads <= 0) threads = num_threads();
  }
  set_threads(threads);

  // (a) The machine.
  const BandwidthResult bw = measure_read_bandwidth(o.bw_mb << 20, threads, o.reps);
  fmt::print("memory: read {:.2f} GB/s ({} MiB buffer, {} threads, {} loads, best of {})\n", bw.gb_per_s,
             bw.bytes >> 20, bw.threads, bw.kernel, o.reps);
  // The GEMM peak is oneDNN's bf16 matmul; where oneDNN has no bf16 kernel for this CPU (its bf16
  // matmul needs AVX512-BF16 / AMX; on AVX2 it is "unimplemented"), its f32 matmul stands in and
  // the line says so.
  double peak_gflops = NAN;
  const char* peak_kind = "none";
  const auto bf16 = onednn_matmul_gflops(o.gemm_m, o.gemm_n, o.gemm_k, threads, o.reps, true);
  const auto f32 = onednn_matmul_gflops(o.gemm_m, o.gemm_n, o.gemm_k, threads, o.reps, false);
  if (bf16.ok())
    fmt::print("gemm: oneDNN bf16 x bf16 -> f32 {}x{}x{}: {:.1f} GFLOP/s ({})\n", o.gemm_m, o.gemm_n, o.gemm_k,
               bf16->gflops, bf16->impl);
  else
    fmt::print("gemm: oneDNN bf16 x bf16 -> f32 unavailable: {}\n", bf16.message());
  if (f32.ok())
    fmt::print("gemm: oneDNN f32 {}x{}x{}: {:.1f} GFLOP/s ({})\n", o.gemm_m, o.gemm_n, o.gemm_k, f32->gflops,
               f32->impl);
  if (bf16.ok()) {
    peak_gflops = bf16->gflops;
    peak_kind = "bf16";
  } else if (f32.ok()) {
    peak_gflops = f32->gflops;
    peak_kind = "f32 (no bf16 matmul here)";
  }
  fmt::print("gemm peak used: {}\n", peak_kind);

  // (b) The model.
  std::unique_ptr<model::Model> loaded;
  if (!lm) {
    auto model = model::Model::load(dir);
    if (!model.ok()) return fail("bench", model.message());
    loaded = std::move(*model);
  }
  const model::Model& m = lm ? *lm->model : *loaded;
  const ModelConfig& cfg = m.config();
  fmt::print("model: {} ({} layers + {} MTP, hidden {}, {} experts of {}, {} per token, vocab {})\n", dir,
             cfg.num_hidden_layers, cfg.num_nextn_predict_layers, cfg.hidden_size, cfg.n_routed_experts,
             cfg.moe_intermediate_size, cfg.num_experts_per_tok, cfg.vocab_size);
  if (o.warm && !lm) {
    const auto t0 = std::chrono::steady_clock::now();
    auto bytes = warm_page_cache(dir);
    if (!bytes.ok()) return fail("bench", bytes.message());
    fmt::print("page cache: read {:.2f} GiB of shards in {:.1f} s\n", *bytes / double(1 << 30),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (lm && lm->dist) {
    fmt::print("dist: {} ranks, {} threads each; this rank holds {:.1f} MiB of weights\n{}",
               lm->dist->layout().ranks(), threads, lm->dist->placement_bytes() / double(1 << 20),
               lm->dist->layout().describe());
    lm->dist->comm()->reset_counters();
  }
  auto timing = time_model(m, o.run);
  if (!timing.ok()) return fail("bench", timing.message());

  // (c) Yardsticks, and the achieved fractions.
  const int64_t decode_ctx = timing->decode_ctx0 + o.run.gen / 2;  // mean context over the decode
  const DecodeBytes db = decode_bytes_per_token(cfg, decode_ctx);
  const PrefillFlops pf = prefill_flops_per_token(cfg, o.run.prompt);
  fmt::print("cost: decode reads {:.4f} GB/token (weights {:.4f}, KV {:.4f} at ctx {}); prefill {:.3f} GFLOP/token "
             "(linear {:.3f}, attention {:.3f}) over {} tokens\n",
             db.total() / 1e9, db.weights / 1e9, db.kv / 1e9, decode_ctx, pf.total() / 1e9, pf.linear / 1e9,
             pf.attention / 1e9, o.run.prompt);
  const double prefill_tps = timing->prefill.tokens_per_s(), decode_tps = timing->decode.tokens_per_s();
  const double decode_gbs = db.total() * decode_tps / 1e9, prefill_gflops = pf.total() * prefill_tps / 1e9;
  const double bw_fraction = decode_gbs / bw.gb_per_s, peak_fraction = prefill_gflops / peak_gflops;
  fmt::print("prefill: {} tokens in {:.3f} s = {:.2f} tok/s -> {:.2f} GFLOP/s = {:.4f} of the GEMM peak\n",
             timing->prefill.tokens, timing->prefill.seconds, prefill_tps, prefill_gflops, peak_fraction);
  fmt::print("decode: {} tokens in {:.3f} s = {:.3f} tok/s -> {:.3f} GB/s = {:.4f} of the read bandwidth\n",
             timing->decode.tokens, timing->decode.seconds, decode_tps, decode_gbs, bw_fraction);
  if (lm && lm->dist) {
    const dist::Traffic t = lm->dist->traffic();
    const int64_t fed = timing->prefill.tokens + timing->decode.tokens + timing->decode_ctx0 - o.run.prompt;
    fmt::print("dist: sent {} bytes in {} messages over the timed runs and their fill; {:.0f} bytes per token fed "
               "(floor {:.0f})\n",
               t.bytes, t.messages, fed > 0 ? static_cast<double>(t.bytes) / fed : 0.0,
               comm_floor_bytes_per_token(cfg, lm->dist->layout()));
  }
  print_profile("prefill", timing->prefill);
  print_profile("decode", timing->decode);
  fmt::print("decode_tps={:.4g} prefill_tps={:.4g} decode_bw_fraction={:.4g} prefill_peak_fraction={:.4g}\n",
             decode_tps, prefill_tps, bw_fraction, peak_fraction);
  if (timing->sweep.empty()) return 0;

  // Decode cost vs context: the rows beyond the prompt are synthetic (valid packed values of the
  // right shape and number, not a real prompt's), since only what decode costs is measured.
  fmt::print("decode vs context (SYNTHETIC rows beyond the {}-token prompt; {} tokens decoded at each):\n", o.run.prompt,
             o.run.gen);
  std::string by_ctx;
  const double base = timing->sweep.front().decode.tokens_per_s();
  for (const auto& s : timing->sweep) {
    const double tps = s.decode.tokens_per_s();
    const DecodeBytes b = decode_bytes_per_token(cfg, s.ctx + o.run.gen / 2);
    const std::string ops = s.decode.profile.empty()
                                ? std::string()
                                : fmt::format("; indexer scores + top-k {:.2f} ms/token, attention core {:.2f} ms/token",
                                              scope_ms_per_token(s.decode, "attn.indexer_scores_topk"),
                                              scope_ms_per_token(s.decode, "attn.core"));
    fmt::print("  ctx {:>8}: {:8.3f} tok/s ({:.3f} of ctx {}), KV read {:.4f} GB/token{}; KV rows {:.1f} MiB (formula "
               "{:.1f}), resident +{:.1f} MiB\n",
               s.ctx, tps, base > 0 ? tps / base : 0, timing->sweep.front().ctx, b.kv / 1e9, ops, s.rows_bytes / 1048576.0,
               sequence_bytes(cfg, s.ctx).kv / 1048576.0, s.rss_growth / 1048576.0);
    by_ctx += fmt::format("{}{}:{:.4g}", by_ctx.empty() ? "" : ",", s.ctx, tps);
  }
  fmt::print("decode_tps_by_ctx={}\n", by_ctx);
  return 0;
}

}  // namespace

void add_bench(CLI::App& app, int* rc) {
  auto* cmd = app.add_subcommand("bench", "Measure prefill / decode speed against this machine's bandwidth and GEMM peak");
  auto o = std::make_shared<BenchOptions>();
  cmd->add_option("-m,--model", o->model_dir, "checkpoint directory (default: the built-in default model)");
  cmd->add_option("--prompt", o->run.prompt, "prompt tokens to prefill (timed; default 64)");
  cmd->add_option("--gen", o->run.gen, "tokens to decode (timed, greedy; default 16)");
  cmd->add_option("--ctx", o->ctx,
                  "context length decode starts from (filled untimed; default: --prompt); several (4096,65536,...): "
                  "decode at each, the rows beyond the prompt synthetic, last line decode_tps_by_ctx=...")
      ->delimiter(',');
  cmd->add_flag("--synthetic", o->synthetic, "fill the context synthetically even for one --ctx");
  cmd->add_option("--chunk", o->run.chunk, "prefill chunk size (default 256)");
  cmd->add_option("--threads", o->threads, "kernel threads (default: all hardware threads)");
  cmd->add_option("--bw-mb", o->bw_mb, "bandwidth buffer in MiB, far beyond the LLC (default 2048)");
  cmd->add_option("--reps", o->reps, "repetitions of the bandwidth and GEMM measurements, best kept (default 5)");
  cmd->add_option("--gemm-m", o->gemm_m, "GEMM reference rows (default 512)");
  cmd->add_option("--gemm-n", o->gemm_n, "GEMM reference columns (default 4096)");
  cmd->add_option("--gemm-k", o->gemm_k, "GEMM reference depth (default 4096)");
  add_dist_options(cmd, &o->dist);
  cmd->add_flag("--no-warm", [o](int64_t) { o->warm = false; }, "do not read the shards into the page cache first");
  cmd->add_flag("--no-profile", [o](int64_t) { o->run.profile = false; }, "no per-op profile");
  cmd->callback([rc, o] { *rc = bench(*o); });
}

}  // namespace dsv4::cli
