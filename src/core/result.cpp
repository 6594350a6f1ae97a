#include "drover/result.h"

#include <array>
#include <cmath>

namespace drover {
namespace {

struct CodeInfo {
  ErrorCode code;
  std::string_view name;
  bool retryable;
  int exit_code;
};

// The one table that maps codes to names, retryability and exit codes (README "Exit codes").
constexpr std::array<CodeInfo, 14> kCodes{{
    {ErrorCode::validation_error, "validation_error", false, 2},
    {ErrorCode::config_error, "config_error", false, 2},
    {ErrorCode::not_found, "not_found", false, 1},
    {ErrorCode::unsupported_capability, "unsupported_capability", false, 1},
    {ErrorCode::timeout, "timeout", false, 3},
    {ErrorCode::aborted, "aborted", false, 130},
    {ErrorCode::temporary_unavailable, "temporary_unavailable", true, 1},
    {ErrorCode::rate_limit, "rate_limit", true, 1},
    {ErrorCode::quota_exhausted, "quota_exhausted", false, 1},
    {ErrorCode::auth_error, "auth_error", false, 1},
    {ErrorCode::harness_error, "harness_error", false, 1},
    {ErrorCode::fanout_limit, "fanout_limit", false, 1},
    {ErrorCode::context_overflow, "context_overflow", false, 1},
    {ErrorCode::permission_denied, "permission_denied", false, 5},
}};

const CodeInfo& info(ErrorCode code) noexcept {
  for (const auto& entry : kCodes)
    if (entry.code == code) return entry;
  return kCodes[10];  // harness_error; unreachable for valid enum values
}

void put_opt(nlohmann::json& j, const char* key, const std::optional<int64_t>& v) {
  if (v) j[key] = *v;
}
void put_opt(nlohmann::json& j, const char* key, const std::optional<double>& v) {
  if (v) j[key] = std::round(*v * 1000.0) / 1000.0;
}
void put_opt(nlohmann::json& j, const char* key, const std::optional<int>& v) {
  if (v) j[key] = *v;
}
double round_ms(double v) { return std::round(v * 1000.0) / 1000.0; }

}  // namespace

std::string_view to_string(ErrorCode code) noexcept { return info(code).name; }

std::optional<ErrorCode> error_code_from_string(std::string_view name) noexcept {
  for (const auto& entry : kCodes)
    if (entry.name == name) return entry.code;
  return std::nullopt;
}

bool default_retryable(ErrorCode code) noexcept { return info(code).retryable; }

std::string bounded_error_message(std::string message) {
  if (message.size() <= kMaxErrorMessageBytes) return message;
  std::size_t keep = kMaxErrorMessageBytes;
  while (keep > 0 && (static_cast<unsigned char>(message[keep]) & 0xC0) == 0x80) --keep;
  const std::size_t cut = message.size() - keep;
  message.resize(keep);
  message += " \u2026 [" + std::to_string(cut) + " more bytes cut]";
  return message;
}
int exit_code_for(ErrorCode code) noexcept { return info(code).exit_code; }

int Result::exit_code() const noexcept { return error ? exit_code_for(error->code) : 0; }

bool Usage::empty() const noexcept {
  return !input_tokens && !output_tokens && !total_tokens && !cache_read_tokens &&
         !cache_write_tokens && !reasoning_tokens && !cost_usd;
}

void Usage::add(const Usage& other) {
  auto sum = [](std::optional<int64_t>& into, const std::optional<int64_t>& from) {
    if (from) into = into.value_or(0) + *from;
  };
  sum(input_tokens, other.input_tokens);
  sum(output_tokens, other.output_tokens);
  sum(total_tokens, other.total_tokens);
  sum(cache_read_tokens, other.cache_read_tokens);
  sum(cache_write_tokens, other.cache_write_tokens);
  sum(reasoning_tokens, other.reasoning_tokens);
  if (other.cost_usd) cost_usd = cost_usd.value_or(0.0) + *other.cost_usd;
  calls += other.calls;
}

std::string_view to_string(StopCause cause) noexcept {
  switch (cause) {
    case StopCause::none: return "none";
    case StopCause::start_timeout: return "start_timeout";
    case StopCause::idle_timeout: return "idle_timeout";
    case StopCause::total_timeout: return "total_timeout";
    case StopCause::cancelled: return "cancelled";
    case StopCause::shutdown: return "shutdown";
  }
  return "none";
}

std::string_view to_string(Event::Kind kind) noexcept {
  switch (kind) {
    case Event::Kind::delta: return "delta";
    case Event::Kind::thinking: return "thinking";
    case Event::Kind::tool: return "tool";
    case Event::Kind::permission: return "permission";
    case Event::Kind::usage: return "usage";
    case Event::Kind::warning: return "warning";
    case Event::Kind::plan: return "plan";
    case Event::Kind::progress: return "progress";
  }
  return "delta";
}

nlohmann::json to_json(const Usage& usage) {
  nlohmann::json j = nlohmann::json::object();
  put_opt(j, "inputTokens", usage.input_tokens);
  put_opt(j, "outputTokens", usage.output_tokens);
  put_opt(j, "totalTokens", usage.total_tokens);
  put_opt(j, "cacheReadTokens", usage.cache_read_tokens);
  put_opt(j, "cacheWriteTokens", usage.cache_write_tokens);
  put_opt(j, "reasoningTokens", usage.reasoning_tokens);
  if (usage.cost_usd) j["costUsd"] = *usage.cost_usd;
  j["calls"] = usage.calls;
  return j;
}

nlohmann::json to_json(const Error& error) {
  nlohmann::json j{{"code", to_string(error.code)},
                   {"message", error.message},
                   {"retryable", error.retryable}};
  put_opt(j, "retryAfterMs", error.retry_after_ms);
  return j;
}

nlohmann::json to_json(const ProcessInfo& p) {
  nlohmann::json j = nlohmann::json::object();
  j["pid"] = p.pid;
  j["exitCode"] = p.exit_code ? nlohmann::json(*p.exit_code) : nlohmann::json(nullptr);
  j["signal"] = p.term_signal ? nlohmann::json(*p.term_signal) : nlohmann::json(nullptr);
  j["stoppedBy"] = p.stopped_by == StopCause::none ? nlohmann::json(nullptr)
                                                   : nlohmann::json(to_string(p.stopped_by));
  put_opt(j, "stopSignalSent", p.stop_signal_sent);
  j["wallMs"] = round_ms(p.wall_ms);
  put_opt(j, "firstByteMs", p.first_byte_ms);
  put_opt(j, "cpuUserMs", p.cpu_user_ms);
  put_opt(j, "cpuSystemMs", p.cpu_system_ms);
  put_opt(j, "peakRssKb", p.peak_rss_kb);
  j["stdoutBytes"] = p.stdout_bytes;
  j["stderrBytes"] = p.stderr_bytes;
  if (p.stdout_truncated) j["stdoutTruncated"] = true;
  if (p.stderr_truncated) j["stderrTruncated"] = true;
  if (p.output_held_open) j["outputHeldOpen"] = true;
  if (!p.evidence.empty()) j["evidence"] = p.evidence;
  return j;
}

nlohmann::json to_json(const Attempt& a) {
  nlohmann::json j{{"route", a.route}, {"transport", a.transport},
                   {"durationMs", round_ms(a.duration_ms)}};
  j["error"] = a.error ? to_json(*a.error) : nlohmann::json(nullptr);
  if (a.process) j["process"] = to_json(*a.process);
  return j;
}

nlohmann::json to_json(const Result& r) {
  nlohmann::json j = nlohmann::json::object();
  j["text"] = r.text;
  if (r.thinking) j["thinking"] = *r.thinking;
  j["route"] = r.route;
  j["model"] = r.model;
  j["usage"] = r.usage ? to_json(*r.usage) : nlohmann::json(nullptr);
  j["stopReason"] = r.stop_reason ? nlohmann::json(*r.stop_reason) : nlohmann::json(nullptr);
  j["sessionId"] = r.session_id ? nlohmann::json(*r.session_id) : nlohmann::json(nullptr);
  j["warnings"] = r.warnings;
  j["attempts"] = nlohmann::json::array();
  for (const auto& a : r.attempts) j["attempts"].push_back(to_json(a));
  nlohmann::json timings{{"startedAt", r.timings.started_at},
                         {"wallMs", round_ms(r.timings.wall_ms)}};
  put_opt(timings, "firstDeltaMs", r.timings.first_delta_ms);
  j["timings"] = std::move(timings);
  j["process"] = r.process ? to_json(*r.process) : nlohmann::json(nullptr);
  if (!r.permissions.empty()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& p : r.permissions) list.push_back(to_json(p));
    j["permissions"] = std::move(list);
  }
  if (r.policy)
    j["policy"] = {{"requested", r.policy->requested},
                   {"enforcement", r.policy->enforcement},
                   {"mechanism", r.policy->mechanism}};
  if (!r.attachments.empty()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& a : r.attachments) {
      nlohmann::json item{{"name", a.name},         {"source", a.source},
                          {"category", a.category}, {"mimeType", a.mime},
                          {"bytes", a.bytes},       {"delivery", a.delivery}};
      if (a.kept_at) item["keptAt"] = *a.kept_at;
      list.push_back(std::move(item));
    }
    j["attachments"] = std::move(list);
  }
  j["error"] = r.error ? to_json(*r.error) : nlohmann::json(nullptr);
  return j;
}

nlohmann::json to_json(const ToolCall& call) {
  return {{"id", call.id},         {"name", call.name},
          {"kind", call.kind},     {"status", call.status},
          {"arguments", call.arguments}, {"result", call.result}};
}

nlohmann::json to_json(const PermissionDecision& p) {
  return {{"toolCallId", p.tool_call_id}, {"title", p.title}, {"kind", p.kind},
          {"decision", p.decision},       {"optionId", p.option_id}, {"rule", p.rule}};
}

nlohmann::json to_json(const PermissionEvent& p) {
  nlohmann::json j = to_json(static_cast<const PermissionDecision&>(p));
  nlohmann::json options = nlohmann::json::array();
  for (const auto& o : p.options)
    options.push_back({{"optionId", o.option_id}, {"name", o.name}, {"kind", o.kind}});
  j["options"] = std::move(options);
  return j;
}

nlohmann::json to_json(const Event& e) {
  nlohmann::json j{{"type", to_string(e.kind)}};
  switch (e.kind) {
    case Event::Kind::delta:
    case Event::Kind::thinking:
      j["text"] = e.text;
      break;
    case Event::Kind::warning:
      j["message"] = e.text;
      break;
    case Event::Kind::progress:
      j["message"] = e.text;
      j["raw"] = e.raw;
      break;
    case Event::Kind::tool:
      j["tool"] = e.tool ? to_json(*e.tool) : to_json(ToolCall{});
      j["raw"] = e.raw;
      break;
    case Event::Kind::permission:
      j["permission"] = e.permission ? to_json(*e.permission) : to_json(PermissionEvent{});
      j["raw"] = e.raw;
      break;
    case Event::Kind::usage:
      j["usage"] = e.usage ? to_json(*e.usage) : nlohmann::json(nullptr);
      j["raw"] = e.raw;
      break;
    case Event::Kind::plan: {
      nlohmann::json entries = nlohmann::json::array();
      for (const auto& p : e.plan)
        entries.push_back({{"content", p.content}, {"priority", p.priority}, {"status", p.status}});
      j["plan"] = {{"entries", std::move(entries)}};
      j["raw"] = e.raw;
      break;
    }
  }
  return j;
}

}  // namespace drover
