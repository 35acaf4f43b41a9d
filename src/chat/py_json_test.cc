#include "chat/py_json.h"

#include <gtest/gtest.h>

namespace dsv4::chat {
namespace {

std::string redump(std::string_view text) {
  auto v = parse_py_json(text);
  EXPECT_TRUE(v.ok()) << v.message();
  return v.ok() ? py_dumps(*v) : "";
}

TEST(PyJson, FloatReprMatchesPython) {
  // Values checked against CPython repr().
  EXPECT_EQ(py_float_repr(1.0), "1.0");
  EXPECT_EQ(py_float_repr(-0.0), "-0.0");
  EXPECT_EQ(py_float_repr(0.0), "0.0");
  EXPECT_EQ(py_float_repr(0.1), "0.1");
  EXPECT_EQ(py_float_repr(1e-05), "1e-05");
  EXPECT_EQ(py_float_repr(0.0001), "0.0001");
  EXPECT_EQ(py_float_repr(1.5e-7), "1.5e-07");
  EXPECT_EQ(py_float_repr(1e16), "1e+16");
  EXPECT_EQ(py_float_repr(1e15), "1000000000000000.0");
  EXPECT_EQ(py_float_repr(9999999999999998.0), "9999999999999998.0");
  EXPECT_EQ(py_float_repr(1e20), "1e+20");
  EXPECT_EQ(py_float_repr(1.2345e+100), "1.2345e+100");
  EXPECT_EQ(py_float_repr(123456789012345678.0), "1.2345678901234568e+17");
  EXPECT_EQ(py_float_repr(3.14), "3.14");
  EXPECT_EQ(py_float_repr(-2.5), "-2.5");
  EXPECT_EQ(py_float_repr(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(py_float_repr(5e-324), "5e-324");
  EXPECT_EQ(py_float_repr(0.30000000000000004), "0.30000000000000004");
}

TEST(PyJson, DumpsUsesPythonSeparatorsAndKeepsOrder) {
  EXPECT_EQ(redump(R"({"b":1,"a":[1,2.0,true,false,null],"c":{}})"),
            R"({"b": 1, "a": [1, 2.0, true, false, null], "c": {}})");
  EXPECT_EQ(redump("[]"), "[]");
  EXPECT_EQ(redump("1E2"), "100.0");
  EXPECT_EQ(redump("-0"), "0");
  EXPECT_EQ(redump("1e-5"), "1e-05");
}

TEST(PyJson, BigIntegersStayExact) {
  EXPECT_EQ(redump("[123456789012345678901234567890, -9223372036854775809, 18446744073709551615]"),
            "[123456789012345678901234567890, -9223372036854775809, 18446744073709551615]");
}

TEST(PyJson, DuplicateKeysKeepFirstPositionLastValue) {
  EXPECT_EQ(redump(R"({"a": 1, "b": 2, "a": 3})"), R"({"a": 3, "b": 2})");
}

TEST(PyJson, StringsEscapeLikePythonWithoutAscii) {
  EXPECT_EQ(py_string("a\"b\\c\n\t\r\b\f"), R"("a\"b\\c\n\t\r\b\f")");
  EXPECT_EQ(py_string(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\x7f\"");
  EXPECT_EQ(py_string("北京 °C"), "\"北京 °C\"");
  EXPECT_EQ(redump(R"("\u00e9\ud83d\ude00")"), "\"é😀\"");
}

TEST(PyJson, RejectsBadInputWithoutCrashing) {
  EXPECT_FALSE(parse_py_json("{").ok());
  EXPECT_FALSE(parse_py_json("[1,]").ok());
  EXPECT_FALSE(parse_py_json("NaN").ok());
  EXPECT_FALSE(parse_py_json(std::string(100000, '[')).ok());  // depth limit, no stack overflow
  EXPECT_TRUE(parse_py_json(std::string(500, '[') + std::string(500, ']')).ok());
}

TEST(PyJson, Truthiness) {
  for (const char* f : {"null", "false", "0", "0.0", "\"\"", "[]", "{}"}) EXPECT_FALSE(py_truthy(*parse_py_json(f))) << f;
  for (const char* t : {"true", "1", "-1", "0.5", "\"x\"", "[0]", "{\"a\":0}"}) EXPECT_TRUE(py_truthy(*parse_py_json(t))) << t;
}

}  // namespace
}  // namespace dsv4::chat
