#include "engine/generate.h"

#include <algorithm>
#include <chrono>

namespace dsv4::engine {

Result<std::vector<int32_t>> generate(const model::Model& m, std::span<const int32_t> prompt,
                                      const GenerateOptions& opt, GenerateStats* stats,
                                      const std::function<void(int32_t)>& on_token) {
  if (prompt.empty()) return error("the prompt is empty: give at least one token");
  if (opt.max_new_tokens < 0) return error("max_new_tokens must be >= 0");
  if (opt.prefill_chunk < 1) return error("prefill_chunk must be >= 1");
  DSV4_TRY(validate(opt.sampling));
  using clock = std::chrono::steady_clock;
  GenerateStats st;
  st.prompt_tokens = static_cast<int64_t>(prompt.size());
  Sampler sampler(opt.sampling);
  model::Sequence seq = m.new_sequence();

  auto t0 = clock::now();
  std::vector<float> logits;
  for (size_t p = 0; p < prompt.size(); p += opt.prefill_chunk) {
    const size_t n = std::min<size_t>(opt.prefill_chunk, prompt.size() - p);
    const bool last = p + n == prompt.size();
    DSV4_ASSIGN_OR_RETURN(logits, m.forward(seq, prompt.subspan(p, n), last ? 1 : 0));
  }
  auto t1 = clock::now();
  st.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();

  std::vector<int32_t> out;
  for (int i = 0; i < opt.max_new_tokens; ++i) {
    const int32_t next = sampler.sample(logits);
    out.push_back(next);
    if (on_token) on_token(next);
    if (std::find(opt.stop_ids.begin(), opt.stop_ids.end(), next) != opt.stop_ids.end()) break;
    if (i + 1 == opt.max_new_tokens) break;
    const int32_t tok[1] = {next};
    DSV4_ASSIGN_OR_RETURN(logits, m.forward(seq, tok, 1));
  }
  st.decode_seconds = std::chrono::duration<double>(clock::now() - t1).count();
  st.generated_tokens = static_cast<int64_t>(out.size());
  if (stats) *stats = st;
  return out;
}

}  // namespace dsv4::engine
