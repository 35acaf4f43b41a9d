// Test helper: the golden tiny checkpoints (loaded once per test binary, thread-safe) and random
// token sequences. Shared by the model and engine tests.
#pragma once
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "model/model.h"

namespace dsv4::model::testing {

inline const Model& golden_model(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Model>> models;
  static std::mutex mu;
  std::lock_guard<std::mutex> l(mu);
  auto& m = models[name];
  if (!m) {
    auto r = Model::load(std::string(DSV4_SHARED_DIR) + "/golden/" + name + "/checkpoint");
    EXPECT_TRUE(r.ok()) << r.message();
    if (r.ok()) m = std::move(r).value();
  }
  return *m;
}

// n ids drawn uniformly from [lo, vocab).
inline std::vector<int32_t> random_tokens(int n, int vocab, uint32_t seed, int lo = 0) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(lo, vocab - 1);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = dist(rng);
  return t;
}

}  // namespace dsv4::model::testing
