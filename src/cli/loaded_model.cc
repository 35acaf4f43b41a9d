#include "cli/loaded_model.h"

#include <filesystem>

#include "cli/default_model.h"

namespace dsv4::cli {

Result<LoadedModel> load_model_dir(const std::string& dir) {
  LoadedModel lm;
  lm.dir = dir.empty() ? default_model_dir() : dir;
  DSV4_ASSIGN_OR_RETURN(lm.model, model::Model::load(lm.dir));
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
