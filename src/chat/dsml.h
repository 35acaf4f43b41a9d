// DSML, the XML-like markup DeepSeek-V4 uses for tool calls (spec §5.2): rendering assistant tool
// calls into it, the fixed "## Tools" system-prompt block that documents it, and turning parsed
// DSML parameters back into an OpenAI `arguments` JSON string.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "chat/chat_encoder.h"

namespace dsv4::chat {

// "\n\n<｜DSML｜tool_calls>\n" + invokes + "\n</｜DSML｜tool_calls>". String arguments are written
// as is with string="true"; other values as Python json.dumps text with string="false".
Result<std::string> render_tool_calls_dsml(const std::vector<ToolCall>& calls);

// The "## Tools" block for a JSON array of OpenAI tools (each tool's `function` on one line).
Result<std::string> render_tools_block(std::string_view tools_json);

// One parsed DSML parameter.
struct DsmlParam {
  std::string name;
  std::string value;  // raw text between the tags
  bool is_string;     // string="true"
};

// The `arguments` JSON the official decoder builds: {"k": v, ...} with ", " / ": " separators,
// string values JSON-quoted and the others inserted verbatim.
std::string dsml_arguments_json(const std::vector<DsmlParam>& params);

}  // namespace dsv4::chat
