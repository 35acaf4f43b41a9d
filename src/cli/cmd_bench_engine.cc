// `dsv4 engine-bench`: the generation engine under load, measured in one run on one model:
// aggregate decode tokens/s at several concurrency levels, the worst gap between two tokens of a
// running sequence while a long prompt is prefilled, and the MTP acceptance rate with its
// decode speed-up at temperature 0 and 1.
#include <algorithm>
#include <chrono>
#include <random>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/loaded_model.h"
#include "engine/engine.h"

namespace dsv4::cli {
namespace {

using clock_type = std::chrono::steady_clock;

struct EngineBenchOptions {
  std::string model_dir;
  std::vector<int> concurrency{1, 4, 8, 16};
  int prompt = 32, gen = 64, long_prompt = 2000, step_tokens = 256, decoders = 4;
};

std::vector<int32_t> random_prompt(int n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> d(2, vocab - 1);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(d(rng));
  return t;
}

// Token event times of one request (choice 0).
struct Timeline {
  std::vector<double> t;
  engine::Usage usage;
};

Timeline drain(engine::Stream& s, clock_type::time_point t0) {
  Timeline tl;
  engine::Event e;
  while (s.next(&e)) {
    if (e.kind == engine::Event::Kind::kToken)
      tl.t.push_back(std::chrono::duration<double>(e.time - t0).count());
    if (e.last) tl.usage = e.usage;
  }
  return tl;
}

engine::Request request(std::vector<int32_t> prompt, int gen, float temp, int spec) {
  engine::Request r;
  r.prompt = std::move(prompt);
  r.max_tokens = gen;
  r.ignore_eos = true;
  r.sampling.temperature = temp;
  r.sampling.seed = 1;
  r.speculative = spec;
  return r;
}

// Steady-state aggregate decode rate: token events between the moment every sequence has its
// first token and the moment the first one finishes.
double aggregate_decode_tps(const std::vector<Timeline>& tls) {
  double start = 0, end = 1e300;
  for (const auto& tl : tls) {
    if (tl.t.empty()) return 0;
    start = std::max(start, tl.t.front());
    end = std::min(end, tl.t.back());
  }
  int64_t n = 0;
  for (const auto& tl : tls)
    for (double x : tl.t) n += x > start && x <= end;
  return end > start ? n / (end - start) : 0;
}

int engine_bench(const EngineBenchOptions& o) {
  auto lm = load_model_dir(o.model_dir);
  if (!lm.ok()) return fail("engine-bench", lm.message());
  const model::Model& m = *lm->model;
  const int64_t V = m.config().vocab_size;
  fmt::print("model: {} ({} layers, hidden {}, MTP {})\n", lm->dir, m.config().num_hidden_layers,
             m.config().hidden_size, m.weights().mtp.empty() ? "no" : "yes");
  engine::EngineOptions eo;
  eo.step_tokens = o.step_tokens;
  eo.speculative = 0;
  double tps1 = 0;
  {
    engine::Engine e(m, nullptr, eo);
    for (int c : o.concurrency) {
      const auto t0 = clock_type::now();
      std::vector<std::shared_ptr<engine::Stream>> ss;
      for (int i = 0; i < c; ++i) ss.push_back(e.submit(request(random_prompt(o.prompt, V, 10 + i), o.gen, 0, 0)));
      std::vector<Timeline> tls;
      for (auto& s : ss) tls.push_back(drain(*s, t0));
      const double tps = aggregate_decode_tps(tls);
      if (c == o.concurrency.front()) tps1 = tps;
      fmt::print("decode, {:2d} concurrent sequences: {:8.1f} tok/s aggregate ({:.2f}x of {} sequence{})\n", c, tps,
                 tps1 > 0 ? tps / tps1 : 0.0, o.concurrency.front(), o.concurrency.front() == 1 ? "" : "s");
    }
  }
  {  // decoders running while a long prompt arrives
    engine::Engine e(m, nullptr, eo);
    const auto t0 = clock_type::now();
    std::vector<std::shared_ptr<engine::Stream>> ds;
    for (int i = 0; i < o.decoders; ++i)
      ds.push_back(e.submit(request(random_prompt(o.prompt, V, 100 + i), 1 << 20, 0, 0)));
    engine::Event ev;
    std::vector<Timeline> tls(ds.size());
    for (size_t i = 0; i < ds.size(); ++i)  // every decoder is running
      while (ds[i]->next(&ev))
        if (ev.kind == engine::Event::Kind::kToken) {
          tls[i].t.push_back(std::chrono::duration<double>(ev.time - t0).count());
          break;
        }
    const double arrive = std::chrono::duration<double>(clock_type::now() - t0).count();
    auto big = e.submit(request(random_prompt(o.long_prompt, V, 7), 1, 0, 0));
    const Timeline bt = drain(*big, t0);
    for (auto& s : ds) s->cancel();
    for (size_t i = 0; i < ds.size(); ++i) {
      const Timeline rest = drain(*ds[i], t0);
      tls[i].t.insert(tls[i].t.end(), rest.t.begin(), rest.t.end());
    }
    const double done = bt.t.empty() ? arrive : bt.t.front();
    double worst = 0;
    std::vector<double> gaps;
    for (const auto& tl : tls)
      for (size_t i = 1; i < tl.t.size(); ++i) {
        if (tl.t[i] < arrive || tl.t[i - 1] > done) continue;
        gaps.push_back(tl.t[i] - tl.t[i - 1]);
        worst = std::max(worst, gaps.back());
      }
    std::sort(gaps.begin(), gaps.end());
    const double median = gaps.empty() ? 0 : gaps[gaps.size() / 2];
    fmt::print("{}-token prompt beside {} decoders (step budget {}): prefilled in {:.2f} s; decoder token gap "
               "worst {:.1f} ms, median {:.1f} ms, over {} gaps\n",
               o.long_prompt, o.decoders, o.step_tokens, done - arrive, worst * 1e3, median * 1e3, gaps.size());
  }
  if (!m.weights().mtp.empty()) {
    for (float temp : {0.0f, 1.0f}) {
      double tps[2] = {0, 0};
      engine::Usage u;
      for (int spec : {0, 1}) {
        engine::EngineOptions so = eo;
        so.speculative = 1;
        engine::Engine e(m, nullptr, so);
        const auto t0 = clock_type::now();
        auto s = e.submit(request(random_prompt(o.prompt, V, 3), o.gen * 2, temp, spec));
        const Timeline tl = drain(*s, t0);
        if (tl.t.size() > 1) tps[spec] = (tl.t.size() - 1) / (tl.t.back() - tl.t.front());
        if (spec) u = tl.usage;
      }
      fmt::print("MTP at temperature {:.0f}: drafted {}, accepted {} ({:.1f}%); decode {:.1f} -> {:.1f} tok/s ({:.2f}x)\n",
                 temp, u.drafted_tokens, u.accepted_tokens,
                 u.drafted_tokens ? 100.0 * u.accepted_tokens / u.drafted_tokens : 0.0, tps[0], tps[1],
                 tps[0] > 0 ? tps[1] / tps[0] : 0.0);
    }
  }
  return 0;
}

}  // namespace

void add_engine_bench(CLI::App& app, int* rc) {
  auto* cmd = app.add_subcommand("engine-bench", "Measure the generation engine: batching, fairness, MTP");
  auto o = std::make_shared<EngineBenchOptions>();
  cmd->add_option("-m,--model", o->model_dir, "checkpoint directory (default: the built-in default model)");
  cmd->add_option("--concurrency", o->concurrency, "concurrency levels (default 1 4 8 16)");
  cmd->add_option("--prompt", o->prompt, "prompt tokens per sequence")->check(CLI::PositiveNumber);
  cmd->add_option("--gen", o->gen, "tokens generated per sequence")->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--long-prompt", o->long_prompt, "the long prompt of the fairness test")->check(CLI::PositiveNumber);
  cmd->add_option("--decoders", o->decoders, "decoders running during the long prefill")->check(CLI::PositiveNumber);
  cmd->add_option("--step-tokens", o->step_tokens, "engine token budget per step")->check(CLI::PositiveNumber);
  cmd->callback([rc, o] { *rc = engine_bench(*o); });
}

}  // namespace dsv4::cli
