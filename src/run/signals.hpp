// Graceful stop. SIGTERM or SIGUSR1 (SLURM's warning signal) asks the run to
// stop after the current micro-batch: every rank flushes its shard and the job
// exits with kExitCheckpointed (75), meaning "checkpointed, resume me".
// A second signal exits at once (128 + signal); finished shards are safe
// because each one is renamed into place only when complete.
#pragma once

namespace modelgif::signals {

void install();         // idempotent
bool stop_requested();  // async-signal-safe flag
int stop_signal();      // the signal received, 0 if none

}  // namespace modelgif::signals
