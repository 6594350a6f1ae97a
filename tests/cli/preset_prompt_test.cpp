// The built-in print-mode presets never let a prompt be read as one of the harness's own options:
// each preset's command is replaced by a stub on PATH that records its argv and stdin, and
// `drover run --route PRESET -- PROMPT` must put a prompt such as "--version" either after a `--`
// or on stdin only.
#include <algorithm>
#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "src/config/presets.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

// The built-in presets with a print-mode (cli) transport, by name, with their commands.
std::map<std::string, std::string> builtin_print_mode_commands() {
  std::map<std::string, std::string> out;
  for (const auto& preset : builtin_presets()) {
    auto [config, error] = parse_config(preset.text, preset.origin);
    if (!config) continue;  // ConfigPresets.EveryBuiltinPresetIsValid reports it
    for (const auto& provider : config->providers)
      for (const auto& account : provider.accounts)
        if (account.transport.kind == TransportKind::cli) out[preset.name] = account.transport.command;
  }
  return out;
}

// Prompts a harness's option parser would take for options of its own.
const std::vector<std::string> kHostilePrompts = {"--version", "-p", "--dangerously-skip-permissions",
                                                  "- first item\n- second item"};

// drover run flags that select other argv template variants (streaming, resume, clean, ...).
const std::vector<std::vector<std::string>> kVariants = {
    {"-o", "json"},
    {"-o", "jsonl"},
    {"-o", "json", "--resume", "sess-1"},
    {"-o", "json", "--context", "clean"},
    {"-o", "json", "--ephemeral", "--model", "m-1", "--system", "Be brief."},
};

struct Recorded {
  CliRun cli;
  std::vector<std::string> argv;  // without argv[0]
  std::string stdin_text;
  size_t calls = 0;
};

class PresetPrompt : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto commands = builtin_print_mode_commands();
    ASSERT_TRUE(commands.count(GetParam())) << GetParam() << " is no built-in print-mode preset";
    bin_ = dir_.path() + "/bin";
    record_ = dir_.path() + "/record";
    tmp_ = dir_.path() + "/tmp";
    std::filesystem::create_directories(bin_);
    std::filesystem::create_directories(tmp_);
    // Records argv (NUL-separated) and stdin, then fails without a retryable message, so that
    // drover makes exactly one call.
    const std::string stub = bin_ + "/" + commands[GetParam()];
    dir_.write("bin/" + commands[GetParam()],
               "#!/bin/sh\n"
               "printf '%s\\0' \"$@\" >\"$STUB_RECORD/argv\"\n"
               "cat >\"$STUB_RECORD/stdin\"\n"
               "echo call >>\"$STUB_RECORD/calls\"\n"
               "echo 'stub harness: recorded' >&2\n"
               "exit 1\n");
    std::filesystem::permissions(stub, std::filesystem::perms::owner_all);
  }

  Recorded run(const std::vector<std::string>& flags, const std::string& prompt) {
    std::filesystem::remove_all(record_);
    std::filesystem::create_directories(record_);
    std::vector<std::string> args = {"run", "--route", GetParam()};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back("--");
    args.push_back(prompt);
    CliOptions options;
    options.cwd = dir_.path();
    options.env = {{"PATH", bin_ + ":/usr/bin:/bin"},
                   {"XDG_CONFIG_HOME", dir_.path() + "/xdg"},
                   {"TMPDIR", tmp_},
                   {"STUB_RECORD", record_}};
    Recorded r;
    r.cli = run_drover(args, options);
    const std::string argv = read_file(record_ + "/argv");
    for (size_t start = 0; start < argv.size();) {
      size_t end = argv.find('\0', start);
      if (end == std::string::npos) end = argv.size();
      std::string arg = argv.substr(start, end - start);
      // drover's per-run temporary files ({output_file}) differ from run to run.
      if (arg.rfind(tmp_ + "/drover-", 0) == 0) arg = "<drover temp file>";
      r.argv.push_back(std::move(arg));
      start = end + 1;
    }
    r.stdin_text = read_file(record_ + "/stdin");
    const std::string calls = read_file(record_ + "/calls");
    r.calls = static_cast<size_t>(std::count(calls.begin(), calls.end(), '\n'));
    return r;
  }

  ScratchDir dir_;
  std::string bin_, record_, tmp_;
};

TEST_P(PresetPrompt, APromptIsNeverAnOptionOfTheHarness) {
  const std::string plain = "plainpromptword";
  for (const auto& flags : kVariants) {
    std::string variant;
    for (const auto& f : flags) variant += " " + f;
    SCOPED_TRACE("drover run --route " + GetParam() + variant);
    // The argv with an inoffensive prompt shows where the prompt goes (if into argv at all).
    Recorded base = run(flags, plain);
    ASSERT_EQ(base.calls, 1u) << base.cli.err;
    auto at = std::find(base.argv.begin(), base.argv.end(), plain);
    const bool in_argv = at != base.argv.end();
    if (in_argv) {
      EXPECT_EQ(std::count(base.argv.begin(), base.argv.end(), plain), 1);
      EXPECT_NE(std::find(base.argv.begin(), at, "--"), at)
          << "the prompt comes after a `--` that ends the harness's options";
      EXPECT_EQ(base.stdin_text, "") << "the prompt is not sent twice";
    } else {
      EXPECT_EQ(base.stdin_text, plain) << "a prompt not in argv is delivered on stdin";
      for (const auto& arg : base.argv)
        EXPECT_EQ(arg.find(plain), std::string::npos) << "no argument carries the prompt: " << arg;
    }
    for (const auto& prompt : kHostilePrompts) {
      SCOPED_TRACE("prompt " + prompt);
      Recorded r = run(flags, prompt);
      ASSERT_EQ(r.calls, 1u) << r.cli.err;
      // The same argv, the prompt in the same place (or on stdin): nothing shifted or added.
      std::vector<std::string> expected = base.argv;
      if (in_argv) expected[static_cast<size_t>(at - base.argv.begin())] = prompt;
      EXPECT_EQ(r.argv, expected);
      EXPECT_EQ(r.stdin_text, in_argv ? "" : prompt);
    }
  }
}

TEST_P(PresetPrompt, ASessionIdIsNeverAnOptionOfTheHarness) {
  // claude's --resume takes an optional value: `--resume --version` printed claude's version.
  Recorded r = run({"-o", "json", "--resume=--version"}, "hello");
  EXPECT_EQ(r.calls, 0u) << "the harness is not started";
  EXPECT_EQ(r.cli.exit_code, 2) << r.cli.err;
  EXPECT_NE(r.cli.err.find("the session id to resume must not start with '-'"), std::string::npos)
      << r.cli.err;
}

TEST_P(PresetPrompt, AModelIsNeverAnOptionOfTheHarness) {
  Recorded r = run({"-o", "json", "--model=--version"}, "hello");
  EXPECT_EQ(r.calls, 0u) << "the harness is not started";
  EXPECT_EQ(r.cli.exit_code, 2) << r.cli.err;
  EXPECT_NE(r.cli.err.find("the model must not start with '-'"), std::string::npos) << r.cli.err;
}

// Every built-in print-mode preset, by name (CoversEveryBuiltinPrintModePreset keeps it whole).
const std::vector<std::string> kPrintModePresets = {"claude-cli",  "codex-cli",   "openclaude-cli",
                                                    "opencode-cli", "pi-cli",     "pi-cli-text"};

INSTANTIATE_TEST_SUITE_P(BuiltinPresets, PresetPrompt, ::testing::ValuesIn(kPrintModePresets),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(PresetPromptList, CoversEveryBuiltinPrintModePreset) {
  std::set<std::string> listed(kPrintModePresets.begin(), kPrintModePresets.end());
  for (const auto& [name, command] : builtin_print_mode_commands())
    EXPECT_TRUE(listed.count(name)) << name << " (" << command << ") is missing from kPrintModePresets";
}

}  // namespace
}  // namespace drover::test
