#include "server/generation.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>

namespace dsv4::server {

std::string new_tool_call_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("call_{:016x}{:08x}", rng(), static_cast<uint32_t>(rng()));
}

struct Generation::ChoiceState {
  std::optional<chat::CompletionParser> parser;
  std::vector<std::string> call_ids;  // by tool index
  std::vector<size_t> streamed;       // argument bytes sent so far, by tool index
  bool in_reasoning = false;
  bool finished = false;
  std::optional<std::chrono::steady_clock::time_point> last_token;
};

Generation::Generation(const Backend& b, Prepared p) : b_(b), p_(std::move(p)) {
  start_ = std::chrono::steady_clock::now();
  if (auto id = b_.tokenizer->token_id("</think>")) think_end_id_ = *id;
  for (int i = 0; i < p_.req.n; ++i) {
    auto s = std::make_unique<ChoiceState>();
    if (p_.chat) s->parser.emplace(p_.thinking, /*argument_deltas=*/true);
    s->in_reasoning = p_.chat && p_.thinking;
    st_.push_back(std::move(s));
  }
  results_.resize(static_cast<size_t>(p_.req.n));
  if (b_.cache) use_cache();
  stream_ = b_.engine->submit(p_.req);
}

// Resumes from the longest cached prefix and asks the engine for the snapshots worth keeping:
// every cache interval, the end of the prompt (the end of the user's input: the next turn starts
// with it), where the prompt parts from a recent one, and the end of the reply unless the reply is reasoning, which the chat encoding
// drops from later turns, so that state could never be hit.
void Generation::use_cache() {
  engine::Request& r = p_.req;
  const cache::CacheHit hit = b_.cache->lookup(r.prompt);
  int64_t from = 0;
  if (hit.snapshot) {
    r.snapshot = hit.snapshot;
    from = static_cast<int64_t>(hit.snapshot->tokens.size());
  }
  const int64_t P = static_cast<int64_t>(r.prompt.size());
  r.snapshot_at = b_.cache->snapshot_points(from, P);
  // A thinking prompt ends "<｜Assistant｜><think>", but the next turn renders this reply as
  // "<｜Assistant｜></think>…" (the reasoning dropped): the point before "<think>" is the end of
  // the user's input that the next turn shares.
  const auto think = b_.tokenizer->token_id("<think>");
  if (p_.thinking && think && P - 1 > from && r.prompt.back() == *think && !r.snapshot_at.empty()) r.snapshot_at.push_back(P - 1);
  // Where this prompt parts from a recent one (a shared system prompt, tool list or history).
  const int64_t shared = b_.cache->shared_prefix_point(r.prompt);
  if (shared > from && shared < P) r.snapshot_at.push_back(shared);
  std::sort(r.snapshot_at.begin(), r.snapshot_at.end());
  r.snapshot_at.erase(std::unique(r.snapshot_at.begin(), r.snapshot_at.end()), r.snapshot_at.end());
  r.snapshot_at_end = !p_.thinking;
}

ApiError Generation::api_error() const {
  using K = engine::Event::ErrorKind;
  const std::string msg = error_.value_or("");
  switch (error_kind_) {
    case K::kInvalidRequest: return ApiError{400, msg, "", "invalid_request"};
    case K::kTooLarge: return ApiError{400, msg, "max_tokens", "kv_budget_exceeded"};
    case K::kInternal: break;
  }
  return ApiError{500, msg, "", ""};
}

Generation::~Generation() {
  if (!done_) stream_->cancel();
}

void Generation::cancel(bool timed_out) {
  if (timed_out) timed_out_ = true;
  stream_->cancel();
}

int64_t Generation::reasoning_tokens() const {
  int64_t n = 0;
  for (const auto& r : results_) n += r.reasoning_tokens;
  return n;
}

std::optional<double> Generation::ttft_seconds() const {
  if (!first_token_) return std::nullopt;
  return std::chrono::duration<double>(*first_token_ - start_).count();
}

std::vector<double> Generation::take_token_gaps() { return std::exchange(gaps_, {}); }

std::vector<ChoiceDelta> Generation::poll(std::chrono::milliseconds wait) {
  std::vector<ChoiceDelta> out;
  if (done_) return out;
  if (!stream_->wait_for(wait)) return out;
  while (auto e = stream_->try_next()) {
    on_event(*e, out);
    if (done_) break;
  }
  std::erase_if(out, [](const ChoiceDelta& d) { return d.empty(); });
  return out;
}

namespace {

// Token text for logprobs: the token's bytes, invalid UTF-8 replaced (the raw bytes go in `bytes`).
std::string printable(std::string_view bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size();) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    const int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= bytes.size();
    for (int k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(bytes[i + k]) >> 6) == 2;
    if (ok) {
      out.append(bytes.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

TopLogprob top_entry(const Tokenizer& t, int32_t id, double lp) {
  TopLogprob e;
  const std::string_view bytes = t.token_bytes(id);
  e.token = printable(bytes);
  for (unsigned char c : bytes) e.bytes.push_back(c);
  e.logprob = std::isfinite(lp) ? lp : -9999.0;
  return e;
}

}  // namespace

LogprobEntry Generation::logprob_entry(int32_t token, const engine::TokenLogprob& lp) const {
  LogprobEntry e;
  e.tok = top_entry(*b_.tokenizer, token, lp.logprob);
  for (const auto& [id, l] : lp.top) e.top.push_back(top_entry(*b_.tokenizer, id, l));
  return e;
}

// A call's first delta carries its id and name (once).
void Generation::begin_call(ChoiceState& s, int index, const std::string& name, ChoiceDelta& d) {
  if (static_cast<int>(s.call_ids.size()) <= index) {
    s.call_ids.resize(index + 1);
    s.streamed.resize(index + 1, 0);
  }
  if (!s.call_ids[index].empty()) return;
  s.call_ids[index] = new_tool_call_id();
  d.tool_calls.push_back({index, s.call_ids[index], name, ""});
}

void Generation::apply_parse_events(int c, const std::vector<chat::ParseEvent>& ev, ChoiceDelta& d) {
  ChoiceState& s = *st_[c];
  ChoiceResult& r = results_[c];
  for (const auto& x : ev) {
    switch (x.kind) {
      case chat::ParseEventKind::kReasoningDelta:
        d.reasoning += x.text;
        r.reasoning += x.text;
        break;
      case chat::ParseEventKind::kContentDelta:
        d.content += x.text;
        r.content += x.text;
        break;
      case chat::ParseEventKind::kToolCallBegin:
        begin_call(s, x.tool_index, x.text, d);
        break;
      case chat::ParseEventKind::kToolCallArgumentsDelta:
        begin_call(s, x.tool_index, x.text, d);
        d.tool_calls.push_back({x.tool_index, "", "", x.arguments});
        s.streamed[x.tool_index] += x.arguments.size();
        break;
      case chat::ParseEventKind::kToolCallEnd: {
        begin_call(s, x.tool_index, x.text, d);
        // What the parameter deltas did not send yet (the closing brace, or everything).
        const size_t sent = std::min(s.streamed[x.tool_index], x.arguments.size());
        d.tool_calls.push_back({x.tool_index, "", "", x.arguments.substr(sent)});
        r.tool_calls.push_back({s.call_ids[x.tool_index], x.text, x.arguments});
        break;
      }
    }
  }
}

void Generation::finish_choice(int c, engine::FinishReason why, ChoiceDelta& d) {
  ChoiceState& s = *st_[c];
  ChoiceResult& r = results_[c];
  if (s.finished) return;
  s.finished = true;
  if (s.parser) {
    chat::ParseResult pr = s.parser->finish();
    apply_parse_events(c, pr.events, d);
    r.tool_calls_in_reasoning = pr.tool_calls_in_reasoning;
    r.parse_errors = pr.errors;
    // Markup that could not be parsed is shown as content rather than lost.
    if (!pr.unparsed.empty()) {
      d.content += pr.unparsed;
      r.content += pr.unparsed;
    }
  }
  switch (why) {
    case engine::FinishReason::kStop: r.finish_reason = r.tool_calls.empty() ? "stop" : "tool_calls"; break;
    case engine::FinishReason::kLength: r.finish_reason = "length"; break;
    case engine::FinishReason::kCancelled: r.finish_reason = timed_out_ ? "length" : "cancelled"; break;
    default: r.finish_reason = engine::finish_reason_name(why); break;
  }
  // A cancelled choice has no OpenAI / Anthropic finish: the client went away, or the shutdown's
  // error event (server_run.cc) says why the reply is cut short.
  if (r.finish_reason != "cancelled") d.finish_reason = r.finish_reason;
}

void Generation::on_event(engine::Event& e, std::vector<ChoiceDelta>& out) {
  using K = engine::Event::Kind;
  if (e.kind == K::kError) {
    error_ = e.error;
    error_kind_ = e.error_kind;
    usage_ = e.usage;
    done_ = true;
    return;
  }
  if (e.kind == K::kSnapshot) {
    if (b_.cache) b_.cache->insert(std::move(e.snapshot));
    return;
  }
  if (e.kind == K::kFinish && e.snapshot && b_.cache) b_.cache->insert(std::move(e.snapshot));
  const int c = e.choice;
  if (c < 0 || c >= static_cast<int>(st_.size())) return;
  ChoiceDelta d;
  d.choice = c;
  ChoiceState& s = *st_[c];
  ChoiceResult& r = results_[c];
  if (e.kind == K::kToken) {
    const auto now = e.time;
    if (!first_token_) first_token_ = now;
    if (s.last_token) gaps_.push_back(std::chrono::duration<double>(now - *s.last_token).count());
    s.last_token = now;
    ++r.tokens;
    if (e.token == b_.eos_id) r.saw_eos = true;
    if (s.in_reasoning) {
      ++r.reasoning_tokens;
      if (e.token == think_end_id_) s.in_reasoning = false;
    }
    if (e.logprob) {
      d.logprobs.push_back(logprob_entry(e.token, *e.logprob));
      r.logprobs.push_back(d.logprobs.back());
    }
  }
  if (!e.text.empty()) {
    if (s.parser) {
      apply_parse_events(c, s.parser->feed(e.text), d);
    } else {
      d.content += e.text;
      r.content += e.text;
    }
  }
  if (e.kind == K::kFinish) {
    r.stop_sequence = e.stop_sequence;
    finish_choice(c, e.finish, d);
  }
  if (e.last) {
    usage_ = e.usage;
    done_ = true;
  }
  out.push_back(std::move(d));
}

}  // namespace dsv4::server
