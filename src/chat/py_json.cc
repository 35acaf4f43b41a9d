#include "chat/py_json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <vector>

namespace dsv4::chat {
namespace {

constexpr std::size_t kMaxDepth = 512;

// Builds an ordered_json tree from SAX events so that the lexeme of integers too large for 64 bits
// is kept (nlohmann would round them to a double), and so that depth is bounded.
class PyJsonBuilder : public nlohmann::json_sax<Json> {
 public:
  Json root;
  std::string error;

  bool null() override { return put(Json(nullptr)); }
  bool boolean(bool v) override { return put(Json(v)); }
  bool number_integer(number_integer_t v) override { return put(Json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return put(Json(v)); }
  bool number_float(number_float_t v, const string_t& lexeme) override {
    if (lexeme.find_first_of(".eE") == std::string::npos) {
      // An integer literal outside the 64-bit range: Python keeps it exact.
      Json big = Json::binary(std::vector<std::uint8_t>(lexeme.begin(), lexeme.end()), kBigIntSubtype);
      return put(std::move(big));
    }
    return put(Json(v));
  }
  bool string(string_t& v) override { return put(Json(std::move(v))); }
  bool binary(binary_t& v) override { return put(Json::binary(std::move(v))); }
  bool start_object(std::size_t) override { return open(Json::object()); }
  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(Json::array()); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception& e) override {
    error = e.what();
    return false;
  }

 private:
  // Returns where the next value goes: the root, the end of the open array, or the open object at key_.
  Json* slot() {
    if (stack_.empty()) return &root;
    Json* top = stack_.back();
    if (top->is_array()) {
      top->push_back(nullptr);
      return &top->back();
    }
    // operator[] on an existing key keeps its position and replaces the value (Python dict).
    return &(*top)[key_];
  }
  bool put(Json v) {
    *slot() = std::move(v);
    return true;
  }
  bool open(Json container) {
    if (stack_.size() >= kMaxDepth) {
      error = "nesting deeper than 512 levels";
      return false;
    }
    Json* s = slot();
    *s = std::move(container);
    stack_.push_back(s);
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  std::vector<Json*> stack_;
  std::string key_;
};

}  // namespace

Result<Json> parse_py_json(std::string_view text) {
  PyJsonBuilder b;
  bool ok = false;
  try {
    ok = Json::sax_parse(text.begin(), text.end(), &b);
  } catch (const std::exception& e) {  // the SAX parser reports through parse_error; this is a backstop
    b.error = e.what();
  }
  if (!ok) return Status::error(b.error.empty() ? std::string("invalid JSON") : b.error);
  return std::move(b.root);
}

void append_py_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

std::string py_string(std::string_view s) {
  std::string out;
  append_py_string(out, s);
  return out;
}

std::string py_float_repr(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));  // "-d.ddde+XX", shortest
  std::string out;
  if (!sci.empty() && sci[0] == '-') {
    out.push_back('-');
    sci.remove_prefix(1);
  }
  std::size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e))
    if (c != '.') digits.push_back(c);
  int exp10 = 0;
  std::from_chars(sci.data() + e + 1 + (sci[e + 1] == '+'), sci.data() + sci.size(), exp10);
  const int decpt = exp10 + 1;  // value = 0.DIGITS * 10^decpt
  const int nd = static_cast<int>(digits.size());
  if (decpt > 16 || decpt < -3) {  // CPython float_repr_style 'short', mode 'r'
    out += digits.substr(0, 1);
    if (nd > 1) out += "." + digits.substr(1);
    const int x = decpt - 1;
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
    out += eb;
  } else if (decpt <= 0) {
    out += "0." + std::string(static_cast<std::size_t>(-decpt), '0') + digits;
  } else if (decpt >= nd) {
    out += digits + std::string(static_cast<std::size_t>(decpt - nd), '0') + ".0";
  } else {
    out += digits.substr(0, static_cast<std::size_t>(decpt)) + "." + digits.substr(static_cast<std::size_t>(decpt));
  }
  return out;
}

void append_py_dumps(std::string& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: out += "null"; break;
    case Json::value_t::boolean: out += v.get<bool>() ? "true" : "false"; break;
    case Json::value_t::number_integer: out += std::to_string(v.get<std::int64_t>()); break;
    case Json::value_t::number_unsigned: out += std::to_string(v.get<std::uint64_t>()); break;
    case Json::value_t::number_float: out += py_float_repr(v.get<double>()); break;
    case Json::value_t::string: append_py_string(out, v.get_ref<const std::string&>()); break;
    case Json::value_t::binary: {
      const auto& b = v.get_binary();
      out.append(b.begin(), b.end());  // a big integer's digits (see parse_py_json)
      break;
    }
    case Json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v) {
        if (!first) out += ", ";
        first = false;
        append_py_dumps(out, e);
      }
      out.push_back(']');
      break;
    }
    case Json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [k, e] : v.items()) {
        if (!first) out += ", ";
        first = false;
        append_py_string(out, k);
        out += ": ";
        append_py_dumps(out, e);
      }
      out.push_back('}');
      break;
    }
    case Json::value_t::discarded: break;
  }
}

std::string py_dumps(const Json& value) {
  std::string out;
  append_py_dumps(out, value);
  return out;
}

bool py_truthy(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return false;
    case Json::value_t::boolean: return v.get<bool>();
    case Json::value_t::number_integer: return v.get<std::int64_t>() != 0;
    case Json::value_t::number_unsigned: return v.get<std::uint64_t>() != 0;
    case Json::value_t::number_float: return v.get<double>() != 0.0;
    case Json::value_t::string: return !v.get_ref<const std::string&>().empty();
    case Json::value_t::array:
    case Json::value_t::object: return !v.empty();
    case Json::value_t::binary: return true;
    case Json::value_t::discarded: return false;
  }
  return false;
}

}  // namespace dsv4::chat
