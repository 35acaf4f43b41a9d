// JSON Schema -> grammar nodes. Supported: type (and type lists, OpenAPI "nullable"), const,
// enum, properties / required / additionalProperties, items, minItems / maxItems, minLength /
// maxLength, anyOf / oneOf (as alternatives: oneOf's exclusivity is not enforced), allOf (merged),
// local $ref ("#/$defs/X", "#/definitions/X", any JSON pointer into the document; recursion is an
// error). Ignored (the output is still valid JSON of the right shape): pattern, format, minimum /
// maximum / multipleOf, uniqueItems, prefixItems / tuple items, min/maxProperties, patternProperties,
// dependencies, not, if/then/else. An object with declared properties gets only those (extra keys
// are never generated, whatever additionalProperties says); one without gets free keys unless
// additionalProperties is false. Keys may come in any order, each at most once.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "constrain/grammar.h"

namespace dsv4::constrain {

using Json = nlohmann::ordered_json;

// Type bits.
enum : uint8_t {
  kTString = 1,
  kTInteger = 2,
  kTNumber = 4,
  kTBoolean = 8,
  kTNull = 16,
  kTObject = 32,
  kTArray = 64,
  kTAll = 127,
};

class SchemaCompiler {
 public:
  SchemaCompiler(GrammarBuilder& b, const Json& document) : b_(b), doc_(document) {}

  // A node for the JSON values the schema accepts; nullopt when it accepts none.
  Result<std::optional<NodeId>> value(const Json& schema);

  // The schema with top-level $ref and allOf merged in (a boolean stays a boolean).
  Result<Json> flatten(const Json& schema) { return flatten(schema, false); }
  // The types a flattened schema allows (declared, or inferred from its keywords).
  Result<uint8_t> types(const Json& flat) const;

 private:
  struct Scope;
  // keep_refs: the $refs expanded stay on the current path (value() pops them on return).
  Result<Json> flatten(const Json& schema, bool keep_refs);
  Result<Json> deref(const Json& schema, std::vector<std::string>& seen);
  Result<std::optional<NodeId>> of_type(const Json& s, uint8_t type);
  Result<std::optional<NodeId>> object(const Json& s);
  Result<std::optional<NodeId>> array(const Json& s);
  Result<std::optional<NodeId>> literals(const Json& s, const Json& values, uint8_t allowed);

  GrammarBuilder& b_;
  const Json& doc_;
  std::vector<std::string> refs_;  // $refs being expanded on the current path
  int depth_ = 0;                  // schema nesting on the current path
  int containers_ = 0;             // object / array nesting on the current path
};

// Whether a JSON value is of one of the types.
bool value_has_type(const Json& v, uint8_t types);

// A "key": literal (JSON-escaped name and colon).
std::string json_key(const std::string& name);

}  // namespace dsv4::constrain
