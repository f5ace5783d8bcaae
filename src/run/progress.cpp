#include "run/progress.hpp"

#include <unistd.h>

#include <cstdlib>
#include <iomanip>
#include <sstream>

namespace modelgif {
namespace {

std::string duration_text(double s) {
  std::ostringstream o;
  const int64_t t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600)
    o << t / 3600 << "h" << std::setw(2) << std::setfill('0') << (t % 3600) / 60 << "m";
  else if (t >= 60)
    o << t / 60 << "m" << std::setw(2) << std::setfill('0') << t % 60 << "s";
  else
    o << t << "s";
  return o.str();
}

}  // namespace

bool launched_to_a_log() {
  const auto set = [](const char* name) { return std::getenv(name) != nullptr; };
  if (set("SLURM_PTY_PORT")) return false;  // srun --pty: the user's terminal
  // Open MPI gives its ranks a pseudo-terminal even when mpirun's own output
  // goes to a file; so do other launchers. A SLURM job's output is a file.
  for (const char* name : {"SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (set(name)) return true;
  return false;
}

Progress::Progress(std::function<int64_t()> count_done, int64_t total_pieces, int64_t points_per_piece,
                   double interval_seconds, std::ostream& log, bool enabled)
    : count_done_(std::move(count_done)),
      total_(total_pieces),
      points_per_piece_(points_per_piece),
      interval_(interval_seconds),
      log_(log),
      enabled_(enabled) {
  if (!enabled_) return;
  tty_ = ::isatty(STDOUT_FILENO) == 1 && !launched_to_a_log();
  if (tty_) interval_ = std::min(interval_, 0.5);
  start_ = last_ = std::chrono::steady_clock::now();
  done_at_start_ = count_done_();
}

void Progress::tick() {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_).count() < interval_) return;
  last_ = now;
  report(false);
}

void Progress::report(bool final) {
  const int64_t done = std::min(count_done_(), total_);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = static_cast<double>((done - done_at_start_) * points_per_piece_) / std::max(secs, 1e-9);
  std::ostringstream line;
  line << done << "/" << total_ << " pieces, " << static_cast<int64_t>(rate) << " points/s";
  if (rate > 0 && done < total_)
    line << ", ETA " << duration_text(static_cast<double>((total_ - done) * points_per_piece_) / rate);
  if (tty_) {
    const int width = 30, fill = static_cast<int>(width * done / std::max<int64_t>(total_, 1));
    log_ << "\r[" << std::string(static_cast<size_t>(fill), '#') << std::string(static_cast<size_t>(width - fill), '.')
         << "] " << line.str() << "   " << (final ? "\n" : "") << std::flush;
  } else if (!final) {
    log_ << "progress: " << line.str() << " (" << duration_text(secs) << " elapsed)\n" << std::flush;
  }
  printed_ = true;
}

void Progress::finish() {
  if (enabled_ && tty_ && printed_) report(true);
}

}  // namespace modelgif
