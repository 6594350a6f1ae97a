// What a RunHandle refers to: the run's control once it has started, and stop requests made
// before that (a queued Session prompt, a run whose first try has not begun).
#pragma once

#include <memory>
#include <optional>

#include "drover/request.h"
#include "src/transport/transport.h"

namespace drover {

struct RunHandle::State {
  enum class Stop { cancel, pause };

  /// The running try's control; a stop asked for earlier is applied to it at once.
  void attach(std::shared_ptr<RunControl> run_control);
  void request(Stop stop);
  /// Called when the Result has been delivered: later stops do nothing.
  void finish() noexcept;

  std::shared_ptr<RunControl> control;
  std::optional<Stop> requested;  ///< the first stop asked for
  bool done = false;
};

}  // namespace drover
