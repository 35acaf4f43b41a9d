// Model loading and input validation: the golden tiny checkpoints load with their config's
// dimensions; a checkpoint copy (rewritten through the safetensors writer) with a wrong shape, a
// wrong dtype, a missing tensor or an out-of-range tid2eid entry is refused with an error naming
// the tensor; token ids outside the vocabulary are errors, not crashes.
#include "model/model.h"
#include "model/rewritten_checkpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>

#include "io/checkpoint.h"
#include "io/safetensors_writer.h"

namespace dsv4::model {
namespace {

namespace fs = std::filesystem;

std::string golden_dir(const char* name) { return std::string(DSV4_SHARED_DIR) + "/golden/" + name + "/checkpoint"; }

TEST(ModelLoad, GoldenCheckpointsLoad) {
  for (const char* name : {"tiny-flash", "tiny-pro"}) {
    auto m = Model::load(golden_dir(name));
    ASSERT_TRUE(m.ok()) << name << ": " << m.message();
    const ModelConfig& c = (*m)->config();
    const ModelWeights& w = (*m)->weights();
    EXPECT_EQ(static_cast<int>(w.layers.size()), c.num_hidden_layers) << name;
    EXPECT_EQ(static_cast<int>(w.mtp.size()), c.num_nextn_predict_layers) << name;
    ASSERT_NE(w.embed, nullptr);
    ASSERT_NE(w.head, nullptr);
    for (const LayerWeights& L : w.layers) {
      EXPECT_EQ(L.has_compressor, L.spec.compress_ratio > 0) << name << " layer " << L.spec.index;
      EXPECT_EQ(L.has_indexer, L.spec.compress_ratio == 4) << name << " layer " << L.spec.index;
      EXPECT_EQ(L.tid2eid != nullptr, L.spec.index < c.num_hash_layers) << name << " layer " << L.spec.index;
      EXPECT_EQ(static_cast<int>(L.experts.size()), c.n_routed_experts);
      EXPECT_EQ(L.wo_a.rows, int64_t{c.o_groups} * c.o_lora_rank) << name;
      EXPECT_EQ(L.wo_a.cols, int64_t{c.num_attention_heads} * c.head_dim / c.o_groups) << name;
    }
    // A short forward gives finite logits of the vocabulary's size.
    Sequence seq = (*m)->new_sequence();
    const std::vector<int32_t> tokens{3, 1, 4, 1, 5};
    auto logits = (*m)->forward(seq, tokens, 2);
    ASSERT_TRUE(logits.ok()) << logits.message();
    ASSERT_EQ(logits->size(), static_cast<size_t>(2 * c.vocab_size));
    for (float v : *logits) ASSERT_TRUE(std::isfinite(v));
    EXPECT_EQ(seq.pos, 5);
  }
}

TEST(ModelLoad, MissingDirectoryIsAnError) {
  auto m = Model::load(std::string(DSV4_SHARED_DIR) + "/golden/no-such-config/checkpoint");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.message().find("no-such-config"), std::string::npos) << m.message();
}

// A rewritten copy of tiny-flash (config.json copied, tensors through the writer after `edit`).
class BrokenCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(testing::TempDir()) / ("model_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string load_error(const std::function<void(std::vector<TensorBlob>&)>& edit) {
    const Status st = testing_ckpt::rewrite_checkpoint(golden_dir("tiny-flash"), dir_, edit);
    EXPECT_TRUE(st.ok()) << st.message();
    auto m = Model::load(dir_.string());
    return m.ok() ? "<ok>" : m.message();
  }

  static TensorBlob* find(std::vector<TensorBlob>& b, const std::string& name) {
    for (auto& t : b)
      if (t.name == name) return &t;
    ADD_FAILURE() << "no tensor " << name;
    static TensorBlob dummy;
    return &dummy;
  }

  fs::path dir_;
};

TEST_F(BrokenCheckpoint, UnchangedCopyLoads) { EXPECT_EQ(load_error([](auto&) {}), "<ok>"); }

TEST_F(BrokenCheckpoint, WrongShapeNamesTheTensor) {
  const std::string msg = load_error([](std::vector<TensorBlob>& b) {
    TensorBlob* t = find(b, "layers.2.attn.compressor.norm.weight");  // [128] -> [126]
    t->shape = {126};
    t->bytes.resize(126 * 2);
  });
  EXPECT_NE(msg.find("layers.2.attn.compressor.norm.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[126]"), std::string::npos) << msg;
}

TEST_F(BrokenCheckpoint, TransposedFp8WeightNamesTheTensor) {
  const std::string msg = load_error([](std::vector<TensorBlob>& b) {
    TensorBlob* t = find(b, "layers.4.attn.wq_b.weight");
    std::reverse(t->shape.begin(), t->shape.end());  // same bytes, [in, out]
  });
  EXPECT_NE(msg.find("layers.4.attn.wq_b.weight"), std::string::npos) << msg;
}

TEST_F(BrokenCheckpoint, WrongDtypeAndMissingTensorNameTheTensor) {
  std::string msg = load_error([](std::vector<TensorBlob>& b) { find(b, "norm.weight")->dtype = DType::kF16; });
  EXPECT_NE(msg.find("norm.weight"), std::string::npos) << msg;
  msg = load_error([](std::vector<TensorBlob>& b) {
    std::erase_if(b, [](const TensorBlob& t) { return t.name == "layers.5.attn.compressor.ape"; });
  });
  EXPECT_NE(msg.find("layers.5.attn.compressor.ape"), std::string::npos) << msg;
}

TEST_F(BrokenCheckpoint, OutOfRangeHashExpertIsAnError) {
  const std::string msg = load_error([](std::vector<TensorBlob>& b) {
    TensorBlob* t = find(b, "layers.1.ffn.gate.tid2eid");
    const int64_t bad = 99;
    std::memcpy(t->bytes.data() + 5 * sizeof(int64_t), &bad, sizeof bad);
  });
  EXPECT_NE(msg.find("tid2eid"), std::string::npos) << msg;
  EXPECT_NE(msg.find("99"), std::string::npos) << msg;
}

TEST(ModelInput, TokenIdsOutsideTheVocabularyAreErrors) {
  auto m = Model::load(golden_dir("tiny-flash"));
  ASSERT_TRUE(m.ok()) << m.message();
  const int32_t vocab = static_cast<int32_t>((*m)->config().vocab_size);
  for (int32_t bad : {vocab, vocab + 1000, -1, std::numeric_limits<int32_t>::min()}) {
    Sequence seq = (*m)->new_sequence();
    const std::vector<int32_t> tokens{1, bad, 2};
    auto r = (*m)->forward(seq, tokens, 1);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.message().find(std::to_string(bad)), std::string::npos) << r.message();
    EXPECT_EQ(seq.pos, 0) << "a refused call must not advance the sequence";
  }
  // The MTP block validates its tokens too.
  Sequence seq = (*m)->new_sequence();
  std::vector<float> state;
  auto ok = (*m)->forward(seq, std::vector<int32_t>{1, 2}, 1, &state);
  ASSERT_TRUE(ok.ok()) << ok.message();
  auto r = (*m)->mtp_forward(seq, state.data(), std::vector<int32_t>{7, vocab});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find(std::to_string(vocab)), std::string::npos) << r.message();
  // Asking for more logit rows than tokens is an error as well.
  auto too_many = (*m)->forward(seq, std::vector<int32_t>{1}, 2);
  EXPECT_FALSE(too_many.ok());
}

}  // namespace
}  // namespace dsv4::model
