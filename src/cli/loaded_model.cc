#include "cli/loaded_model.h"

#include <filesystem>

#include "cli/default_model.h"
#include "cli/dist_cli.h"
#include "cli/gguf_tokenizer.h"
#include "io/gguf_checkpoint.h"

namespace dsv4::cli {

Result<LoadedModel> load_model_dir(const std::string& dir, const dist::DistOptions& d) {
  LoadedModel lm;
  lm.dir = dir.empty() ? default_model_dir() : dir;
  DSV4_TRY(check_not_accidentally_parallel(d));
  if (d.requested()) {
    dist::share_cores_between_local_ranks();
    DSV4_ASSIGN_OR_RETURN(lm.dist, dist::Session::start(lm.dir, d));
    if (!lm.dist->is_root()) {
      lm.worker_rc = lm.dist->serve();
      return lm;
    }
    lm.model = std::move(lm.dist->model());
  } else {
    DSV4_ASSIGN_OR_RETURN(lm.model, model::Model::load(lm.dir));
  }
  if (is_gguf_path(lm.dir)) {  // the file's own tokenizer.ggml.* keys
    DSV4_ASSIGN_OR_RETURN(auto f, GgufFile::open(lm.dir));
    DSV4_ASSIGN_OR_RETURN(lm.tokenizer, tokenizer_from_gguf(*f));
    return lm;
  }
  const std::string tok_path = (std::filesystem::path(lm.dir) / "tokenizer.json").string();
  if (std::filesystem::exists(tok_path)) {
    DSV4_ASSIGN_OR_RETURN(auto t, Tokenizer::load(tok_path));
    lm.tokenizer = std::move(t);
  }
  return lm;
}

Result<chat::ChatOptions> chat_options(const std::string& mode, const std::string& effort) {
  chat::ChatOptions o;
  if (mode != "chat" && mode != "thinking") return error("--mode must be chat or thinking (got '{}')", mode);
  o.thinking = mode == "thinking";
  if (!effort.empty()) {
    if (effort != "high" && effort != "max") return error("--reasoning-effort must be high or max (got '{}')", effort);
    o.reasoning_effort = effort;
  }
  return o;
}

}  // namespace dsv4::cli
