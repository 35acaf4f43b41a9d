#include "constrain/schema.h"

#include <algorithm>
#include <cmath>

namespace dsv4::constrain {
namespace {

constexpr int kMaxSchemaDepth = 64;  // nested schemas (with $ref / allOf expansions)
constexpr int kMaxContainers = 12;   // nested objects / arrays: bounded by the recognizer's stack

struct TypeName {
  const char* name;
  uint8_t bit;
};
constexpr TypeName kTypes[] = {{"string", kTString}, {"integer", kTInteger}, {"number", kTNumber}, {"boolean", kTBoolean},
                               {"null", kTNull},     {"object", kTObject},   {"array", kTArray}};

Result<uint8_t> parse_types(const Json& t) {
  auto one = [](const Json& v) -> Result<uint8_t> {
    if (!v.is_string()) return error("'type' must be a string or a list of strings");
    for (const auto& k : kTypes)
      if (v.get_ref<const std::string&>() == k.name) return k.bit;
    return error("unknown type '{}'", v.get_ref<const std::string&>());
  };
  if (!t.is_array()) return one(t);
  uint8_t bits = 0;
  for (const auto& v : t) {
    DSV4_ASSIGN_OR_RETURN(uint8_t b, one(v));
    bits |= b;
  }
  return bits;
}

Result<uint32_t> count_keyword(const Json& s, const char* key, uint32_t dflt) {
  auto it = s.find(key);
  if (it == s.end()) return dflt;
  if (!it->is_number() || it->get<double>() < 0 || std::floor(it->get<double>()) != it->get<double>())
    return error("'{}' must be a non-negative integer", key);
  const double v = it->get<double>();
  return v >= 4e9 ? kUnbounded - 1 : static_cast<uint32_t>(v);
}

// allOf-style merge of two object schemas (b's keywords added to a's).
Json merge(Json a, const Json& b) {
  for (auto it = b.begin(); it != b.end(); ++it) {
    const std::string& k = it.key();
    const Json& v = it.value();
    if (!a.contains(k)) {
      a[k] = v;
    } else if (k == "properties" && a[k].is_object() && v.is_object()) {
      for (auto p = v.begin(); p != v.end(); ++p)
        a[k][p.key()] = a[k].contains(p.key()) ? Json{{"allOf", Json::array({a[k][p.key()], p.value()})}} : p.value();
    } else if (k == "required" && a[k].is_array() && v.is_array()) {
      for (const auto& r : v)
        if (std::find(a[k].begin(), a[k].end(), r) == a[k].end()) a[k].push_back(r);
    } else if ((k == "minLength" || k == "minItems") && v.is_number() && a[k].is_number()) {
      a[k] = std::max(a[k].get<double>(), v.get<double>());
    } else if ((k == "maxLength" || k == "maxItems") && v.is_number() && a[k].is_number()) {
      a[k] = std::min(a[k].get<double>(), v.get<double>());
    } else if (k == "type") {
      // Intersection, kept as a list (an empty list allows nothing).
      auto ta = parse_types(a[k]), tb = parse_types(v);
      if (!ta.ok() || !tb.ok()) continue;  // reported when the merged schema is compiled
      uint8_t both = *ta & *tb;
      if ((*ta & kTNumber) && (*tb & kTInteger)) both |= kTInteger;
      if ((*tb & kTNumber) && (*ta & kTInteger)) both |= kTInteger;
      Json list = Json::array();
      for (const auto& t : kTypes)
        if (both & t.bit) list.push_back(t.name);
      a[k] = list;
    } else if (k == "enum" && a[k].is_array() && v.is_array()) {
      Json keep = Json::array();
      for (const auto& x : a[k])
        if (std::find(v.begin(), v.end(), x) != v.end()) keep.push_back(x);
      a[k] = keep;
    } else if (k == "additionalProperties" && a[k].is_boolean() && !a[k].get<bool>()) {
      // false stays false
    } else if (k == "allOf" && v.is_array() && a[k].is_array()) {
      for (const auto& x : v) a[k].push_back(x);  // merged by flatten's loop
    } else if ((k == "anyOf" || k == "oneOf") && v.is_array()) {
      // Both sides constrain: keep b's alternatives as a further allOf condition.
      if (!a.contains("allOf") || !a["allOf"].is_array()) a["allOf"] = Json::array();
      a["allOf"].push_back(Json{{k, v}});
    } else {
      a[k] = v;
    }
  }
  return a;
}

}  // namespace

bool value_has_type(const Json& v, uint8_t types) {
  if (v.is_string()) return types & kTString;
  if (v.is_boolean()) return types & kTBoolean;
  if (v.is_null()) return types & kTNull;
  if (v.is_object()) return types & kTObject;
  if (v.is_array()) return types & kTArray;
  if (v.is_number_integer()) return types & (kTInteger | kTNumber);
  if (v.is_number()) {
    const double d = v.get<double>();
    return (types & kTNumber) || ((types & kTInteger) && std::floor(d) == d);
  }
  return false;
}

std::string json_key(const std::string& name) { return Json(name).dump() + ":"; }

// Bounds the schema nesting and undoes the $refs pushed at this level.
struct SchemaCompiler::Scope {
  SchemaCompiler& c;
  size_t refs;
  explicit Scope(SchemaCompiler& sc) : c(sc), refs(sc.refs_.size()) { ++c.depth_; }
  ~Scope() {
    --c.depth_;
    c.refs_.resize(refs);
  }
};

Result<Json> SchemaCompiler::deref(const Json& schema, std::vector<std::string>& seen) {
  Json s = schema;
  while (s.is_object() && s.contains("$ref")) {
    if (!s["$ref"].is_string()) return error("'$ref' must be a string");
    const std::string ref = s["$ref"].get<std::string>();
    if (std::find(seen.begin(), seen.end(), ref) != seen.end())
      return error("recursive $ref '{}' is not supported", ref);
    if (ref.empty() || ref[0] != '#') return error("$ref '{}' is not local to the schema (only '#...' is supported)", ref);
    const Json* target = nullptr;
    try {
      target = &doc_.at(Json::json_pointer(ref.substr(1)));
    } catch (const std::exception&) {
      return error("$ref '{}' does not resolve in the schema", ref);
    }
    seen.push_back(ref);
    Json rest = s;
    rest.erase("$ref");
    if (target->is_boolean()) {
      if (!target->get<bool>()) return Json(false);
      s = rest;
    } else if (target->is_object()) {
      s = merge(*target, rest);
    } else {
      return error("$ref '{}' does not name a schema", ref);
    }
  }
  return s;
}

Result<Json> SchemaCompiler::flatten(const Json& schema, bool keep_refs) {
  if (schema.is_boolean()) return schema;
  if (!schema.is_object()) return error("a schema must be an object or a boolean");
  std::vector<std::string> seen = refs_;
  DSV4_ASSIGN_OR_RETURN(Json s, deref(schema, seen));
  for (int guard = 0; s.is_object() && s.contains("allOf"); ++guard) {
    if (guard > kMaxSchemaDepth) return error("allOf nests too deeply");
    if (!s["allOf"].is_array()) return error("'allOf' must be a list");
    Json items = s["allOf"];
    s.erase("allOf");
    for (const auto& item : items) {
      if (item.is_boolean()) {
        if (!item.get<bool>()) return Json(false);
        continue;
      }
      if (!item.is_object()) return error("each 'allOf' entry must be a schema");
      DSV4_ASSIGN_OR_RETURN(Json it, deref(item, seen));
      if (it.is_boolean()) {
        if (!it.get<bool>()) return Json(false);
        continue;
      }
      s = merge(std::move(s), it);
    }
    DSV4_ASSIGN_OR_RETURN(s, deref(s, seen));
  }
  // Keep the refs expanded at this level on the path, so that recursion through them is caught.
  if (keep_refs)
    for (size_t i = refs_.size(); i < seen.size(); ++i) refs_.push_back(seen[i]);
  return s;
}

Result<uint8_t> SchemaCompiler::types(const Json& s) const {
  if (s.is_boolean()) return s.get<bool>() ? kTAll : 0;
  uint8_t t = kTAll;
  if (s.contains("type")) {
    DSV4_ASSIGN_OR_RETURN(t, parse_types(s["type"]));
  } else {
    // No type: infer the one the keywords are about (a narrower choice is still valid output).
    uint8_t inferred = 0;
    for (const char* k : {"properties", "required", "additionalProperties", "minProperties", "maxProperties"})
      if (s.contains(k)) inferred |= kTObject;
    for (const char* k : {"items", "minItems", "maxItems", "prefixItems", "uniqueItems"})
      if (s.contains(k)) inferred |= kTArray;
    for (const char* k : {"minLength", "maxLength", "pattern", "format"})
      if (s.contains(k)) inferred |= kTString;
    for (const char* k : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})
      if (s.contains(k)) inferred |= kTNumber;
    if (inferred) t = inferred;
  }
  if (s.contains("nullable") && s["nullable"].is_boolean() && s["nullable"].get<bool>()) t |= kTNull;
  if ((t & kTNumber) && (t & kTInteger)) t &= static_cast<uint8_t>(~kTInteger);
  return t;
}

Result<std::optional<NodeId>> SchemaCompiler::value(const Json& schema) {
  Scope scope(*this);
  if (depth_ > kMaxSchemaDepth) return error("the schema nests deeper than {} levels", kMaxSchemaDepth);
  DSV4_ASSIGN_OR_RETURN(Json s, flatten(schema, true));
  if (s.is_boolean()) {
    if (!s.get<bool>()) return std::optional<NodeId>();
    return std::optional<NodeId>(b_.any_json());
  }
  for (const char* k : {"anyOf", "oneOf"}) {
    if (!s.contains(k)) continue;
    if (!s[k].is_array()) return error("'{}' must be a list", k);
    Json base = s;
    base.erase(k);
    std::vector<NodeId> alts;
    for (const auto& alt : s[k]) {
      if (!alt.is_boolean() && !alt.is_object()) return error("each '{}' entry must be a schema", k);
      if (alt.is_boolean() && !alt.get<bool>()) continue;
      DSV4_ASSIGN_OR_RETURN(auto node, value(alt.is_boolean() ? base : merge(base, alt)));
      if (node) alts.push_back(*node);
    }
    if (alts.empty()) return std::optional<NodeId>();
    return std::optional<NodeId>(b_.choice(std::move(alts)));
  }
  DSV4_ASSIGN_OR_RETURN(uint8_t t, types(s));
  // Listed values are filtered by a declared type only (inferred types are a generation choice).
  const uint8_t listed = s.contains("type") || s.contains("nullable") ? t : uint8_t{kTAll};
  if (s.contains("const")) return literals(s, Json::array({s["const"]}), listed);
  if (s.contains("enum")) {
    if (!s["enum"].is_array()) return error("'enum' must be a list");
    return literals(s, s["enum"], listed);
  }
  std::vector<NodeId> alts;
  for (const auto& k : kTypes) {
    if (!(t & k.bit)) continue;
    DSV4_ASSIGN_OR_RETURN(auto node, of_type(s, k.bit));
    if (node) alts.push_back(*node);
  }
  if (alts.empty()) return std::optional<NodeId>();
  return std::optional<NodeId>(b_.choice(std::move(alts)));
}

Result<std::optional<NodeId>> SchemaCompiler::literals(const Json& s, const Json& values, uint8_t allowed) {
  std::vector<std::pair<std::string, NodeId>> lits;
  for (const auto& v : values)
    if (value_has_type(v, allowed)) lits.emplace_back(v.dump(), -1);
  if (lits.empty()) return std::optional<NodeId>();
  return std::optional<NodeId>(b_.litset(std::move(lits)));
}

Result<std::optional<NodeId>> SchemaCompiler::of_type(const Json& s, uint8_t type) {
  switch (type) {
    case kTString: {
      DSV4_ASSIGN_OR_RETURN(uint32_t lo, count_keyword(s, "minLength", 0));
      DSV4_ASSIGN_OR_RETURN(uint32_t hi, count_keyword(s, "maxLength", kUnbounded));
      if (lo > hi) return std::optional<NodeId>();
      return std::optional<NodeId>(b_.string(StringSpec{lo, hi, false}));
    }
    case kTInteger: return std::optional<NodeId>(b_.number(true));
    case kTNumber: return std::optional<NodeId>(b_.number(false));
    case kTBoolean: return std::optional<NodeId>(b_.litset({{"true", -1}, {"false", -1}}));
    case kTNull: return std::optional<NodeId>(b_.lit("null"));
    case kTObject: return object(s);
    default: return array(s);
  }
}

Result<std::optional<NodeId>> SchemaCompiler::object(const Json& s) {
  if (++containers_ > kMaxContainers) return error("objects / arrays nest deeper than {} levels", kMaxContainers);
  struct Leave {
    int& n;
    ~Leave() { --n; }
  } leave{containers_};
  const Json props = s.contains("properties") ? s["properties"] : Json::object();
  if (!props.is_object()) return error("'properties' must be an object");
  const Json required = s.contains("required") ? s["required"] : Json::array();
  if (!required.is_array()) return error("'required' must be a list of names");
  for (const auto& r : required)
    if (!r.is_string()) return error("'required' must be a list of names");
  const Json addl = s.contains("additionalProperties") ? s["additionalProperties"] : Json(true);
  if (!addl.is_boolean() && !addl.is_object()) return error("'additionalProperties' must be a boolean or a schema");
  const bool closed = addl.is_boolean() && !addl.get<bool>();
  auto is_required = [&](const std::string& name) {
    return std::find(required.begin(), required.end(), Json(name)) != required.end();
  };

  std::vector<std::pair<std::string, NodeId>> fields;
  uint64_t req = 0;
  auto add = [&](const std::string& name, NodeId node) -> Status {
    if (fields.size() >= 64) return error("objects with more than 64 properties are not supported");
    if (is_required(name)) req |= uint64_t{1} << fields.size();
    fields.emplace_back(name, node);
    return ok_status();
  };
  for (auto it = props.begin(); it != props.end(); ++it) {
    DSV4_ASSIGN_OR_RETURN(auto node, value(it.value()));
    if (!node) {
      if (is_required(it.key())) return std::optional<NodeId>();
      continue;  // an optional property no value fits: never written
    }
    DSV4_TRY(add(it.key(), *node));
  }
  for (const auto& r : required) {
    const std::string& name = r.get_ref<const std::string&>();
    if (props.contains(name)) continue;
    if (closed) return std::optional<NodeId>();
    DSV4_ASSIGN_OR_RETURN(auto node, value(addl));
    if (!node) return std::optional<NodeId>();
    DSV4_TRY(add(name, *node));
  }

  ObjectSpec o;
  o.space_after_key = true;
  std::vector<LitTrie::Entry> first = {{"{}", kTagClose}}, next = {{"}", kTagClose}};
  if (!fields.empty()) {
    for (size_t i = 0; i < fields.size(); ++i) {
      const std::string key = json_key(fields[i].first);
      const auto tag = static_cast<int32_t>(i);
      first.push_back({"{" + key, tag});
      next.push_back({"," + key, tag});
      next.push_back({", " + key, tag});
      o.values.push_back(fields[i].second);
    }
    o.required = req;
  } else if (!closed) {
    DSV4_ASSIGN_OR_RETURN(auto v, value(addl));
    if (v) {
      first.push_back({"{\"", kTagFree});
      next.push_back({",\"", kTagFree});
      next.push_back({", \"", kTagFree});
      o.free_key = b_.string(StringSpec{0, kUnbounded, true});
      o.free_value = *v;
    }
  }
  o.first = LitTrie::build(std::move(first));
  o.next = LitTrie::build(std::move(next));
  return std::optional<NodeId>(b_.object(std::move(o)));
}

Result<std::optional<NodeId>> SchemaCompiler::array(const Json& s) {
  if (++containers_ > kMaxContainers) return error("objects / arrays nest deeper than {} levels", kMaxContainers);
  struct Leave {
    int& n;
    ~Leave() { --n; }
  } leave{containers_};
  DSV4_ASSIGN_OR_RETURN(uint32_t lo, count_keyword(s, "minItems", 0));
  DSV4_ASSIGN_OR_RETURN(uint32_t hi, count_keyword(s, "maxItems", kUnbounded));
  // Tuple-form "items" (a list) is ignored: any items.
  const Json items = s.contains("items") && (s["items"].is_object() || s["items"].is_boolean()) ? s["items"] : Json(true);
  DSV4_ASSIGN_OR_RETURN(auto item, value(items));
  if (!item) {
    if (lo > 0) return std::optional<NodeId>();
    hi = 0;
  }
  if (lo > hi) return std::optional<NodeId>();
  RepeatSpec r;
  r.item = item ? *item : b_.any_json();  // never entered when no item fits (max 0)
  r.min = lo;
  r.max = hi;
  r.first = LitTrie::build({{"[", kTagItem}, {"[]", kTagClose}});
  r.after = LitTrie::build({{",", kTagItem}, {", ", kTagItem}, {"]", kTagClose}});
  return std::optional<NodeId>(b_.repeat(std::move(r)));
}

}  // namespace dsv4::constrain
