// dsv4 make-model: writes a random checkpoint for a config in exactly the Hugging Face V4 layout
// (2 shards + model.safetensors.index.json + config.json), for tests and the built-in default model.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "io/config.h"
#include "io/safetensors_writer.h"
#include "model/schema.h"
#include "model/schema_random_init.h"

namespace dsv4::cli {
namespace {
namespace fs = std::filesystem;

struct MakeModelArgs {
  std::string config;
  std::string out;
  uint64_t seed = 0;
};

Status write_text(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return error("{}: cannot create file", path.string());
  f << text;
  f.close();
  if (!f) return error("{}: write failed", path.string());
  return ok_status();
}

Status make_model(const MakeModelArgs& a) {
  DSV4_ASSIGN_OR_RETURN(ModelConfig cfg, load_model_config(a.config));
  const fs::path config_path = fs::is_directory(a.config) ? fs::path(a.config) / "config.json" : fs::path(a.config);
  std::ifstream in(config_path, std::ios::binary);
  if (!in) return error("{}: cannot open config", config_path.string());
  std::stringstream config_text;
  config_text << in.rdbuf();

  // The whole model is built in memory: refuse real-model sizes instead of exhausting RAM.
  const std::vector<TensorSpec> specs = expected_tensors(cfg);
  int64_t total_bytes = 0;
  for (const TensorSpec& s : specs) total_bytes += s.nbytes();
  constexpr int64_t kMaxBytes = int64_t{4} << 30;
  if (total_bytes > kMaxBytes)
    return error("{}: the checkpoint would hold {:.1f} GiB; make-model builds small test models only (limit 4 GiB)",
                 a.config, total_bytes / double(int64_t{1} << 30));
  std::vector<TensorBlob> blobs = random_checkpoint_tensors(cfg, a.seed);
  // Shard layout of the golden checkpoints: the embedding and the first half of the layers in
  // shard 1; the other layers, the MTP block, the head, final norm and HC head in shard 2.
  std::vector<int> shard_of(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorSpec& s = specs[i];
    const bool first = s.name == "embed.weight" || (s.layer >= 0 && !s.is_mtp && s.layer < cfg.num_hidden_layers / 2);
    shard_of[i] = first ? 0 : 1;
  }
  DSV4_TRY(write_sharded_safetensors(a.out, blobs, shard_of));
  DSV4_TRY(write_text(fs::path(a.out) / "config.json", config_text.str()));
  // generation_config.json as shipped with the real models (§4.1, §6).
  DSV4_TRY(write_text(fs::path(a.out) / "generation_config.json",
                      fmt::format("{{\n  \"bos_token_id\": {},\n  \"eos_token_id\": {},\n  \"do_sample\": true,\n"
                                  "  \"temperature\": 1.0,\n  \"top_p\": 1.0\n}}\n",
                                  cfg.bos_token_id, cfg.eos_token_id)));
  return ok_status();
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

void add_make_model(CLI::App& app, int* rc) {
  auto args = std::make_shared<MakeModelArgs>();
  auto* cmd = app.add_subcommand("make-model", "Write a random checkpoint (HF V4 layout) for a config");
  cmd->add_option("--config", args->config, "config.json to build the model for")->required();
  cmd->add_option("--out", args->out, "output directory (created if needed)")->required();
  cmd->add_option("--seed", args->seed, "random seed (same seed, same bytes)");
  cmd->callback([rc, args] {
    Status st = make_model(*args);
    if (!st.ok()) {
      *rc = fail("make-model", one_line(st.message()));
      return;
    }
    fmt::print("wrote {}\n", args->out);
    *rc = 0;
  });
}

}  // namespace dsv4::cli
