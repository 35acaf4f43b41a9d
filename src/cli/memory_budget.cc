#include "cli/memory_budget.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace dsv4::cli {
namespace {

std::string pct(int64_t a, int64_t b) { return b > 0 ? fmt::format("{:.1f} %", 100.0 * a / b) : "-"; }

}  // namespace

std::string human_bytes(double b) {
  if (b >= 1024.0 * 1024 * 1024) return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
  if (b >= 1024.0 * 1024) return fmt::format("{:.2f} MiB", b / (1024.0 * 1024));
  if (b >= 1024.0) return fmt::format("{:.2f} KiB", b / 1024.0);
  return fmt::format("{:.0f} B", b);
}

Result<int64_t> mem_available_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (in >> key >> kb) {
    std::getline(in, unit);
    if (key == "MemAvailable:") return kb * 1024;
  }
  return error("cannot read MemAvailable from /proc/meminfo: give --memory-budget");
}

int64_t default_budget_margin(int64_t available) { return std::max<int64_t>(int64_t{1} << 30, available / 10); }

Result<int64_t> checkpoint_file_bytes(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(dir, ec)) return static_cast<int64_t>(fs::file_size(dir));
  int64_t total = 0;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == ".safetensors") total += static_cast<int64_t>(e.file_size());
  if (ec) return error("cannot list {}: {}", dir, ec.message());
  return total;
}

std::string bytes_both(int64_t b) { return fmt::format("{} ({} B)", human_bytes(static_cast<double>(b)), b); }

std::string plan_text(const MemoryPlan& p) {
  std::ostringstream o;
  const auto& in = p.in;
  o << fmt::format("  per sequence      {:>12}  window rings {} + compressor state {} + KV rows at {} tokens {} + "
                   "MTP rollback mark {} + growth slack {}\n",
                   human_bytes(p.per_sequence), human_bytes(p.seq.ring), human_bytes(p.seq.compressor), in.ctx, human_bytes(p.seq.kv),
                   human_bytes(p.mark), human_bytes(p.growth_slack));
  o << fmt::format("  sequences         {:>12}  {} x per sequence (KV grows as tokens arrive: this is the ceiling)\n",
                   human_bytes(p.sequences), in.parallel);
  o << fmt::format("  weights           {:>12}  the checkpoint, mmapped (resident once paged in; nothing is copied at load)\n",
                   human_bytes(p.weights_mapped));
  o << fmt::format("  activations       {:>12}  one step of {} rows (estimate)\n", human_bytes(p.activations), in.step_tokens);
  o << fmt::format("  attention scratch {:>12}  one token at {} positions: indexer scores, key chunk, candidate rows, one "
                   "row block growing (estimate)\n",
                   human_bytes(p.attention_scratch), in.ctx);
  o << fmt::format("  prefix cache      {:>12}  --cache-ram\n", human_bytes(p.prefix_cache));
  o << fmt::format("  total             {:>12}  {} B\n", human_bytes(p.total), p.total);
  return o.str();
}

std::string kv_comparison_text(const ModelConfig& cfg, int64_t tokens) {
  const KvComparison k = kv_comparison(cfg, tokens);
  const double t = static_cast<double>(std::max<int64_t>(tokens, 1));
  std::ostringstream o;
  auto line = [&](const char* what, int64_t b, const std::string& note) {
    o << fmt::format("  {:<44} {:>12} {:>18} B {:>9.1f} B/token  {}\n", what, human_bytes(static_cast<double>(b)), b, b / t, note);
  };
  o << fmt::format("kv at {} tokens, one sequence, {} layers (compressed rows + indexer keys; window rings apart)\n",
                   tokens, k.layers);
  line("V4 bf16 (the reference's layout)", k.v4_bf16, "");
  line("V4 packed FP8 / FP4 (as dsv4 stores it)", k.v4_packed,
       fmt::format("main {} B + indexer {} B per row", packed_main_row_bytes(cfg), packed_index_row_bytes(cfg)));
  line("V3-style MLA, bf16, same depth", k.mla_bf16,
       fmt::format("(kv_lora_rank {} + rope {}) x 2 B per token per layer", kV32KvLoraRank, kV32RopeDim));
  line("V3.2 MLA + DSA indexer, bf16, same depth", k.v32_bf16,
       fmt::format("+ index key {} x 2 B per token per layer", kV32IndexDim));
  line("V3.2 FP8 deployment, same depth", k.v32_fp8,
       fmt::format("{} B MLA + {} B index key per token per layer", kV32Fp8EntryBytes, kV32Fp8IndexBytes));
  o << fmt::format("  ratios            V4 packed / V3.2 FP8 {}, V4 bf16 / V3.2 bf16 {}, V4 bf16 / V3 MLA bf16 {}",
                   pct(k.v4_packed, k.v32_fp8), pct(k.v4_bf16, k.v32_bf16), pct(k.v4_bf16, k.mla_bf16));
  if (k.layers != kV32Layers)
    o << fmt::format("; vs V3.2 itself ({} layers): packed / FP8 {}", kV32Layers,
                     pct(k.v4_packed, k.v32_fp8 / std::max<int64_t>(k.layers, 1) * kV32Layers));
  o << "\n";
  return o.str();
}

std::string verdict_text(const ModelConfig& cfg, const MemoryPlan& p, int64_t budget, const std::string& budget_source) {
  if (p.total <= budget)
    return fmt::format("fits: {} of the budget {} ({}), {} to spare", human_bytes(p.total), bytes_both(budget), budget_source,
                       human_bytes(budget - p.total));
  const int64_t ctx = largest_ctx_within(cfg, p.in, budget);
  const int64_t par = largest_parallel_within(cfg, p.in, budget, 256);
  std::string hint;
  if (ctx > 0) hint += fmt::format("the largest --ctx that fits at --parallel {} is {}", p.in.parallel, ctx);
  if (par > 0)
    hint += fmt::format("{}the largest --parallel that fits at --ctx {} is {}", hint.empty() ? "" : "; ", p.in.ctx, par);
  if (hint.empty()) {
    MemoryPlanInput none = p.in;
    none.parallel = 0;
    hint = fmt::format("not even one sequence fits: weights, scratch and the prefix cache (--cache-ram {}) alone take {}",
                       human_bytes(static_cast<double>(p.prefix_cache)), human_bytes(static_cast<double>(plan_memory(cfg, none).total)));
  }
  return fmt::format("does not fit: the plan needs {} but the budget is {} ({}), {} over; {}; or raise --memory-budget",
                     bytes_both(p.total), bytes_both(budget), budget_source, human_bytes(p.total - budget), hint);
}

}  // namespace dsv4::cli
