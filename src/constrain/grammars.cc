#include "constrain/grammars.h"

#include <algorithm>

#include "chat/special_tokens.h"
#include "constrain/schema.h"

namespace dsv4::constrain {
namespace {

const std::string kParamEnd = "<" + std::string(chat::kParamClose) + ">";  // </｜DSML｜parameter>

Result<Json> parse_json(std::string_view text, std::string_view what) {
  try {
    return Json::parse(text);
  } catch (const std::exception& e) {
    return error("{} is not valid JSON: {}", what, e.what());
  }
}

bool has_marker(std::string_view s) {
  return std::any_of(chat_markers().begin(), chat_markers().end(),
                     [&](const std::string& m) { return s.find(m) != std::string_view::npos; });
}

// Text that goes between quotes in DSML markup (tool and parameter names): the parser reads up
// to the next '"', and the model never sees control characters or markers there.
Status check_dsml_name(const std::string& name, std::string_view what) {
  if (name.empty()) return error("{} name is empty", what);
  for (unsigned char c : name)
    if (c < 0x20 || c == '"' || c == '<' || c == '>') return error("{} name '{}' cannot be written in DSML", what, name);
  if (has_marker(name)) return error("{} name '{}' contains a chat marker", what, name);
  return ok_status();
}

NodeId with_reasoning(GrammarBuilder& b, NodeId body, bool thinking) {
  return thinking ? b.seq({b.text(TextKind::kReasoning), body}) : body;
}

// Whether some alternative of a (flattened) schema may be a string, looking through anyOf / oneOf.
Result<bool> may_be_string(SchemaCompiler& c, const Json& flat, int depth) {
  if (flat.is_boolean()) return flat.get<bool>();
  if (depth > 16) return true;
  for (const char* k : {"anyOf", "oneOf"}) {
    if (!flat.contains(k) || !flat[k].is_array()) continue;
    for (const auto& alt : flat[k]) {
      DSV4_ASSIGN_OR_RETURN(Json a, c.flatten(alt));
      DSV4_ASSIGN_OR_RETURN(bool s, may_be_string(c, a, depth + 1));
      if (s) return true;
    }
    return false;
  }
  DSV4_ASSIGN_OR_RETURN(uint8_t t, c.types(flat));
  return (t & kTString) != 0;
}

// One parameter's value after `string="`: `true">RAW</｜DSML｜parameter>` for a string (the way
// the official encoder writes string values) and `false">JSON</｜DSML｜parameter>` for anything
// else; a schema that allows both kinds gets both branches.
Result<std::optional<NodeId>> param_value(GrammarBuilder& b, SchemaCompiler& c, const Json& schema) {
  DSV4_ASSIGN_OR_RETURN(Json flat, c.flatten(schema));
  if (flat.is_boolean() && !flat.get<bool>()) return std::optional<NodeId>();
  std::optional<NodeId> raw;
  bool only_strings = false;
  const bool listed = flat.is_object() && (flat.contains("enum") || flat.contains("const"));
  if (listed && !flat.contains("anyOf") && !flat.contains("oneOf")) {
    const Json values = flat.contains("const") ? Json::array({flat["const"]}) : flat["enum"];
    if (!values.is_array()) return error("'enum' must be a list");
    std::vector<std::pair<std::string, NodeId>> lits;
    only_strings = true;
    for (const auto& v : values) {
      if (!v.is_string()) {
        only_strings = false;
        continue;
      }
      const std::string& s = v.get_ref<const std::string&>();
      bool ok = !has_marker(s);
      for (unsigned char ch : s) ok = ok && (ch >= 0x20 || ch == '\t' || ch == '\n' || ch == '\r');
      if (ok) lits.emplace_back(s + kParamEnd, -1);
    }
    if (!lits.empty()) raw = b.seq({b.lit("true\">"), b.litset(std::move(lits))});
  } else {
    DSV4_ASSIGN_OR_RETURN(bool str, may_be_string(c, flat, 0));
    if (str) raw = b.seq({b.lit("true\">"), b.text(TextKind::kDsmlValue)});
    if (!flat.is_boolean() && !flat.contains("anyOf") && !flat.contains("oneOf")) {
      DSV4_ASSIGN_OR_RETURN(uint8_t t, c.types(flat));
      only_strings = t == kTString;
    }
  }
  std::vector<NodeId> alts;
  if (raw) alts.push_back(*raw);
  if (!only_strings) {
    DSV4_ASSIGN_OR_RETURN(auto json, c.value(flat));
    if (json) alts.push_back(b.seq({b.lit("false\">"), *json, b.lit(kParamEnd)}));
  }
  if (alts.empty()) return std::optional<NodeId>();
  return std::optional<NodeId>(b.choice(std::move(alts)));
}

// The parameters of one invoke, after `<｜DSML｜invoke name="NAME">\n`: the declared properties in
// any order, each at most once, the required ones all present, then "\n</｜DSML｜invoke>". A
// schema without declared properties gets no parameters (free parameter names are not generated).
Result<NodeId> invoke_params(GrammarBuilder& b, SchemaCompiler& c, const std::string& tool, const Json& params) {
  const std::string open = std::string(chat::kParamOpen) + " name=\"";
  const std::string close = "\n" + std::string(chat::kInvokeClose) + ">";
  std::vector<LitTrie::Entry> first = {{close, kTagClose}}, next = {{close, kTagClose}};
  ObjectSpec o;
  DSV4_ASSIGN_OR_RETURN(Json flat, c.flatten(params));
  if (flat.is_object()) {
    const Json props = flat.contains("properties") ? flat["properties"] : Json::object();
    const Json required = flat.contains("required") ? flat["required"] : Json::array();
    if (!props.is_object()) return error("tool '{}': 'properties' must be an object", tool);
    if (!required.is_array()) return error("tool '{}': 'required' must be a list of names", tool);
    std::vector<std::pair<std::string, Json>> fields;
    for (auto it = props.begin(); it != props.end(); ++it) fields.emplace_back(it.key(), it.value());
    for (const auto& r : required) {
      if (!r.is_string()) return error("tool '{}': 'required' must be a list of names", tool);
      if (!props.contains(r.get<std::string>())) fields.emplace_back(r.get<std::string>(), Json(true));
    }
    if (fields.size() > 64) return error("tool '{}': more than 64 parameters are not supported", tool);
    for (const auto& [name, schema] : fields) {
      const bool req = std::find(required.begin(), required.end(), Json(name)) != required.end();
      DSV4_TRY(check_dsml_name(name, "parameter"));
      auto value = param_value(b, c, schema);
      if (!value.ok()) return error("tool '{}', parameter '{}': {}", tool, name, value.message());
      if (!*value) {
        if (req) return error("tool '{}': required parameter '{}' accepts no value", tool, name);
        continue;
      }
      const auto tag = static_cast<int32_t>(o.values.size());
      const std::string key = open + name + "\" string=\"";
      first.push_back({key, tag});
      next.push_back({"\n" + key, tag});
      if (req) o.required |= uint64_t{1} << tag;
      o.values.push_back(**value);
    }
  }
  o.first = LitTrie::build(std::move(first));
  o.next = LitTrie::build(std::move(next));
  return b.object(std::move(o));
}

}  // namespace

Result<std::shared_ptr<const Grammar>> json_output_grammar(std::string_view schema_json, bool thinking) {
  GrammarBuilder b;
  NodeId body;
  Json doc;
  if (schema_json.empty()) {
    doc = Json{{"type", "object"}};
  } else {
    DSV4_ASSIGN_OR_RETURN(doc, parse_json(schema_json, "the JSON schema"));
  }
  SchemaCompiler c(b, doc);
  auto v = c.value(doc);
  if (!v.ok()) return error("unsupported JSON schema: {}", v.message());
  if (!*v) return error("the JSON schema accepts no value");
  body = **v;
  return b.finish(with_reasoning(b, body, thinking));
}

Result<std::shared_ptr<const Grammar>> tool_calls_grammar(std::string_view tools_json,
                                                          const std::optional<std::string>& only_name, bool thinking,
                                                          bool parallel) {
  DSV4_ASSIGN_OR_RETURN(Json tools, parse_json(tools_json, "'tools'"));
  if (!tools.is_array() || tools.empty()) return error("'tools' must be a non-empty list");
  GrammarBuilder b;
  std::vector<std::pair<std::string, NodeId>> invokes;
  std::vector<std::string> names;
  for (const auto& tool : tools) {
    if (!tool.is_object() || !tool.contains("function") || !tool["function"].is_object())
      return error("each entry of 'tools' must be an object with a 'function'");
    if (tool.contains("type") && tool["type"] != "function") return error("tool type {} is not supported", tool["type"].dump());
    const Json& fn = tool["function"];
    if (!fn.contains("name") || !fn["name"].is_string()) return error("each tool function needs a 'name'");
    const std::string name = fn["name"].get<std::string>();
    DSV4_TRY(check_dsml_name(name, "tool"));
    if (std::find(names.begin(), names.end(), name) != names.end()) return error("tool '{}' is listed twice", name);
    names.push_back(name);
    if (only_name && *only_name != name) continue;
    const Json params = fn.contains("parameters") ? fn["parameters"] : Json::object();
    SchemaCompiler c(b, params);
    DSV4_ASSIGN_OR_RETURN(NodeId p, invoke_params(b, c, name, params));
    invokes.emplace_back(name + "\">\n", p);
  }
  if (only_name && invokes.empty()) return error("tool_choice names '{}', which is not in 'tools'", *only_name);
  const std::string invoke = std::string(chat::kInvokeOpen) + " name=\"";
  RepeatSpec r;
  r.item = b.litset(std::move(invokes));
  r.min = 1;
  r.max = parallel ? kUnbounded : 1;
  r.first = LitTrie::build({{std::string(chat::kToolCallsStart) + ">\n" + invoke, kTagItem}});
  r.after = LitTrie::build({{"\n" + invoke, kTagItem}, {"\n" + std::string(chat::kToolCallsClose), kTagClose}});
  return b.finish(with_reasoning(b, b.repeat(std::move(r)), thinking));
}

}  // namespace dsv4::constrain
