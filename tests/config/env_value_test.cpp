// Route environment values: ${NAME} and ${NAME:-default} from drover's environment, the $${
// escape, {system_file}, and the config errors for what cannot be expanded.
#include <cstdlib>
#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "drover/config.h"
#include "harness/child_common.h"
#include "src/config/args_template.h"
#include "src/config/env_value.h"
#include "src/config/redact.h"

namespace drover {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// An environment of the test's own (never the process's).
EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

std::string expand(const std::string& value, const std::map<std::string, std::string>& vars = {},
                   const std::optional<std::string>& system_file = std::nullopt) {
  return expand_env_value(value, env_of(vars), system_file).value_or("<not set>");
}

TEST(EnvValue, ExpandsBracedVariablesFromTheEnvironment) {
  const std::map<std::string, std::string> vars{{"PATH", "/usr/bin:/bin"}, {"HOME", "/h"},
                                                {"EMPTY", ""}};
  EXPECT_EQ(expand("/opt/tool/bin:${PATH}", vars), "/opt/tool/bin:/usr/bin:/bin");
  EXPECT_EQ(expand("${HOME}/.cache/${HOME}", vars), "/h/.cache//h");
  EXPECT_EQ(expand("a${UNSET}b", vars), "ab") << "an unset variable is empty";
  EXPECT_EQ(expand("${UNSET:-fallback}", vars), "fallback");
  EXPECT_EQ(expand("${EMPTY:-fallback}", vars), "fallback") << ":- also covers empty";
  EXPECT_EQ(expand("${HOME:-fallback}", vars), "/h");
  EXPECT_EQ(expand("${UNSET:-}", vars), "");
  EXPECT_EQ(expand("${UNSET:-a b:c-d}", vars), "a b:c-d");
  EXPECT_EQ(expand("${_x1}", {{"_x1", "v"}}), "v");
}

TEST(EnvValue, NothingElseIsInterpreted) {
  const std::map<std::string, std::string> vars{{"HOME", "/h"}};
  EXPECT_EQ(expand("$HOME", vars), "$HOME") << "no expansion without braces";
  EXPECT_EQ(expand("$${HOME}", vars), "${HOME}") << "$${ is a literal ${";
  EXPECT_EQ(expand("cost $5 {x} $ $$ }", vars), "cost $5 {x} $ $$ }");
  EXPECT_EQ(expand(R"({"*":"deny","read":"allow"})", vars), R"({"*":"deny","read":"allow"})")
      << "a JSON value stays as written";
  // What a variable holds is never expanded again.
  EXPECT_EQ(expand("${A}", {{"A", "${HOME} {system_file}"}, {"HOME", "/h"}}, "/tmp/s.md"),
            "${HOME} {system_file}");
}

TEST(EnvValue, SystemFile) {
  EXPECT_EQ(expand("{system_file}", {}, "/tmp/d/system-prompt.md"), "/tmp/d/system-prompt.md");
  EXPECT_EQ(expand("--x={system_file}", {}, "/s"), "--x=/s");
  EXPECT_EQ(expand("{system_file}"), "<not set>") << "no system prompt: the variable is not set";
  EXPECT_TRUE(env_value_uses_system_file("a{system_file}"));
  EXPECT_FALSE(env_value_uses_system_file("{system}"));
}

TEST(EnvValue, ProblemsSayWhatAndWhere) {
  EXPECT_EQ(env_value_problem("ok ${A} ${B:-x} $${ $A {x}"), std::nullopt);
  EXPECT_EQ(env_value_problem("/bin:${PATH"),
            "unterminated ${ at offset 5 (write $${ for a literal ${)");
  EXPECT_EQ(env_value_problem("${"), "unterminated ${ at offset 0 (write $${ for a literal ${)");
  EXPECT_THAT(env_value_problem("${}").value_or(""), HasSubstr("invalid variable name in ${}"));
  EXPECT_THAT(env_value_problem("x${1A}").value_or(""),
              HasSubstr("invalid variable name in ${1A} at offset 1"));
  EXPECT_THAT(env_value_problem("${A B}").value_or(""), HasSubstr("unsupported form ${A B}"));
  EXPECT_THAT(env_value_problem("${A-x}").value_or(""),
              HasSubstr("(only ${NAME} and ${NAME:-default})"));
  EXPECT_THAT(env_value_problem("${A:=x}").value_or(""), HasSubstr("unsupported form"));
  EXPECT_THAT(env_value_problem("${A:?x}").value_or(""), HasSubstr("unsupported form"));
  // Defaults are literal: what looks like an expansion inside one is refused, not copied.
  EXPECT_THAT(env_value_problem("${A:-${HOME}}").value_or(""),
              HasSubstr("a default cannot hold '{' in ${A:-${HOME}"));
  EXPECT_THAT(env_value_problem("${A:-{system_file}}").value_or(""),
              HasSubstr("a default cannot hold '{'"));
  // An invalid value that slipped through is used as written, never half-expanded.
  EXPECT_EQ(expand("${A} ${B", {{"A", "a"}}), "${A} ${B");
}

TEST(EnvValue, VariablesReferredTo) {
  EXPECT_THAT(env_value_variables("${A}:${B:-x}:$C:$${D}"), ElementsAre("A", "B"));
  EXPECT_TRUE(env_value_variables("plain").empty());
}

TEST(EnvValue, RunEnvironmentExpandsEveryMapAndDropsWhatNeedsAMissingSystemFile) {
  ::setenv("DROVER_TEST_ENV_BASE", "/opt/base", 1);
  std::map<std::string, std::string> env;
  bool used = false;
  add_expanded_env(env, {{"A", "${DROVER_TEST_ENV_BASE}/bin"}, {"S", "{system_file}"}},
                   std::nullopt, &used);
  EXPECT_EQ(env, (std::map<std::string, std::string>{{"A", "/opt/base/bin"}}));
  EXPECT_FALSE(used);
  add_expanded_env(env, {{"S", "{system_file}"}}, "/tmp/x/system-prompt.md", &used);
  EXPECT_EQ(env["S"], "/tmp/x/system-prompt.md");
  EXPECT_TRUE(used);
  RunFacts facts;
  facts.policy = PermissionPolicy::deny_all;
  apply_env_when(env,
                 {{{"deny-all"}, {{"W", "${DROVER_TEST_ENV_BASE:-none}"}}},
                  {{"approve-all"}, {{"X", "1"}}}},
                 facts);
  EXPECT_EQ(env["W"], "/opt/base");
  EXPECT_EQ(env.count("X"), 0u);
  ::unsetenv("DROVER_TEST_ENV_BASE");
}

TEST(EnvValue, ExpandedValuesOfSecretsAreSecretsToo) {
  ::setenv("DROVER_TEST_SRC_TOKEN", "tok-from-env-98765", 1);
  ::setenv("DROVER_TEST_PLAIN", "plain-from-env-4321", 1);
  AccountSpec account;
  account.transport.cli().env = {{"API_TOKEN", "${DROVER_TEST_PLAIN}"},
                                 {"AUTHORIZATION", "Bearer ${DROVER_TEST_SRC_TOKEN}"},
                                 {"HARMLESS", "${DROVER_TEST_PLAIN}-not-secret"}};
  Route route;
  route.account_spec = &account;
  const Secrets secrets = route_secrets(route);
  // By its own name, expanded.
  EXPECT_EQ(secrets.redact("v=plain-from-env-4321"), "v=[redacted]");
  // By the secret-looking variable it takes: the whole value and the variable's value.
  EXPECT_EQ(secrets.redact("Bearer tok-from-env-98765"), "[redacted]");
  EXPECT_EQ(secrets.redact("tok-from-env-98765"), "[redacted]");
  ::unsetenv("DROVER_TEST_SRC_TOKEN");
  ::unsetenv("DROVER_TEST_PLAIN");
}

// ---- in a config ---------------------------------------------------------------------------

std::string parse_error(const std::string& text) {
  auto [config, error] = parse_config(text, "drover.json");
  EXPECT_FALSE(config.has_value());
  if (!error) return "<no error>";
  EXPECT_EQ(error->code, ErrorCode::config_error);
  return error->message;
}

std::string with_transport(const std::string& kind, const std::string& block) {
  return R"({"providers": {"p": {"accounts": [{"id": "a", "transport": {"kind": ")" + kind +
         R"(", "command": "agent", ")" + kind + R"(": )" + block + "}}]}}}";
}

constexpr const char* kCliPath = "drover.json: providers.p.accounts[0].transport.cli";
constexpr const char* kAcpPath = "drover.json: providers.p.accounts[0].transport.acp";

TEST(EnvValueConfig, AnUnterminatedOrInvalidReferenceIsAnErrorNamingTheJsonPath) {
  const std::string msg = parse_error(with_transport("cli", R"({
      "argsTemplate": ["{prompt}"],
      "env": {"PATH": "/opt/bin:${PATH", "OK": "${HOME}"},
      "cleanEnv": {"C": "${1X}"},
      "envWhen": [{"when": "deny-all", "env": {"W": "${A-b}"}}]})"));
  EXPECT_THAT(msg, HasSubstr(std::string(kCliPath) +
                             ".env.PATH: unterminated ${ at offset 9 (write $${ for a literal ${)"));
  EXPECT_THAT(msg, HasSubstr(std::string(kCliPath) + ".cleanEnv.C: invalid variable name in ${1X}"));
  EXPECT_THAT(msg, HasSubstr(std::string(kCliPath) + ".envWhen[0].env.W: unsupported form ${A-b}"));
  EXPECT_THAT(msg, Not(HasSubstr("env.OK")));
  const std::string acp = parse_error(with_transport("acp", R"({"env": {"X": "${"}})"));
  EXPECT_THAT(acp, HasSubstr(std::string(kAcpPath) + ".env.X: unterminated ${"));
}

TEST(EnvValueConfig, SystemFileIsForPrintModeTemplatesAndEnv) {
  auto [config, error] = parse_config(
      with_transport("cli", R"({"argsTemplate": ["{prompt}", ["--system-file", "{system_file}"]],
                                "env": {"S": "{system_file}", "L": "$${HOME} $HOME"},
                                "envWhen": [{"when": "clean", "env": {"T": "x{system_file}"}}]})"),
      "drover.json");
  ASSERT_TRUE(config) << error->message;
  const CliSpec& cli = config->providers[0].accounts[0].transport.cli();
  EXPECT_TRUE(template_uses(cli.args_template, "system_file"));
  EXPECT_EQ(cli.env.at("S"), "{system_file}") << "kept as written, expanded per run";
  // ACP: neither in args nor in env (the agent outlives one prompt's system prompt).
  EXPECT_THAT(parse_error(with_transport("acp", R"({"args": ["--sys={system_file}"]})")),
              HasSubstr(std::string(kAcpPath) +
                        ".args[0]: placeholder {system_file} is not available in ACP args"));
  EXPECT_THAT(parse_error(with_transport("acp", R"({"envWhen": [{"when": "clean", "env": {"S": "{system_file}"}}]})")),
              HasSubstr(std::string(kAcpPath) + ".envWhen[0].env.S: {system_file} is not available here"));
}

TEST(ArgsTemplateSystemFile, AGroupWithoutASystemFileIsDropped) {
  const std::vector<std::vector<std::string>> groups{
      {"{prompt}"}, {"--system-file", "{system_file}"}, {"--sf={system_file}"}};
  TemplateValues values;
  values.prompt = "p";
  EXPECT_THAT(expand_args(groups, values), ElementsAre("p"));
  values.system_file = "/tmp/d/system-prompt.md";
  EXPECT_THAT(expand_args(groups, values),
              ElementsAre("p", "--system-file", "/tmp/d/system-prompt.md",
                          "--sf=/tmp/d/system-prompt.md"));
  EXPECT_EQ(placeholder_from_name("system_file"), Placeholder::system_file);
}

TEST(ArgsTemplatePolicy, ConditionsThatMapAPolicy) {
  using P = PermissionPolicy;
  const std::vector<std::vector<std::string>> deny_only{{"deny-all"}, {"clean"}};
  EXPECT_TRUE(conditions_map_policy(deny_only, P::deny_all));
  EXPECT_FALSE(conditions_map_policy(deny_only, P::approve_reads));
  EXPECT_FALSE(conditions_map_policy(deny_only, P::approve_all));
  // A negated policy condition maps every other policy.
  const std::vector<std::vector<std::string>> not_all{{"fresh", "!approve-all"}};
  EXPECT_TRUE(conditions_map_policy(not_all, P::approve_reads));
  EXPECT_TRUE(conditions_map_policy(not_all, P::deny_all));
  EXPECT_FALSE(conditions_map_policy(not_all, P::approve_all));
  EXPECT_FALSE(conditions_map_policy({{"env:X", "!clean"}}, P::approve_reads));
  EXPECT_FALSE(conditions_map_policy({}, P::deny_all));
}

}  // namespace
}  // namespace drover
