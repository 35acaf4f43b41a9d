// One scheduler step of the engine's owner thread: admit and validate new requests, feed the
// decode tokens (and MTP drafts) of every running choice plus prefill chunks of waiting prompts
// in one batched forward, sample / verify, feed the MTP block, and emit events.
#include <algorithm>
#include <limits>

#include "base/profile.h"
#include "engine/engine.h"
#include "engine/job.h"
#include "model/memory_plan.h"

namespace dsv4::engine {
namespace {

constexpr int kMaxChoices = 16;
constexpr int kMaxStops = 16;

Status validate_request(const Request& r, const model::Model& m, const Tokenizer* tok, int64_t max_ctx) {
  const int64_t V = m.config().vocab_size;
  if (r.prompt.empty()) return error("the prompt is empty: give at least one token");
  for (int32_t t : r.prompt)
    if (t < 0 || t >= V) return error("prompt token id {} is outside the vocabulary [0, {})", t, V);
  if (static_cast<int64_t>(r.prompt.size()) >= max_ctx)
    return error("the prompt has {} tokens; the context holds {} (prompt + at least one generated token)",
                 r.prompt.size(), max_ctx);
  if (r.max_tokens < 1) return error("max_tokens must be >= 1 (got {})", r.max_tokens);
  if (r.n < 1 || r.n > kMaxChoices) return error("n must be in [1, {}] (got {})", kMaxChoices, r.n);
  DSV4_TRY(validate(r.sampling, V));
  if (!r.stop.empty() && !tok) return error("stop strings need a tokenizer");
  if (static_cast<int>(r.stop.size()) > kMaxStops) return error("at most {} stop strings", kMaxStops);
  for (int32_t t : r.stop_ids)
    if (t < 0 || t >= V) return error("stop token id {} is outside the vocabulary [0, {})", t, V);
  if (r.snapshot) {
    const auto& st = r.snapshot->tokens;
    if (st.empty() || st.size() > r.prompt.size() || !std::equal(st.begin(), st.end(), r.prompt.begin()))
      return error("the snapshot's {} tokens are not a prefix of the prompt", st.size());
  }
  for (int64_t p : r.snapshot_at)
    if (p < 1 || p > static_cast<int64_t>(r.prompt.size()))
      return error("snapshot position {} is outside the prompt [1, {}]", p, r.prompt.size());
  return ok_status();
}

// Appends the final states of positions pos0.. to the MTP feed (positions already there are kept).
void add_states(MtpFeed& f, int64_t pos0, const std::vector<float>& states, int64_t row) {
  const int64_t n = static_cast<int64_t>(states.size()) / row;
  for (int64_t i = 0; i < n; ++i)
    if (pos0 + i == f.fed + static_cast<int64_t>(f.h.size()))
      f.h.emplace_back(states.begin() + i * row, states.begin() + (i + 1) * row);
}

std::shared_ptr<Snapshot> make_snapshot(std::span<const int32_t> tokens, const model::Sequence& seq,
                                        const std::vector<float>& logits, const std::vector<float>& state) {
  auto s = std::make_shared<Snapshot>();
  s->tokens.assign(tokens.begin(), tokens.end());
  s->seq = seq;
  s->last_logits = logits;
  s->last_state = state;
  const auto b = model::state_bytes(seq);
  s->fixed_bytes = b.fixed;
  s->growing_bytes = b.growing;
  return s;
}

// The sequence state a request plans to hold (EngineOptions::kv_budget), computed once.
int64_t planned_state_bytes(Engine::Job& j, const model::Model& m, int64_t max_ctx, const EngineOptions& opt) {
  if (j.state_bytes < 0) {
    const Request& r = j.req;
    const int64_t tokens = std::min<int64_t>(static_cast<int64_t>(r.prompt.size()) + std::max(r.max_tokens, 1), max_ctx);
    const bool spec = opt.speculative > 0 && r.speculative != 0 && !r.constraint;
    j.state_bytes = request_state_bytes(m.config(), tokens, std::max(r.n, 1), spec);
  }
  return j.state_bytes;
}

}  // namespace

bool Engine::kv_admits(Job& j) const {
  if (opt_.kv_budget <= 0) return true;
  const int64_t need = planned_state_bytes(j, m_, max_ctx_, opt_);
  if (need > opt_.kv_budget) return true;  // could never fit: admitted to be refused (StepContext::start)
  int64_t held = 0;
  for (const auto& r : jobs_) held += planned_state_bytes(*r, m_, max_ctx_, opt_);
  return held + need <= opt_.kv_budget;
}

// Everything the step does to one request, with access to the engine's options.
class StepContext {
 public:
  StepContext(const model::Model& m, const Tokenizer* tok, int64_t max_ctx, const EngineOptions& opt, int64_t step,
              std::atomic<int64_t>* live)
      : m_(m), tok_(tok), max_ctx_(max_ctx), opt_(opt), step_(step), live_(live) {}

  void observe(const Engine::Job& j, const Choice& c, std::span<const float> logits) const {
    if (opt_.on_logits) opt_.on_logits(j.stream->id(), c.index, static_cast<int64_t>(c.tokens.size()), logits);
  }

  bool start(Engine::Job& j, int default_spec) {
    j.started = true;
    Status s = validate_request(j.req, m_, tok_, max_ctx_);
    if (!s.ok()) {
      fail(j, s.message(), Event::ErrorKind::kInvalidRequest);
      return false;
    }
    if (opt_.kv_budget > 0 && planned_state_bytes(j, m_, max_ctx_, opt_) > opt_.kv_budget) {
      const int64_t tokens = std::min<int64_t>(static_cast<int64_t>(j.req.prompt.size()) + j.req.max_tokens, max_ctx_);
      fail(j, fmt::format("the request needs {} bytes of sequence state ({} choice(s) at {} tokens: prompt {} + max_tokens {}{}), "
                          "more than the engine's KV budget of {} bytes: shorten the prompt or max_tokens, or lower n",
                          j.state_bytes, j.req.n, tokens, j.req.prompt.size(), j.req.max_tokens,
                          tokens == max_ctx_ ? fmt::format(", capped by the context of {}", max_ctx_) : std::string(),
                          opt_.kv_budget),
           Event::ErrorKind::kTooLarge);
      return false;
    }
    std::sort(j.req.snapshot_at.begin(), j.req.snapshot_at.end());
    j.speculative = std::min(j.req.speculative < 0 ? default_spec : j.req.speculative, default_spec > 0 ? 1 : 0);
    if (j.req.constraint) j.speculative = 0;
    j.usage.prompt_tokens = static_cast<int64_t>(j.req.prompt.size());
    if (j.req.snapshot) {
      const Snapshot& sn = *j.req.snapshot;
      j.seq = sn.seq;
      j.consumed = static_cast<int64_t>(sn.tokens.size());
      j.last_logits = sn.last_logits;
      j.last_state = sn.last_state;
      j.mtp.fed = j.seq.mtp_pos;
      if (j.mtp.fed == j.consumed - 1) j.mtp.h.push_back(sn.last_state);
      j.usage.cached_tokens = j.consumed;
    } else {
      j.seq = m_.new_sequence();
    }
    while (j.next_snapshot < j.req.snapshot_at.size() && j.req.snapshot_at[j.next_snapshot] <= j.consumed)
      ++j.next_snapshot;
    return true;
  }

  void fail(Engine::Job& j, const std::string& msg, Event::ErrorKind kind = Event::ErrorKind::kInternal) {
    j.failed = true;
    Event e;
    e.kind = Event::Kind::kError;
    e.error = msg;
    e.error_kind = kind;
    e.usage = j.usage;
    e.last = true;
    push(j, std::move(e));
  }

  // The prompt is consumed: make the choices and draw their first tokens.
  void fork(Engine::Job& j) {
    const Request& r = j.req;
    for (int i = 0; i < r.n; ++i) {
      auto c = std::make_unique<Choice>();
      c->index = i;
      c->seq = i + 1 == r.n ? std::move(j.seq) : j.seq;
      c->tokens = r.prompt;
      c->last_logits = j.last_logits;
      c->last_state = j.last_state;
      c->mtp = j.mtp;
      c->history.add_prompt(r.prompt);
      c->rng.seed(r.sampling.seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(i));
      if (tok_) c->decoder.emplace(*tok_);
      c->stop = StopMatcher(r.stop);
      if (r.constraint) c->constraint = r.constraint->clone();
      j.choices.push_back(std::move(c));
    }
    j.seq = model::Sequence();
    j.mtp = MtpFeed();
    for (auto& c : j.choices) {
      if (job_failed(j)) return;
      observe(j, *c, c->last_logits);
      draw_next(j, *c);
    }
  }

  // Draws the next token of a choice from its last logits (through its constraint, if any).
  void draw_next(Engine::Job& j, Choice& c) {
    if (!c.constraint) {
      const Distribution d = make_distribution(c.last_logits, j.req.sampling, &c.history);
      return emit(j, c, draw(d, c.rng), d);
    }
    std::vector<float> masked = c.last_logits;
    const int64_t remaining = std::min<int64_t>(j.req.max_tokens - c.generated, max_ctx_ - static_cast<int64_t>(c.tokens.size()));
    c.constraint->mask(masked, remaining);
    if (std::none_of(masked.begin(), masked.end(), [](float x) { return x > -std::numeric_limits<float>::infinity(); }))
      return fail(j, "internal error: the output constraint allows no next token");
    const Distribution d = make_distribution(masked, j.req.sampling, &c.history);
    const int32_t tok = draw(d, c.rng);
    c.constraint->accept(tok);
    emit(j, c, tok, d);
  }

  static bool job_failed(const Engine::Job& j) { return j.failed; }

  // Reports a sampled token; finishes the choice when a stop condition holds.
  void emit(Engine::Job& j, Choice& c, int32_t tok, const Distribution& d) {
    const Request& r = j.req;
    c.tokens.push_back(tok);
    c.feed.push_back(tok);
    ++c.generated;
    ++j.usage.completion_tokens;
    c.history.add_output(tok);
    const bool stop_id = std::find(r.stop_ids.begin(), r.stop_ids.end(), tok) != r.stop_ids.end() ||
                         (!r.ignore_eos && tok == static_cast<int32_t>(m_.config().eos_token_id));
    Event e;
    e.choice = c.index;
    e.token = tok;
    if (c.decoder && !stop_id) e.text = c.stop.push(c.decoder->push(tok));
    if (r.logprobs) {
      e.logprob = std::make_shared<TokenLogprob>();
      e.logprob->logprob = d.logprob(tok);
      e.logprob->top = d.top(r.sampling.top_logprobs);
    }
    push(j, std::move(e));
    if (c.stop.stopped() || stop_id) return finish(j, c, FinishReason::kStop);
    if (c.generated >= r.max_tokens || static_cast<int64_t>(c.tokens.size()) >= max_ctx_)
      return finish(j, c, FinishReason::kLength);
  }

  void finish(Engine::Job& j, Choice& c, FinishReason why) {
    if (c.done) return;
    c.done = true;
    c.draft = -1;
    Event e;
    e.kind = Event::Kind::kFinish;
    e.choice = c.index;
    e.finish = why;
    e.stop_sequence = c.stop.matched();
    if (c.decoder && why != FinishReason::kStop) e.text = c.stop.push(c.decoder->finish()) + c.stop.flush();
    if (j.req.snapshot_at_end && why != FinishReason::kCancelled) {
      if (c.mark) model::rollback(c.seq, *c.mark);
      e.snapshot = make_snapshot(std::span(c.tokens).first(c.seq.pos), c.seq, c.last_logits, c.last_state);
    }
    c.seq = model::Sequence();  // frees the caches now
    c.mtp = MtpFeed();
    if (++j.finished == static_cast<int>(j.choices.size())) {
      e.usage = j.usage;
      e.last = true;
    }
    push(j, std::move(e));
  }

  void cancel(Engine::Job& j) {
    if (j.choices.empty()) {  // still prefilling: one event ends it
      Event e;
      e.kind = Event::Kind::kFinish;
      e.finish = FinishReason::kCancelled;
      e.usage = j.usage;
      e.last = true;
      push(j, std::move(e));
      j.failed = true;
      return;
    }
    for (auto& c : j.choices) finish(j, *c, FinishReason::kCancelled);
  }

  int64_t max_ctx() const { return max_ctx_; }
  void push(Engine::Job& j, Event e) const {
    e.step = step_;
    if (e.last) live_->fetch_sub(1);  // before the caller can see it (Engine::live_)
    j.stream->push(std::move(e));
  }

 private:
  const model::Model& m_;
  const Tokenizer* tok_;
  int64_t max_ctx_;
  const EngineOptions& opt_;
  int64_t step_;
  std::atomic<int64_t>* live_;
};

namespace {

bool job_done(const Engine::Job& j) {
  return j.failed || (!j.choices.empty() && j.finished == static_cast<int>(j.choices.size()));
}

// One row of the batch: whose tokens they are.
struct Item {
  Engine::Job* job = nullptr;
  Choice* choice = nullptr;  // null: the job's prefill
  int64_t pos0 = 0;
  bool verify = false;
};

// An MTP call's input: the pairs a sequence can feed now.
struct MtpItem {
  MtpFeed* feed;
  model::Sequence* seq;
  Choice* drafter;  // draws a draft from the logits
  const SamplingParams* sampling;
  std::vector<float> h;
  std::vector<int32_t> next;
};

// Pairs k = fed.. whose h_k is known and whose next token t_{k+1} is among tokens[0, limit).
void collect_pairs(MtpFeed& f, std::span<const int32_t> tokens, int64_t limit, MtpItem* it) {
  for (size_t i = 0; i < f.h.size(); ++i) {
    const int64_t k = f.fed + static_cast<int64_t>(i);
    if (k + 1 >= limit) break;
    it->h.insert(it->h.end(), f.h[i].begin(), f.h[i].end());
    it->next.push_back(tokens[k + 1]);
  }
}

}  // namespace

void Engine::step() {
  DSV4_PROFILE_SCOPE("engine.step");
  StepContext cx(m_, tok_, max_ctx_, opt_, stats().steps, &live_);
  const int64_t row = m_.config().hc_dim();
  for (auto& j : jobs_) {
    if (!j->started) cx.start(*j, opt_.speculative);
    if (!job_done(*j) && j->stream->cancelled()) cx.cancel(*j);
  }
  std::erase_if(jobs_, [](const std::unique_ptr<Job>& j) { return job_done(*j); });

  // Plan: decode tokens of every running choice first, then prefill chunks in arrival order.
  std::vector<model::SeqInput> in;
  std::vector<Item> items;
  int64_t budget = opt_.step_tokens;
  for (auto& j : jobs_)
    for (auto& c : j->choices) {
      if (c->done || c->feed.empty()) continue;
      const bool verify = c->draft >= 0;
      if (verify) {
        c->feed.push_back(c->draft);
        c->mark = model::mark(c->seq);
      }
      in.push_back({&c->seq, c->feed, verify ? 2 : 1, j->speculative > 0 && c->speculate});
      items.push_back({j.get(), c.get(), c->seq.pos, verify});
      budget -= static_cast<int64_t>(c->feed.size());
    }
  for (auto& j : jobs_) {
    if (!j->choices.empty() || budget <= 0) continue;
    const int64_t P = static_cast<int64_t>(j->req.prompt.size());
    int64_t end = std::min(P, j->consumed + budget);
    if (j->next_snapshot < j->req.snapshot_at.size()) end = std::min(end, j->req.snapshot_at[j->next_snapshot]);
    if (end == j->consumed) continue;  // the whole prompt came from the snapshot
    const bool boundary = end == P || (j->next_snapshot < j->req.snapshot_at.size() &&
                                       end == j->req.snapshot_at[j->next_snapshot]);
    in.push_back({&j->seq, std::span(j->req.prompt).subspan(j->consumed, end - j->consumed), boundary ? 1 : 0, true});
    items.push_back({j.get(), nullptr, j->consumed, false});
    budget -= end - j->consumed;
  }

  std::vector<model::SeqOutput> out;
  if (!in.empty()) {
    auto r = m_.forward_batch(in);
    if (!r.ok()) {  // cannot happen for validated requests; end them all rather than loop
      for (auto& j : jobs_) cx.fail(*j, r.message());
      jobs_.clear();
      return;
    }
    out = std::move(*r);
    std::lock_guard<std::mutex> l(mu_);
    ++stats_.steps;
    int64_t fed = 0;
    for (const auto& x : in) fed += static_cast<int64_t>(x.tokens.size());
    stats_.max_step_tokens = std::max(stats_.max_step_tokens, fed);
    stats_.forward_tokens += fed;
  }
  const int64_t V = m_.config().vocab_size;

  for (size_t i = 0; i < items.size(); ++i) {
    Item& it = items[i];
    Job& j = *it.job;
    if (j.failed) continue;
    model::SeqOutput& o = out[i];
    auto row_logits = [&](int r) { return std::vector<float>(o.logits.begin() + r * V, o.logits.begin() + (r + 1) * V); };
    auto row_state = [&](int64_t r) { return std::vector<float>(o.states.begin() + r * row, o.states.begin() + (r + 1) * row); };
    if (!it.choice) {  // prefill chunk
      const int64_t n = static_cast<int64_t>(in[i].tokens.size());
      j.consumed += n;
      if (j.speculative) add_states(j.mtp, it.pos0, o.states, row);
      j.usage.prefilled_tokens += n;
      if (in[i].n_out > 0) {
        j.last_logits = row_logits(0);
        j.last_state = row_state(n - 1);
      }
      continue;
    }
    Choice& c = *it.choice;
    const int64_t n = static_cast<int64_t>(c.feed.size());
    if (j.speculative && c.speculate) add_states(c.mtp, it.pos0, o.states, row);
    if (!it.verify) {
      c.last_logits = row_logits(0);
      if (!o.states.empty()) c.last_state = row_state(n - 1);
      c.feed.clear();
      cx.observe(j, c, c.last_logits);
      cx.draw_next(j, c);
      continue;
    }
    // Verify step: feed = [..., x, d]; row 0 is the distribution d was drafted for.
    const int32_t d = c.draft;
    c.draft = -1;
    ++j.usage.drafted_tokens;
    ++c.drafted;
    cx.observe(j, c, row_logits(0));
    const Distribution p0 = make_distribution(row_logits(0), j.req.sampling, &c.history);
    const Verdict v = verify_draft(p0, c.draft_q, d, c.rng);
    if (c.drafted >= opt_.spec_probe && c.accepted < opt_.spec_min_accept * c.drafted) c.speculate = false;
    if (v.accepted) {
      ++j.usage.accepted_tokens;
      ++c.accepted;
      c.mark.reset();
      c.last_logits = row_logits(1);
      c.last_state = row_state(n - 1);
      c.feed.clear();
      cx.emit(j, c, d, p0);
      if (c.done) continue;
      c.feed.clear();  // d is consumed already
      cx.observe(j, c, c.last_logits);
      const Distribution p1 = make_distribution(c.last_logits, j.req.sampling, &c.history);
      cx.emit(j, c, draw(p1, c.rng), p1);
    } else {
      // Back to the state before this step; the accepted tokens (feed minus the draft) are fed
      // again next step together with the corrected token.
      model::rollback(c.seq, *c.mark);
      c.mark.reset();
      c.feed.pop_back();
      cx.emit(j, c, v.token, p0);
    }
  }

  // The MTP block: every sequence feeds the pairs it can, drafting choices draw a draft.
  std::vector<MtpItem> mtp;
  for (auto& j : jobs_) {
    if (!j->speculative || job_done(*j)) continue;
    if (j->choices.empty()) {
      MtpItem it{&j->mtp, &j->seq, nullptr, &j->req.sampling, {}, {}};
      collect_pairs(j->mtp, j->req.prompt, j->consumed, &it);
      if (!it.next.empty()) mtp.push_back(std::move(it));
      continue;
    }
    for (auto& c : j->choices) {
      if (c->done || !c->speculate) continue;
      MtpItem it{&c->mtp, &c->seq, nullptr, &j->req.sampling, {}, {}};
      collect_pairs(c->mtp, c->tokens, static_cast<int64_t>(c->tokens.size()), &it);
      // Draft only from a single pending token (a longer feed follows a rejection and is
      // verified without a draft, so a rollback never has to re-feed more than one step).
      const bool can_draft = c->feed.size() == 1 && c->mtp.fed + static_cast<int64_t>(it.next.size()) == c->seq.pos &&
                             static_cast<int64_t>(c->tokens.size()) + 1 < max_ctx_;
      if (can_draft) it.drafter = c.get();
      if (!it.next.empty()) mtp.push_back(std::move(it));
    }
  }
  if (!mtp.empty()) {
    std::vector<model::MtpInput> min;
    for (auto& it : mtp) min.push_back({it.seq, it.h.data(), it.next});
    auto r = m_.mtp_forward_batch(min);
    if (r.ok()) {
      for (size_t i = 0; i < mtp.size(); ++i) {
        MtpItem& it = mtp[i];
        const size_t n = it.next.size();
        it.feed->fed += static_cast<int64_t>(n);
        it.feed->h.erase(it.feed->h.begin(), it.feed->h.begin() + static_cast<std::ptrdiff_t>(n));
        if (Choice* c = it.drafter) {
          c->draft_q = make_distribution((*r)[i], *it.sampling, &c->history);
          c->draft = c->draft_q.greedy ? c->draft_q.ids[0] : draw(c->draft_q, c->rng);
        }
      }
    }
  }

  // Prefill boundaries: snapshots, and the first tokens of finished prompts.
  for (auto& j : jobs_) {
    if (job_done(*j) || !j->choices.empty()) continue;
    const int64_t P = static_cast<int64_t>(j->req.prompt.size());
    while (j->next_snapshot < j->req.snapshot_at.size() && j->req.snapshot_at[j->next_snapshot] <= j->consumed) {
      if (j->req.snapshot_at[j->next_snapshot] == j->consumed) {
        Event e;
        e.kind = Event::Kind::kSnapshot;
        e.snapshot = make_snapshot(std::span(j->req.prompt).first(j->consumed), j->seq, j->last_logits, j->last_state);
        cx.push(*j, std::move(e));
      }
      ++j->next_snapshot;
    }
    if (j->consumed == P) cx.fork(*j);
  }
  std::erase_if(jobs_, [](const std::unique_ptr<Job>& j) { return job_done(*j); });
}

}  // namespace dsv4::engine
