// dsv4 info: what a config or checkpoint is (dimensions, per-layer kinds), how big it is
// (parameters total / active / MTP, tensors by dtype, KV-cache bytes per token), and, with -m,
// whether the checkpoint matches the schema of its config.
#include <map>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "model/schema.h"
#include "model/schema_summary.h"

namespace dsv4::cli {
namespace {

struct InfoArgs {
  std::string model_dir;
  std::string config;
  bool json = false;
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

std::string human_bytes(double b) {
  if (b >= 1024.0 * 1024 * 1024) return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
  if (b >= 1024.0 * 1024) return fmt::format("{:.2f} MiB", b / (1024.0 * 1024));
  if (b >= 1024.0) return fmt::format("{:.2f} KiB", b / 1024.0);
  return fmt::format("{:.0f} B", b);
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
  fmt::print("kv cache    {:g} B/token: bf16 compressed main KV rows of CSA/HCA layers + bf16 indexer keys of CSA "
             "layers (reference layout)\n",
             kv.bf16_bytes_per_token);
  fmt::print("            {:g} B/token packed (FP8 main rows 584-style, FP4 indexer keys)\n", kv.packed_bytes_per_token);
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
      auto& e = tally[std::string(dtype_name(t->dtype))];
      e.count++;
      e.bytes += static_cast<int64_t>(t->nbytes());
    }
    tally_source = "checkpoint (matches the schema of its config)";
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
  if (a.json)
    fmt::print("{}\n", to_json(source, cfg, p, kv, tally, tally_source).dump());
  else
    print_text(source, cfg, p, kv, tally, tally_source);
  return ok_status();
}

}  // namespace

void add_info(CLI::App& app, int* rc) {
  auto args = std::make_shared<InfoArgs>();
  auto* cmd = app.add_subcommand("info", "Summarize a config or checkpoint: layers, parameters, tensors, KV cache");
  cmd->add_option("-m,--model", args->model_dir, "checkpoint directory (config.json + shards); also checks it");
  cmd->add_option("--config", args->config, "config.json only (tensor inventory from the schema)");
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([rc, args] {
    Status st = run_info(*args);
    *rc = st.ok() ? 0 : fail("info", one_line(st.message()));
  });
}

}  // namespace dsv4::cli
