// One admitted generation request as the HTTP layer tracks it (server_run.cc).
#pragma once
#include <chrono>
#include <memory>
#include <string>

#include "server/formatter.h"
#include "server/generation.h"
#include "server/server.h"

namespace dsv4::server {

struct Server::Job {
  Server* server = nullptr;
  std::string endpoint;
  std::unique_ptr<Generation> gen;
  std::unique_ptr<Formatter> fmt;
  bool stream = false;
  bool anthropic = false;
  std::chrono::steady_clock::time_point start;
  std::atomic<bool> cancelled{false};
  bool timed_out = false;
  bool client_gone = false;
  bool finished = false;  // metrics recorded
  ~Job();                 // unregisters; the in-flight count drops
};

void cancel_job(Server::Job& j);

}  // namespace dsv4::server
