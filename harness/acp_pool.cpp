#include "harness/acp_pool.h"

#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "harness/acp.h"
#include "harness/child_common.h"
#include "src/transport/attachments.h"
#include "src/transport/run_control.h"
#include "staging/attachments.h"

namespace drover {

// One run handed to the pool, alive until its outcome is delivered.
struct AcpPool::Run {
  Route route;
  RunRequest request;
  TransportSink sink;
  std::shared_ptr<StageControl> control = std::make_shared<StageControl>();
  std::string key;
  size_t limit = 1;              // agents its key may keep
  std::string cwd;               // its session's: the workspace, or the fresh clean directory
  std::optional<TempDir> dir;    // clean mode: that directory, removed when the run ends
  std::optional<StagedAttachments> staged;
  std::vector<std::string> warnings;  // the pool's own, ahead of the run's
  bool delta_seen = false;  // a consumer has seen part of the answer
  bool retried = false;      // its agent died under it once: it goes to a fresh agent
  bool began = false;       // a session was asked for on an agent
  bool finished = false;

  Run(const Route& r, const RunRequest& q, TransportSink s)
      : route(r), request(q), sink(std::move(s)) {}
};

// One agent process of a key: starting (agent null, not dead), idle, or busy with `run`.
struct AcpPool::Slot {
  uint64_t id = 0;
  std::string key;
  AcpAgent* agent = nullptr;  // set once ready; null again once gone or dying
  std::shared_ptr<Run> run;   // the run it holds
  bool retiring = false;      // shut down once idle
  bool dead = false;          // ending: not to be given runs, still counted until gone
  std::weak_ptr<Run> fresh_for;  // spawned for a retried run: nobody else's first

  bool idle() const { return agent != nullptr && !run && !retiring && !dead && acp_agent_alive(*agent); }
  /// Idle and free for `r`.
  bool free_for(const std::shared_ptr<Run>& r) const {
    if (!idle()) return false;
    auto reserved = fresh_for.lock();
    return reserved ? reserved == r : !r->retried;
  }
};

namespace {

// What an agent process depends on (README "Warm agent pools"): runs that agree on all of it
// may share one; the session, the prompt and the timeouts are per run. The system prompt is part
// of it because acp.args may pass {system} to the agent at spawn.
std::string pool_key(const Route& route, const RunRequest& request) {
  const AcpSpec& spec = route.account_spec->transport.acp();
  const ContextMode mode = request.context_mode.value_or(spec.context_mode);
  const PolicyGate gate = gate_permission_policy(route, request);
  nlohmann::json key = {route.id,
                        request.model.value_or(route.model),
                        std::string(to_string(gate.policy)),
                        mode == ContextMode::clean ? "clean" : "workspace",
                        request.cwd.value_or(""),
                        !request.attachments.empty(),
                        request.system_prompt.value_or("")};
  return key.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result failure(std::optional<Error> error) {
  Result result;
  result.error = std::move(error);
  return result;
}

// A route that takes one call at a time keeps one agent.
size_t key_limit(const Route& route, const RunRequest& request, size_t max_agents) {
  const auto concurrency = request.fanout.max_concurrency ? request.fanout.max_concurrency
                                                          : route.fanout.max_concurrency;
  if (concurrency && *concurrency >= 1)
    return std::min<size_t>(max_agents, static_cast<size_t>(*concurrency));
  return max_agents;
}

}  // namespace

AcpPool::AcpPool(Loop& loop) : loop_(loop) {}

AcpPool::~AcpPool() {
  // The loop has killed every agent by now; runs still referenced are dropped unanswered
  // (their owners are going too).
  *alive_ = false;
}

std::shared_ptr<RunControl> AcpPool::start(Loop& loop, const TransportAttempt& attempt,
                                           TransportSink sink) {
  const RunRequest& request = attempt.request;
  // A resumed session has a lock and a conversation of its own; a transcript is one agent's.
  if (max_agents_ == 0 || request.session_id || request.transcript_path)
    return start_acp(loop, attempt, std::move(sink));
  auto run = std::make_shared<Run>(attempt.route, request, std::move(sink));
  run->key = pool_key(run->route, request);
  run->limit = key_limit(run->route, request, max_agents_);
  enqueue(run, false);
  return run->control;
}

void AcpPool::enqueue(const std::shared_ptr<Run>& run, bool front) {
  auto& queue = waiting_[run->key];
  if (front)
    queue.push_front(run);
  else
    queue.push_back(run);
  std::weak_ptr<Run> weak = run;
  run->control->set_stage([this, alive = alive_, weak](StageControl::Stop) {
    if (!*alive) return;
    if (auto r = weak.lock()) withdraw(r);
  });
  pump_later(run->key);
}

void AcpPool::withdraw(const std::shared_ptr<Run>& run) {
  auto it = waiting_.find(run->key);
  if (it == waiting_.end()) return;
  auto& queue = it->second;
  auto at = std::find(queue.begin(), queue.end(), run);
  if (at == queue.end()) return;
  queue.erase(at);
  // A stop never completes a run synchronously.
  loop_.post([this, alive = alive_, run] {
    if (!*alive) return;
    finish(run, failure(Error::make(ErrorCode::aborted,
                                    "the run was cancelled while waiting for an agent")));
  });
}

void AcpPool::pump_later(const std::string& key) {
  loop_.post([this, alive = alive_, key] {
    if (*alive) pump(key);
  });
}

size_t AcpPool::live(const std::string& key) const {
  return static_cast<size_t>(std::count_if(slots_.begin(), slots_.end(), [&](const auto& s) {
    return s->key == key && !s->retiring;
  }));
}

void AcpPool::pump(const std::string& key) {
  auto it = waiting_.find(key);
  if (it == waiting_.end()) return;
  auto& queue = it->second;
  if (max_agents_ == 0) {
    // Keeping agents was switched off meanwhile: whoever still waits goes one-shot.
    auto runs = std::move(queue);
    waiting_.erase(it);
    for (auto& run : runs) one_shot(run);
    return;
  }
  while (!queue.empty()) {
    const std::shared_ptr<Run> front = queue.front();
    auto idle = std::find_if(slots_.begin(), slots_.end(),
                             [&](const auto& s) { return s->key == key && s->free_for(front); });
    if (idle != slots_.end()) {
      queue.pop_front();
      (*idle)->fresh_for.reset();
      assign(*idle, front);
      continue;
    }
    if (live(key) >= front->limit) break;
    if (front->retried) {
      // A retried run waits for an agent of its own, spawned for it.
      const bool spawned = std::any_of(slots_.begin(), slots_.end(), [&](const auto& s) {
        return s->fresh_for.lock() == front && !s->dead && !s->retiring;
      });
      if (!spawned) spawn(front)->fresh_for = front;
      break;
    }
    // One agent of a key starts at a time: agents sharing a home (codex-acp's state database)
    // can fail when they initialize it at once, and the first run need not wait for the rest.
    const bool starting = std::any_of(slots_.begin(), slots_.end(), [&](const auto& s) {
      return s->key == key && !s->agent && !s->dead && !s->retiring;
    });
    if (starting) break;
    spawn(front);
  }
  if (queue.empty()) waiting_.erase(key);
}

std::shared_ptr<AcpPool::Slot> AcpPool::spawn(const std::shared_ptr<Run>& run) {
  auto slot = std::make_shared<Slot>();
  slot->id = next_slot_++;
  slot->key = run->key;
  slots_.push_back(slot);
  RunRequest first = run->request;
  first.prompt.clear();
  start_pooled_acp_agent(
      loop_, run->route, first,
      [this, alive = alive_, slot](AcpAgent& agent) {
        if (!*alive) return;
        slot->agent = &agent;
        if (slot->retiring) return shutdown_acp_agent(agent);
        pump(slot->key);
      },
      [this, alive = alive_, slot](Result&& last) {
        if (*alive) agent_gone(slot, std::move(last));
      });
  return slot;
}

void AcpPool::assign(const std::shared_ptr<Slot>& slot, const std::shared_ptr<Run>& run) {
  slot->run = run;
  // The run's session directory, made as a one-shot run makes it: the workspace, or in clean
  // mode a fresh empty one.
  const AcpSpec& spec = run->route.account_spec->transport.acp();
  const ContextMode mode = run->request.context_mode.value_or(spec.context_mode);
  auto [directory, error] = prepare_child_directory(run->request.cwd, spec.cwd, mode);
  if (!directory) {
    slot->run.reset();
    finish(run, failure(std::move(error)));
    return pump_later(slot->key);
  }
  run->cwd = directory->cwd;
  run->dir = std::move(directory->temp_dir);
  if (run->request.attachments.empty()) return begin(slot, run);
  StagingOptions options = acp_staging_options(run->route, directory->workspace,
                                               mode == ContextMode::clean ? run->cwd : "");
  stage_for_run(loop_, run->control, run->request, std::move(options),
                [this, alive = alive_, slot, run](std::optional<StagedAttachments> staged,
                                                  std::optional<Error> error) {
                  if (!*alive) return;
                  if (error) {
                    slot->run.reset();
                    if (slot->retiring && slot->agent && !slot->dead) shutdown_acp_agent(*slot->agent);
                    finish(run, failure(std::move(error)));
                    return pump_later(slot->key);
                  }
                  run->staged = std::move(staged);
                  begin(slot, run);
                });
}

void AcpPool::begin(const std::shared_ptr<Slot>& slot, const std::shared_ptr<Run>& run) {
  if (run->control->requested() != StageControl::Stop::none) {
    // Stopped before its session was asked for: the agent stays idle.
    slot->run.reset();
    finish(run, failure(Error::make(ErrorCode::aborted, "the run was cancelled")));
    return pump_later(slot->key);
  }
  if (!slot->agent || slot->dead || !acp_agent_alive(*slot->agent)) {
    // The agent went while the run's directory and attachments were made: nothing was sent.
    slot->run.reset();
    run->dir.reset();
    run->staged.reset();
    return enqueue(run, true);
  }
  run->began = true;
  EventHandler events = [run](const Event& event) {
    if (event.kind == Event::Kind::delta && !event.text.empty() && run->sink.consumer)
      run->delta_seen = true;
    if (run->sink.on_event) run->sink.on_event(event);
  };
  begin_pooled_acp_run(*slot->agent, run->request, run->cwd, run->staged ? &*run->staged : nullptr,
                       std::move(events), run->control,
                       [this, alive = alive_, slot, run](Result&& result, bool died) {
                         if (*alive) run_ended(slot, run, std::move(result), died);
                       });
}

void AcpPool::run_ended(const std::shared_ptr<Slot>& slot, const std::shared_ptr<Run>& run,
                        Result result, bool died) {
  slot->run.reset();
  run->dir.reset();
  run->staged.reset();
  // The agent is being deleted right after this when its process is gone.
  if (!slot->agent || !acp_agent_alive(*slot->agent)) {
    slot->dead = true;
    slot->agent = nullptr;
  }
  if (died && !run->retried && !run->delta_seen &&
      run->control->requested() == StageControl::Stop::none) {
    run->retried = true;
    const std::string why = result.error ? result.error->message : "the agent ended";
    spdlog::debug("pooled agent died during a run ({}); retrying on a fresh agent", why);
    run->warnings.push_back("the agent died during the run (" + why +
                            "); the run was retried on a fresh agent");
    enqueue(run, true);
    return;
  }
  finish(run, std::move(result));
  if (slot->retiring && slot->agent) shutdown_acp_agent(*slot->agent);
  pump_later(slot->key);
}

void AcpPool::agent_gone(const std::shared_ptr<Slot>& slot, Result last) {
  slots_.erase(std::remove(slots_.begin(), slots_.end(), slot), slots_.end());
  const bool never_ready = slot->agent == nullptr && !slot->dead;
  slot->agent = nullptr;
  slot->dead = true;
  if (never_ready && !slot->retiring) {
    // The agent failed before it was ready: the first run waiting for one gets that failure,
    // as its one-shot run would have; a spawned agent that was not stopped by drover (it
    // exited, or failed its handshake) is tried once more for it first.
    auto it = waiting_.find(slot->key);
    if (it != waiting_.end() && !it->second.empty()) {
      auto& run = it->second.front();
      if (!last.error) last.error = Error::make(ErrorCode::harness_error, "the agent ended before it was ready");
      if (!run->retried && last.process && last.process->stopped_by == StopCause::none) {
        run->retried = true;
        run->warnings.push_back("the agent failed to start (" + last.error->message +
                                "); the run was retried on a fresh agent");
      } else {
        auto failed = std::move(run);
        it->second.pop_front();
        finish(failed, std::move(last));
      }
    }
  }
  pump_later(slot->key);
}

void AcpPool::retire(const std::shared_ptr<Slot>& slot) {
  slot->retiring = true;
  if (slot->agent && !slot->run && !slot->dead) shutdown_acp_agent(*slot->agent);
}

void AcpPool::finish(const std::shared_ptr<Run>& run, Result result) {
  if (run->finished) return;
  run->finished = true;
  run->dir.reset();  // the run's directory goes before its Result
  run->staged.reset();
  if (!run->warnings.empty())
    result.warnings.insert(result.warnings.begin(), run->warnings.begin(), run->warnings.end());
  run->control->shape(result);
  run->control->complete();
  TransportOutcome outcome;
  outcome.calls = run->began ? 1 : 0;
  outcome.result = std::move(result);
  auto on_done = std::move(run->sink.on_done);
  run->sink.on_event = nullptr;
  on_done(std::move(outcome));
}

void AcpPool::one_shot(const std::shared_ptr<Run>& run) {
  TransportSink sink;
  sink.consumer = run->sink.consumer;
  sink.on_event = run->sink.on_event;
  sink.on_done = [run](TransportOutcome&& outcome) {
    run->finished = true;
    run->control->complete();
    auto on_done = std::move(run->sink.on_done);
    on_done(std::move(outcome));
  };
  auto inner = start_acp(loop_, TransportAttempt{run->route, run->request, ""}, std::move(sink));
  run->control->set_stage([inner](StageControl::Stop stop) {
    if (stop == StageControl::Stop::cancel)
      inner->cancel();
    else
      inner->pause();
  });
}

void AcpPool::stop_all(StopCause) {
  // Every agent goes: idle ones now (their own stop hooks stop them too), busy ones once the
  // run they hold has ended (its turn is being cancelled). Runs that come later start afresh.
  auto slots = slots_;
  for (auto& slot : slots) retire(slot);
}

void AcpPool::set_max_agents(size_t max_agents) {
  max_agents_ = max_agents;
  std::map<std::string, size_t> kept;
  auto slots = slots_;
  for (auto& slot : slots) {
    if (slot->retiring || slot->dead) continue;
    if (++kept[slot->key] > max_agents_) retire(slot);
  }
  for (const auto& [key, queue] : waiting_) pump_later(key);
}

}  // namespace drover
