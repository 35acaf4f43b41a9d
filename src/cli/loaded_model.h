// A model directory opened for generation: the model and, when the directory has one, its
// tokenizer.json. Shared by `dsv4 run` and `dsv4 chat`.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "chat/chat_encoder.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::cli {

struct LoadedModel {
  std::string dir;
  std::unique_ptr<model::Model> model;
  std::optional<Tokenizer> tokenizer;
};

// dir "" = the built-in default model.
Result<LoadedModel> load_model_dir(const std::string& dir);

// "chat" / "thinking" and "" / "high" / "max" to encoder options.
Result<chat::ChatOptions> chat_options(const std::string& mode, const std::string& effort);

}  // namespace dsv4::cli
