// `dsv4 render`: the V4 chat prompt for a JSON conversation (src/chat/chat_encoder.h).
// `dsv4 parse-completion`: model output text -> reasoning / content / tool_calls JSON
// (src/chat/completion_parser.h).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "chat/chat_encoder.h"
#include "chat/completion_parser.h"
#include "cli/commands.h"

namespace dsv4::cli {
namespace {

bool read_input(const std::string& path, std::string* out) {
  if (path == "-") {
    out->assign(std::istreambuf_iterator<char>(std::cin), {});
    return true;
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  out->assign(std::istreambuf_iterator<char>(f), {});
  return !f.bad();
}

int run_render(const std::string& input, const std::string& mode, const std::string& effort, bool keep_thinking) {
  if (mode != "chat" && mode != "thinking") return fail("render", fmt::format("unknown mode '{}' (expected chat or thinking)", mode));
  std::string text;
  if (!read_input(input, &text)) return fail("render", fmt::format("cannot read {}", input));
  chat::ChatOptions opts;
  opts.thinking = mode == "thinking";
  if (!effort.empty()) opts.reasoning_effort = effort;
  opts.drop_thinking = !keep_thinking;
  auto prompt = chat::render_chat_json(text, opts);
  if (!prompt.ok()) return fail("render", fmt::format("{}: {}", input, prompt.message()));
  std::fwrite(prompt->data(), 1, prompt->size(), stdout);
  return 0;
}

nlohmann::ordered_json event_json(const chat::ParseEvent& e) {
  nlohmann::ordered_json j;
  switch (e.kind) {
    case chat::ParseEventKind::kReasoningDelta: j["reasoning_delta"] = e.text; break;
    case chat::ParseEventKind::kContentDelta: j["content_delta"] = e.text; break;
    case chat::ParseEventKind::kToolCallBegin: j["tool_call_begin"] = {{"index", e.tool_index}, {"name", e.text}}; break;
    case chat::ParseEventKind::kToolCallEnd:
      j["tool_call_end"] = {{"index", e.tool_index}, {"name", e.text}, {"arguments", e.arguments}};
      break;
    case chat::ParseEventKind::kToolCallArgumentsDelta:  // the render CLI's parser does not ask for these
      j["tool_call_arguments_delta"] = {{"index", e.tool_index}, {"text", e.text}};
      break;
  }
  return j;
}

// The parse in the shape of an OpenAI assistant message, plus the parser's diagnostics.
nlohmann::ordered_json result_json(const chat::ParseResult& r) {
  nlohmann::ordered_json j;
  j["role"] = "assistant";
  j["content"] = r.content;
  j["reasoning_content"] = r.reasoning_content;
  j["tool_calls"] = nlohmann::ordered_json::array();
  for (const auto& c : r.tool_calls)
    j["tool_calls"].push_back({{"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
  j["finished"] = r.saw_eos;
  j["reasoning_closed"] = r.reasoning_closed;
  j["tool_calls_in_reasoning"] = r.tool_calls_in_reasoning;
  j["truncated"] = r.truncated;
  if (r.incomplete_tool_call) {
    auto& inc = j["incomplete_tool_call"];
    inc["name"] = r.incomplete_tool_call->name;
    inc["complete_arguments"] = chat::dsml_arguments_json(r.incomplete_tool_call->params);
  }
  if (!r.unparsed.empty()) j["unparsed"] = r.unparsed;
  j["errors"] = r.errors;
  return j;
}

std::string dump(const nlohmann::ordered_json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

int run_parse(const std::string& input, const std::string& mode, std::size_t chunk, bool events) {
  if (mode != "chat" && mode != "thinking") return fail("parse-completion", fmt::format("unknown mode '{}' (expected chat or thinking)", mode));
  std::string text;
  if (!read_input(input, &text)) return fail("parse-completion", fmt::format("cannot read {}", input));
  chat::CompletionParser parser(mode == "thinking");
  auto print_events = [&](const std::vector<chat::ParseEvent>& evs) {
    if (!events) return;
    for (const auto& e : evs) fmt::print("{}\n", dump(event_json(e), -1));
  };
  if (chunk == 0) chunk = text.size() + 1;
  for (std::size_t pos = 0; pos < text.size(); pos += chunk)
    print_events(parser.feed(std::string_view(text).substr(pos, chunk)));
  chat::ParseResult r = parser.finish();
  print_events(r.events);
  fmt::print("{}\n", dump(result_json(r), 2));
  if (!r.errors.empty()) return fail("parse-completion", fmt::format("{}: {}", input, r.errors.front()));
  return 0;
}

}  // namespace

void add_render(CLI::App& app, int* rc) {
  auto* render = app.add_subcommand("render", "Render a JSON conversation into the DeepSeek-V4 prompt text");
  static std::string input, mode = "thinking", effort;
  static bool keep_thinking = false;
  render->add_option("--input", input, "JSON file (or - for stdin): a list of messages or {\"messages\", \"tools\"}")->required();
  render->add_option("--mode", mode, "chat or thinking")->capture_default_str();
  render->add_option("--reasoning-effort", effort, "high or max (thinking mode; max adds its preamble)");
  render->add_flag("--keep-thinking", keep_thinking, "keep reasoning of earlier turns (drop_thinking off)");
  render->callback([rc] { *rc = run_render(input, mode, effort, keep_thinking); });

  auto* parse = app.add_subcommand("parse-completion", "Parse model output text into reasoning, content and tool calls (JSON)");
  static std::string pinput, pmode = "thinking";
  static std::size_t chunk = 0;
  static bool events = false;
  parse->add_option("--input", pinput, "text file (or - for stdin) holding the raw model output")->required();
  parse->add_option("--mode", pmode, "chat or thinking (the prompt ended with <think>)")->capture_default_str();
  parse->add_option("--chunk", chunk, "feed the parser this many bytes at a time (0: all at once)");
  parse->add_flag("--events", events, "also print the streaming events, one JSON object per line");
  parse->callback([rc] { *rc = run_parse(pinput, pmode, chunk, events); });
}

}  // namespace dsv4::cli
