// The processes of one distributed run, over MPI (OpenMPI: shared memory on one machine, TCP or
// InfiniBand across machines). Every wait that belongs to a step has a deadline: a rank that died
// or hangs makes the waiting rank abort the whole job with a message naming it, instead of a
// silent hang; mpirun then ends the other ranks. Waits for the next request while idle have
// none (an idle server is not a fault). Built without MPI, available() is false and init() fails.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace dsv4::dist {

enum Tag : int { kTagStep = 11, kTagStepBack = 12, kTagExperts = 13, kTagExpertsBack = 14, kTagReport = 15 };

class Comm {
 public:
  static bool available();
  // Whether this process was started by mpirun / an MPI launcher (its environment says so).
  static bool launched();
  // Starts MPI once per process (serialized threading: the engine's owner thread does the calls).
  static Result<Comm*> init();

  int rank() const { return rank_; }
  int size() const { return size_; }
  double timeout_s() const { return timeout_s_; }
  void set_timeout(double s) { timeout_s_ = s; }

  // Sends and waits until the bytes left (deadline: timeout_s()); `what` names the exchange.
  void send(int dst, int tag, const std::vector<uint8_t>& bytes, const char* what);
  // Non-blocking send: the buffer must stay alive until the send is waited for. Returns a ticket
  // for wait(): each user waits for its own sends only (a pipeline's step in flight to a busy
  // stage must not hold up an expert exchange of the same rank).
  int64_t isend(int dst, int tag, const std::vector<uint8_t>& bytes);
  void wait(int64_t ticket, const char* what);
  // Receives the next message from `src` with `tag`; idle = wait without a deadline.
  std::vector<uint8_t> recv(int src, int tag, bool idle, const char* what);
  // Every rank's bytes (same length on all ranks is not required).
  std::vector<std::vector<uint8_t>> allgather(const std::vector<uint8_t>& mine);
  void barrier();

  // Prints "dsv4 (rank R of N): msg" and ends every rank of the job.
  [[noreturn]] void abort(const std::string& msg);
  void finalize();

  int64_t bytes_sent() const { return bytes_sent_; }
  int64_t messages_sent() const { return messages_sent_; }
  void reset_counters() { bytes_sent_ = messages_sent_ = 0; }

  // Test hook: DSV4_DIST_TEST_HANG=R makes rank R stop answering at its first request.
  void maybe_test_hang();

 private:
  Comm() = default;
  int rank_ = 0, size_ = 1;
  double timeout_s_ = 120;
  int64_t bytes_sent_ = 0, messages_sent_ = 0;
  std::vector<std::pair<int64_t, void*>> pending_;  // ticket, MPI_Request*
  int64_t next_ticket_ = 1;
  bool hang_checked_ = false;
};

}  // namespace dsv4::dist
