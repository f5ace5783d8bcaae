#include "run/signals.hpp"

#include <unistd.h>

#include <atomic>
#include <csignal>

namespace modelgif::signals {
namespace {

std::atomic<int> g_signal{0};
std::atomic<int> g_count{0};

extern "C" void on_signal(int sig) {
  if (g_count.fetch_add(1) >= 1) _exit(128 + sig);  // second signal: stop at once
  g_signal.store(sig);
}

}  // namespace

void install() {
  static bool done = false;
  if (done) return;
  done = true;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);
}

bool stop_requested() { return g_signal.load() != 0; }
int stop_signal() { return g_signal.load(); }

}  // namespace modelgif::signals
