// dsv4 info: what a config or checkpoint is (dimensions, per-layer kinds), how big it is
// (parameters total / active / MTP, tensors by dtype, KV-cache bytes per token), and, with -m,
// whether the checkpoint matches the schema of its config.
#include <map>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/memory_budget.h"
#include "dist/layout.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "model/memory_plan.h"
#include "model/schema.h"
#include "model/schema_summary.h"

namespace dsv4::cli {
namespace {

struct InfoArgs {
  std::string model_dir;
  std::string config;
  bool json = false;
  // The memory plan (--ctx): as `dsv4 serve` would run with these options.
  int64_t ctx = 0;
  int64_t parallel = 1;
  int64_t step_tokens = 256;
  int64_t cache_ram = 2ll << 30;
  bool no_mtp = false;
  int64_t memory_budget = -1;  // -1: no verdict
  int pp = 1, ep = 1;          // a distributed layout to plan (per-rank weights and memory)
  std::string split;
};

struct DtypeTally {
  int64_t count = 0;
  int64_t bytes = 0;
};

// 284332240471 -> "284.3B", 1572997201763 -> "1573B", 9715752 -> "9.7M".
std::string human_count(double n) {
  if (n >= 1e12) return fmt::format("{:.0f}B", n / 1e9);
  if (n >= 1e9) return fmt::format("{:.1f}B", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.1f}M", n / 1e6);
  if (n >= 1e3) return fmt::format("{:.1f}K", n / 1e3);
  return fmt::format("{:.0f}", n);
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

void print_text(const std::string& source, const ModelConfig& c, const ParamCounts& p, const KvCacheSize& kv,
                const std::map<std::string, DtypeTally>& tally, const std::string& tally_source) {
  fmt::print("source      {}\n", source);
  fmt::print("model       {} ({}), vocab {}, hidden {}, {} layers + {} MTP\n", c.model_type,
             c.architectures.empty() ? "-" : c.architectures[0], c.vocab_size, c.hidden_size, c.num_hidden_layers,
             c.num_nextn_predict_layers);
  fmt::print("attention   {} heads x {} (rope {}), 1 KV head, q_lora {}, o_groups {} x o_lora {}, window {}\n",
             c.num_attention_heads, c.head_dim, c.qk_rope_head_dim, c.q_lora_rank, c.o_groups, c.o_lora_rank,
             c.sliding_window);
  fmt::print("indexer     {} heads x {}, top-k {}; rope theta {} / compressed {} (yarn x{} from {})\n",
             c.index_n_heads, c.index_head_dim, c.index_topk, c.rope_theta, c.compress_rope_theta, c.rope_factor,
             c.original_max_position_embeddings);
  fmt::print("moe         {} routed experts ({} per token, inter {}, {}) + {} shared, {} hash layers, {} x{}\n",
             c.n_routed_experts, c.num_experts_per_tok, c.moe_intermediate_size, c.expert_dtype, c.n_shared_experts,
             c.num_hash_layers, c.scoring_func, c.routed_scaling_factor);
  fmt::print("hc          {} streams, {} sinkhorn iterations\n", c.hc_mult, c.hc_sinkhorn_iters);
  fmt::print("layers      (index, compress ratio, attention, routing)\n");
  for (const LayerSpec& l : c.layers())
    fmt::print("  {:>4} {:>5}  {:<6} {}{}\n", l.index, l.compress_ratio, attn_kind_name(l.attn), route_kind_name(l.route),
               l.is_mtp ? "  (MTP)" : "");
  fmt::print("parameters  total {} ({} with MTP), active {} per token (embedding excluded), MTP {} ({} active)\n",
             human_count(p.total), human_count(p.total + p.mtp), human_count(p.active), human_count(p.mtp),
             human_count(p.mtp_active));
  fmt::print("            exact: total {}, active {}, embedding {}, mtp {}, mtp active {}\n", p.total, p.active,
             p.embedding, p.mtp, p.mtp_active);
  int64_t n = 0, bytes = 0;
  for (const auto& [dt, t] : tally) n += t.count, bytes += t.bytes;
  fmt::print("tensors     {} tensors, {} bytes ({}), from the {}\n", n, bytes, human_bytes(bytes), tally_source);
  for (const auto& [dt, t] : tally)
    fmt::print("  {:<8} {:>7} tensors {:>16} bytes ({})\n", dt, t.count, t.bytes, human_bytes(t.bytes));
  fmt::print("kv cache    {:g} B/token as dsv4 stores it: packed compressed main KV rows of CSA/HCA layers (FP8 + "
             "UE8M0 per 64, bf16 RoPE part) + packed indexer keys of CSA layers (FP4 + UE8M0 per 32)\n",
             kv.packed_bytes_per_token);
  fmt::print("            {:g} B/token in the reference's bf16 layout\n", kv.bf16_bytes_per_token);
  fmt::print("            window rings (fixed, every layer incl. MTP, bf16): {} bytes ({})\n", kv.window_ring_bytes,
             human_bytes(kv.window_ring_bytes));
}

nlohmann::json to_json(const std::string& source, const ModelConfig& c, const ParamCounts& p, const KvCacheSize& kv,
                       const std::map<std::string, DtypeTally>& tally, const std::string& tally_source) {
  nlohmann::json j;
  j["source"] = source;
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_mtp_layers"] = c.num_nextn_predict_layers;
  j["params_total"] = p.total;
  j["params_active"] = p.active;
  j["params_embedding"] = p.embedding;
  j["params_mtp"] = p.mtp;
  j["params_mtp_active"] = p.mtp_active;
  j["kv_bytes_per_token"] = kv.bf16_bytes_per_token;
  j["kv_layout"] = "bf16 compressed main KV rows (CSA/HCA) + bf16 indexer keys (CSA); window rings excluded";
  j["kv_packed_bytes_per_token"] = kv.packed_bytes_per_token;
  j["kv_window_ring_bytes"] = kv.window_ring_bytes;
  nlohmann::json by_dtype = nlohmann::json::object();
  int64_t n = 0, bytes = 0;
  for (const auto& [dt, t] : tally) {
    by_dtype[dt] = {{"count", t.count}, {"bytes", t.bytes}};
    n += t.count;
    bytes += t.bytes;
  }
  j["tensors"] = {{"source", tally_source}, {"count", n}, {"bytes", bytes}, {"by_dtype", by_dtype}};
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerSpec& l : c.layers())
    layers.push_back({{"index", l.index},
                      {"compress_ratio", l.compress_ratio},
                      {"attention", attn_kind_name(l.attn)},
                      {"routing", route_kind_name(l.route)},
                      {"mtp", l.is_mtp}});
  j["layers"] = layers;
  return j;
}

nlohmann::json plan_json(const ModelConfig& cfg, const MemoryPlan& p, int64_t budget) {
  const KvComparison k = kv_comparison(cfg, p.in.ctx);
  nlohmann::json j = {{"ctx", p.in.ctx},
                      {"parallel", p.in.parallel},
                      {"step_tokens", p.in.step_tokens},
                      {"window_ring_bytes", p.seq.ring},
                      {"compressor_state_bytes", p.seq.compressor},
                      {"kv_bytes", p.seq.kv},
                      {"mtp_mark_bytes", p.mark},
                      {"growth_slack_bytes", p.growth_slack},
                      {"per_sequence_bytes", p.per_sequence},
                      {"sequences_bytes", p.sequences},
                      {"weights_mapped_bytes", p.weights_mapped},
                      {"activation_bytes", p.activations},
                      {"attention_scratch_bytes", p.attention_scratch},
                      {"prefix_cache_bytes", p.prefix_cache},
                      {"total_bytes", p.total},
                      {"kv_comparison",
                       {{"layers", k.layers},
                        {"v4_bf16", k.v4_bf16},
                        {"v4_packed", k.v4_packed},
                        {"v3_mla_bf16", k.mla_bf16},
                        {"v32_bf16", k.v32_bf16},
                        {"v32_fp8", k.v32_fp8}}}};
  if (budget >= 0) {
    j["budget_bytes"] = budget;
    j["fits"] = p.total <= budget;
    j["largest_ctx"] = largest_ctx_within(cfg, p.in, budget);
    j["largest_parallel"] = largest_parallel_within(cfg, p.in, budget, 256);
  }
  return j;
}

// The config of one pipeline stage's layers [a, b) (plus the MTP block on stage 0): what its
// sequences hold there.
ModelConfig stage_config(const ModelConfig& c, int a, int b, bool ends) {
  ModelConfig s = c;
  s.compress_ratios.assign(c.compress_ratios.begin() + a, c.compress_ratios.begin() + b);
  if (ends) s.compress_ratios.insert(s.compress_ratios.end(), c.compress_ratios.begin() + c.num_hidden_layers, c.compress_ratios.end());
  s.num_hidden_layers = b - a;
  if (!ends) s.num_nextn_predict_layers = 0;
  return s;
}

// `dsv4 info --pp P --ep E [--ctx N]`: each rank's weights and, with --ctx, its memory plan.
Status print_layout_plan(const ModelConfig& cfg, const InfoArgs& a) {
  DSV4_ASSIGN_OR_RETURN(dist::Layout lo, dist::make_layout(cfg, a.pp, a.ep, a.split));
  fmt::print("layout --pp {} --ep {} ({} ranks; mpirun -np {}):\n{}", a.pp, a.ep, lo.ranks(), lo.ranks(), lo.describe());
  fmt::print("  {:>4} {:>5} {:>10} {:>12}{}\n", "rank", "stage", "layers", "weights",
             a.ctx > 0 ? fmt::format(" {:>14} {:>12}", "per sequence", "plan total") : "");
  int64_t largest = 0;
  for (int r = 0; r < lo.ranks(); ++r) {
    const model::Placement p = lo.placement(r);
    const int s = lo.stage_of(r);
    const int64_t w = dist::placement_bytes(cfg, p);
    std::string plan;
    int64_t total = w;
    if (a.ctx > 0) {
      // Sequences live on each stage's leader (its layers' rows); expert-only members hold none.
      MemoryPlanInput in;
      in.ctx = a.ctx;
      in.parallel = p.owns_attention ? a.parallel : 0;
      in.step_tokens = a.step_tokens;
      in.speculative = !a.no_mtp && s == 0;
      in.checkpoint_bytes = w;
      in.prefix_cache_bytes = p.owns_attention ? a.cache_ram : 0;  // cached states pin rows on every stage
      const MemoryPlan mp = plan_memory(stage_config(cfg, p.layer_begin, p.layer_end, p.owns_ends), in);
      total = mp.total;
      plan = fmt::format(" {:>14} {:>12}", p.owns_attention ? human_bytes(static_cast<double>(mp.per_sequence)) : "-", human_bytes(static_cast<double>(mp.total)));
    }
    largest = std::max(largest, total);
    fmt::print("  {:>4} {:>5} {:>10} {:>12}{}\n", r, s, fmt::format("{}-{}", p.layer_begin, p.layer_end - 1),
               human_bytes(w), plan);
  }
  fmt::print("  largest rank needs {}{}\n", human_bytes(largest),
             a.memory_budget >= 0 ? fmt::format(": {} --memory-budget {}", largest <= a.memory_budget ? "fits" : "EXCEEDS",
                                                human_bytes(a.memory_budget))
                                  : "");
  return ok_status();
}

Status run_info(const InfoArgs& a) {
  if (a.model_dir.empty() == a.config.empty()) return error("give exactly one of -m DIR or --config FILE");
  const std::string source = a.model_dir.empty() ? a.config : a.model_dir;
  DSV4_ASSIGN_OR_RETURN(ModelConfig cfg, load_model_config(source));
  std::map<std::string, DtypeTally> tally;
  std::string tally_source;
  if (!a.model_dir.empty()) {
    DSV4_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ck, Checkpoint::open(a.model_dir));
    DSV4_TRY(check_checkpoint(cfg, *ck));
    for (const TensorInfo* t : ck->tensors()) {
      auto& e = tally[t->ggml ? fmt::format("{} (ggml)", ggml_type_name(*t->ggml)) : std::string(dtype_name(t->dtype))];
      e.count++;
      e.bytes += static_cast<int64_t>(t->nbytes());
    }
    tally_source = ck->format() == "gguf" ? "GGUF file as the engine runs it (matches the schema of its config)"
                                          : "checkpoint (matches the schema of its config)";
    for (const std::string& n : ck->notes) fmt::print(stderr, "note: {}\n", n);
  } else {
    for (const TensorSpec& s : expected_tensors(cfg)) {
      auto& e = tally[std::string(dtype_name(s.dtype))];
      e.count++;
      e.bytes += s.nbytes();
    }
    tally_source = "expected tensors of the config";
  }
  const ParamCounts p = count_params(cfg);
  const KvCacheSize kv = kv_cache_size(cfg);
  if (a.ctx <= 0 && a.memory_budget >= 0) return error("--memory-budget needs --ctx");
  if (a.ctx > cfg.max_position_embeddings)
    return error("--ctx {} is more than the model's {} positions (max_position_embeddings)", a.ctx, cfg.max_position_embeddings);
  std::optional<MemoryPlan> plan;
  if (a.ctx > 0) {
    MemoryPlanInput in;
    in.ctx = a.ctx;
    in.parallel = a.parallel;
    in.step_tokens = a.step_tokens;
    in.speculative = !a.no_mtp;
    int64_t weights = 0;
    for (const auto& [dt, t] : tally) weights += t.bytes;
    in.checkpoint_bytes = weights;
    in.prefix_cache_bytes = a.cache_ram;
    plan = plan_memory(cfg, in);
  }
  const std::string budget_source = "--memory-budget";
  if (a.json) {
    nlohmann::json j = to_json(source, cfg, p, kv, tally, tally_source);
    if (plan) j["memory_plan"] = plan_json(cfg, *plan, a.memory_budget);
    fmt::print("{}\n", j.dump());
    return ok_status();
  }
  if (a.pp > 1 || a.ep > 1 || !a.split.empty()) return print_layout_plan(cfg, a);
  print_text(source, cfg, p, kv, tally, tally_source);
  if (plan) {
    fmt::print("memory plan --ctx {} --parallel {} (packed FP8 / FP4 rows, as `dsv4 serve` holds them; docs/memory.md)\n", plan->in.ctx,
               plan->in.parallel);
    fmt::print("{}", plan_text(*plan));
    if (a.memory_budget >= 0) fmt::print("  budget            {}\n", verdict_text(cfg, *plan, a.memory_budget, budget_source));
    fmt::print("{}", kv_comparison_text(cfg, plan->in.ctx));
  }
  return ok_status();
}

}  // namespace

void add_info(CLI::App& app, int* rc) {
  auto args = std::make_shared<InfoArgs>();
  auto* cmd = app.add_subcommand("info", "Summarize a config or checkpoint: layers, parameters, tensors, KV cache");
  cmd->add_option("-m,--model", args->model_dir, "checkpoint directory (config.json + shards); also checks it");
  cmd->add_option("--config", args->config, "config.json only (tensor inventory from the schema)");
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->add_option("--ctx", args->ctx, "also print the memory plan at this context (tokens per sequence) and the KV "
                                      "bytes at it in the bf16, packed and V3.2 layouts")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--parallel", args->parallel, "sequences of the plan (default 1; serve's --parallel)")->check(CLI::Range(1, 256));
  cmd->add_option("--step-tokens", args->step_tokens, "rows of one engine step (default 256)")->check(CLI::PositiveNumber);
  cmd->add_option("--cache-ram", args->cache_ram, "prefix cache RAM of the plan (default 2G, serve's)")
      ->transform(CLI::AsSizeValue(false));
  cmd->add_option("--pp", args->pp, "plan a distributed layout: pipeline stages (per-rank weights; with --ctx, memory)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--ep", args->ep, "plan a distributed layout: expert-parallel ranks per stage")->check(CLI::PositiveNumber);
  cmd->add_option("--pp-split", args->split, "layers per stage, comma separated (default: balanced by weight bytes)");
  cmd->add_flag("--no-mtp", args->no_mtp, "plan without the MTP rollback marks");
  cmd->add_option("--memory-budget", args->memory_budget, "say whether the plan fits in this many bytes, e.g. 200G, "
                                                         "and the largest --ctx / --parallel that do")
      ->transform(CLI::AsSizeValue(false));
  cmd->callback([rc, args] {
    Status st = run_info(*args);
    *rc = st.ok() ? 0 : fail("info", one_line(st.message()));
  });
}

}  // namespace dsv4::cli
