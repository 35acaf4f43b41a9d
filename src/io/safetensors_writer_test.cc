#include "io/safetensors_writer.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "io/safetensors.h"

namespace dsv4 {
namespace {
namespace fs = std::filesystem;

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class WriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(testing::TempDir()) / ("st_writer_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TensorBlob blob(std::string name, DType dt, std::vector<int64_t> shape, uint8_t fill) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  TensorBlob b{std::move(name), dt, std::move(shape), {}};
  b.bytes.resize(static_cast<size_t>(n) * dtype_size(dt));
  for (size_t i = 0; i < b.bytes.size(); ++i) b.bytes[i] = static_cast<uint8_t>(fill + i);
  return b;
}

TEST_F(WriterTest, LayoutAndReadBack) {
  std::vector<TensorBlob> t = {blob("b.weight", DType::kBF16, {3, 5}, 1), blob("a.scale", DType::kF8E8M0, {3}, 2),
                               blob("z.table", DType::kI64, {2, 2}, 3), blob("a.weight", DType::kF8E4M3, {3, 4}, 4),
                               blob("c.fn", DType::kF32, {7}, 5)};
  std::vector<const TensorBlob*> ptrs;
  for (auto& b : t) ptrs.push_back(&b);
  const fs::path p = dir_ / "x.safetensors";
  ASSERT_TRUE(write_safetensors(p.string(), ptrs).ok());

  const std::string raw = read_bytes(p);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | static_cast<uint8_t>(raw[i]);
  EXPECT_EQ(hlen % 8, 0u);
  const std::string header = raw.substr(8, hlen);
  EXPECT_EQ(header.rfind("{\"__metadata__\":{\"format\":\"pt\"},", 0), 0u) << header;
  EXPECT_NE(header.back(), '\n');
  // Data order: I64 (8) > F32 (4) > BF16 (2) > 1-byte types by name.
  const char* order[] = {"z.table", "c.fn", "b.weight", "a.scale", "a.weight"};
  size_t prev = 0;
  for (const char* n : order) {
    const size_t at = header.find(std::string("\"") + n + "\"");
    ASSERT_NE(at, std::string::npos) << n;
    EXPECT_GT(at, prev) << n;
    prev = at;
  }
  EXPECT_EQ(raw.size(), 8 + hlen + 32 + 28 + 30 + 3 + 12);

  auto f = SafetensorsFile::open(p.string());
  ASSERT_TRUE(f.ok()) << f.message();
  for (const auto& b : t) {
    const TensorInfo* r = (*f)->find(b.name);
    ASSERT_NE(r, nullptr) << b.name;
    EXPECT_EQ(r->dtype, b.dtype);
    EXPECT_EQ(r->shape, b.shape);
    EXPECT_EQ(std::vector<uint8_t>(r->data, r->data + r->nbytes()), b.bytes) << b.name;
  }
  // Contiguous: first tensor at 0, each begins where the previous ended.
  std::vector<const TensorInfo*> by_offset;
  for (const auto& ti : (*f)->tensors()) by_offset.push_back(&ti);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  uint64_t end = 0;
  for (auto* ti : by_offset) {
    EXPECT_EQ(ti->begin, end) << ti->name;
    end = ti->end;
  }
}

TEST_F(WriterTest, RejectsBadInput) {
  TensorBlob bad = blob("t", DType::kF32, {3}, 0);
  bad.bytes.pop_back();
  std::string msg = write_safetensors((dir_ / "a.safetensors").string(), {&bad}).message();
  EXPECT_NE(msg.find("'t'"), std::string::npos) << msg;
  TensorBlob a = blob("same", DType::kF32, {1}, 0), b = blob("same", DType::kBF16, {2}, 0);
  msg = write_safetensors((dir_ / "b.safetensors").string(), {&a, &b}).message();
  EXPECT_NE(msg.find("duplicate tensor 'same'"), std::string::npos) << msg;
  EXPECT_FALSE(write_safetensors((dir_ / "no/such/dir/c.safetensors").string(), {&a}).ok());
  std::vector<TensorBlob> two = {blob("x", DType::kF32, {1}, 0), blob("y", DType::kF32, {1}, 0)};
  EXPECT_FALSE(write_sharded_safetensors((dir_ / "s").string(), two, {0, 2}).ok());  // shard 1 empty
  EXPECT_FALSE(write_sharded_safetensors((dir_ / "s").string(), two, {0}).ok());
}

// Rewriting the golden shards with the writer reproduces them byte for byte (header, order,
// padding, data) and the index file too.
TEST_F(WriterTest, ReproducesGoldenShardsByteForByte) {
  for (const char* name : {"tiny-flash", "tiny-pro"}) {
    const fs::path golden = fs::path(DSV4_SHARED_DIR) / "golden" / name / "checkpoint";
    auto ck = Checkpoint::open(golden.string());
    ASSERT_TRUE(ck.ok()) << ck.message();
    std::vector<TensorBlob> blobs;
    std::vector<int> shard_of;
    for (size_t s = 0; s < (*ck)->shards().size(); ++s)
      for (const TensorInfo& t : (*ck)->shards()[s]->tensors()) {
        blobs.push_back({t.name, t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.nbytes())});
        shard_of.push_back(static_cast<int>(s));
      }
    const fs::path out = dir_ / name;
    ASSERT_TRUE(write_sharded_safetensors(out.string(), blobs, shard_of).ok());
    for (const char* f : {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                          "model.safetensors.index.json"})
      EXPECT_TRUE(read_bytes(out / f) == read_bytes(golden / f)) << name << " " << f;
    auto back = Checkpoint::open(out.string());
    ASSERT_TRUE(back.ok()) << back.message();
    EXPECT_EQ((*back)->tensors().size(), (*ck)->tensors().size());
    auto index = nlohmann::json::parse(read_bytes(out / "model.safetensors.index.json"));
    uint64_t total = 0;
    for (const TensorBlob& b : blobs) total += b.bytes.size();
    EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(), total);
  }
}

// The streaming writer gives the same bytes as the in-memory one (here: the golden shards), asks
// for each tensor exactly once, in file order, and holds nothing between calls.
TEST_F(WriterTest, StreamingReproducesGoldenShardsAndCallsOncePerTensor) {
  const fs::path golden = fs::path(DSV4_SHARED_DIR) / "golden" / "tiny-flash" / "checkpoint";
  auto ck = Checkpoint::open(golden.string());
  ASSERT_TRUE(ck.ok()) << ck.message();
  std::vector<TensorMeta> metas;
  std::vector<const TensorInfo*> infos;
  std::vector<int> shard_of;
  for (size_t s = 0; s < (*ck)->shards().size(); ++s)
    for (const TensorInfo& t : (*ck)->shards()[s]->tensors()) {
      metas.push_back({t.name, t.dtype, t.shape});
      infos.push_back(&t);
      shard_of.push_back(static_cast<int>(s));
    }
  std::vector<int> calls(metas.size(), 0);
  std::vector<size_t> order;
  const fs::path out = dir_ / "stream";
  const Status st = write_sharded_safetensors_streaming(out.string(), metas, shard_of,
                                                        [&](size_t i) -> Result<std::vector<uint8_t>> {
                                                          ++calls[i];
                                                          order.push_back(i);
                                                          const TensorInfo* t = infos[i];
                                                          return std::vector<uint8_t>(t->data, t->data + t->nbytes());
                                                        });
  ASSERT_TRUE(st.ok()) << st.message();
  for (const char* f : {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                        "model.safetensors.index.json"})
    EXPECT_TRUE(read_bytes(out / f) == read_bytes(golden / f)) << f;
  for (size_t i = 0; i < calls.size(); ++i) EXPECT_EQ(calls[i], 1) << metas[i].name;
  // Within a shard, calls follow the data order: dtype size descending, then name.
  for (size_t k = 1; k < order.size(); ++k) {
    const TensorMeta &a = metas[order[k - 1]], &b = metas[order[k]];
    if (shard_of[order[k - 1]] != shard_of[order[k]]) continue;
    const bool before = dtype_size(a.dtype) != dtype_size(b.dtype) ? dtype_size(a.dtype) > dtype_size(b.dtype)
                                                                    : a.name < b.name;
    EXPECT_TRUE(before) << a.name << " then " << b.name;
  }
}

TEST_F(WriterTest, StreamingRejectsWrongByteCountsAndProducerErrors) {
  const std::vector<TensorMeta> metas = {{"a", DType::kF32, {2}}, {"b", DType::kBF16, {3}}};
  std::string msg = write_sharded_safetensors_streaming((dir_ / "s1").string(), metas, {0, 0},
                                                        [](size_t i) -> Result<std::vector<uint8_t>> {
                                                          return std::vector<uint8_t>(i == 0 ? 8 : 5);
                                                        })
                        .message();
  EXPECT_NE(msg.find("tensor 'b': produced 5 bytes but shape needs 6"), std::string::npos) << msg;
  msg = write_sharded_safetensors_streaming((dir_ / "s2").string(), metas, {0, 0},
                                            [](size_t) -> Result<std::vector<uint8_t>> { return error("no bytes"); })
            .message();
  EXPECT_EQ(msg, "no bytes");
  EXPECT_FALSE(write_sharded_safetensors_streaming((dir_ / "s3").string(), metas, {1, 1}, {}).ok());  // shard 1 empty
}

}  // namespace
}  // namespace dsv4
