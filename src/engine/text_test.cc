// Text events: the concatenated deltas equal the decoded tokens (UTF-8 complete at every
// event), and a stop string that spans token boundaries ends generation with the stop text
// and everything after it left out.
#include "engine/engine_test_util.h"

#include "tokenizer/bpe_trainer.h"
#include "tokenizer/utf8.h"

#include <fstream>
#include <iterator>

namespace dsv4::engine {
namespace {

using namespace testing;

const Tokenizer& tokenizer_for(int vocab) {
  static const Tokenizer* tok = [vocab] {
    std::ifstream in(std::string(DSV4_SOURCE_DIR) + "/configs/tokenizer_corpus.txt", std::ios::binary);
    const std::string corpus((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto j = tok::train_bpe_tokenizer({corpus}, vocab);
    EXPECT_TRUE(j.ok()) << j.message();
    auto t = Tokenizer::from_json_text(j->dump(), "test");
    EXPECT_TRUE(t.ok()) << t.message();
    return new Tokenizer(std::move(t).value());
  }();
  return *tok;
}

TEST(EngineText, DeltasAndStopStrings) {
  const model::Model& m = golden_model("tiny-flash");
  const Tokenizer& tok = tokenizer_for(static_cast<int>(m.config().vocab_size));
  Engine e(m, &tok, {});
  const auto prompt = random_tokens(12, m.config().vocab_size, 90);
  Request r = greedy(prompt, 40);
  std::vector<std::string> deltas;
  auto s = e.submit(r);
  Event ev;
  std::vector<int32_t> toks;
  std::string text;
  while (s->next(&ev)) {
    if (ev.kind == Event::Kind::kToken) toks.push_back(ev.token);
    text += ev.text;
    if (!ev.text.empty()) EXPECT_TRUE(tok::is_valid_utf8(ev.text)) << "delta is not complete UTF-8";
  }
  EXPECT_EQ(text, tok.decode(toks));
  ASSERT_GT(text.size(), 12u);
  // A stop string taken from the middle of the reply, spanning token boundaries.
  const std::string stop = text.substr(text.size() / 2, 5);
  const size_t at = text.find(stop);
  Request rs = r;
  rs.stop = {"never-appears", stop};
  Result got = collect(*e.submit(rs));
  EXPECT_EQ(got.finish[0], FinishReason::kStop);
  EXPECT_EQ(got.text[0], text.substr(0, at));
  EXPECT_LT(got.tokens[0].size(), toks.size());
}

}  // namespace
}  // namespace dsv4::engine
