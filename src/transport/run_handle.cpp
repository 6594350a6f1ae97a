#include "src/transport/run_handle.h"

namespace drover {

void RunHandle::State::attach(std::shared_ptr<RunControl> run_control) {
  control = std::move(run_control);
  if (!control || done || !requested) return;
  if (*requested == Stop::cancel)
    control->cancel();
  else
    control->pause();
}

void RunHandle::State::request(Stop stop) {
  if (done) return;
  if (!requested) requested = stop;
  if (!control) return;
  if (stop == Stop::cancel)
    control->cancel();
  else
    control->pause();
}

void RunHandle::State::finish() noexcept {
  done = true;
  control.reset();
}

void RunHandle::cancel() const {
  if (state_) state_->request(State::Stop::cancel);
}

void RunHandle::pause() const {
  if (state_) state_->request(State::Stop::pause);
}

bool RunHandle::done() const noexcept { return state_ && state_->done; }

}  // namespace drover
