#include "chat/completion_parser.h"

#include <algorithm>
#include <initializer_list>

#include <nlohmann/json.hpp>

#include "chat/special_tokens.h"

namespace dsv4::chat {
namespace {

struct Match {
  std::size_t pos = std::string::npos;
  std::string_view marker;
};

// The leftmost occurrence in `s` (from `from`) of any marker.
Match find_first(std::string_view s, std::size_t from, std::initializer_list<std::string_view> markers) {
  Match m;
  for (std::string_view k : markers) {
    std::size_t p = s.find(k, from);
    if (p != std::string::npos && (p < m.pos || (p == m.pos && k.size() > m.marker.size()))) m = {p, k};
  }
  return m;
}

// Length of the longest suffix of `s` that is a proper prefix of one of the markers: those bytes
// may still turn into a marker, so they are held back.
std::size_t marker_prefix_suffix(std::string_view s, std::initializer_list<std::string_view> markers) {
  std::size_t best = 0;
  for (std::string_view k : markers)
    for (std::size_t len = std::min(k.size() - 1, s.size()); len > best; --len)
      if (s.substr(s.size() - len) == k.substr(0, len)) {
        best = len;
        break;
      }
  return best;
}

// Bytes at the end of s[0:end) that start a UTF-8 character not yet complete.
std::size_t incomplete_utf8_tail(std::string_view s, std::size_t end) {
  for (std::size_t back = 1; back <= 4 && back <= end; ++back) {
    const auto c = static_cast<unsigned char>(s[end - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead byte
    const std::size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return s;
}

// The text between two DSML tags: the closing '>' of the previous tag, then whitespace.
bool gap_ok(std::string_view s) {
  if (s.empty() || s.front() != '>') return false;
  return std::all_of(s.begin() + 1, s.end(), is_space);
}

// ` name="NAME">\n` (the head of an invoke).
std::optional<std::string> parse_invoke_head(std::string_view s) {
  s = trim_left(s);
  constexpr std::string_view kName = "name=\"";
  if (s.substr(0, kName.size()) != kName) return std::nullopt;
  s.remove_prefix(kName.size());
  std::size_t q = s.rfind("\">");
  if (q == std::string::npos) return std::nullopt;
  std::string_view rest = s.substr(q + 2);
  if (!std::all_of(rest.begin(), rest.end(), is_space)) return std::nullopt;
  return std::string(s.substr(0, q));
}

// ` name="K" string="true|false">VALUE<` (a parameter up to its closing tag).
std::optional<DsmlParam> parse_param(std::string_view s) {
  s = trim_left(s);
  constexpr std::string_view kName = "name=\"";
  if (s.substr(0, kName.size()) != kName) return std::nullopt;
  s.remove_prefix(kName.size());
  Match m = find_first(s, 0, {"\" string=\"true\">", "\" string=\"false\">"});
  if (m.pos == std::string::npos) return std::nullopt;
  std::string_view value = s.substr(m.pos + m.marker.size());
  if (value.empty() || value.back() != '<') return std::nullopt;
  value.remove_suffix(1);
  return DsmlParam{std::string(s.substr(0, m.pos)), std::string(value), m.marker.find("true") != std::string_view::npos};
}

}  // namespace

CompletionParser::CompletionParser(bool thinking, bool argument_deltas)
    : state_(thinking ? State::kReasoning : State::kContent), argument_deltas_(argument_deltas) {}

void CompletionParser::add_error(std::string e) {
  if (std::find(r_.errors.begin(), r_.errors.end(), e) == r_.errors.end()) r_.errors.push_back(std::move(e));
}

void CompletionParser::emit_text(std::string_view text, std::vector<ParseEvent>& ev) {
  if (text.empty()) return;
  if (state_ == State::kBroken) {
    r_.unparsed += text;
    return;
  }
  const bool reasoning = state_ == State::kReasoning;
  (reasoning ? r_.reasoning_content : r_.content) += text;
  if (!ev.empty() && ev.back().kind == (reasoning ? ParseEventKind::kReasoningDelta : ParseEventKind::kContentDelta)) {
    ev.back().text += text;
  } else {
    ev.push_back({reasoning ? ParseEventKind::kReasoningDelta : ParseEventKind::kContentDelta, std::string(text), -1, {}});
  }
  if (!reasoning && after_tool_calls_) add_error("text after a tool_calls block");
}

// Reasoning, content, or skipping a broken block: release text up to the next marker.
bool CompletionParser::advance_text(std::vector<ParseEvent>& ev) {
  const bool reasoning = state_ == State::kReasoning;
  const bool broken = state_ == State::kBroken;
  Match m = reasoning ? find_first(buf_, 0, {kThinkEnd, kToolCallsStart, kToolCallsOpen, kEos})
            : broken  ? find_first(buf_, 0, {kEos})
                      : find_first(buf_, 0, {kEos, kToolCallsStart, kToolCallsOpen});
  if (m.pos == std::string::npos) {
    std::size_t hold = reasoning ? marker_prefix_suffix(buf_, {kThinkEnd, kToolCallsStart, kToolCallsOpen, kEos})
                       : broken  ? marker_prefix_suffix(buf_, {kEos})
                                 : marker_prefix_suffix(buf_, {kEos, kToolCallsStart, kToolCallsOpen});
    std::size_t end = buf_.size() - hold;
    end -= incomplete_utf8_tail(buf_, end);
    emit_text(std::string_view(buf_).substr(0, end), ev);
    buf_.erase(0, end);
    return false;
  }
  emit_text(std::string_view(buf_).substr(0, m.pos), ev);
  buf_.erase(0, m.pos + m.marker.size());
  if (m.marker == kEos) {
    if (reasoning) add_error("reasoning not closed by </think> before the end-of-sentence token");
    r_.saw_eos = true;
    state_ = State::kDone;
  } else if (m.marker == kThinkEnd) {
    r_.reasoning_closed = true;
    state_ = State::kContent;
  } else {  // a tool_calls block opens
    if (reasoning) r_.tool_calls_in_reasoning = true;
    state_ = State::kToolCalls;
    step_ = Step::kGap;
    scan_from_ = 0;
  }
  return true;
}

void CompletionParser::break_block(std::string why) {
  add_error(std::move(why));
  if (in_invoke_) {
    add_error("tool call '" + invoke_name_ + "' dropped: malformed DSML");
    r_.unparsed += invoke_raw_;  // the rest (buf_) follows as the broken state skips to the end token
  }
  in_invoke_ = false;
  params_.clear();
  state_ = State::kBroken;
}

// After an invoke header or a parameter: another parameter follows, or the invoke ends.
void CompletionParser::param_or_end_invoke(bool param_follows, std::vector<ParseEvent>& ev) {
  if (param_follows) {
    step_ = Step::kParam;
  } else {
    end_invoke(ev);
    step_ = Step::kGap;
  }
}

void CompletionParser::end_invoke(std::vector<ParseEvent>& ev) {
  ParsedToolCall call{invoke_name_, dsml_arguments_json(params_)};
  const int index = static_cast<int>(r_.tool_calls.size());
  ev.push_back({ParseEventKind::kToolCallEnd, call.name, index, call.arguments});
  r_.tool_calls.push_back(std::move(call));
  in_invoke_ = false;
  params_.clear();
}

// Inside a tool_calls block: one DSML step per call, each waiting for its closing delimiter.
bool CompletionParser::advance_tool_calls(std::vector<ParseEvent>& ev) {
  Match m;
  switch (step_) {
    case Step::kGap: m = find_first(buf_, scan_from_, {kInvokeOpen, kToolCallsClose, kEos}); break;
    case Step::kInvokeHead:
    case Step::kParamGap: m = find_first(buf_, scan_from_, {kParamOpen, kInvokeClose, kEos}); break;
    case Step::kParam: m = find_first(buf_, scan_from_, {kParamClose, kEos}); break;
  }
  if (m.pos == std::string::npos) {
    // Resume the search where a delimiter could still begin (no quadratic rescans of long values).
    constexpr std::size_t kLongest = std::max({kInvokeOpen.size(), kToolCallsClose.size(), kEos.size(),
                                               kParamOpen.size(), kInvokeClose.size(), kParamClose.size()});
    scan_from_ = buf_.size() >= kLongest ? buf_.size() - kLongest + 1 : 0;
    return false;
  }
  scan_from_ = 0;
  const std::string text = buf_.substr(0, m.pos);
  if (m.marker == kEos) {
    buf_.erase(0, m.pos + m.marker.size());
    add_error("end-of-sentence token inside a tool_calls block");
    if (in_invoke_) {
      r_.incomplete_tool_call = IncompleteToolCall{invoke_name_, params_};
      r_.unparsed += invoke_raw_;
    }
    r_.unparsed += text;
    in_invoke_ = false;
    r_.saw_eos = true;
    state_ = State::kDone;
    return true;
  }
  switch (step_) {
    case Step::kGap:
      if (!gap_ok(text)) {
        break_block("malformed tool_calls block: expected an invoke, got '" + text.substr(0, 40) + "'");
        return true;  // buf_ (this text onwards) is skipped to the end-of-sentence token
      }
      if (m.marker == kInvokeOpen) {
        step_ = Step::kInvokeHead;
        in_invoke_ = true;
        invoke_name_.clear();
        invoke_raw_ = m.marker;
        buf_.erase(0, m.pos + m.marker.size());
        return true;
      } else {
        state_ = State::kContent;
        after_tool_calls_ = true;
      }
      break;
    case Step::kInvokeHead: {
      auto name = parse_invoke_head(text);
      if (!name) {
        break_block("malformed invoke: '" + text.substr(0, 40) + "'");
        return true;
      }
      invoke_name_ = *name;
      ev.push_back({ParseEventKind::kToolCallBegin, invoke_name_, static_cast<int>(r_.tool_calls.size()), {}});
      param_or_end_invoke(m.marker == kParamOpen, ev);
      break;
    }
    case Step::kParam: {
      auto p = parse_param(text);
      if (!p) {
        break_block("malformed parameter in tool call '" + invoke_name_ + "'");
        return true;
      }
      for (const DsmlParam& q : params_)
        if (q.name == p->name) {
          break_block("duplicate parameter '" + p->name + "' in tool call '" + invoke_name_ + "'");
          return true;
        }
      if (!p->is_string && !nlohmann::json::accept(p->value)) {
        add_error("parameter '" + p->name + "' of tool call '" + invoke_name_ + "' has string=\"false\" but is not JSON; kept as a string");
        p->is_string = true;
      }
      params_.push_back(std::move(*p));
      if (argument_deltas_) {
        // The piece dsml_arguments_json() writes for this parameter, with its separator.
        std::string full = dsml_arguments_json(params_);
        std::string before = params_.size() == 1 ? std::string("{") : dsml_arguments_json({params_.begin(), params_.end() - 1});
        before.pop_back();  // without its closing brace
        full.pop_back();
        ev.push_back({ParseEventKind::kToolCallArgumentsDelta, invoke_name_, static_cast<int>(r_.tool_calls.size()),
                      params_.size() == 1 ? full : full.substr(before.size())});
      }
      step_ = Step::kParamGap;
      break;
    }
    case Step::kParamGap:
      if (!gap_ok(text)) {
        break_block("malformed text after a parameter of tool call '" + invoke_name_ + "'");
        return true;
      }
      param_or_end_invoke(m.marker == kParamOpen, ev);
      break;
  }
  if (in_invoke_) invoke_raw_.append(buf_, 0, m.pos + m.marker.size());
  buf_.erase(0, m.pos + m.marker.size());
  return true;
}

std::vector<ParseEvent> CompletionParser::feed(std::string_view bytes) {
  std::vector<ParseEvent> ev;
  if (finished_) return ev;
  if (state_ == State::kDone) {
    if (!bytes.empty()) add_error("text after the end-of-sentence token");
    return ev;
  }
  buf_.append(bytes);
  for (bool progress = true; progress && state_ != State::kDone;)
    progress = state_ == State::kToolCalls ? advance_tool_calls(ev) : advance_text(ev);
  if (state_ == State::kDone && !buf_.empty()) {
    add_error("text after the end-of-sentence token");
    buf_.clear();
  }
  return ev;
}

ParseResult CompletionParser::finish() {
  if (finished_) return {};
  finished_ = true;
  std::vector<ParseEvent> ev;
  switch (state_) {
    case State::kReasoning:
    case State::kContent:
      if (buf_.find(kDsml) != std::string::npos) {  // stopped inside a DSML marker
        r_.unparsed += buf_;
        r_.truncated = true;
      } else {
        emit_text(buf_, ev);
      }
      if (state_ == State::kReasoning) r_.truncated = true;
      break;
    case State::kToolCalls:
      r_.truncated = true;
      if (in_invoke_) {
        r_.incomplete_tool_call = IncompleteToolCall{invoke_name_, params_};
        r_.unparsed += invoke_raw_;
      }
      r_.unparsed += buf_;
      break;
    case State::kBroken:
      r_.unparsed += buf_;
      break;
    case State::kDone:
      break;
  }
  buf_.clear();
  for (std::string_view tok : {kBos, kEos, kThinkStart, kThinkEnd, kDsml}) {
    if (r_.content.find(tok) != std::string::npos) add_error("content contains the special token " + std::string(tok));
    if (r_.reasoning_content.find(tok) != std::string::npos)
      add_error("reasoning contains the special token " + std::string(tok));
  }
  r_.events = std::move(ev);
  return std::move(r_);
}

}  // namespace dsv4::chat
