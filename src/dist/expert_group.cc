#include "dist/expert_group.h"

#include <map>

#include <fmt/format.h>

#include "base/profile.h"
#include "dist/wire.h"
#include "model/moe.h"

namespace dsv4::dist {

void ExpertGroupLink::begin(int layer, const float* f, int64_t d, std::span<const model::ExpertRows> jobs) {
  d_ = d;
  out_msgs_.assign(members_, {});
  member_jobs_.assign(members_, {});
  for (size_t i = 0; i < jobs.size(); ++i) {
    const int m = model::Placement::expert_owner(jobs[i].expert, E_, members_);
    DSV4_CHECK(m > 0 && m < members_);  // member 0 is this rank: its experts run locally
    member_jobs_[m].push_back(i);
  }
  for (int m = 1; m < members_; ++m) {
    if (member_jobs_[m].empty()) continue;
    // Each distinct row once; the jobs name rows by their index in that list.
    std::map<int64_t, uint32_t> slot;
    for (size_t i : member_jobs_[m])
      for (int64_t r : jobs[i].rows) slot.emplace(r, 0);
    uint32_t k = 0;
    for (auto& [r, s] : slot) s = k++;
    Writer w;
    w.put<uint8_t>(kExpertRun);
    w.put<int32_t>(layer);
    w.put<uint32_t>(static_cast<uint32_t>(member_jobs_[m].size()));
    for (size_t i : member_jobs_[m]) {
      const auto& j = jobs[i];
      w.put<int32_t>(j.expert);
      w.put<uint32_t>(static_cast<uint32_t>(j.rows.size()));
      for (size_t r = 0; r < j.rows.size(); ++r) w.put<uint32_t>(slot[j.rows[r]]);
      w.put_array(j.g.data(), j.g.size());
    }
    w.put<uint32_t>(k);
    std::vector<float> rows(static_cast<size_t>(k) * d);
    for (const auto& [r, s] : slot) std::copy(f + r * d, f + (r + 1) * d, rows.data() + static_cast<size_t>(s) * d);
    put_floats(w, rows.data(), rows.size());
    out_msgs_[m] = std::move(w.bytes());
    tickets_.push_back(comm_->isend(leader_ + m, kTagExperts, out_msgs_[m]));
  }
}

void ExpertGroupLink::finish(std::span<const model::ExpertRows> jobs, std::vector<std::vector<float>>* out) {
  out->assign(jobs.size(), {});
  for (int64_t t : tickets_) comm_->wait(t, "expert dispatch");
  tickets_.clear();
  for (int m = 1; m < members_; ++m) {
    if (member_jobs_[m].empty()) continue;
    const auto b = comm_->recv(leader_ + m, kTagExpertsBack, false, "expert outputs");
    Reader r(b);
    for (size_t i : member_jobs_[m]) {
      auto& o = (*out)[i];
      o.resize(jobs[i].rows.size() * d_);
      get_floats(r, o.data(), o.size());
    }
    DSV4_CHECK(r.done());
  }
  out_msgs_.clear();
}

void ExpertGroupLink::stop_members() {
  Writer w;
  w.put<uint8_t>(kExpertStop);
  for (int m = 1; m < members_; ++m) comm_->send(leader_ + m, kTagExperts, w.bytes(), "stopping expert members");
}

void ExpertGroupLink::member_traffic(int64_t* bytes, int64_t* messages) {
  Writer w;
  w.put<uint8_t>(kExpertStats);
  for (int m = 1; m < members_; ++m) {
    comm_->send(leader_ + m, kTagExperts, w.bytes(), "expert member statistics");
    const auto b = comm_->recv(leader_ + m, kTagExpertsBack, false, "expert member statistics");
    Reader r(b);
    *bytes += r.get<int64_t>();
    *messages += r.get<int64_t>();
  }
}

void serve_experts(Comm* comm, const model::Model& m, int leader) {
  const ModelConfig& c = m.config();
  const int64_t d = c.hidden_size;
  for (;;) {
    const auto b = comm->recv(leader, kTagExperts, true, "waiting for expert requests");
    comm->maybe_test_hang();
    Reader r(b);
    const uint8_t op = r.get<uint8_t>();
    if (op == kExpertStop) return;
    if (op == kExpertStats) {
      Writer w;
      // What this member sent so far, counting the reply itself (two int64).
      w.put<int64_t>(comm->bytes_sent() + 16);
      w.put<int64_t>(comm->messages_sent() + 1);
      comm->send(leader, kTagExpertsBack, w.bytes(), "expert member statistics");
      continue;
    }
    if (op != kExpertRun) comm->abort(fmt::format("expert member: unknown request {}", op));
    DSV4_PROFILE_SCOPE("moe.member");
    const int layer = r.get<int32_t>();
    const int nl = c.num_hidden_layers;
    const auto& layers = layer < nl ? m.weights().layers : m.weights().mtp;
    const int li = layer < nl ? layer : layer - nl;
    if (li < 0 || li >= static_cast<int>(layers.size()) || !layers[li].loaded)
      comm->abort(fmt::format("expert member: asked for layer {}, which this rank does not hold", layer));
    const model::LayerWeights& w = layers[li];
    struct Job {
      int32_t expert;
      std::vector<uint32_t> slots;
      std::vector<float> g;
    };
    std::vector<Job> jobs(r.get<uint32_t>());
    for (auto& j : jobs) {
      j.expert = r.get<int32_t>();
      const uint32_t n = r.get<uint32_t>();
      j.slots.resize(n);
      j.g.resize(n);
      r.get_array(j.slots.data(), n);
      r.get_array(j.g.data(), n);
    }
    const uint32_t k = r.get<uint32_t>();
    std::vector<float> rows(static_cast<size_t>(k) * d);
    get_floats(r, rows.data(), rows.size());
    DSV4_CHECK(r.done());
    Writer out;
    for (const auto& j : jobs) {
      if (j.expert < 0 || j.expert >= c.n_routed_experts ||
          w.experts[j.expert].w1.kind == model::LinearWeight::Kind::kNone)
        comm->abort(fmt::format("expert member: asked for expert {} of layer {}, which this rank does not hold",
                                j.expert, layer));
      const int64_t n = static_cast<int64_t>(j.slots.size());
      std::vector<float> x(n * d), y(n * d);
      for (int64_t i = 0; i < n; ++i) {
        DSV4_CHECK(j.slots[i] < k);
        std::copy(rows.data() + static_cast<size_t>(j.slots[i]) * d, rows.data() + (j.slots[i] + 1) * static_cast<size_t>(d),
                  x.data() + i * d);
      }
      model::expert_rows_forward(c, w, j.expert, x.data(), n, j.g.data(), y.data());
      put_floats(out, y.data(), y.size());
    }
    comm->send(leader, kTagExpertsBack, out.bytes(), "returning expert outputs");
  }
}

}  // namespace dsv4::dist
