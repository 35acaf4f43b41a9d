// dsv4 make-model: writes a random checkpoint for a config in exactly the Hugging Face V4 layout
// (shards + model.safetensors.index.json + config.json + generation_config.json), for tests, the
// built-in default model, and (--preset flash-slice) real-size slices of V4-Flash for speed work.
// Tensors are generated and written one at a time, so memory stays at about the largest tensor.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/flash_slice.h"
#include "io/config.h"
#include "io/safetensors_writer.h"
#include "model/schema.h"
#include "model/schema_random_init.h"

namespace dsv4::cli {
namespace {
namespace fs = std::filesystem;

struct MakeModelArgs {
  std::string config;
  std::string preset;
  int layers = 2;
  std::string out;
  uint64_t seed = 0;
  double max_gib = 64;
  bool dry_run = false;
};

constexpr int64_t kGiB = int64_t{1} << 30;

Status write_text(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return error("{}: cannot create file", path.string());
  f << text;
  f.close();
  if (!f) return error("{}: write failed", path.string());
  return ok_status();
}

// The config.json text to build: the file given with --config, or the preset's.
Result<std::string> config_text(const MakeModelArgs& a) {
  if (a.config.empty() == a.preset.empty()) return error("give exactly one of --config and --preset");
  if (!a.preset.empty()) {
    if (a.preset != "flash-slice") return error("unknown preset '{}' (known: flash-slice)", a.preset);
    return flash_slice_config(a.layers);
  }
  const fs::path path = fs::is_directory(a.config) ? fs::path(a.config) / "config.json" : fs::path(a.config);
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("{}: cannot open config", path.string());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Status make_model(const MakeModelArgs& a) {
  const std::string label = a.preset.empty() ? a.config : "preset " + a.preset;
  DSV4_ASSIGN_OR_RETURN(const std::string text, config_text(a));
  DSV4_ASSIGN_OR_RETURN(ModelConfig cfg, parse_model_config(text, label));
  const std::vector<TensorSpec> specs = expected_tensors(cfg);
  int64_t total = 0;
  for (const TensorSpec& s : specs) total += s.nbytes();
  const std::vector<int> shard_of = checkpoint_shards(cfg, specs);
  if (a.dry_run) {
    fmt::print("{}", text);
    fmt::print(stderr, "make-model: would write {} tensors, {:.2f} GiB in {} shards\n", specs.size(),
               total / double(kGiB), shard_of.back() + 1);
    return ok_status();
  }
  // A guard against writing a whole real model by mistake (Flash is ~150 GB).
  if (total > a.max_gib * kGiB)
    return error("{}: the checkpoint would hold {:.1f} GiB, over the --max-gib limit of {} GiB", label,
                 total / double(kGiB), a.max_gib);
  std::error_code ec;
  fs::create_directories(a.out, ec);
  if (ec) return error("{}: cannot create directory: {}", a.out, ec.message());
  const fs::space_info space = fs::space(a.out, ec);
  if (!ec && static_cast<int64_t>(space.available) < total)
    return error("{}: the checkpoint needs {:.1f} GiB but only {:.1f} GiB are free", a.out, total / double(kGiB),
                 space.available / double(kGiB));

  RandomTensorSource source(cfg, a.seed);
  std::vector<TensorMeta> metas;
  metas.reserve(specs.size());
  for (const TensorSpec& s : specs) metas.push_back({s.name, s.dtype, s.shape});
  DSV4_TRY(write_sharded_safetensors_streaming(a.out, metas, shard_of,
                                               [&](size_t i) -> Result<std::vector<uint8_t>> { return source.take(i); }));
  DSV4_TRY(write_text(fs::path(a.out) / "config.json", text));
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
  cmd->add_option("--config", args->config, "config.json to build the model for");
  cmd->add_option("--preset", args->preset,
                  "built-in config instead of --config: flash-slice (V4-Flash dimensions, --layers main layers)");
  cmd->add_option("--layers", args->layers, "main layers of the flash-slice preset (default 2)");
  cmd->add_option("--out", args->out, "output directory (created if needed)");
  cmd->add_option("--seed", args->seed, "random seed (same seed, same bytes)");
  cmd->add_option("--max-gib", args->max_gib, "refuse checkpoints larger than this (default 64 GiB)");
  cmd->add_flag("--dry-run", args->dry_run, "print the config.json it would write (and a size line on stderr); write nothing");
  cmd->callback([rc, args] {
    if (!args->dry_run && args->out.empty()) {
      *rc = fail("make-model", "--out is required");
      return;
    }
    Status st = make_model(*args);
    if (!st.ok()) {
      *rc = fail("make-model", one_line(st.message()));
      return;
    }
    if (!args->dry_run) fmt::print("wrote {}\n", args->out);
    *rc = 0;
  });
}

}  // namespace dsv4::cli
