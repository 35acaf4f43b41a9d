// Grammar-constrained decoding for the server: TokenConstraints (engine/constraint.h) that make
// structured output parse whatever the model's weights or sampling temperature.
//
//  * json_output: [reasoning "</think>"] then one JSON value (compact; a single space is allowed
//    after ':' and ','), then the end-of-sentence token. An empty schema means any JSON object
//    (response_format json_object); otherwise a JSON Schema (subset: see schema.h).
//  * tool_calls: [reasoning "</think>"] then a DSML block exactly as chat::render_tool_calls_dsml
//    writes it and chat::CompletionParser reads it, calling the tools of an OpenAI `tools` array
//    (or only `only_name`), then the end-of-sentence token:
//      "\n\n<｜DSML｜tool_calls>\n" invoke ("\n" invoke)* "\n</｜DSML｜tool_calls>"
//      invoke = "<｜DSML｜invoke name=\"NAME\">\n" param ("\n" param)* "\n</｜DSML｜invoke>"
//      param  = "<｜DSML｜parameter name=\"KEY\" string=\"true\">RAW</｜DSML｜parameter>"   (strings)
//             | "<｜DSML｜parameter name=\"KEY\" string=\"false\">JSON</｜DSML｜parameter>" (the rest)
//    Declared parameters only, any order, each at most once, the required ones all present.
//
// Reasoning (thinking = the prompt ended with "<think>") is free text up to "</think>". Free text
// (reasoning, JSON strings, raw values) never contains chat markers (<think>, </think>, ｜DSML｜,
// <｜end▁of▁sentence｜>, ...) and is valid UTF-8. Added tokens are allowed only where the grammar
// spells out their text (e.g. "</think>", "｜DSML｜"); the end-of-sentence token only at the end.
// mask() keeps the output finishable within `remaining` tokens: a token is allowed only if the
// shortest completion after it still fits, counting one token per byte (the vocabulary has all
// 256 single-byte tokens) plus the end-of-sentence token.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "constrain/vocabulary.h"
#include "engine/constraint.h"

namespace dsv4::constrain {

Result<std::unique_ptr<engine::TokenConstraint>> json_output(std::shared_ptr<const Vocabulary> v,
                                                             std::string_view schema_json, bool thinking);

// parallel = false: exactly one invoke (OpenAI parallel_tool_calls: false).
Result<std::unique_ptr<engine::TokenConstraint>> tool_calls(std::shared_ptr<const Vocabulary> v,
                                                            std::string_view tools_json,
                                                            std::optional<std::string> only_name, bool thinking,
                                                            bool parallel = true);

}  // namespace dsv4::constrain
