// Warm ACP agent pools (README "Warm agent pools"): a Transport for ACP routes that keeps agent
// processes alive between runs and gives every run a fresh session on an idle one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/loop/loop.h"
#include "src/transport/transport.h"

namespace drover {

class AcpAgent;

/// The ACP transport of a Client that keeps agents warm (Client::keep_agents_warm). Agents are
/// keyed on what their process depends on: the route, the model, the permission policy, the
/// context mode, the workspace and whether the run has attachments (the facts of envWhen and
/// argsWhen). Up to max_agents() agents per key (one for a route whose fanout.maxConcurrency is
/// 1) stay alive; each run gets session/new on an idle one (in clean mode in a fresh empty
/// directory of its own, removed before its Result is delivered), model selection, then its
/// prompt. When every agent of its key is busy and the key has no room for another, a run waits
/// in FIFO order; a cancel while waiting ends it `aborted`.
///
/// Runs that resume a session or write a transcript go one-shot (start_acp), as does every run
/// while max_agents() is 0. An agent that ends by itself (exit, signal) while holding a run is
/// replaced and the run is tried once more on a fresh agent, unless a consumer has seen part of
/// its answer or a stop was asked for: then it fails as a one-shot run would. A watchdog that
/// fires ends the run with `timeout` (the agent stays when it honours session/cancel).
///
/// Lives on the Client's loop as a LoopService: Loop::stop_all (cancel_all, Ctrl-C) shuts every
/// idle agent down and every busy one once its run has ended; the loop's destructor kills the
/// rest before the pool goes.
class AcpPool final : public Transport, public LoopService {
 public:
  explicit AcpPool(Loop& loop);
  ~AcpPool() override;
  AcpPool(const AcpPool&) = delete;
  AcpPool& operator=(const AcpPool&) = delete;

  TransportKind kind() const noexcept override { return TransportKind::acp; }
  std::shared_ptr<RunControl> start(Loop& loop, const TransportAttempt& attempt,
                                    TransportSink sink) override;
  void stop_all(StopCause cause) override;

  /// Agents kept per key. Lowering it shuts idle agents over the limit down at once and busy
  /// ones when their run ends; 0 also sends the runs waiting for an agent one-shot.
  void set_max_agents(size_t max_agents);
  size_t max_agents() const noexcept { return max_agents_; }
  /// Agent processes alive or starting (for tests and diagnostics).
  size_t agent_count() const noexcept { return slots_.size(); }

  struct Run;
  struct Slot;

 private:
  void enqueue(const std::shared_ptr<Run>& run, bool front);
  void withdraw(const std::shared_ptr<Run>& run);
  /// Hands idle agents to waiting runs of `key`, spawning agents while the key has room.
  void pump(const std::string& key);
  void pump_later(const std::string& key);
  std::shared_ptr<Slot> spawn(const std::shared_ptr<Run>& run);
  void assign(const std::shared_ptr<Slot>& slot, const std::shared_ptr<Run>& run);
  void begin(const std::shared_ptr<Slot>& slot, const std::shared_ptr<Run>& run);
  void run_ended(const std::shared_ptr<Slot>& slot, const std::shared_ptr<Run>& run,
                 Result result, bool died);
  void agent_gone(const std::shared_ptr<Slot>& slot, Result last);
  /// The slot's agent goes when it is idle (now, or after its run).
  void retire(const std::shared_ptr<Slot>& slot);
  void finish(const std::shared_ptr<Run>& run, Result result);
  void one_shot(const std::shared_ptr<Run>& run);
  size_t live(const std::string& key) const;

  Loop& loop_;
  size_t max_agents_ = 0;
  uint64_t next_slot_ = 1;
  std::vector<std::shared_ptr<Slot>> slots_;
  std::map<std::string, std::deque<std::shared_ptr<Run>>> waiting_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for callbacks that outlive it
};

}  // namespace drover
