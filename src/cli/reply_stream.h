// Runs one request through the engine and prints its reply as it streams: text deltas go through
// the V4 completion parser, so reasoning is printed apart from the answer. Shared by `dsv4 run`
// and `dsv4 chat`.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace dsv4::cli {

struct Reply {
  std::vector<int32_t> tokens;
  std::string text, reasoning, content;
  engine::FinishReason finish = engine::FinishReason::kNone;
  engine::Usage usage;
  std::shared_ptr<const engine::Snapshot> snapshot;
  double prefill_seconds = 0, decode_seconds = 0;  // submit -> first token -> end
  std::string error;
};

// `thinking`: the prompt opened a <think> block (reasoning comes first). `print`: stream the text
// to stdout. `interrupt` (may be null): when it turns true the request is cancelled.
Reply stream_reply(engine::Engine& e, engine::Request req, bool thinking, bool print,
                   const std::atomic<bool>* interrupt);

// "prefill: N tokens in S s (R tok/s); decode: ... ; mtp: drafted D, accepted A (x%)"
std::string speed_line(const Reply& r);

}  // namespace dsv4::cli
