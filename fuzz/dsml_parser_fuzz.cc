// libFuzzer target for the streaming completion parser (src/chat/completion_parser.h).
// Input: byte 0 picks thinking mode and the split pattern; the rest is model output. The output
// is parsed whole, then fed in pieces (at split points taken from the input, and byte by byte for
// short inputs); the results must be identical, the event streams identical once adjacent text
// deltas are joined, and the deltas must add up to the result. Any difference traps.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "chat/completion_parser.h"

namespace {

using dsv4::chat::CompletionParser;
using dsv4::chat::ParseEvent;
using dsv4::chat::ParseEventKind;
using dsv4::chat::ParseResult;

struct Run {
  ParseResult result;
  std::vector<ParseEvent> events;  // all events, adjacent text deltas joined
};

void append_event(std::vector<ParseEvent>& out, const ParseEvent& e) {
  const bool text = e.kind == ParseEventKind::kReasoningDelta || e.kind == ParseEventKind::kContentDelta;
  if (e.kind == ParseEventKind::kReasoningDelta || e.kind == ParseEventKind::kContentDelta)
    if (e.text.empty()) std::abort();  // no empty deltas
  if (text && !out.empty() && out.back().kind == e.kind)
    out.back().text += e.text;
  else
    out.push_back(e);
}

Run parse(bool thinking, std::string_view text, const std::vector<std::size_t>& cuts) {
  CompletionParser p(thinking);
  Run run;
  std::size_t at = 0;
  for (std::size_t cut : cuts) {
    for (const auto& e : p.feed(text.substr(at, cut - at))) append_event(run.events, e);
    at = cut;
  }
  for (const auto& e : p.feed(text.substr(at))) append_event(run.events, e);
  run.result = p.finish();
  for (const auto& e : run.result.events) append_event(run.events, e);
  return run;
}

void check_self_consistent(const Run& run) {
  std::string reasoning, content;
  std::size_t ends = 0;
  for (const auto& e : run.events) {
    if (e.kind == ParseEventKind::kReasoningDelta) reasoning += e.text;
    if (e.kind == ParseEventKind::kContentDelta) content += e.text;
    if (e.kind == ParseEventKind::kToolCallEnd) {
      if (ends >= run.result.tool_calls.size() || run.result.tool_calls[ends].name != e.text ||
          run.result.tool_calls[ends].arguments != e.arguments || e.tool_index != static_cast<int>(ends))
        std::abort();
      ++ends;
    }
  }
  if (reasoning != run.result.reasoning_content || content != run.result.content ||
      ends != run.result.tool_calls.size())
    std::abort();
}

bool same(const ParseResult& a, const ParseResult& b) {
  auto inc_same = [](const auto& x, const auto& y) {
    if (x.has_value() != y.has_value()) return false;
    if (!x) return true;
    if (x->name != y->name || x->params.size() != y->params.size()) return false;
    for (std::size_t i = 0; i < x->params.size(); ++i)
      if (x->params[i].name != y->params[i].name || x->params[i].value != y->params[i].value ||
          x->params[i].is_string != y->params[i].is_string)
        return false;
    return true;
  };
  return a.reasoning_content == b.reasoning_content && a.content == b.content && a.tool_calls == b.tool_calls &&
         a.saw_eos == b.saw_eos && a.reasoning_closed == b.reasoning_closed &&
         a.tool_calls_in_reasoning == b.tool_calls_in_reasoning && a.truncated == b.truncated &&
         a.unparsed == b.unparsed && a.errors == b.errors && inc_same(a.incomplete_tool_call, b.incomplete_tool_call);
}

void compare(const Run& whole, const Run& split) {
  check_self_consistent(split);
  if (!same(whole.result, split.result) || whole.events != split.events) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  const bool thinking = mode & 1;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  Run whole = parse(thinking, text, {});
  check_self_consistent(whole);

  // Cut points derived from the input (deterministic): a few, sorted.
  std::vector<std::size_t> cuts;
  std::uint32_t h = 2166136261u ^ mode;
  const std::size_t ncuts = 1 + (mode >> 1) % 4;
  for (std::size_t i = 0; i < ncuts && !text.empty(); ++i) {
    for (unsigned char c : text.substr(i * 7 % text.size(), 16)) h = (h ^ c) * 16777619u;
    cuts.push_back(h % (text.size() + 1));
  }
  std::sort(cuts.begin(), cuts.end());
  compare(whole, parse(thinking, text, cuts));

  if (text.size() <= 512) {  // byte by byte
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < text.size(); ++i) every.push_back(i);
    compare(whole, parse(thinking, text, every));
  }
  return 0;
}
