#include "io/gguf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "io/gguf_writer.h"

namespace dsv4 {
namespace {

// Hand-assembled GGUF bytes, for the malformed files the writer refuses to produce.
struct Raw {
  std::vector<uint8_t> b;
  template <typename T>
  Raw& put(T v) {
    const size_t n = b.size();
    b.resize(n + sizeof(T));
    std::memcpy(b.data() + n, &v, sizeof(T));
    return *this;
  }
  Raw& str(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Raw& header(uint64_t n_tensors, uint64_t n_kv) { return put<uint32_t>(0x46554747u).put<uint32_t>(3).put(n_tensors).put(n_kv); }
  Raw& kv_u32(const std::string& k, uint32_t v) { return str(k).put<uint32_t>(4).put(v); }
  Raw& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t off) {
    str(name).put<uint32_t>(static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) put(d);
    return put(type).put(off);
  }
  Raw& pad_to(size_t al) {
    b.resize((b.size() + al - 1) / al * al, 0);
    return *this;
  }
  Raw& zeros(size_t n) {
    b.resize(b.size() + n, 0);
    return *this;
  }
};

Result<GgufHeader> parse(const Raw& r) { return parse_gguf_header(r.b, r.b.size(), "t.gguf"); }

std::string tmp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("dsv4_gguf_" + std::to_string(::getpid()) + "_" + name)).string();
}

TEST(Gguf, WriterRoundTripsMetadataAndTensors) {
  GgufWriter w;
  w.set_string("general.architecture", "deepseek4");
  w.set_u32("x.count", 7);
  w.set_i32("x.neg", -3);
  w.set_u64("x.big", 1ull << 40);
  w.set_f32("x.eps", 1e-6f);
  w.set_bool("x.flag", true);
  w.set_i32_array("x.ratios", {0, 4, 128});
  w.set_f32_array("x.clamp", {10.0f, 7.5f});
  w.set_string_array("x.tokens", {"a", "", "<｜begin▁of▁sentence｜>"});
  std::vector<uint8_t> f32(4 * 6);
  for (size_t i = 0; i < f32.size(); ++i) f32[i] = static_cast<uint8_t>(i);
  w.add_tensor("blk.0.attn_norm.weight", GgmlType::kF32, {3, 2}, f32);
  w.add_tensor("q", GgmlType::kQ8_0, {64, 1}, std::vector<uint8_t>(68, 9));
  const std::string p = tmp_path("rt.gguf");
  ASSERT_TRUE(w.write(p).ok());
  auto f = GgufFile::open(p);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(*(*f)->get_string("general.architecture"), "deepseek4");
  EXPECT_EQ(*(*f)->get_int("x.count"), 7);
  EXPECT_EQ(*(*f)->get_int("x.neg"), -3);
  EXPECT_EQ(*(*f)->get_int("x.big"), int64_t{1} << 40);
  EXPECT_FLOAT_EQ(static_cast<float>(*(*f)->get_float("x.eps")), 1e-6f);
  EXPECT_TRUE(*(*f)->get_bool("x.flag"));
  EXPECT_EQ(*(*f)->get_int_array("x.ratios"), (std::vector<int64_t>{0, 4, 128}));
  EXPECT_EQ((*f)->find("x.clamp")->floats, (std::vector<double>{10.0, 7.5}));
  EXPECT_EQ((*f)->find("x.tokens")->strings[2], "<｜begin▁of▁sentence｜>");
  EXPECT_EQ((*f)->header().key_order.front(), "general.architecture");
  const GgufTensor* t = (*f)->find_tensor("blk.0.attn_norm.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->ne, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(t->shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t->nbytes, 24u);
  EXPECT_EQ(std::vector<uint8_t>(t->data, t->data + 24), f32);
  const GgufTensor* q = (*f)->find_tensor("q");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->nbytes, 68u);
  EXPECT_EQ(q->offset % 32, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(q->data) % 32, 0u);
  // Wrong types are errors that name the key.
  auto bad = (*f)->get_string("x.count");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("x.count"), std::string::npos);
  EXPECT_FALSE((*f)->get_int("missing").ok());
  std::filesystem::remove(p);
}

TEST(Gguf, WriterRefusesWrongSizesAndLeavesNoFile) {
  GgufWriter w;
  w.add_tensor("t", GgmlType::kF32, {4}, std::vector<uint8_t>(15));
  const std::string p = tmp_path("short.gguf");
  Status st = w.write(p);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("'t'"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(p));
  EXPECT_FALSE(std::filesystem::exists(p + ".tmp"));
  GgufWriter w2;
  w2.add_tensor("q", GgmlType::kQ8_0, {33}, std::vector<uint8_t>(34));
  EXPECT_FALSE(w2.write(p).ok());
}

TEST(Gguf, MinimalValidFileParses) {
  Raw r;
  r.header(1, 1).kv_u32("general.alignment", 64).tensor("a", {4}, 0, 0).pad_to(64).zeros(16);
  auto h = parse(r);
  ASSERT_TRUE(h.ok()) << h.message();
  EXPECT_EQ(h->alignment, 64u);
  EXPECT_EQ(h->data_offset % 64, 0u);
}

void expect_error(const Raw& r, const std::string& needle) {
  auto h = parse(r);
  ASSERT_FALSE(h.ok()) << "expected an error mentioning " << needle;
  EXPECT_NE(h.message().find(needle), std::string::npos) << h.message();
  EXPECT_EQ(h.message().rfind("t.gguf", 0), 0u) << h.message();
}

TEST(Gguf, RejectsMalformedHeaders) {
  { Raw r; r.put<uint32_t>(0x46554746u).put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(0); expect_error(r, "not a GGUF"); }
  { Raw r; r.put<uint32_t>(0x46554747u).put<uint32_t>(1).put<uint64_t>(0).put<uint64_t>(0); expect_error(r, "version 1"); }
  { Raw r; r.put<uint32_t>(0x46554747u).put<uint32_t>(3); expect_error(r, "truncated"); }
  { Raw r; r.header(0, 1000000); expect_error(r, "key-value count"); }
  { Raw r; r.header(1000000, 0); expect_error(r, "tensor count"); }
  { Raw r; r.header(0, 2).kv_u32("k", 1).kv_u32("k", 2); expect_error(r, "duplicate key 'k'"); }
  { Raw r; r.header(0, 1).str("k").put<uint32_t>(13).put<uint32_t>(0); expect_error(r, "unknown value type 13"); }
  { Raw r; r.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(1); expect_error(r, "array of arrays"); }
  { Raw r; r.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(4).put<uint64_t>(1ull << 60); expect_error(r, "elements beyond"); }
  { Raw r; r.header(0, 1).str("k").put<uint32_t>(8).put<uint64_t>(100); expect_error(r, "beyond the file"); }
  { Raw r; r.header(0, 1).str("k").put<uint32_t>(7).put<uint8_t>(2); expect_error(r, "bool of value 2"); }
  { Raw r; r.header(0, 1).kv_u32("general.alignment", 48); expect_error(r, "power of two"); }
  { Raw r; r.header(0, 1).str("general.alignment").put<uint32_t>(10).put<uint64_t>(32); expect_error(r, "must be u32"); }
  { Raw r; r.header(0, 1).str("").put<uint32_t>(4).put<uint32_t>(0); expect_error(r, "empty"); }
}

TEST(Gguf, RejectsMalformedTensorInfos) {
  auto one = [](const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t off, size_t data) {
    Raw r;
    r.header(1, 0).tensor(name, std::move(ne), type, off).pad_to(32).zeros(data);
    return r;
  };
  expect_error(one("a", {4}, 0, 0, 8), "past the end");
  expect_error(one("a", {4}, 31, 0, 16), "unknown ggml type 31");
  expect_error(one("a", {33}, 8, 0, 64), "multiple of the type's block");
  expect_error(one("a", {1, 1, 1, 1, 1}, 0, 0, 4), "5 dimensions");
  expect_error(one("a", {4}, 0, 8, 64), "not a multiple of the alignment");
  expect_error(one(std::string(64, 'n'), {4}, 0, 0, 16), "name of 64 bytes");
  expect_error(one("a", {1ull << 62, 1ull << 62}, 0, 0, 16), "overflows");
  {
    Raw r;
    r.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 32).pad_to(32).zeros(96);
    expect_error(r, "'a' and 'b' overlap");
  }
  {
    Raw r;
    r.header(2, 0).tensor("a", {4}, 0, 0).tensor("a", {4}, 0, 32).pad_to(32).zeros(64);
    expect_error(r, "duplicate tensor name 'a'");
  }
}

TEST(Gguf, OpenNamesTheFile) {
  const std::string p = tmp_path("garbage.gguf");
  {
    std::FILE* f = std::fopen(p.c_str(), "wb");
    std::fputs("definitely not gguf", f);
    std::fclose(f);
  }
  auto f = GgufFile::open(p);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.message().find(p), std::string::npos);
  std::filesystem::remove(p);
}

}  // namespace
}  // namespace dsv4
