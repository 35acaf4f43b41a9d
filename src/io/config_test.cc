#include "io/config.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace dsv4 {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string golden_config(const char* name) {
  return std::string(DSV4_SHARED_DIR) + "/golden/" + name + "/checkpoint/config.json";
}
std::string repo_config(const char* name) { return std::string(DSV4_SOURCE_DIR) + "/configs/" + name; }

TEST(Config, TinyFlashGolden) {
  auto c = load_model_config(golden_config("tiny-flash"));
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->hidden_size, 256);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->num_attention_heads, 8);
  EXPECT_EQ(c->o_groups, 2);
  EXPECT_EQ(c->index_head_dim, 128);
  EXPECT_EQ(c->vocab_size, 768);
  EXPECT_EQ(c->sliding_window, 16);
  EXPECT_EQ(c->rope_scaling_type, "yarn");
  EXPECT_EQ(c->rope_factor, 16);
  EXPECT_EQ(c->original_max_position_embeddings, 65536);
  EXPECT_EQ(c->compress_rope_theta, 160000);
  EXPECT_EQ(c->weight_block_rows, 128);
  EXPECT_EQ(c->expert_dtype, "fp4");
  EXPECT_EQ(c->architectures, std::vector<std::string>{"DeepseekV4ForCausalLM"});
  ASSERT_EQ(c->n_layers_total(), 7);
  const auto layers = c->layers();
  const AttnKind want_attn[] = {AttnKind::kWindow, AttnKind::kWindow, AttnKind::kCsa, AttnKind::kHca,
                                AttnKind::kCsa,    AttnKind::kHca,    AttnKind::kWindow};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(layers[i].attn, want_attn[i]) << i;
    EXPECT_EQ(layers[i].route, i < 3 ? RouteKind::kHash : RouteKind::kBiasedTopk) << i;
    EXPECT_EQ(layers[i].is_mtp, i == 6) << i;
  }
}

TEST(Config, TinyProGolden) {
  auto c = load_model_config(golden_config("tiny-pro"));
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->num_attention_heads, 6);
  EXPECT_EQ(c->o_groups, 3);
  EXPECT_EQ(c->index_head_dim, 64);
  EXPECT_EQ(c->num_hidden_layers, 4);
  EXPECT_EQ(c->routed_scaling_factor, 2.5);
  const auto l = c->layers();
  ASSERT_EQ(l.size(), 5u);
  EXPECT_EQ(l[0].attn, AttnKind::kHca);
  EXPECT_EQ(l[2].attn, AttnKind::kCsa);
  EXPECT_EQ(l[2].route, RouteKind::kHash);
  EXPECT_EQ(l[3].route, RouteKind::kBiasedTopk);
  EXPECT_TRUE(l[4].is_mtp);
  EXPECT_EQ(l[4].attn, AttnKind::kWindow);
}

// Spec §1.1 / §1.3: the real models' schedules.
TEST(Config, RealFlashAndPro) {
  auto f = load_model_config(repo_config("v4-flash.json"));
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(f->compress_ratios.size(), 44u);
  int csa = 0, hca = 0, window = 0;
  for (const auto& l : f->layers()) {
    if (l.is_mtp) continue;
    csa += l.attn == AttnKind::kCsa, hca += l.attn == AttnKind::kHca, window += l.attn == AttnKind::kWindow;
  }
  EXPECT_EQ(csa, 21);
  EXPECT_EQ(hca, 20);
  EXPECT_EQ(window, 2);
  EXPECT_EQ(f->hidden_size, 4096);
  EXPECT_EQ(f->index_topk, 512);
  EXPECT_EQ(f->max_position_embeddings, 1048576);

  auto p = load_model_config(repo_config("v4-pro.json"));
  ASSERT_TRUE(p.ok()) << p.message();
  EXPECT_EQ(p->compress_ratios.size(), 62u);
  csa = hca = window = 0;
  for (const auto& l : p->layers()) {
    if (l.is_mtp) {
      EXPECT_EQ(l.compress_ratio, 0);
      continue;
    }
    csa += l.attn == AttnKind::kCsa, hca += l.attn == AttnKind::kHca, window += l.attn == AttnKind::kWindow;
  }
  EXPECT_EQ(csa, 30);
  EXPECT_EQ(hca, 31);
  EXPECT_EQ(window, 0);
  EXPECT_EQ(p->o_groups, 16);
  EXPECT_EQ(p->q_lora_rank, 1536);
}

TEST(Config, DefaultConfigIsTinyFlashWithBiggerVocab) {
  auto d = load_model_config(repo_config("default.json"));
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_EQ(d->vocab_size, 1024);
  EXPECT_EQ(d->bos_token_id, 0);
  EXPECT_EQ(d->eos_token_id, 1);
  EXPECT_EQ(d->compress_ratios, (std::vector<int>{0, 0, 4, 128, 4, 128, 0}));
}

// Reference-code names (§1.2) are accepted.
TEST(Config, ReferenceNames) {
  nlohmann::json j = {{"vocab_size", 768}, {"dim", 256}, {"moe_inter_dim", 128}, {"n_layers", 2},
                      {"n_hash_layers", 1}, {"n_heads", 8}, {"n_routed_experts", 8}, {"n_activated_experts", 4},
                      {"score_func", "sqrtsoftplus"}, {"route_scale", 1.5}, {"q_lora_rank", 128},
                      {"head_dim", 128}, {"rope_head_dim", 64}, {"o_groups", 2}, {"o_lora_rank", 64},
                      {"window_size", 16}, {"original_seq_len", 65536}, {"rope_factor", 16},
                      {"index_n_heads", 4}, {"index_head_dim", 128}, {"index_topk", 8}, {"norm_eps", 1e-6},
                      {"compress_ratios", {0, 4, 0}}, {"dtype", "fp8"}, {"scale_fmt", "ue8m0"},
                      {"expert_dtype", "fp4"}};
  auto c = parse_model_config(j.dump(), "ref");
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->hidden_size, 256);
  EXPECT_EQ(c->moe_intermediate_size, 128);
  EXPECT_EQ(c->num_experts_per_tok, 4);
  EXPECT_EQ(c->sliding_window, 16);
  EXPECT_EQ(c->qk_rope_head_dim, 64);
  EXPECT_EQ(c->original_max_position_embeddings, 65536);
  EXPECT_EQ(c->rope_factor, 16);
  EXPECT_EQ(c->num_nextn_predict_layers, 1);  // code default
  EXPECT_EQ(c->layer(1).attn, AttnKind::kCsa);
  EXPECT_EQ(c->layer(0).route, RouteKind::kHash);
}

// Every error names the key.
class ConfigErrors : public ::testing::Test {
 protected:
  nlohmann::json base() { return nlohmann::json::parse(read_file(golden_config("tiny-flash"))); }
  std::string err(const nlohmann::json& j) {
    auto c = parse_model_config(j.dump(), "cfg.json");
    return c.ok() ? std::string("<ok>") : c.message();
  }
};

TEST_F(ConfigErrors, MissingKey) {
  for (const char* key : {"hidden_size", "head_dim", "o_groups", "compress_ratios", "vocab_size", "q_lora_rank"}) {
    auto j = base();
    j.erase(key);
    EXPECT_NE(err(j).find(key), std::string::npos) << key << ": " << err(j);
    EXPECT_EQ(err(j).rfind("cfg.json", 0), 0u);
  }
}

TEST_F(ConfigErrors, MistypedValues) {
  auto j = base();
  j["hidden_size"] = "256";
  EXPECT_NE(err(j).find("'hidden_size' must be a number"), std::string::npos) << err(j);
  j = base();
  j["num_attention_heads"] = 8.5;
  EXPECT_NE(err(j).find("'num_attention_heads' must be an integer"), std::string::npos) << err(j);
  j = base();
  j["norm_topk_prob"] = 1;
  EXPECT_NE(err(j).find("norm_topk_prob"), std::string::npos) << err(j);
  j = base();
  j["rope_scaling"]["factor"] = "16";
  EXPECT_NE(err(j).find("rope_scaling: 'factor'"), std::string::npos) << err(j);
  j = base();
  j["quantization_config"]["weight_block_size"] = {128};
  EXPECT_NE(err(j).find("weight_block_size"), std::string::npos) << err(j);
  j = base();
  j["quantization_config"]["fmt"] = "e5m2";
  EXPECT_NE(err(j).find("e5m2"), std::string::npos) << err(j);
  j = base();
  j["expert_dtype"] = "int4";
  EXPECT_NE(err(j).find("expert_dtype"), std::string::npos) << err(j);
  j = base();
  j["architectures"] = "DeepseekV4ForCausalLM";
  EXPECT_NE(err(j).find("architectures"), std::string::npos) << err(j);
  j = base();
  j["model_type"] = "deepseek_v3";
  EXPECT_NE(err(j).find("deepseek_v3"), std::string::npos) << err(j);
  j = base();
  j["rope_scaling"]["type"] = "linear";
  EXPECT_NE(err(j).find("linear"), std::string::npos) << err(j);
}

TEST_F(ConfigErrors, StructuralProblems) {
  auto j = base();
  j["compress_ratios"].push_back(4);
  EXPECT_NE(err(j).find("compress_ratios has 8 entries"), std::string::npos) << err(j);
  j = base();
  j["compress_ratios"][2] = -4;
  EXPECT_NE(err(j).find("compress_ratios"), std::string::npos) << err(j);
  j = base();
  j["o_groups"] = 3;
  EXPECT_NE(err(j).find("o_groups"), std::string::npos) << err(j);
  j = base();
  j["num_experts_per_tok"] = 9;
  EXPECT_NE(err(j).find("num_experts_per_tok"), std::string::npos) << err(j);
  j = base();
  j["moe_intermediate_size"] = 100;  // not a multiple of the FP4 block (32)
  EXPECT_NE(err(j).find("moe_intermediate_size"), std::string::npos) << err(j);
  j = base();
  j["attention_bias"] = true;
  EXPECT_NE(err(j).find("attention_bias"), std::string::npos) << err(j);
  EXPECT_NE(err(nlohmann::json::array()).find("not a JSON object"), std::string::npos);
  auto bad = parse_model_config("{\"vocab_size\": 1,", "x.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("not valid JSON"), std::string::npos);
}

}  // namespace
}  // namespace dsv4

namespace dsv4 {
namespace {

// Block sizes the reference's quantization simulation asserts on are checked at load time, so a
// config the forward pass cannot run is an error, not an out-of-bounds read later.
TEST(ConfigBlocks, KvAndIndexerBlockSizes) {
  auto base = nlohmann::json::parse(read_file(golden_config("tiny-flash")));
  auto j = base;
  j["head_dim"] = 160;  // 160 - 64 = 96: not whole FP8 blocks of 64
  auto c = parse_model_config(j.dump(), "cfg.json");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("multiple of 64"), std::string::npos) << c.message();
  j = base;
  j["qk_rope_head_dim"] = 16;
  j["head_dim"] = 144;        // 128 nope dims: fine
  j["index_head_dim"] = 16;   // a power of two >= rope, but not whole FP4 blocks of 32
  c = parse_model_config(j.dump(), "cfg.json");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("multiple of 32"), std::string::npos) << c.message();
}

}  // namespace
}  // namespace dsv4
