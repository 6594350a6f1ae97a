// The RunControl of the built-in transports: a run goes through stages (a session-lock wait, a
// process, an HTTP transfer) and a stop goes to whichever is live; one asked for between stages
// is applied when the next begins.
#pragma once

#include <functional>

#include "drover/result.h"
#include "src/transport/transport.h"

namespace drover {

class StageControl final : public RunControl {
 public:
  enum class Stop { none, cancel, pause };

  void cancel() override { request(Stop::cancel); }
  void pause() override { request(Stop::pause); }

  /// What stops the live stage (empty: none is live). A stop asked for earlier is applied at
  /// once. `stop` must not complete the run synchronously (post the completion).
  void set_stage(std::function<void(Stop)> stop);
  /// The outcome has been decided: later stops do nothing.
  void complete() noexcept;
  bool completed() const noexcept { return completed_; }
  /// The stop asked for (a cancel replaces an earlier pause); none when the run ran its course.
  Stop requested() const noexcept { return requested_; }

  /// `result` as the stop asked for makes it: a cancel discards it (error `aborted`); a pause
  /// keeps its text, thinking and usage with no error and stop_reason "paused", unless the run
  /// had ended successfully on its own. Nothing changes when no stop was asked for.
  void shape(Result& result) const;

 private:
  void request(Stop stop);

  Stop requested_ = Stop::none;
  bool completed_ = false;
  std::function<void(Stop)> stage_;
};

}  // namespace drover
