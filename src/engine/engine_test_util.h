// Shared helpers of the engine tests: the golden checkpoints, a logits recorder and an event
// collector.
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "model/golden_models.h"

namespace dsv4::engine::testing {

using model::testing::golden_model;

inline std::vector<int32_t> random_tokens(int n, int vocab, uint32_t seed) {
  return model::testing::random_tokens(n, vocab, seed, 2);  // no BOS / EOS
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Records every logits row the engine draws from, by (request, choice, position).
struct LogitsRecorder {
  std::mutex mu;
  std::map<std::tuple<uint64_t, int, int64_t>, std::vector<float>> rows;
  void attach(EngineOptions& o) {
    o.on_logits = [this](uint64_t id, int choice, int64_t pos, std::span<const float> l) {
      std::lock_guard<std::mutex> g(mu);
      rows[{id, choice, pos}] = std::vector<float>(l.begin(), l.end());
    };
  }
  // Rows of one request's choice in position order.
  std::vector<std::pair<int64_t, std::vector<float>>> of(uint64_t id, int choice = 0) {
    std::lock_guard<std::mutex> g(mu);
    std::vector<std::pair<int64_t, std::vector<float>>> r;
    for (auto& [k, v] : rows)
      if (std::get<0>(k) == id && std::get<1>(k) == choice) r.push_back({std::get<2>(k), v});
    return r;
  }
};

struct Result {
  std::vector<std::vector<int32_t>> tokens;
  std::vector<std::string> text;
  std::vector<FinishReason> finish;
  std::vector<std::vector<double>> logprobs;
  std::vector<int64_t> steps;  // steps of choice 0's token events
  std::vector<std::shared_ptr<const Snapshot>> snapshots, end_snapshots;
  Usage usage;
  std::string error;
};

inline Result collect(Stream& s) {
  Result r;
  Event e;
  auto grow = [&](int c) {
    if (static_cast<int>(r.tokens.size()) <= c) {
      r.tokens.resize(c + 1);
      r.text.resize(c + 1);
      r.finish.resize(c + 1, FinishReason::kNone);
      r.logprobs.resize(c + 1);
      r.end_snapshots.resize(c + 1);
    }
  };
  while (s.next(&e)) {
    switch (e.kind) {
      case Event::Kind::kToken:
        grow(e.choice);
        r.tokens[e.choice].push_back(e.token);
        r.text[e.choice] += e.text;
        if (e.logprob) r.logprobs[e.choice].push_back(e.logprob->logprob);
        if (e.choice == 0) r.steps.push_back(e.step);
        break;
      case Event::Kind::kSnapshot: r.snapshots.push_back(e.snapshot); break;
      case Event::Kind::kFinish:
        grow(e.choice);
        r.text[e.choice] += e.text;
        r.finish[e.choice] = e.finish;
        r.end_snapshots[e.choice] = e.snapshot;
        if (e.last) r.usage = e.usage;
        break;
      case Event::Kind::kError: r.error = e.error; break;
    }
  }
  return r;
}

inline Request greedy(std::vector<int32_t> prompt, int max_tokens) {
  Request r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0.0f;
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  return r;
}

// Reference logits of every position of `tokens`, one sequence alone.
inline std::vector<float> solo_logits(const model::Model& m, const std::vector<int32_t>& tokens) {
  model::Sequence s = m.new_sequence();
  auto r = m.forward(s, tokens, static_cast<int64_t>(tokens.size()));
  EXPECT_TRUE(r.ok()) << r.message();
  return *r;
}

// Every row the engine drew from for (id, choice) equals the solo row of the same position.
inline void expect_rows_match_solo(const model::Model& m, LogitsRecorder& rec, uint64_t id, int choice,
                                   const std::vector<int32_t>& prompt, const std::vector<int32_t>& out) {
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), out.begin(), out.end());
  const std::vector<float> ref = solo_logits(m, all);
  const int64_t V = m.config().vocab_size;
  const auto rows = rec.of(id, choice);
  EXPECT_EQ(rows.size(), out.size());
  for (const auto& [pos, row] : rows) {
    ASSERT_LT(pos, static_cast<int64_t>(all.size()));
    const std::vector<float> want(ref.begin() + (pos - 1) * V, ref.begin() + pos * V);
    EXPECT_TRUE(same_bits(row, want)) << "request " << id << " choice " << choice << " position " << pos;
  }
}

}  // namespace dsv4::engine::testing
