// The transport contract: what print mode, ACP and the API each implement, and all the router
// knows of them. A transport turns one try (a route, its credential, the request) into typed
// events and exactly one outcome.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "drover/request.h"
#include "drover/config.h"
#include "drover/result.h"

namespace drover {

class Loop;

/// An empty (blank) answer is never a success, whichever transport got it: temporary_unavailable
/// with `message`, so the router may retry. nullopt when `text` has something to say.
std::optional<Error> empty_answer_error(const std::string& text, std::string message);

/// Receives a finished run's Result.
using ResultHandler = std::function<void(Result&&)>;

/// What one transport try produced, with the facts the router needs besides the Result.
struct TransportOutcome {
  Result result;
  int calls = 0;  ///< real calls that reached the model (HTTP responses, harness runs)
};
using OutcomeHandler = std::function<void(TransportOutcome&&)>;

/// Where a try's output goes. `on_event` (may be empty) receives events in order; `on_done` runs
/// exactly once, after the last event, always from the loop: never before start() has returned.
struct TransportSink {
  EventHandler on_event;
  OutcomeHandler on_done;
  /// Whether `on_event`'s deltas reach a consumer (the caller's event handler): a try whose
  /// answer a consumer has seen in part must not be run again by the transport.
  bool consumer = true;
};

/// Ends a run early. Both are idempotent and do nothing once the run has completed; the
/// completion still arrives through the sink, from the loop.
class RunControl {
 public:
  virtual ~RunControl() = default;
  /// Stops the run and discards it: the outcome carries error `aborted`.
  virtual void cancel() = 0;
  /// Stops the run keeping the answer so far: no error, `stop_reason` "paused", the text (and
  /// usage, when known) produced until then.
  virtual void pause() = 0;
};

/// One try as the router hands it to a transport. The transport copies what it keeps; the
/// Route's specs point into the Config, which outlives every run.
struct TransportAttempt {
  const Route& route;
  const RunRequest& request;
  std::string api_key;  ///< API routes: the key the router picked from the pool; empty: none
};

/// A transport kind's implementation.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual TransportKind kind() const noexcept = 0;
  /// Starts one try on `loop`. Never calls `sink.on_done` before returning; never returns null.
  virtual std::shared_ptr<RunControl> start(Loop& loop, const TransportAttempt& attempt,
                                            TransportSink sink) = 0;
};

/// The transports a router may use, one per kind (a kind without one fails its routes with
/// unsupported_capability). Not owning: the transports outlive the set's users.
class TransportSet {
 public:
  void set(Transport& transport) noexcept {
    by_kind_[static_cast<size_t>(transport.kind())] = &transport;
  }
  Transport* find(TransportKind kind) const noexcept { return by_kind_[static_cast<size_t>(kind)]; }

 private:
  std::array<Transport*, 3> by_kind_{};
};

/// Print mode, ACP and the API: the transports every Client uses.
const TransportSet& builtin_transports();

}  // namespace drover
