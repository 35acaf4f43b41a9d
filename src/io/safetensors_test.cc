// Safetensors reader and checkpoint index: valid files map zero-copy; every malformed file is an
// error naming the file and the tensor. Files are written byte by byte into a temporary directory.
#include "io/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/checkpoint.h"

namespace dsv4 {
namespace {
namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() / ("dsv4_st_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

// A safetensors file: length, header padded with spaces to 8 bytes (as the writers do), data.
std::string st_bytes(std::string header, const std::string& data, bool pad = true) {
  while (pad && header.size() % 8) header += ' ';
  return le64(header.size()) + header + data;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Opens `bytes` written as `name` and expects an error mentioning the path and every `needles`.
void expect_error(const std::string& bytes, std::initializer_list<std::string> needles) {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  write_file(path, bytes);
  auto f = SafetensorsFile::open(path);
  ASSERT_FALSE(f.ok()) << "opened without error";
  EXPECT_NE(f.message().find(path), std::string::npos) << f.message();
  for (const auto& n : needles) EXPECT_NE(f.message().find(n), std::string::npos) << "'" << n << "' not in: " << f.message();
  // The in-memory parser gives the same verdict.
  std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  EXPECT_FALSE(parse_safetensors_header(span, bytes.size(), "mem").ok());
}

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape, uint64_t b,
                  uint64_t e) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
         std::to_string(b) + "," + std::to_string(e) + "]}";
}

TEST(Safetensors, OpensEveryDtypeZeroCopy) {
  const float f32[2] = {1.5f, -2.25f};
  const int64_t i64 = -7;
  std::string data(reinterpret_cast<const char*>(&i64), 8);
  data += std::string(reinterpret_cast<const char*>(f32), 8);
  data += std::string("\x80\x3f\x00\x40", 4);  // BF16 1.0, 2.0
  data += std::string("\x00\x3c", 2);          // F16 1.0
  data += std::string("\x7e\x7f\x01\x02\x01\x00\x00\x00\x00\x00", 10);  // F8, E8M0, I8, U8, BOOL x2, pad
  data += std::string(8, '\0');                                 // F64 0 and (offset 32) I32 pair
  data += std::string(8, '\0');
  const std::string header =
      "{\"__metadata__\":{\"format\":\"pt\"}," + entry("i64", "I64", "[1]", 0, 8) + "," +
      entry("f32", "F32", "[2]", 8, 16) + "," + entry("bf16", "BF16", "[2]", 16, 20) + "," +
      entry("f16", "F16", "[]", 20, 22) + "," + entry("f8", "F8_E4M3", "[1]", 22, 23) + "," +
      entry("e8", "F8_E8M0", "[1, 1]", 23, 24) + "," + entry("i8", "I8", "[1]", 24, 25) + "," +
      entry("u8", "U8", "[1]", 25, 26) + "," + entry("b", "BOOL", "[2]", 26, 28) + "," +
      entry("pad", "U8", "[4]", 28, 32) + "," + entry("f64", "F64", "[1]", 32, 40) + "," +
      entry("i32", "I32", "[2]", 40, 48) + "," + entry("empty", "F32", "[0, 4]", 48, 48) + "}";
  TempDir dir;
  const std::string path = dir.file("ok.safetensors");
  write_file(path, st_bytes(header, data));
  auto f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ((*f)->tensors().size(), 13u);
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
  const TensorInfo* t = (*f)->find("f32");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dtype, DType::kF32);
  EXPECT_EQ(t->shape, std::vector<int64_t>{2});
  EXPECT_EQ(*t->file, path);
  ASSERT_EQ(t->as<float>().size(), 2u);
  EXPECT_EQ(t->as<float>()[0], 1.5f);
  EXPECT_EQ(t->as<float>()[1], -2.25f);
  EXPECT_EQ((*f)->find("i64")->as<int64_t>()[0], -7);
  EXPECT_EQ((*f)->find("bf16")->as<uint16_t>()[1], 0x4000);
  EXPECT_EQ((*f)->find("e8")->shape, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ((*f)->find("f16")->numel(), 1);  // rank 0: a scalar
  EXPECT_EQ((*f)->find("empty")->numel(), 0);
  EXPECT_EQ((*f)->find("empty")->nbytes(), 0u);
  EXPECT_EQ((*f)->find("missing"), nullptr);
  // Zero-copy: consecutive tensors are consecutive in the mapping.
  EXPECT_EQ((*f)->find("f32")->data, (*f)->find("i64")->data + 8);
}

TEST(Safetensors, RejectsBadHeaderLength) {
  expect_error("\x01\x02\x03", {"truncated"});
  expect_error(le64(1000) + "{}", {"header length 1000"});
  expect_error(le64(~uint64_t{0}) + "{}", {"header length"});
  expect_error(le64(0), {"does not start with '{'"});
  expect_error(st_bytes("[1,2]", ""), {"does not start with '{'"});
}

TEST(Safetensors, RejectsMalformedJson) {
  expect_error(st_bytes("{\"a\":{\"dtype\":\"U8\",", "", false), {"not valid JSON"});
  expect_error(st_bytes("{\"a\":1} x", "", false), {"not valid JSON"});
  expect_error(st_bytes("{\"a\":1}", ""), {"tensor 'a'", "not an object"});
  expect_error(st_bytes("{\"__metadata__\":{\"k\":3}}", ""), {"__metadata__['k']"});
}

TEST(Safetensors, RejectsBadEntries) {
  expect_error(st_bytes("{\"w\":{\"shape\":[1],\"data_offsets\":[0,1]}}", "x"), {"tensor 'w'", "dtype"});
  expect_error(st_bytes("{" + entry("w", "F8_E5M2", "[1]", 0, 1) + "}", "x"), {"tensor 'w'", "'F8_E5M2'"});
  expect_error(st_bytes("{" + entry("w", "f32", "[1]", 0, 4) + "}", "xxxx"), {"tensor 'w'", "'f32'"});
  expect_error(st_bytes("{" + entry("w", "U8", "[-1]", 0, 1) + "}", "x"), {"tensor 'w'", "shape"});
  expect_error(st_bytes("{" + entry("w", "U8", "[1.0]", 0, 1) + "}", "x"), {"tensor 'w'", "shape"});
  expect_error(st_bytes("{" + entry("w", "U8", "[4294967296, 4294967296, 4294967296]", 0, 1) + "}", "x"),
               {"tensor 'w'", "overflows"});
  expect_error(st_bytes("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", "x"),
               {"tensor 'w'", "data_offsets"});
  expect_error(st_bytes("{" + entry("w", "U8", "[1]", 1, 0) + "}", "x"), {"tensor 'w'", "end before begin"});
}

TEST(Safetensors, RejectsSizeMismatch) {
  expect_error(st_bytes("{" + entry("w", "F32", "[2, 3]", 0, 20) + "}", std::string(20, 'x')),
               {"tensor 'w'", "20 bytes", "[2, 3]", "needs 24"});
}

TEST(Safetensors, RejectsOffsetsOutsideTheFile) {
  expect_error(st_bytes("{" + entry("w", "U8", "[8]", 0, 8) + "}", std::string(4, 'x')),
               {"tensor 'w'", "outside the data section"});
}

TEST(Safetensors, RejectsOverlap) {
  expect_error(st_bytes("{" + entry("a", "U8", "[4]", 0, 4) + "," + entry("b", "U8", "[4]", 2, 6) + "}",
                        std::string(6, 'x')),
               {"'a'", "'b'", "overlap"});
  // A zero-size tensor inside another one overlaps it too.
  expect_error(st_bytes("{" + entry("a", "U8", "[4]", 0, 4) + "," + entry("b", "U8", "[0]", 2, 2) + "}",
                        std::string(4, 'x')),
               {"'a'", "'b'", "overlap"});
}

TEST(Safetensors, RejectsHolesAndTrailingBytes) {
  expect_error(st_bytes("{" + entry("a", "U8", "[2]", 0, 2) + "," + entry("b", "U8", "[2]", 4, 6) + "}",
                        std::string(6, 'x')),
               {"tensor 'b'", "2 unused bytes"});
  expect_error(st_bytes("{" + entry("a", "U8", "[2]", 0, 2) + "}", std::string(3, 'x')),
               {"1 trailing bytes", "'a'"});
  expect_error(st_bytes("{}", "x"), {"1 trailing bytes"});
}

TEST(Safetensors, RejectsDuplicates) {
  expect_error(st_bytes("{" + entry("w", "U8", "[1]", 0, 1) + "," + entry("w", "U8", "[1]", 1, 2) + "}", "xy"),
               {"duplicate key 'w'"});
  expect_error(st_bytes("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", "x"),
               {"'w'", "duplicate key 'dtype'"});
}

TEST(Safetensors, RejectsMisalignedData) {
  // The header is 8-byte padded; the F32 tensor starts at data offset 2.
  expect_error(st_bytes("{" + entry("a", "U8", "[2]", 0, 2) + "," + entry("f", "F32", "[1]", 2, 6) + "}",
                        std::string(6, 'x')),
               {"tensor 'f'", "not aligned"});
  // Unpadded header of odd length: even the first F32 is misaligned.
  std::string h = "{" + entry("f", "F32", "[1]", 0, 4) + "}";
  if (h.size() % 4 == 0) h += " ";
  expect_error(st_bytes(h, "xxxx", /*pad=*/false), {"tensor 'f'", "not aligned"});
}

// ---- Checkpoints with model.safetensors.index.json ----

struct Shards {
  TempDir dir;
  Shards() {
    write_file(dir.file("s1.safetensors"), st_bytes("{" + entry("a", "F32", "[1]", 0, 4) + "}", "abcd"));
    write_file(dir.file("s2.safetensors"),
               st_bytes("{" + entry("b", "U8", "[2]", 0, 2) + "," + entry("c", "U8", "[1]", 2, 3) + "}", "xyz"));
  }
  void index(const std::string& weight_map) {
    write_file(dir.file("model.safetensors.index.json"), "{\"metadata\":{},\"weight_map\":" + weight_map + "}");
  }
  std::string index_path() const { return dir.file("model.safetensors.index.json"); }
};

const char* kGoodMap = R"({"a":"s1.safetensors","b":"s2.safetensors","c":"s2.safetensors"})";

void expect_checkpoint_error(const std::string& dir, std::initializer_list<std::string> needles) {
  auto ck = Checkpoint::open(dir);
  ASSERT_FALSE(ck.ok());
  for (const auto& n : needles) EXPECT_NE(ck.message().find(n), std::string::npos) << "'" << n << "' not in: " << ck.message();
}

TEST(Checkpoint, OpensShardsThroughTheIndex) {
  Shards s;
  s.index(kGoodMap);
  auto ck = Checkpoint::open(s.dir.path().string());
  ASSERT_TRUE(ck.ok()) << ck.message();
  EXPECT_EQ((*ck)->shards().size(), 2u);
  ASSERT_EQ((*ck)->tensors().size(), 3u);
  EXPECT_EQ((*ck)->tensors()[0]->name, "a");
  ASSERT_NE((*ck)->find("c"), nullptr);
  EXPECT_EQ((*ck)->find("c")->as<uint8_t>()[0], 'z');
  EXPECT_EQ(*(*ck)->find("c")->file, s.dir.file("s2.safetensors"));
}

TEST(Checkpoint, RejectsMissingShard) {
  Shards s;
  s.index(R"({"a":"s1.safetensors","b":"s2.safetensors","c":"s2.safetensors","d":"s3.safetensors"})");
  expect_checkpoint_error(s.dir.path().string(), {s.index_path(), "'s3.safetensors'", "missing"});
}

TEST(Checkpoint, RejectsTensorListedButAbsent) {
  Shards s;
  s.index(R"({"a":"s1.safetensors","b":"s2.safetensors","c":"s2.safetensors","z":"s1.safetensors"})");
  expect_checkpoint_error(s.dir.path().string(), {s.index_path(), "'z'", s.dir.file("s1.safetensors")});
}

TEST(Checkpoint, RejectsTensorPresentButNotListed) {
  Shards s;
  s.index(R"({"a":"s1.safetensors","b":"s2.safetensors"})");
  expect_checkpoint_error(s.dir.path().string(), {s.dir.file("s2.safetensors"), "'c'", "not listed"});
}

TEST(Checkpoint, RejectsTensorInTheWrongShard) {
  Shards s;
  s.index(R"({"a":"s1.safetensors","b":"s1.safetensors","c":"s2.safetensors"})");
  expect_checkpoint_error(s.dir.path().string(), {s.dir.file("s2.safetensors"), "'b'", "'s1.safetensors'"});
}

TEST(Checkpoint, RejectsTensorInTwoShards) {
  Shards s;
  write_file(s.dir.file("s2.safetensors"), st_bytes("{" + entry("a", "F32", "[1]", 0, 4) + "}", "abcd"));
  s.index(R"({"a":"s1.safetensors"})");
  write_file(s.dir.file("s3.safetensors"), "");
  auto direct = Checkpoint::open(s.dir.path().string());
  EXPECT_TRUE(direct.ok()) << direct.message();  // s2 is not listed, so it is not read
  s.index(R"({"a":"s1.safetensors","x":"s2.safetensors"})");
  expect_checkpoint_error(s.dir.path().string(), {"'a'", "also appears in", s.dir.file("s1.safetensors")});
}

TEST(Checkpoint, RejectsBadIndexFiles) {
  Shards s;
  write_file(s.index_path(), "{\"weight_map\": {\"a\": ");
  expect_checkpoint_error(s.dir.path().string(), {s.index_path(), "not valid JSON"});
  s.index(R"({"a":"s1.safetensors","a":"s2.safetensors"})");
  expect_checkpoint_error(s.dir.path().string(), {s.index_path(), "duplicate key 'a'"});
  s.index(R"({"a":"../s1.safetensors"})");
  expect_checkpoint_error(s.dir.path().string(), {s.index_path(), "'a'", "invalid shard"});
  s.index(R"({"a":3})");
  expect_checkpoint_error(s.dir.path().string(), {s.index_path(), "'a'", "not a string"});
  s.index("{}");
  expect_checkpoint_error(s.dir.path().string(), {s.index_path(), "empty"});
  write_file(s.index_path(), "{\"metadata\":{}}");
  expect_checkpoint_error(s.dir.path().string(), {s.index_path(), "weight_map"});
}

TEST(Checkpoint, ShardErrorsNameTheShard) {
  Shards s;
  s.index(kGoodMap);
  write_file(s.dir.file("s2.safetensors"), st_bytes("{" + entry("b", "U8", "[3]", 0, 2) + "}", "xy"));
  expect_checkpoint_error(s.dir.path().string(), {s.dir.file("s2.safetensors"), "tensor 'b'"});
}

TEST(Checkpoint, DirectoryWithoutIndexNeedsExactlyOneFile) {
  Shards s;
  expect_checkpoint_error(s.dir.path().string(), {"2 *.safetensors"});
  fs::remove(s.dir.file("s2.safetensors"));
  auto ck = Checkpoint::open(s.dir.path().string());
  ASSERT_TRUE(ck.ok()) << ck.message();
  EXPECT_NE((*ck)->find("a"), nullptr);
  auto single = Checkpoint::open(s.dir.file("s1.safetensors"));
  ASSERT_TRUE(single.ok()) << single.message();
  expect_checkpoint_error(s.dir.file("nope"), {"no such file"});
}

TEST(SafetensorsIndex, ParsesWeightMap) {
  auto idx = parse_safetensors_index(R"({"metadata":{"total_size":5},"weight_map":{"x":"b.st","y":"a.st","z":"b.st"}})",
                                     "idx.json");
  ASSERT_TRUE(idx.ok()) << idx.message();
  EXPECT_EQ(idx->weight_map.at("y"), "a.st");
  EXPECT_EQ(idx->shards, (std::vector<std::string>{"a.st", "b.st"}));
  for (const char* bad : {"", "[]", "{\"weight_map\":[]}", "{\"weight_map\":{\"x\":\"\"}}",
                          "{\"weight_map\":{\"x\":\"..\"}}", "{\"weight_map\":{\"x\":\"a\\\\b\"}}",
                          "{\"weight_map\":{\"x\":\"a\\u0000b\"}}", "{\"weight_map\":{\"x\":\"a\"},\"weight_map\":{}}"}) {
    auto r = parse_safetensors_index(bad, "idx.json");
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.message().rfind("idx.json", 0), 0u) << r.message();
  }
}

}  // namespace
}  // namespace dsv4
