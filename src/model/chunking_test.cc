// One arithmetic per query: prefill in any chunking and token-by-token decode must give bitwise
// identical logits and identical cache state (window ring, compressed entries, indexer keys,
// compressor state), because every path runs the same per-token state machine and every GEMM
// computes each output row in a fixed order.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "model/golden_models.h"
#include "model/model.h"

namespace dsv4::model {
namespace {

const Model& flash() { return testing::golden_model("tiny-flash"); }
using testing::random_tokens;

template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

void expect_same_state(const LayerState& a, const LayerState& b, int layer) {
  auto bits = [](const std::vector<bf16>& v) {
    std::vector<uint16_t> r(v.size());
    for (size_t i = 0; i < v.size(); ++i) r[i] = v[i].bits;
    return r;
  };
  EXPECT_TRUE(same_bits(bits(a.ring), bits(b.ring))) << "ring, layer " << layer;
  EXPECT_EQ(a.compressed.rows(), b.compressed.rows()) << "layer " << layer;
  EXPECT_TRUE(same_bits(a.compressed.to_vector(), b.compressed.to_vector())) << "compressed, layer " << layer;
  EXPECT_EQ(a.index_keys.rows(), b.index_keys.rows()) << "layer " << layer;
  EXPECT_TRUE(same_bits(a.index_keys.to_vector(), b.index_keys.to_vector())) << "indexer keys, layer " << layer;
  EXPECT_TRUE(same_bits(a.compressor.kv, b.compressor.kv)) << "compressor kv, layer " << layer;
  EXPECT_TRUE(same_bits(a.compressor.score, b.compressor.score)) << "compressor score, layer " << layer;
  EXPECT_TRUE(same_bits(a.idx_compressor.kv, b.idx_compressor.kv)) << "indexer compressor, layer " << layer;
  EXPECT_TRUE(same_bits(a.idx_compressor.score, b.idx_compressor.score)) << "indexer compressor, layer " << layer;
}

struct ChunkedRun {
  Sequence seq;
  std::vector<float> logits;  // logits of every position, [n, V]
  std::vector<float> states;  // final HC state of every position, [n, hc*d]
};

ChunkedRun run_chunked(const Model& m, const std::vector<int32_t>& tokens, size_t chunk) {
  ChunkedRun r{m.new_sequence(), {}, {}};
  for (size_t p = 0; p < tokens.size(); p += chunk) {
    const size_t n = std::min(chunk, tokens.size() - p);
    std::vector<float> st;
    auto l = m.forward(r.seq, std::span(tokens).subspan(p, n), static_cast<int64_t>(n), &st);
    EXPECT_TRUE(l.ok()) << l.message();
    r.logits.insert(r.logits.end(), l->begin(), l->end());
    r.states.insert(r.states.end(), st.begin(), st.end());
  }
  return r;
}

TEST(Chunking, PrefillChunkSizesAndDecodeAgreeBitwise) {
  const Model& m = flash();
  const auto& c = m.config();
  // 136 tokens cross the window, ratio-4 blocks, the indexer's top-k limit and the first
  // ratio-128 block of tiny-flash.
  const auto tokens = random_tokens(136, static_cast<int>(c.vocab_size), 7);
  const ChunkedRun whole = run_chunked(m, tokens, tokens.size());
  ASSERT_EQ(whole.logits.size(), tokens.size() * c.vocab_size);
  for (size_t chunk : {1u, 3u, 16u, 128u}) {
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    const ChunkedRun r = run_chunked(m, tokens, chunk);
    EXPECT_TRUE(same_bits(r.logits, whole.logits));
    EXPECT_TRUE(same_bits(r.states, whole.states));
    EXPECT_EQ(r.seq.pos, whole.seq.pos);
    for (size_t l = 0; l < r.seq.layers.size(); ++l) expect_same_state(r.seq.layers[l], whole.seq.layers[l], l);
  }
  // The compressed layers really emitted entries (the test would be vacuous otherwise).
  bool any_csa = false, any_hca = false;
  for (const auto& st : whole.seq.layers) {
    any_csa |= st.index_keys.rows() > 8;
    any_hca |= st.compressor.ratio == 128 && st.compressed.rows() == 1;
  }
  EXPECT_TRUE(any_csa);
  EXPECT_TRUE(any_hca);
}

TEST(Chunking, MtpPrefillAndStepsAgreeBitwise) {
  const Model& m = flash();
  const auto tokens = random_tokens(40, static_cast<int>(m.config().vocab_size), 11);
  const ChunkedRun main = run_chunked(m, tokens, tokens.size());
  const int64_t row = m.config().hc_dim();
  const int64_t n = static_cast<int64_t>(tokens.size()) - 1;  // pairs (H_j, tokens[j+1])
  auto whole_seq = m.new_sequence();
  std::vector<float> whole_out;
  auto whole_logits = m.mtp_forward(whole_seq, main.states.data(), std::span(tokens).subspan(1, n), &whole_out);
  ASSERT_TRUE(whole_logits.ok()) << whole_logits.message();
  auto step_seq = m.new_sequence();
  std::vector<float> step_out, last;
  for (int64_t j = 0; j < n; ++j) {
    std::vector<float> o;
    auto l = m.mtp_forward(step_seq, &main.states[j * row], std::span(tokens).subspan(j + 1, 1), &o);
    ASSERT_TRUE(l.ok());
    step_out.insert(step_out.end(), o.begin(), o.end());
    last = *l;
  }
  EXPECT_TRUE(same_bits(step_out, whole_out));
  EXPECT_TRUE(same_bits(last, *whole_logits));
  expect_same_state(step_seq.mtp[0], whole_seq.mtp[0], -1);
}

TEST(Chunking, RejectsTokensOutsideTheVocabulary) {
  const Model& m = flash();
  auto seq = m.new_sequence();
  std::vector<int32_t> bad = {1, static_cast<int32_t>(m.config().vocab_size)};
  auto r = m.forward(seq, bad, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("outside the vocabulary"), std::string::npos);
  EXPECT_EQ(seq.pos, 0);  // nothing was consumed
}

}  // namespace
}  // namespace dsv4::model
