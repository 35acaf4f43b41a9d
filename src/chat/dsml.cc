#include "chat/dsml.h"

#include "chat/py_json.h"
#include "chat/special_tokens.h"

namespace dsv4::chat {
namespace {

constexpr std::string_view kToolsTemplateHead =
    "## Tools\n"
    "\n"
    "You have access to a set of tools to help answer the user's question. You can invoke tools by "
    "writing a \"<｜DSML｜tool_calls>\" block like the following:\n"
    "\n"
    "<｜DSML｜tool_calls>\n"
    "<｜DSML｜invoke name=\"$TOOL_NAME\">\n"
    "<｜DSML｜parameter name=\"$PARAMETER_NAME\" string=\"true|false\">$PARAMETER_VALUE</｜DSML｜parameter>\n"
    "...\n"
    "</｜DSML｜invoke>\n"
    "<｜DSML｜invoke name=\"$TOOL_NAME2\">\n"
    "...\n"
    "</｜DSML｜invoke>\n"
    "</｜DSML｜tool_calls>\n"
    "\n"
    "String parameters should be specified as is and set `string=\"true\"`. For all other types "
    "(numbers, booleans, arrays, objects), pass the value in JSON format and set `string=\"false\"`.\n"
    "\n"
    "If thinking_mode is enabled (triggered by <think>), you MUST output your complete reasoning "
    "inside <think>...</think> BEFORE any tool calls or final response.\n"
    "\n"
    "Otherwise, output directly after </think> with tool calls or final response.\n"
    "\n"
    "### Available Tool Schemas\n"
    "\n";
constexpr std::string_view kToolsTemplateTail =
    "\n\nYou MUST strictly follow the above defined tool name and parameter schemas to invoke tool calls.\n";

// Parameters of one call, as encode_arguments_to_dsml does: arguments that are not JSON become a
// single string parameter "arguments"; JSON that is not an object is an error there too.
Result<std::string> render_params(const ToolCall& call) {
  Json args;
  if (auto parsed = parse_py_json(call.arguments); parsed.ok()) {
    args = std::move(parsed).value();
    if (!args.is_object())
      return error("tool call '{}': arguments must be a JSON object, got {}", call.name,
                   args.is_binary() ? "number" : args.type_name());
  } else {
    args = Json::object();
    args["arguments"] = call.arguments;
  }
  std::string out;
  bool first = true;
  for (const auto& [key, value] : args.items()) {
    if (!first) out += "\n";
    first = false;
    out += "<｜DSML｜parameter name=\"";
    out += key;
    out += value.is_string() ? "\" string=\"true\">" : "\" string=\"false\">";
    if (value.is_string())
      out += value.get_ref<const std::string&>();
    else
      append_py_dumps(out, value);
    out += "</｜DSML｜parameter>";
  }
  return out;
}

}  // namespace

Result<std::string> render_tool_calls_dsml(const std::vector<ToolCall>& calls) {
  std::string out = "\n\n<｜DSML｜tool_calls>\n";
  for (std::size_t i = 0; i < calls.size(); ++i) {
    if (i) out += "\n";
    DSV4_ASSIGN_OR_RETURN(std::string params, render_params(calls[i]));
    out += "<｜DSML｜invoke name=\"" + calls[i].name + "\">\n" + params + "\n</｜DSML｜invoke>";
  }
  out += "\n</｜DSML｜tool_calls>";
  return out;
}

Result<std::string> render_tools_block(std::string_view tools_json) {
  auto parsed = parse_py_json(tools_json);
  if (!parsed.ok()) return error("'tools' is not valid JSON: {}", parsed.message());
  const Json& tools = *parsed;
  if (!tools.is_array()) return error("'tools' must be a list");
  std::string out(kToolsTemplateHead);
  bool first = true;
  for (const auto& tool : tools) {
    if (!tool.is_object() || !tool.contains("function"))
      return error("each entry of 'tools' must be an object with a 'function'");
    if (!first) out += "\n";
    first = false;
    append_py_dumps(out, tool["function"]);
  }
  out += kToolsTemplateTail;
  return out;
}

std::string dsml_arguments_json(const std::vector<DsmlParam>& params) {
  std::string out = "{";
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (i) out += ", ";
    append_py_string(out, params[i].name);
    out += ": ";
    if (params[i].is_string)
      append_py_string(out, params[i].value);
    else
      out += params[i].value;
  }
  out += "}";
  return out;
}

}  // namespace dsv4::chat
