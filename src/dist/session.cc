#include "dist/session.h"

#include <sched.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <set>
#include <xxhash.h>

#include "base/thread_pool.h"
#include "dist/expert_group.h"
#include "dist/pipeline.h"
#include "io/config.h"
#include "model/weights.h"

namespace dsv4::dist {
namespace {

uint64_t file_hash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return 0;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string s = ss.str();
  return XXH3_64bits(s.data(), s.size());
}

// What every rank must agree on, field by field (so a mismatch can be named).
std::vector<std::pair<std::string, std::string>> launch_fields(const std::string& dir, const DistOptions& o) {
  namespace fs = std::filesystem;
  return {
      {"--pp", std::to_string(o.pp)},
      {"--ep", std::to_string(o.ep)},
      {"--pp-split", o.split},
      {"config.json", fmt::format("{:016x}", file_hash((fs::path(dir) / "config.json").string()))},
      {"model.safetensors.index.json",
       fmt::format("{:016x}", file_hash((fs::path(dir) / "model.safetensors.index.json").string()))},
  };
}

std::string join_fields(const std::vector<std::pair<std::string, std::string>>& f) {
  std::string s;
  for (const auto& [k, v] : f) s += k + "=" + v + "\n";
  return s;
}

// Reads once the shards holding tensors this placement loads (what `dsv4 bench` warms on one
// process, per rank): the bytes read.
int64_t warm_wanted_shards(const std::string& dir, const ModelConfig& c, const model::Placement& p) {
  namespace fs = std::filesystem;
  std::set<std::string> files;
  std::ifstream idx(fs::path(dir) / "model.safetensors.index.json");
  if (idx) {
    const auto j = nlohmann::json::parse(idx, nullptr, false);
    if (j.is_object() && j.contains("weight_map") && j["weight_map"].is_object())
      for (const auto& [name, file] : j["weight_map"].items())
        if (file.is_string() && model::placement_wants(c, p, name)) files.insert(file.get<std::string>());
  } else {
    files.insert("model.safetensors");
  }
  std::vector<char> buf(size_t{16} << 20);
  int64_t total = 0;
  for (const std::string& f : files) {
    std::ifstream in(fs::path(dir) / f, std::ios::binary);
    while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) total += in.gcount();
  }
  return total;
}

}  // namespace

void share_cores_between_local_ranks() {
  if (std::getenv("DSV4_THREADS")) return;
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  const int n = std::max(1, local ? std::atoi(local) : 1);
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  // mpirun binds ranks (to one core each for -np <= 2): never run more threads than the cores
  // this rank may use, and say so when that is fewer than its share.
  cpu_set_t mask;
  CPU_ZERO(&mask);
  const int allowed = sched_getaffinity(0, sizeof(mask), &mask) == 0 ? CPU_COUNT(&mask) : cores;
  const int share = std::max(1, cores / n);
  if (allowed < share && allowed < num_threads()) {
    const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
    std::fprintf(stderr,
                 "dsv4 (rank %s): mpirun bound this rank to %d of the machine's %d cores; running %d threads (pass "
                 "--bind-to none to mpirun to use %d)\n",
                 rank ? rank : "?", allowed, cores, allowed, share);
  }
  if (n > 1 || allowed < num_threads()) set_num_threads(std::max(1, std::min(share, allowed)));
}

Result<std::unique_ptr<Session>> Session::start(const std::string& dir, const DistOptions& o) {
  DSV4_ASSIGN_OR_RETURN(Comm * comm, Comm::init());
  auto s = std::unique_ptr<Session>(new Session());
  s->comm_ = comm;
  comm->set_timeout(o.timeout_s);
  auto fail = [&](std::string msg) -> Status {
    comm->finalize();
    s->stopped_ = true;
    return Status::error(std::move(msg));
  };
  // Launch checks first: all ranks take part, so all fail alike.
  const auto mine = launch_fields(dir, o);
  const std::string my = join_fields(mine);
  const auto all = comm->allgather(std::vector<uint8_t>(my.begin(), my.end()));
  const std::string root(all[0].begin(), all[0].end());
  for (int r = 1; r < comm->size(); ++r) {
    const std::string theirs(all[r].begin(), all[r].end());
    if (theirs == root) continue;
    std::istringstream a(root), b(theirs);
    std::string la, lb;
    while (std::getline(a, la) && std::getline(b, lb))
      if (la != lb)
        return fail(fmt::format("rank {} was launched differently from rank 0: {} there, {} on rank 0 (every rank "
                                "needs the same checkpoint and the same --pp / --ep / --pp-split)",
                                r, lb, la));
    return fail(fmt::format("rank {} was launched differently from rank 0", r));
  }
  if (comm->size() != o.pp * o.ep)
    return fail(fmt::format("mpirun started {} ranks but --pp {} x --ep {} needs {}", comm->size(), o.pp, o.ep,
                            o.pp * o.ep));
  auto cfg = load_model_config(dir);
  if (!cfg.ok()) return fail(cfg.message());
  auto lo = make_layout(*cfg, o.pp, o.ep, o.split);
  if (!lo.ok()) return fail(lo.message());
  s->layout_ = *lo;
  const model::Placement p = s->layout_.placement(comm->rank());
  s->placement_bytes_ = dist::placement_bytes(*cfg, p);
  auto m = model::Model::load(dir, p);
  if (m.ok() && o.warm_pages) warm_wanted_shards(dir, *cfg, p);
  // Loading can fail on one rank only (a damaged shard): agree before anyone waits on it.
  const std::string err = m.ok() ? "" : m.message();
  const auto errs = comm->allgather(std::vector<uint8_t>(err.begin(), err.end()));
  for (int r = 0; r < comm->size(); ++r)
    if (!errs[r].empty())
      return fail(fmt::format("rank {} could not load its part: {}", r, std::string(errs[r].begin(), errs[r].end())));
  s->model_ = std::move(*m);
  const int stage = s->layout_.stage_of(comm->rank());
  if (p.owns_attention && o.ep > 1) {
    s->experts_ = std::make_unique<ExpertGroupLink>(comm, comm->rank(), o.ep, cfg->n_routed_experts);
    s->model_->set_expert_link(s->experts_.get());
  }
  if (comm->rank() == 0 && o.pp > 1) {
    s->pipeline_ = std::make_unique<PipelineLink>(comm, s->layout_, cfg->hc_dim());
    s->pipeline_->set_micro_batches(o.micro_batches > 0 ? o.micro_batches : o.pp);
    s->model_->set_stage_link(s->pipeline_.get());
  }
  (void)stage;
  comm->barrier();
  return s;
}

int Session::serve() {
  if (is_root()) return 0;
  const model::Placement p = layout_.placement(comm_->rank());
  if (!p.owns_attention) {
    serve_experts(comm_, *model_, layout_.leader_of_stage(layout_.stage_of(comm_->rank())));
  } else {
    serve_stage(comm_, layout_, *model_, experts_.get());
  }
  stopped_ = true;
  model_.reset();
  comm_->finalize();
  return 0;
}

Traffic Session::traffic() {
  Traffic t{comm_->bytes_sent(), comm_->messages_sent()};
  if (!is_root()) return t;
  // Rank 0's own count is read before the statistics requests add to it.
  if (experts_) experts_->member_traffic(&t.bytes, &t.messages);
  if (pipeline_) pipeline_->stage_traffic(&t.bytes, &t.messages);
  return t;
}

void Session::shutdown() {
  if (stopped_) return;
  stopped_ = true;
  if (is_root()) {
    if (pipeline_) pipeline_->stop_stages();
    if (experts_) experts_->stop_members();
  }
  model_.reset();  // releases (queued) go nowhere now
  comm_->finalize();
}

Session::~Session() { shutdown(); }

}  // namespace dsv4::dist
