// End to end: `dsv4 info --ctx N --parallel P` prints the memory plan and the KV comparison, and
// `dsv4 serve` refuses to start when the plan exceeds --memory-budget (docs/memory.md).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_runner.h"

namespace {

using dsv4::testing_cli::CmdResult;
using dsv4::testing_cli::run_dsv4;

std::string repo(const char* rel) { return std::string(DSV4_SOURCE_DIR) + "/" + rel; }
std::string golden(const char* name) { return std::string(DSV4_SHARED_DIR) + "/golden/" + name + "/checkpoint"; }

bool has(const std::string& out, const std::string& s) { return out.find(s) != std::string::npos; }

TEST(CliMemory, InfoPlanFlash) {
  const CmdResult r = run_dsv4("info --config '" + repo("configs/v4-flash.json") + "' --ctx 1048576 --parallel 2");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(has(r.out, "memory plan --ctx 1048576 --parallel 2")) << r.out;
  // Packed rows: 3514.25 B/token x 1M = 3.43 GiB per sequence (6880 B/token as bf16); 2 sequences.
  EXPECT_TRUE(has(r.out, "KV rows at 1048576 tokens 3.43 GiB")) << r.out;
  EXPECT_TRUE(has(r.out, "2 x per sequence")) << r.out;
  EXPECT_TRUE(has(r.out, "kv at 1048576 tokens, one sequence, 43 layers")) << r.out;
  EXPECT_TRUE(has(r.out, "7214202880 B    6880.0 B/token")) << r.out;  // V4 bf16
  EXPECT_TRUE(has(r.out, "3684958208 B    3514.2 B/token")) << r.out;  // packed 3514.25
  EXPECT_TRUE(has(r.out, "V3.2 FP8 deployment, same depth")) << r.out;
  EXPECT_TRUE(has(r.out, "total ")) << r.out;

  const CmdResult j = run_dsv4("info --json --config '" + repo("configs/v4-flash.json") + "' --ctx 1048576 --parallel 2");
  ASSERT_EQ(j.rc, 0) << j.err;
  const auto p = nlohmann::json::parse(j.out)["memory_plan"];
  EXPECT_EQ(p["kv_bytes"].get<int64_t>(), 3684958208ll);  // 43 layers' rows at 1M: (584 + 68) / 4 or 584 / 128 per token
  EXPECT_EQ(p["window_ring_bytes"].get<int64_t>(), 44 * 128 * 512 * 2);
  EXPECT_EQ(p["sequences_bytes"].get<int64_t>(), 2 * p["per_sequence_bytes"].get<int64_t>());
  EXPECT_EQ(p["kv_comparison"]["v32_fp8"].get<int64_t>(), 43ll * 788 * 1048576);
  EXPECT_EQ(p["total_bytes"].get<int64_t>(),
            p["weights_mapped_bytes"].get<int64_t>() +
                p["sequences_bytes"].get<int64_t>() + p["activation_bytes"].get<int64_t>() +
                p["attention_scratch_bytes"].get<int64_t>() + p["prefix_cache_bytes"].get<int64_t>());
  EXPECT_FALSE(p.contains("fits"));
}

TEST(CliMemory, InfoVerdict) {
  CmdResult r = run_dsv4("info --config '" + repo("configs/v4-flash.json") + "' --ctx 1048576 --parallel 2 --memory-budget 155G");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(has(r.out, "does not fit")) << r.out;
  EXPECT_TRUE(has(r.out, "the largest --ctx that fits at --parallel 2 is")) << r.out;
  r = run_dsv4("info --config '" + repo("configs/v4-flash.json") + "' --ctx 65536 --memory-budget 1T");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(has(r.out, "fits: ")) << r.out;
  r = run_dsv4("info --config '" + repo("configs/v4-flash.json") + "' --memory-budget 1T");
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "--memory-budget needs --ctx")) << r.err;
  r = run_dsv4("info --config '" + repo("configs/v4-flash.json") + "' --ctx 2000000");
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "max_position_embeddings")) << r.err;
}

TEST(CliMemory, ServeRefusesOverBudget) {
  const CmdResult r = run_dsv4("serve -m '" + golden("tiny-flash") + "' --port 0 --ctx 65536 --parallel 4 --cache-ram 0 --memory-budget 50M");
  EXPECT_EQ(r.rc, 1) << r.err;
  EXPECT_TRUE(has(r.err, "dsv4 serve: refusing to start: the memory plan does not fit: the plan needs")) << r.err;
  EXPECT_TRUE(has(r.err, "(52428800 B) (--memory-budget)")) << r.err;
  EXPECT_TRUE(has(r.err, "4 sequences x")) << r.err;
  EXPECT_TRUE(has(r.err, "at --ctx 65536")) << r.err;
  EXPECT_TRUE(has(r.err, "the largest --ctx that fits at --parallel 4 is")) << r.err;
  EXPECT_TRUE(has(r.err, "the largest --parallel that fits at --ctx 65536 is 1")) << r.err;
  EXPECT_FALSE(has(r.err, "listening on")) << r.err;  // refused before it binds or loads anything

  // With the default 2G prefix cache not even one sequence fits in 60M: the message says why.
  const CmdResult c = run_dsv4("serve -m '" + golden("tiny-flash") + "' --port 0 --memory-budget 60M");
  EXPECT_EQ(c.rc, 1) << c.err;
  EXPECT_TRUE(has(c.err, "not even one sequence fits: weights, scratch and the prefix cache (--cache-ram 2.00 GiB) alone take")) << c.err;
}

}  // namespace
