// Print mode end to end through the fake agent: a harness's warning and progress lines, the idle
// watchdog with and without progressResetsIdle, the error a failed harness states on stdout
// preferred over its start-up warnings on stderr, and {model} in a usage path.
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness/print_mode.h"
#include "src/loop/loop.h"
#include "src/transport/transport.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

using nlohmann::json;

struct RouteRun {
  std::optional<Result> result;
  std::vector<Event> events;
};

RouteRun run_route(const json& cli, const std::vector<std::string>& models = {"m"},
                   const std::string& prompt = "hello") {
  auto [config, error] = parse_config(fake_agent_config(cli, models), "test.json");
  EXPECT_TRUE(config) << (error ? error->message : "");
  RouteRun run;
  if (!config) return run;
  const Route route = *config->resolve("").first;
  RunRequest request;
  request.prompt = prompt;
  Loop loop;
  start_print_mode(loop, TransportAttempt{route, request, ""},
                   TransportSink{[&run](const Event& e) { run.events.push_back(e); },
                                 [&run](TransportOutcome&& o) { run.result = std::move(o.result); }});
  loop.run();
  return run;
}

std::vector<std::string> texts_of(const RouteRun& run, Event::Kind kind) {
  std::vector<std::string> out;
  for (const Event& e : run.events)
    if (e.kind == kind) out.push_back(e.text);
  return out;
}

// fake_agent --mode retry-loop: a warning line, `count` retry lines `ms` apart (0: forever),
// then the answer.
json retry_cli(int count, int ms, double idle_seconds, std::optional<bool> progress_resets_idle) {
  json parser = {{"kind", "jsonl"},
                 {"text", {{"path", "content"}, {"wherePath", "type"}, {"whereEquals", "message"}}},
                 {"warning", {{"path", "message"}, {"wherePath", "type"}, {"whereEquals", "warning"}}},
                 {"progress", {{"path", "message"}, {"wherePath", "type"}, {"whereEquals", "retry"}}}};
  if (progress_resets_idle) parser["progressResetsIdle"] = *progress_resets_idle;
  return {{"argsTemplate",
           {"--mode", "retry-loop", "--bytes", std::to_string(count), "--ms", std::to_string(ms),
            "--prompt", "{prompt}"}},
          {"parser", parser},
          {"watchdog", {{"idleTimeout", idle_seconds}, {"timeout", 120}}}};
}

TEST(PrintModeNotices, WarningAndProgressLinesAreSurfaced) {
  const RouteRun run = run_route(retry_cli(3, 1, 60, std::nullopt));
  ASSERT_TRUE(run.result);
  const Result& r = *run.result;
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(r.text, "echo: hello");
  EXPECT_NE(std::find(r.warnings.begin(), r.warnings.end(),
                      "Ripgrep is not available. Falling back to GrepTool."),
            r.warnings.end());
  EXPECT_EQ(texts_of(run, Event::Kind::warning),
            std::vector<std::string>{"Ripgrep is not available. Falling back to GrepTool."});
  EXPECT_EQ(texts_of(run, Event::Kind::progress),
            (std::vector<std::string>{"Attempt 1 failed with status 429. Retrying",
                                      "Attempt 2 failed with status 429. Retrying",
                                      "Attempt 3 failed with status 429. Retrying"}));
  for (const Event& e : run.events)
    if (e.kind == Event::Kind::progress) {
      EXPECT_EQ(e.raw.value("type", ""), "retry");
      EXPECT_EQ(to_json(e)["type"], "progress");
    }
}

TEST(PrintModeNotices, ProgressAloneDoesNotKeepARunAlive) {
  // Retry notices forever, 50 ms apart: only the idle watchdog can end it.
  const RouteRun run = run_route(retry_cli(0, 50, 1, std::nullopt));
  ASSERT_TRUE(run.result);
  const Result& r = *run.result;
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, ErrorCode::timeout) << r.error->message;
  ASSERT_TRUE(r.process);
  EXPECT_EQ(r.process->stopped_by, StopCause::idle_timeout);
  EXPECT_FALSE(texts_of(run, Event::Kind::progress).empty());
  // Saying so explicitly is the same.
  const RouteRun explicit_off = run_route(retry_cli(0, 50, 1, false));
  ASSERT_TRUE(explicit_off.result && explicit_off.result->process);
  EXPECT_EQ(explicit_off.result->process->stopped_by, StopCause::idle_timeout);
}

TEST(PrintModeNotices, ProgressResetsIdleWhenTheRouteSaysSo) {
  // 40 notices 50 ms apart: two seconds of progress only, longer than the idle timeout, which
  // each notice re-arms.
  const RouteRun run = run_route(retry_cli(40, 50, 1.5, true));
  ASSERT_TRUE(run.result);
  const Result& r = *run.result;
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(r.text, "echo: hello");
  EXPECT_EQ(texts_of(run, Event::Kind::progress).size(), 40u);
}

json stdout_error_cli(bool with_noise_markers) {
  json cli = {{"argsTemplate", {"--mode", "stdout-error", "--prompt", "{prompt}"}},
              {"parser", {{"kind", "jsonl"},
                          {"text", {{"path", "content"}, {"wherePath", "role"}, {"whereEquals", "assistant"}}},
                          {"sessionId", "session_id"}}}};
  if (with_noise_markers)
    cli["noiseMarkers"] = {{"prefixes", {"Warning: 256-color", "Ripgrep is not available"}}};
  return cli;
}

TEST(PrintModeFallbackError, TheStructuredErrorOnStdoutWinsOverStderrWarnings) {
  // No error selector: the harness's result line states the error; stderr has start-up noise.
  const RouteRun run = run_route(stdout_error_cli(false));
  ASSERT_TRUE(run.result && run.result->error);
  const Error& e = *run.result->error;
  EXPECT_NE(e.message.find("exited with code 1: API Error: invalid api key"), std::string::npos)
      << e.message;
  EXPECT_EQ(e.message.find("256-color"), std::string::npos) << e.message;
  EXPECT_EQ(e.code, ErrorCode::auth_error) << e.message;
}

TEST(PrintModeFallbackError, StderrIsQuotedWithoutTheRoutesNoise) {
  // A text route sees no structure on stdout: stderr it is, less what the markers call noise.
  json cli = {{"argsTemplate", {"--mode", "stderr-error", "--prompt", "{prompt}"}},
              {"noiseMarkers", {{"prefixes", {"fake_agent: fatal: echo"}}}}};
  const RouteRun noisy = run_route(cli);
  ASSERT_TRUE(noisy.result && noisy.result->error);
  // Everything on stderr was noise: stdout (empty) has nothing either.
  EXPECT_NE(noisy.result->error->message.find("exited with code 1 and printed nothing"),
            std::string::npos)
      << noisy.result->error->message;

  cli.erase("noiseMarkers");
  const RouteRun plain = run_route(cli);
  ASSERT_TRUE(plain.result && plain.result->error);
  EXPECT_NE(plain.result->error->message.find("fake_agent: fatal: echo: hello"), std::string::npos)
      << plain.result->error->message;
}

TEST(PrintModeFallbackError, StartUpWarningsAreNoiseByTheRoutesMarkers) {
  // Without a structured error (text parser) and with the warnings as noise: nothing left on
  // stderr, so stdout's last lines are quoted.
  json cli = stdout_error_cli(true);
  cli["parser"] = {{"kind", "text"}};
  const RouteRun run = run_route(cli);
  ASSERT_TRUE(run.result && run.result->error);
  const std::string& m = run.result->error->message;
  EXPECT_EQ(m.find("256-color"), std::string::npos) << m;
  EXPECT_EQ(m.find("Ripgrep"), std::string::npos) << m;
  EXPECT_NE(m.find("\"status\":\"error\""), std::string::npos) << m;
}

TEST(PrintModeModelPath, UsageUnderTheRunsModel) {
  const std::string doc =
      R"({"response":"ok","stats":{"models":{"m-1.5":{"tokens":{"prompt":10,"candidates":2}},"other":{"tokens":{"prompt":99,"candidates":99}}}}})";
  // fake_agent --mode stdin-echo prints the prompt (the document) back.
  json cli = {{"argsTemplate", {"--mode", "stdin-echo"}}, {"input", "stdin"},
              {"parser", {{"kind", "json"}, {"text", "response"}, {"usage", "stats.models.{model}.tokens"}}}};
  const RouteRun run = run_route(cli, {"m-1.5"}, doc);
  ASSERT_TRUE(run.result);
  ASSERT_FALSE(run.result->error) << run.result->error->message;
  ASSERT_TRUE(run.result->usage);
  EXPECT_EQ(run.result->usage->input_tokens, 10);
  EXPECT_EQ(run.result->usage->output_tokens, 2);

  cli["parser"]["usage"] = "stats.models.*.tokens";
  const RouteRun all = run_route(cli, {"m-1.5"}, doc);
  ASSERT_TRUE(all.result && all.result->usage);
  EXPECT_EQ(all.result->usage->input_tokens, 109);
  EXPECT_EQ(all.result->usage->calls, 2);
}

}  // namespace
}  // namespace drover::test
