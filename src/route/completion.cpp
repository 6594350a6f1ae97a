// Completions that can never be lost: a Result nobody filled is a failure, never a success.
#include <memory>
#include <string>

#include "src/loop/loop.h"
#include "src/route/run.h"

namespace drover {

Result unfilled_result(const std::string& route) {
  Result result;
  result.route = route;
  result.error = Error::make(ErrorCode::harness_error,
                             "the run ended without a result (no transport completed it)");
  return result;
}

ResultHandler completing_on_drop(ResultHandler on_done, std::string route) {
  struct Once {
    ResultHandler on_done;
    std::string route;
    ~Once() {
      if (!on_done) return;
      try {
        ResultHandler done = std::move(on_done);
        on_done = nullptr;
        done(unfilled_result(route));
      } catch (const std::exception& e) {
        detail::log_callback_failure("the completion of a dropped run", e.what());
      } catch (...) {
        detail::log_callback_failure("the completion of a dropped run", "unknown exception");
      }
    }
  };
  auto once = std::make_shared<Once>();
  once->on_done = std::move(on_done);
  once->route = std::move(route);
  return [once](Result&& result) {
    if (!once->on_done) return;
    ResultHandler done = std::move(once->on_done);
    once->on_done = nullptr;
    done(std::move(result));
  };
}

}  // namespace drover
