#include "src/batch/progress.h"

#include <cstdio>

#include "src/batch/format.h"

namespace drover {

std::string format_batch_progress(const BatchProgress& p) {
  const int64_t done = p.skipped + p.succeeded + p.failed;
  std::string line = std::to_string(done) + "/" + std::to_string(p.total) + " done \u00b7 " +
                     std::to_string(p.failed) + " failed \u00b7 " + std::to_string(p.running) +
                     " running";
  // The rate counts this run's documents only: skipped ones cost no time.
  const int64_t finished = p.succeeded + p.failed;
  if (p.elapsed_ms > 0 && finished > 0) {
    const double rate = static_cast<double>(finished) * 1000.0 / p.elapsed_ms;
    char buf[32];
    std::snprintf(buf, sizeof buf, rate < 10 ? "%.1f" : "%.0f", rate);
    line += " \u00b7 " + std::string(buf) + " docs/s";
    const int64_t remaining = p.total - done;
    if (remaining > 0)
      line += " \u00b7 ETA " + batch_format::duration(static_cast<double>(remaining) / rate * 1000.0);
  }
  if (const auto tokens = batch_format::tokens(p.usage))
    line += " \u00b7 " + batch_format::count(*tokens) + " tokens";
  if (p.usage.cost_usd) line += " \u00b7 " + batch_format::cost(*p.usage.cost_usd);
  return line;
}

}  // namespace drover
