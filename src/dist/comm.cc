#include "dist/comm.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#ifdef DSV4_HAVE_MPI
#define OMPI_SKIP_MPICXX 1  // the C API only (no MPI C++ bindings to link)
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace dsv4::dist {

bool Comm::launched() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}

void Comm::maybe_test_hang() {
  if (hang_checked_) return;
  hang_checked_ = true;
  const char* h = std::getenv("DSV4_DIST_TEST_HANG");
  if (!h || std::atoi(h) != rank_) return;
  std::fprintf(stderr, "dsv4 (rank %d): DSV4_DIST_TEST_HANG: not answering from now on\n", rank_);
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

#ifdef DSV4_HAVE_MPI

namespace {

// Polls `done` with short sleeps that grow while nothing comes (a spinning rank would take a core
// from a computing one); false once `deadline_s` passed (never when it is <= 0).
template <typename F>
bool poll_until(F done, double deadline_s) {
  const auto t0 = std::chrono::steady_clock::now();
  int64_t sleep_us = 0;
  for (;;) {
    if (done()) return true;
    if (deadline_s > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > deadline_s)
      return false;
    if (sleep_us == 0) {
      std::this_thread::yield();
      sleep_us = 1;
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
      sleep_us = std::min<int64_t>(sleep_us * 2, 1000);
    }
  }
}

}  // namespace

bool Comm::available() { return true; }

Result<Comm*> Comm::init() {
  static Comm* comm = nullptr;
  if (comm) return comm;
  int provided = 0;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
    return error("MPI_Init_thread failed");
  if (provided < MPI_THREAD_SERIALIZED)
    return error("this MPI library does not support calls from a thread other than main (MPI_THREAD_SERIALIZED)");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  comm = new Comm();
  MPI_Comm_rank(MPI_COMM_WORLD, &comm->rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &comm->size_);
  return comm;
}

int64_t Comm::isend(int dst, int tag, const std::vector<uint8_t>& bytes) {
  auto* req = new MPI_Request;
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) abort(fmt::format("a message of {} bytes is too large", bytes.size()));
  if (MPI_Isend(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, dst, tag, MPI_COMM_WORLD, req) != MPI_SUCCESS)
    abort(fmt::format("sending to rank {} failed", dst));
  const int64_t t = next_ticket_++;
  pending_.emplace_back(t, req);
  bytes_sent_ += static_cast<int64_t>(bytes.size());
  ++messages_sent_;
  return t;
}

void Comm::wait(int64_t ticket, const char* what) {
  auto it = std::find_if(pending_.begin(), pending_.end(), [&](const auto& p) { return p.first == ticket; });
  if (it == pending_.end()) return;  // already complete
  auto* req = static_cast<MPI_Request*>(it->second);
  int flag = 0;
  const bool ok = poll_until(
      [&] {
        if (MPI_Test(req, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS) abort(fmt::format("{}: a send failed", what));
        return flag != 0;
      },
      timeout_s_);
  if (!ok) abort(fmt::format("{}: a peer took no data for {} s (dead or hung rank); ending the job", what, timeout_s_));
  delete req;
  pending_.erase(it);
}

void Comm::send(int dst, int tag, const std::vector<uint8_t>& bytes, const char* what) {
  wait(isend(dst, tag, bytes), what);
}

std::vector<uint8_t> Comm::recv(int src, int tag, bool idle, const char* what) {
  MPI_Status st;
  int flag = 0;
  const bool ok = poll_until(
      [&] {
        if (MPI_Iprobe(src, tag, MPI_COMM_WORLD, &flag, &st) != MPI_SUCCESS)
          abort(fmt::format("{}: probing rank {} failed", what, src));
        return flag != 0;
      },
      idle ? 0.0 : timeout_s_);
  if (!ok)
    abort(fmt::format("{}: rank {} did not answer within {} s (dead or hung); ending the job", what, src, timeout_s_));
  int count = 0;
  MPI_Get_count(&st, MPI_BYTE, &count);
  std::vector<uint8_t> b(count);
  if (MPI_Recv(b.data(), count, MPI_BYTE, src, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE) != MPI_SUCCESS)
    abort(fmt::format("{}: receiving from rank {} failed", what, src));
  return b;
}

std::vector<std::vector<uint8_t>> Comm::allgather(const std::vector<uint8_t>& mine) {
  int n = static_cast<int>(mine.size());
  std::vector<int> counts(size_), displs(size_);
  MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD);
  int total = 0;
  for (int r = 0; r < size_; ++r) {
    displs[r] = total;
    total += counts[r];
  }
  std::vector<uint8_t> all(total);
  MPI_Allgatherv(mine.data(), n, MPI_BYTE, all.data(), counts.data(), displs.data(), MPI_BYTE, MPI_COMM_WORLD);
  std::vector<std::vector<uint8_t>> out(size_);
  for (int r = 0; r < size_; ++r) out[r].assign(all.begin() + displs[r], all.begin() + displs[r] + counts[r]);
  return out;
}

void Comm::barrier() { MPI_Barrier(MPI_COMM_WORLD); }

void Comm::abort(const std::string& msg) {
  std::fprintf(stderr, "dsv4 (rank %d of %d): %s\n", rank_, size_, msg.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 3);
  std::_Exit(3);
}

void Comm::finalize() {
  static bool done = false;
  if (done) return;
  done = true;
  MPI_Finalize();
}

#else  // built without MPI

bool Comm::available() { return false; }
Result<Comm*> Comm::init() {
  return error("this dsv4 was built without MPI (install libopenmpi-dev and rebuild) so --pp / --ep are unavailable");
}
int64_t Comm::isend(int, int, const std::vector<uint8_t>&) { abort("no MPI"); }
void Comm::wait(int64_t, const char*) {}
void Comm::send(int, int, const std::vector<uint8_t>&, const char*) { abort("no MPI"); }
std::vector<uint8_t> Comm::recv(int, int, bool, const char*) { abort("no MPI"); }
std::vector<std::vector<uint8_t>> Comm::allgather(const std::vector<uint8_t>& mine) { return {mine}; }
void Comm::barrier() {}
void Comm::abort(const std::string& msg) {
  std::fprintf(stderr, "dsv4: %s\n", msg.c_str());
  std::_Exit(3);
}
void Comm::finalize() {}

#endif

}  // namespace dsv4::dist
