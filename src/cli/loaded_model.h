// A model directory opened for generation: the model and, when the directory has one, its
// tokenizer.json. Shared by `dsv4 run` and `dsv4 chat`.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "chat/chat_encoder.h"
#include "dist/session.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::cli {

struct LoadedModel {
  // A distributed run (declared first: destroyed last, after the model, it stops the other ranks).
  std::unique_ptr<dist::Session> dist;
  // Set on ranks other than 0 once they have served their part: the command exits with it.
  std::optional<int> worker_rc;
  std::string dir;
  std::unique_ptr<model::Model> model;
  std::optional<Tokenizer> tokenizer;
};

// dir "" = the built-in default model.
// With `d` requested (--pp / --ep under mpirun), loads this rank's part; ranks other than 0 serve
// until rank 0 is done and come back with worker_rc set.
Result<LoadedModel> load_model_dir(const std::string& dir, const dist::DistOptions& d = {});

// "chat" / "thinking" and "" / "high" / "max" to encoder options.
Result<chat::ChatOptions> chat_options(const std::string& mode, const std::string& effort);

}  // namespace dsv4::cli
