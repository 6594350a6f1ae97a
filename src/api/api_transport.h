// The direct API transport: one model call over HTTP on the loop, streamed or not.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "drover/request.h"
#include "drover/config.h"
#include "src/transport/transport.h"

namespace drover {

class Loop;

/// Runs `request` once through the API route `route` with `api_key` (empty: no auth header).
/// Streams deltas to `on_event` when the route streams. A 400 that rejects the response format
/// is retried once without it (a warning says so). `on_done` runs exactly once.
/// Keys never appear in the Result: any echo of `api_key` in a provider message is redacted.
std::shared_ptr<RunControl> start_api_call(Loop& loop, const TransportAttempt& attempt,
                                           TransportSink sink);

/// Lists the models an API route's endpoint serves (GET …/models). `on_done` gets the ids (with
/// context windows where reported) or an error.
struct ModelListing {
  std::vector<ModelSpec> models;
  std::optional<Error> error;
};
void list_api_models(Loop& loop, const Route& route, const std::string& api_key,
                     std::function<void(ModelListing&&)> on_done);

}  // namespace drover
