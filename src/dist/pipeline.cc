#include "dist/pipeline.h"

#include <unordered_map>

#include <fmt/format.h>

#include "base/profile.h"
#include "dist/expert_group.h"
#include "dist/wire.h"

namespace dsv4::dist {
namespace {

// A forward step as it travels: pending state operations, segments, tokens, then the rows.
struct Step {
  std::vector<uint8_t> op_kind;
  std::vector<uint64_t> op_a, op_b;
  std::vector<model::RemoteSegment> segs;
  std::vector<int32_t> tokens;
};

void put_step_header(Writer& w, const Step& s) {
  w.put<uint8_t>(kStepForward);
  w.put<uint32_t>(static_cast<uint32_t>(s.op_kind.size()));
  for (size_t i = 0; i < s.op_kind.size(); ++i) {
    w.put<uint8_t>(s.op_kind[i]);
    w.put<uint64_t>(s.op_a[i]);
    w.put<uint64_t>(s.op_b[i]);
  }
  w.put<uint32_t>(static_cast<uint32_t>(s.segs.size()));
  for (const auto& g : s.segs) {
    w.put<uint64_t>(g.id);
    w.put<int64_t>(g.len);
    w.put<int64_t>(g.pos0);
  }
  w.put<uint32_t>(static_cast<uint32_t>(s.tokens.size()));
  w.put_array(s.tokens.data(), s.tokens.size());
}

Step get_step_header(Reader& r) {
  Step s;
  const uint32_t n_ops = r.get<uint32_t>();
  for (uint32_t i = 0; i < n_ops; ++i) {
    s.op_kind.push_back(r.get<uint8_t>());
    s.op_a.push_back(r.get<uint64_t>());
    s.op_b.push_back(r.get<uint64_t>());
  }
  s.segs.resize(r.get<uint32_t>());
  for (auto& g : s.segs) {
    g.id = r.get<uint64_t>();
    g.len = r.get<int64_t>();
    g.pos0 = r.get<int64_t>();
  }
  s.tokens.resize(r.get<uint32_t>());
  r.get_array(s.tokens.data(), s.tokens.size());
  return s;
}

}  // namespace

void PipelineLink::clone(uint64_t from, uint64_t to) {
  std::lock_guard<std::mutex> l(mu_);
  ops_.push_back({1, from, to});
}

void PipelineLink::release(uint64_t id) {
  std::lock_guard<std::mutex> l(mu_);
  ops_.push_back({2, id, 0});
}

void PipelineLink::submit(std::span<const model::RemoteSegment> segs, const int32_t* tokens, int64_t n, float* x) {
  DSV4_PROFILE_SCOPE("pipeline");
  Step s;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const Op& o : ops_) {
      s.op_kind.push_back(o.kind);
      s.op_a.push_back(o.a);
      s.op_b.push_back(o.b);
    }
    ops_.clear();
  }
  s.segs.assign(segs.begin(), segs.end());
  s.tokens.assign(tokens, tokens + n);
  Writer w;
  put_step_header(w, s);
  put_floats(w, x, static_cast<size_t>(n * row_));
  in_flight_.push_back({std::move(w.bytes()), x, n, 0});
  in_flight_.back().ticket = comm_->isend(lo_.leader_of_stage(1), kTagStep, in_flight_.back().bytes);
}

void PipelineLink::collect() {
  DSV4_PROFILE_SCOPE("pipeline");
  DSV4_CHECK(collected_ < in_flight_.size());
  InFlight& f = in_flight_[collected_++];
  const auto b = comm_->recv(lo_.leader_of_stage(lo_.pp - 1), kTagStepBack, false, "pipeline step result");
  Reader r(b);
  get_floats(r, f.x, static_cast<size_t>(f.n * row_));
  DSV4_CHECK(r.done());
  if (collected_ == in_flight_.size()) {  // every group's data has gone down the chain and come back
    for (const InFlight& g : in_flight_) comm_->wait(g.ticket, "pipeline step to stage 1");
    in_flight_.clear();
    collected_ = 0;
  }
}

void PipelineLink::stop_stages() {
  Writer w;
  w.put<uint8_t>(kStepStop);
  comm_->send(lo_.leader_of_stage(1), kTagStep, w.bytes(), "stopping pipeline stages");
  // The last stage confirms once every stage (and its members) has stopped.
  comm_->recv(lo_.leader_of_stage(lo_.pp - 1), kTagStepBack, false, "pipeline stop");
}

void PipelineLink::stage_traffic(int64_t* bytes, int64_t* messages) {
  Writer w;
  w.put<uint8_t>(kStepStats);
  w.put<int64_t>(0);
  w.put<int64_t>(0);
  comm_->send(lo_.leader_of_stage(1), kTagStep, w.bytes(), "pipeline statistics");
  const auto b = comm_->recv(lo_.leader_of_stage(lo_.pp - 1), kTagStepBack, false, "pipeline statistics");
  Reader r(b);
  *bytes += r.get<int64_t>();
  *messages += r.get<int64_t>();
}

void serve_stage(Comm* comm, const Layout& lo, const model::Model& m, ExpertGroupLink* experts) {
  const int stage = lo.stage_of(comm->rank());
  const int prev = lo.leader_of_stage(stage - 1);
  const bool last = stage == lo.pp - 1;
  const int next = last ? 0 : lo.leader_of_stage(stage + 1);
  const int next_tag = last ? kTagStepBack : kTagStep;
  const int64_t row = m.config().hc_dim();
  std::unordered_map<uint64_t, model::Sequence> states;
  const std::string what = fmt::format("pipeline stage {}", stage);
  std::vector<uint8_t> sent;  // the last result in flight
  int64_t sent_ticket = 0;
  for (;;) {
    const auto b = comm->recv(prev, kTagStep, true, "waiting for pipeline steps");
    comm->maybe_test_hang();
    Reader r(b);
    const uint8_t op = r.get<uint8_t>();
    if (op == kStepStop) {
      comm->wait(sent_ticket, what.c_str());
      if (experts) experts->stop_members();
      Writer w;
      w.put<uint8_t>(kStepStop);
      comm->send(next, next_tag, w.bytes(), what.c_str());
      return;
    }
    if (op == kStepStats) {
      int64_t bytes = r.get<int64_t>(), msgs = r.get<int64_t>();
      if (experts) experts->member_traffic(&bytes, &msgs);
      Writer w;
      if (!last) w.put<uint8_t>(kStepStats);
      // This leader's own sends so far, counting the message it is about to send.
      const int64_t own = comm->bytes_sent() + (last ? 16 : 17);
      w.put<int64_t>(bytes + own);
      w.put<int64_t>(msgs + comm->messages_sent() + 1);
      comm->send(next, next_tag, w.bytes(), what.c_str());
      continue;
    }
    if (op != kStepForward) comm->abort(fmt::format("{}: unknown step {}", what, op));
    Step s = get_step_header(r);
    const int64_t n = static_cast<int64_t>(s.tokens.size());
    std::vector<float> x(n * row);
    get_floats(r, x.data(), x.size());
    DSV4_CHECK(r.done());
    for (size_t i = 0; i < s.op_kind.size(); ++i) {
      if (s.op_kind[i] == 1) {
        auto it = states.find(s.op_a[i]);
        if (it == states.end()) comm->abort(fmt::format("{}: clone of unknown sequence {}", what, s.op_a[i]));
        states[s.op_b[i]] = it->second;  // shares the full KV blocks (row_store.h)
      } else {
        states.erase(s.op_a[i]);
      }
    }
    std::vector<model::Sequence*> seqs;
    std::vector<int64_t> lens;
    int64_t total = 0;
    for (const auto& g : s.segs) {
      auto it = states.find(g.id);
      if (it == states.end()) it = states.emplace(g.id, m.new_sequence()).first;
      if (it->second.pos != g.pos0)
        comm->abort(fmt::format("{}: sequence {} is at position {} here but rank 0 feeds position {}", what, g.id,
                                it->second.pos, g.pos0));
      seqs.push_back(&it->second);
      lens.push_back(g.len);
      total += g.len;
    }
    if (total != n) comm->abort(fmt::format("{}: segments cover {} rows of {}", what, total, n));
    m.run_stage(seqs, lens, s.tokens.data(), n, x.data());
    Writer w;
    if (!last) put_step_header(w, s);
    put_floats(w, x.data(), x.size());
    // Sent without waiting, so this stage takes the next group while the next one receives this.
    comm->wait(sent_ticket, what.c_str());
    sent = std::move(w.bytes());
    sent_ticket = comm->isend(next, next_tag, sent);
  }
}

}  // namespace dsv4::dist
