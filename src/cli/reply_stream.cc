#include "cli/reply_stream.h"

#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "chat/completion_parser.h"

namespace dsv4::cli {

Reply stream_reply(engine::Engine& e, engine::Request req, bool thinking, bool print,
                   const std::atomic<bool>* interrupt) {
  using clock = std::chrono::steady_clock;
  Reply r;
  chat::CompletionParser parser(thinking);
  enum class Part { kNone, kReasoning, kContent } part = Part::kNone;
  auto show = [&](const std::vector<chat::ParseEvent>& evs) {
    for (const auto& ev : evs) {
      const bool reasoning = ev.kind == chat::ParseEventKind::kReasoningDelta;
      if (reasoning) r.reasoning += ev.text;
      if (ev.kind == chat::ParseEventKind::kContentDelta) r.content += ev.text;
      if (!print || ev.text.empty()) continue;
      const Part want = reasoning ? Part::kReasoning : Part::kContent;
      if (want != part) {
        fmt::print("{}", want == Part::kReasoning ? "[reasoning]\n" : (part == Part::kNone ? "" : "\n[answer]\n"));
        part = want;
      }
      fmt::print("{}", ev.text);
      std::fflush(stdout);
    }
  };
  const auto t0 = clock::now();
  auto t1 = t0;
  bool first = true, cancelled = false;
  auto s = e.submit(std::move(req));
  for (;;) {
    std::optional<engine::Event> got = s->try_next();
    if (!got) {
      if (interrupt && *interrupt && !cancelled) {
        s->cancel();
        cancelled = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      continue;
    }
    engine::Event& ev = *got;
    if (ev.kind == engine::Event::Kind::kError) {
      r.error = ev.error;
      break;
    }
    if (ev.kind == engine::Event::Kind::kToken) {
      if (first) {
        t1 = clock::now();
        first = false;
      }
      r.tokens.push_back(ev.token);
    }
    r.text += ev.text;
    show(parser.feed(ev.text));
    if (ev.kind == engine::Event::Kind::kFinish) {
      r.finish = ev.finish;
      r.snapshot = ev.snapshot;
    }
    if (ev.last) {
      r.usage = ev.usage;
      break;
    }
  }
  const auto t2 = clock::now();
  show(parser.finish().events);
  if (print && part != Part::kNone) fmt::print("\n");
  r.prefill_seconds = std::chrono::duration<double>((first ? t2 : t1) - t0).count();
  r.decode_seconds = first ? 0.0 : std::chrono::duration<double>(t2 - t1).count();
  return r;
}

std::string speed_line(const Reply& r) {
  const int64_t pre = r.usage.prefilled_tokens, dec = static_cast<int64_t>(r.tokens.size());
  std::string s = fmt::format("prefill: {} tokens in {:.3f} s ({:.1f} tok/s); decode: {} tokens in {:.3f} s ({:.1f} tok/s)",
                              pre, r.prefill_seconds, r.prefill_seconds > 0 ? pre / r.prefill_seconds : 0.0, dec,
                              r.decode_seconds, r.decode_seconds > 0 && dec > 1 ? (dec - 1) / r.decode_seconds : 0.0);
  if (r.usage.drafted_tokens > 0)
    s += fmt::format("; mtp: drafted {}, accepted {} ({:.1f}%)", r.usage.drafted_tokens, r.usage.accepted_tokens,
                     100.0 * r.usage.accepted_tokens / r.usage.drafted_tokens);
  else
    s += "; mtp: off";
  return s;
}

}  // namespace dsv4::cli
