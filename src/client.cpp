#include "drover/client.h"

#include <chrono>
#include <ctime>
#include <memory>

#include <uv.h>

#include "harness/print_mode.h"
#include "src/loop.h"
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

namespace {

// Shared by the transport callbacks of one request: timings and the first-delta clock.
struct RunState {
  uint64_t started_at = 0;  // uv_hrtime
  std::string started_wall;
  std::optional<double> first_delta_ms;
  Route route;
  std::string transport;
  EventHandler on_event;
  ResultHandler on_done;

  double elapsed_ms() const { return static_cast<double>(uv_hrtime() - started_at) / 1e6; }

  void finish(Result&& result) {
    result.route = route.id;
    if (result.model.empty()) result.model = route.model;
    result.timings.started_at = started_wall;
    result.timings.wall_ms = elapsed_ms();
    result.timings.first_delta_ms = first_delta_ms;
    Attempt attempt;
    attempt.route = route.id;
    attempt.transport = transport;
    attempt.duration_ms = result.timings.wall_ms;
    attempt.error = result.error;
    attempt.process = result.process;
    result.attempts.push_back(std::move(attempt));
    auto done = std::move(on_done);
    done(std::move(result));
  }
};

}  // namespace

void start_run(Loop& loop, const Config& config, const RunRequest& request,
               EventHandler on_event, ResultHandler on_done) {
  auto state = std::make_shared<RunState>();
  state->started_at = uv_hrtime();
  state->started_wall = now_rfc3339();
  state->on_event = std::move(on_event);
  state->on_done = std::move(on_done);

  auto fail_early = [&](Error error) {
    Result result;
    result.error = std::move(error);
    state->transport = state->route.account_spec ? state->route.transport : "";
    state->finish(std::move(result));
  };

  if (request.prompt.find_first_not_of(" \t\r\n") == std::string::npos) {
    state->route.id = request.route;
    fail_early(Error::make(ErrorCode::validation_error, "the prompt is empty"));
    return;
  }
  auto [route, error] = config.resolve(request.route);
  if (!route) {
    state->route.id = request.route;
    fail_early(error.value_or(Error::make(ErrorCode::config_error, "no route")));
    return;
  }
  state->route = *route;
  if (request.model && !request.model->empty()) {
    // --model picks the model on the route's account; the route id says which one ran.
    state->route.model = *request.model;
    state->route.id =
        route->provider + ":" + route->transport + ":" + route->account + ":" + *request.model;
  }
  state->transport = route->account_spec->transport.kind;

  if (state->transport != "cli") {
    fail_early(Error::make(ErrorCode::unsupported_capability,
                           "transport kind '" + state->transport + "' of route " + route->id +
                               " is not available in this build"));
    return;
  }

  EventHandler events = [state](const Event& event) {
    if (event.kind == Event::Kind::delta && !state->first_delta_ms && !event.text.empty())
      state->first_delta_ms = state->elapsed_ms();
    if (state->on_event) state->on_event(event);
  };
  start_print_mode(loop, state->route, request, std::move(events),
                   [state](Result&& result) { state->finish(std::move(result)); });
}

Client::Client(Config config) : config_(std::move(config)) {}

Result Client::run(const RunRequest& request) { return stream(request, nullptr); }

Result Client::stream(const RunRequest& request, const EventHandler& on_event) {
  Loop loop;
  Result out;
  start_run(loop, config_, request, on_event, [&out](Result&& result) { out = std::move(result); });
  loop.run();
  return out;
}

}  // namespace drover
