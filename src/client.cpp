#include "drover/client.h"

#include <chrono>
#include <ctime>
#include <memory>

#include <uv.h>

#include "src/loop.h"
#include "src/router.h"
#include "src/run.h"

namespace drover {

std::string now_rfc3339() {
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t secs = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

Client::Client(Config config)
    : config_(std::move(config)), router_state_(std::make_unique<RouterState>()) {}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

Result Client::run(const RunRequest& request) { return stream(request, nullptr); }

Result Client::stream(const RunRequest& request, const EventHandler& on_event) {
  Loop loop;
  Result out;
  RunRequest streamed = request;
  if (on_event) streamed.stream = true;
  start_run(loop, config_, builtin_transports(), streamed, on_event,
            [&out](Result&& result) { out = std::move(result); }, router_state_.get());
  loop.run();
  return out;
}

}  // namespace drover
