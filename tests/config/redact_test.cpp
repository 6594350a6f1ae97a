// The secret strings of a run and URL credentials, replaced before anything is shown.
#include <gtest/gtest.h>

#include "src/config/redact.h"

namespace drover {
namespace {

TEST(Secrets, ReplacesEveryOccurrenceAndIgnoresTinyValues) {
  Secrets s;
  s.add("sk-abcdef");
  s.add("true");  // shorter than kMinLength: no secret, and would mangle the output
  EXPECT_EQ(s.redact("a sk-abcdef b sk-abcdef true"), "a [redacted] b [redacted] true");
  EXPECT_EQ(s.redact("nothing here"), "nothing here");
}

TEST(Secrets, LongestFirstSoALongerSecretDoesNotLeaveATail) {
  Secrets s;
  s.add("secret1");
  s.add("user:secret1");
  EXPECT_EQ(s.redact("http://user:secret1@h"), "http://[redacted]@h");
}

TEST(Secrets, ASecretFoundInsideTheMarkerItselfIsReplacedOnce) {
  // Each of these looped forever: the search restarted inside the replacement.
  Secrets placeholder;
  placeholder.add("redacted");  // a plausible placeholder value: the marker holds it
  EXPECT_EQ(placeholder.redact("x redacted y redacted"), "x [redacted] y [redacted]");
  Secrets marker;
  marker.add("[redacted]");  // the marker itself
  EXPECT_EQ(marker.redact("[redacted] and [redacted]"), "[redacted] and [redacted]");
}

TEST(RouteSecrets, CoverConditionalEnvironmentValues) {
  AccountSpec cli_account;
  cli_account.transport.cli().env_when.push_back(
      {{"clean"}, {{"ANTHROPIC_API_KEY", "sk-when-123456"}}});
  AccountSpec acp_account;
  acp_account.transport.set_kind(TransportKind::acp);
  acp_account.transport.acp().env_when.push_back({{"deny-all"}, {{"MY_TOKEN", "tok-when-654321"}}});
  Route cli_route;
  cli_route.account_spec = &cli_account;
  Route acp_route;
  acp_route.account_spec = &acp_account;
  EXPECT_EQ(route_secrets(cli_route).redact("sk-when-123456"), "[redacted]");
  EXPECT_EQ(route_secrets(acp_route).redact("tok-when-654321"), "[redacted]");
}

TEST(Secrets, ResultFieldsAndEvents) {
  Secrets s;
  s.add("sk-canary-1");
  Result r;
  r.text = "answer sk-canary-1";
  r.error = Error::make(ErrorCode::harness_error, "failed: sk-canary-1");
  r.warnings = {"w sk-canary-1"};
  r.process = ProcessInfo{};
  r.process->evidence = "KEY=sk-canary-1";
  Attempt a;
  a.error = r.error;
  a.process = r.process;
  r.attempts = {a};
  s.redact(r);
  const std::string all = r.text + r.error->message + r.warnings[0] + r.process->evidence +
                          r.attempts[0].error->message + r.attempts[0].process->evidence;
  EXPECT_EQ(all.find("sk-canary"), std::string::npos) << all;
  EXPECT_EQ(r.error->message, "failed: [redacted]");
  ToolCall call;
  call.name = "run sk-canary-1";
  call.arguments = {{"command", "echo sk-canary-1"}};
  call.result = "printed sk-canary-1";
  Event e = Event::make_tool(call, {{"input", {{"command", "echo sk-canary-1"}}}});
  s.redact(e);
  EXPECT_EQ(e.raw["input"]["command"], "echo [redacted]");
  EXPECT_EQ(e.tool->arguments["command"], "echo [redacted]");
  EXPECT_EQ(e.tool->result, "printed [redacted]");
  EXPECT_EQ(e.tool->name, "run [redacted]");
  PermissionEvent p;
  p.title = "Run sk-canary-1";
  Event pe = Event::make_permission(p, {{"toolCall", {{"title", "Run sk-canary-1"}}}});
  s.redact(pe);
  EXPECT_EQ(pe.permission->title, "Run [redacted]");
  EXPECT_EQ(pe.raw["toolCall"]["title"], "Run [redacted]");
}

TEST(SecretEnvName, KeyTokenSecretPasswordInAnyCase) {
  for (const char* name : {"CANARY_KEY", "api_key", "GH_TOKEN", "ClientSecret", "DB_PASSWORD"})
    EXPECT_TRUE(secret_env_name(name)) << name;
  for (const char* name : {"PATH", "HOME", "MODEL", "LOG_LEVEL"}) EXPECT_FALSE(secret_env_name(name)) << name;
}

TEST(RedactUrl, ReplacesUserinfoOnly) {
  EXPECT_EQ(redact_url("http://user:sk-1@host:8080/v1"), "http://[redacted]@host:8080/v1");
  EXPECT_EQ(redact_url("https://token@host/v1?a=b@c"), "https://[redacted]@host/v1?a=b@c");
  EXPECT_EQ(redact_url("http://host/v1/a@b"), "http://host/v1/a@b");
  EXPECT_EQ(redact_url("cannot reach http://u:p@h/v1: refused, also https://x:y@z"),
            "cannot reach http://[redacted]@h/v1: refused, also https://[redacted]@z");
  EXPECT_EQ(redact_url("no url"), "no url");
  EXPECT_EQ(url_userinfo("http://user:pw@host/v1"), "user:pw");
  EXPECT_EQ(url_userinfo("http://host/v1"), "");
}

}  // namespace
}  // namespace drover
