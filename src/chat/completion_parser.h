// Streaming parser of DeepSeek-V4 model output (the text generated after the prompt's
// "<｜Assistant｜><think>" or "…</think>") into reasoning_content, content and OpenAI-style
// tool_calls, following parse_message_from_completion_text() of encoding_dsv4.py (spec §5.2) but
// incremental and tolerant:
//
//  * Bytes may arrive split anywhere (inside a UTF-8 character or a marker). Text is released as
//    soon as it cannot be the start of a marker; deltas never carry a partial marker nor a partial
//    UTF-8 character. Feeding in pieces gives the same result, and the same events up to how text
//    deltas are cut, as feeding all at once.
//  * Thinking mode: reasoning runs to "</think>". A tool-call block that starts before "</think>"
//    (an unclosed think) is parsed as tool calls, like DeepSeek's API does, and flagged with
//    tool_calls_in_reasoning; the official parser raises instead.
//  * A tool-call block starts at "\n\n<｜DSML｜tool_calls" (official) and, leniently, at
//    "<｜DSML｜tool_calls" without the blank line. Whitespace between DSML tags is not checked.
//    string="true" values become JSON strings; string="false" values are kept verbatim when they
//    are valid JSON (as the official decoder does), otherwise quoted as strings with an error.
//  * Malformed DSML does not throw: complete invokes are kept, the rest of the block up to the
//    end-of-sentence token goes to `unparsed`, and `errors` says why.
//  * Output that stops without "<｜end▁of▁sentence｜>" inside reasoning or a tool-call block is
//    `truncated`; complete invokes are returned, an unfinished one is in incomplete_tool_call.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/dsml.h"

namespace dsv4::chat {

enum class ParseEventKind {
  kReasoningDelta,  // text: more reasoning
  kContentDelta,    // text: more content
  kToolCallBegin,   // tool_index, text = tool name (its arguments follow in kToolCallEnd)
  kToolCallEnd,     // tool_index, text = tool name, arguments = the complete JSON arguments
  // Only with argument deltas on: a parameter completed; `arguments` is the next piece of the
  // arguments JSON ("{" + first "key": value, then ", " + "key": value). The pieces of a call
  // followed by "}" are exactly its complete arguments.
  kToolCallArgumentsDelta,
};

struct ParseEvent {
  ParseEventKind kind;
  std::string text;
  int tool_index = -1;
  std::string arguments;
  bool operator==(const ParseEvent&) const = default;
};

struct ParsedToolCall {
  std::string name;
  std::string arguments;  // JSON object text
  bool operator==(const ParsedToolCall&) const = default;
};

// An invoke the output stopped inside of: the name (if it was read) and the parameters completed.
struct IncompleteToolCall {
  std::string name;
  std::vector<DsmlParam> params;
};

struct ParseResult {
  std::string reasoning_content;
  std::string content;
  std::vector<ParsedToolCall> tool_calls;
  bool saw_eos = false;                  // the output ended with <｜end▁of▁sentence｜>
  bool reasoning_closed = false;         // thinking mode: "</think>" was seen
  bool tool_calls_in_reasoning = false;  // a tool-call block began inside an unclosed <think>
  bool truncated = false;                // stopped inside reasoning, a tool-call block or a marker
  std::optional<IncompleteToolCall> incomplete_tool_call;
  std::string unparsed;                  // raw markup that could not be parsed (see errors)
  std::vector<std::string> errors;       // format problems; empty for well-formed output
  std::vector<ParseEvent> events;        // the events produced by finish() itself (held-back text)

  bool ok() const { return errors.empty() && !truncated; }
};

class CompletionParser {
 public:
  // thinking: the prompt ended with "<think>", so output starts with reasoning.
  // argument_deltas: also emit kToolCallArgumentsDelta as each parameter completes (streaming).
  explicit CompletionParser(bool thinking, bool argument_deltas = false);

  // Consumes more output bytes; returns the events they complete.
  std::vector<ParseEvent> feed(std::string_view bytes);

  // Ends the output: flushes held-back text (its events are in ParseResult::events) and returns
  // everything parsed. Call once; the parser is spent afterwards.
  ParseResult finish();

 private:
  enum class State { kReasoning, kContent, kToolCalls, kBroken, kDone };
  enum class Step { kGap, kInvokeHead, kParam, kParamGap };

  bool advance_text(std::vector<ParseEvent>& ev);
  bool advance_tool_calls(std::vector<ParseEvent>& ev);
  void emit_text(std::string_view text, std::vector<ParseEvent>& ev);
  void break_block(std::string why);
  void end_invoke(std::vector<ParseEvent>& ev);
  void param_or_end_invoke(bool param_follows, std::vector<ParseEvent>& ev);
  void add_error(std::string e);

  State state_;
  bool argument_deltas_ = false;
  Step step_ = Step::kGap;
  std::string buf_;          // bytes not yet consumed
  std::size_t scan_from_ = 0;
  bool after_tool_calls_ = false;
  bool finished_ = false;
  bool in_invoke_ = false;
  std::string invoke_name_;
  std::string invoke_raw_;   // the open invoke's text consumed so far (reported if it breaks)
  std::vector<DsmlParam> params_;
  ParseResult r_;
};

}  // namespace dsv4::chat
