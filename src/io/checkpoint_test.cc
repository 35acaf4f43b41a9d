#include "io/checkpoint.h"

#include <gtest/gtest.h>

#include "io/config.h"

namespace dsv4 {
namespace {

TEST(Checkpoint, OpensGoldenShards) {
  for (const char* name : {"tiny-flash", "tiny-pro"}) {
    const std::string dir = std::string(DSV4_SHARED_DIR) + "/golden/" + name + "/checkpoint";
    auto ck = Checkpoint::open(dir);
    ASSERT_TRUE(ck.ok()) << ck.message();
    EXPECT_EQ((*ck)->shards().size(), 2u);
    const TensorInfo* e = (*ck)->find("embed.weight");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->dtype, DType::kBF16);
    auto cfg = load_model_config(dir);
    ASSERT_TRUE(cfg.ok()) << cfg.message();
    EXPECT_EQ(e->shape, (std::vector<int64_t>{cfg->vocab_size, cfg->hidden_size}));
  }
}

}  // namespace
}  // namespace dsv4
