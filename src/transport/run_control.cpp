#include "src/transport/run_control.h"

namespace drover {

void StageControl::set_stage(std::function<void(Stop)> stop) {
  stage_ = std::move(stop);
  if (stage_ && requested_ != Stop::none && !completed_) {
    auto apply = stage_;  // a copy: the stage may replace itself
    apply(requested_);
  }
}

void StageControl::complete() noexcept {
  completed_ = true;
  stage_ = nullptr;
}

void StageControl::request(Stop stop) {
  if (completed_ || requested_ == stop || requested_ == Stop::cancel) return;
  requested_ = stop;
  if (!stage_) return;
  auto apply = stage_;
  apply(stop);
}

void StageControl::shape(Result& result) const {
  switch (requested_) {
    case Stop::none:
      return;
    case Stop::cancel:
      if (!result.error || result.error->code != ErrorCode::aborted)
        result.error = Error::make(ErrorCode::aborted, "the run was cancelled");
      return;
    case Stop::pause:
      if (!result.error) return;  // it ended on its own first: the whole answer stands
      result.error.reset();
      result.stop_reason = "paused";
      return;
  }
}

}  // namespace drover
