// Teacher-forced scoring shared by `dsv4 score` and `dsv4 perplexity`: run a token sequence through
// a fresh model sequence and take the negative log-likelihood of each next token from its logits.
#pragma once
#include <cstdint>
#include <functional>
#include <span>

#include "base/status.h"
#include "model/model.h"

namespace dsv4::cli {

// -log softmax(row)[target] in fp64. The max is subtracted first so that large logits cannot
// overflow exp(); the sum is fp64 so a 129k-entry vocabulary loses nothing to rounding.
double token_nll(std::span<const float> row, int32_t target);

// An error naming the first id outside the model's vocabulary (the forward pass would reject it
// later, with a less useful message).
Status check_token_ids(std::span<const int32_t> ids, int64_t vocab_size);

// Feeds `ids` to a fresh sequence of `m`, `chunk` tokens per forward call, and calls
// on_row(i, logits of position i) for every position i >= first_row, in order. Positions before
// first_row are fed but their logits are not computed (the head is the costly part of a small model).
Status forward_rows(const model::Model& m, std::span<const int32_t> ids, int64_t chunk, int64_t first_row,
                    const std::function<Status(int64_t, std::span<const float>)>& on_row);

}  // namespace dsv4::cli
