// The built-in print-mode presets never let a prompt be read as one of the harness's own options:
// each preset's command is replaced by a stub on PATH that records its argv and stdin, and
// `drover run --route PRESET -- PROMPT` must put a prompt such as "--version" either after a `--`
// or on stdin only. The same stubs show how each preset hands `--file` attachments over.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "src/config/presets.h"
#include "support/drover_cli.h"
#include "support/fixtures.h"

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
  std::vector<std::string> raw_argv;  // the same, drover's temporary paths left as they were
  std::string stdin_text;
  std::string system_md, system_md_mode;  // the file $GEMINI_SYSTEM_MD named, and its mode
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
               // A system prompt file named in the environment (gemini's GEMINI_SYSTEM_MD),
               // copied while it exists.
               "if [ -n \"$GEMINI_SYSTEM_MD\" ]; then cat \"$GEMINI_SYSTEM_MD\" "
               ">\"$STUB_RECORD/system_md\"; stat -c %a \"$GEMINI_SYSTEM_MD\" "
               ">\"$STUB_RECORD/system_md_mode\"; fi\n"
               "echo 'stub harness: recorded' >&2\n"
               "exit 1\n");
    std::filesystem::permissions(stub, std::filesystem::perms::owner_all);
  }

  Recorded run(const std::vector<std::string>& flags, const std::string& prompt,
               const std::map<std::string, std::string>& extra_env = {}) {
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
    for (const auto& [name, value] : extra_env) options.env[name] = value;
    Recorded r;
    r.cli = run_drover(args, options);
    const std::string argv = read_file(record_ + "/argv");
    for (size_t start = 0; start < argv.size();) {
      size_t end = argv.find('\0', start);
      if (end == std::string::npos) end = argv.size();
      std::string arg = argv.substr(start, end - start);
      r.raw_argv.push_back(arg);
      // drover's per-run temporary files ({output_file}) differ from run to run.
      if (arg.rfind(tmp_ + "/drover-", 0) == 0) arg = "<drover temp file>";
      r.argv.push_back(std::move(arg));
      start = end + 1;
    }
    r.stdin_text = read_file(record_ + "/stdin");
    r.system_md = read_file(record_ + "/system_md");
    r.system_md_mode = read_file(record_ + "/system_md_mode");
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

// How each preset takes attachments (its fileInput): the categories, and the argument each file
// becomes (prefix + staged path), or, with no prefix, a mention (mention_open PATH mention_close,
// claude's @"PATH") on a line of its own after the prompt (in argv after `--`, or on stdin) plus
// `dir_flag DIR` of the staged directory.
struct AttachmentWay {
  std::set<std::string> takes;
  std::string prefix;
  std::string mention_open = "@\"";
  std::string mention_close = "\"";
  std::string dir_flag = "--add-dir";
};
const std::map<std::string, AttachmentWay> kAttachmentWays = {
    {"claude-cli", {{"text", "image", "document"}, ""}},
    {"openclaude-cli", {{"text", "image", "document"}, ""}},
    {"codex-cli", {{"image"}, "--image="}},  // with '=': --image takes every value that follows
    {"opencode-cli", {{"text", "image", "document"}, "--file="}},
    {"pi-cli", {{"text", "image"}, "@"}},
    {"pi-cli-text", {{"text", "image"}, "@"}},
    // gemini's own @PATH (no quotes: staged paths have no spaces), after the prompt on stdin.
    {"gemini-cli", {{"text", "image", "document"}, "", "@", "", "--include-directories"}},
};

// One file per category, as `drover run --file NAME` in the test's directory.
const std::vector<std::pair<std::string, std::string>> kAttachmentFiles = {
    {"text", "notes.txt"}, {"image", "pixel.png"}, {"document", "page.pdf"}, {"other", "blob.bin"}};

void write_attachment_files(const ScratchDir& dir) {
  dir.write("notes.txt", "Release notes.\n");
  dir.write("pixel.png", read_fixture("api/attach-pixels.png"));
  dir.write("page.pdf", read_fixture("api/attach-page.pdf"));
  dir.write("blob.bin", std::string("\x00\x01\x02\xff\xfe", 5) + std::string(64, '\x07'));
}

TEST_P(PresetPrompt, AttachmentsReachTheHarnessTheWayThePresetSays) {
  ASSERT_TRUE(kAttachmentWays.count(GetParam())) << GetParam() << " is missing from kAttachmentWays";
  const AttachmentWay& way = kAttachmentWays.at(GetParam());
  write_attachment_files(dir_);
  std::vector<std::string> given;  // the files of the categories it takes, in order
  for (const auto& [category, name] : kAttachmentFiles)
    if (way.takes.count(category)) given.push_back(name);
  for (const auto& flags : kVariants) {
    std::string variant;
    for (const auto& f : flags) variant += " " + f;
    SCOPED_TRACE("drover run --route " + GetParam() + variant);
    Recorded base = run(flags, "hello");
    ASSERT_EQ(base.calls, 1u) << base.cli.err;
    std::vector<std::string> with_files = flags;
    for (const auto& name : given) with_files.insert(with_files.end(), {"--file", name});
    Recorded r = run(with_files, "hello");
    ASSERT_EQ(r.calls, 1u) << r.cli.err;
    const bool mentions_on_stdin = way.prefix.empty() && base.stdin_text == "hello";
    if (!mentions_on_stdin) {
      EXPECT_EQ(r.stdin_text, base.stdin_text) << "stdin carries the prompt (if it did) and nothing else";
    }

    // Each staged copy: an absolute path under drover's directory in TMPDIR, under its own name.
    std::vector<std::string> staged;
    std::vector<std::string> rest;  // the argv without what the attachments added
    if (!way.prefix.empty()) {
      for (size_t i = 0; i < r.raw_argv.size(); ++i) {
        if (r.raw_argv[i].rfind(way.prefix, 0) == 0)
          staged.push_back(r.raw_argv[i].substr(way.prefix.size()));
        else
          rest.push_back(r.argv[i]);
      }
    } else {
      auto dash = std::find(r.raw_argv.begin(), r.raw_argv.end(), "--");
      std::string mentions = r.stdin_text;
      if (!mentions_on_stdin) {
        ASSERT_NE(dash, r.raw_argv.end());
        ASSERT_EQ(dash + 2, r.raw_argv.end()) << "the prompt is the last argument, after --";
        mentions = r.raw_argv.back();
      }
      ASSERT_EQ(mentions.rfind("hello\n", 0), 0u) << mentions;
      const size_t open = way.mention_open.size(), close = way.mention_close.size();
      for (size_t at = mentions.find('\n'); at != std::string::npos;) {
        const size_t next = mentions.find('\n', at + 1);
        const std::string line = mentions.substr(at + 1, next == std::string::npos ? next : next - at - 1);
        ASSERT_GT(line.size(), open + close) << line;
        EXPECT_EQ(line.substr(0, open), way.mention_open) << line;
        EXPECT_EQ(line.substr(line.size() - close), way.mention_close) << line;
        staged.push_back(line.substr(open, line.size() - open - close));
        at = next;
      }
      auto add_dir = std::find(r.raw_argv.begin(), r.raw_argv.end(), way.dir_flag);
      ASSERT_NE(add_dir, r.raw_argv.end()) << "the staged directory is opened to the harness";
      if (!mentions_on_stdin) {
        ASSERT_LT(add_dir, dash);
      }
      ASSERT_FALSE(staged.empty());
      EXPECT_EQ(*(add_dir + 1), std::filesystem::path(staged[0]).parent_path().string());
      const auto skip = static_cast<size_t>(add_dir - r.raw_argv.begin());
      const size_t kept = mentions_on_stdin ? r.argv.size() : r.argv.size() - 1;
      for (size_t i = 0; i < kept; ++i)
        if (i != skip && i != skip + 1) rest.push_back(r.argv[i]);
      if (!mentions_on_stdin) rest.push_back("hello");
      EXPECT_EQ(std::find(base.raw_argv.begin(), base.raw_argv.end(), way.dir_flag), base.raw_argv.end())
          << "no " << way.dir_flag << " without attachments";
    }
    EXPECT_EQ(rest, base.argv) << "the attachments add their arguments and shift nothing else";
    ASSERT_EQ(staged.size(), given.size());
    for (size_t i = 0; i < given.size(); ++i) {
      EXPECT_EQ(staged[i].rfind(tmp_ + "/drover-", 0), 0u) << staged[i];
      EXPECT_EQ(std::filesystem::path(staged[i]).filename().string(), given[i]) << staged[i];
      EXPECT_EQ(std::filesystem::path(staged[i]).parent_path().filename().string(), "attachments")
          << staged[i];
    }
    for (const auto& entry : std::filesystem::directory_iterator(tmp_))
      EXPECT_NE(entry.path().filename().string().rfind("drover-att-", 0), 0u)
          << entry.path() << " is left after the run";
  }
}

// claude's --bare (clean context with an API key) leaves @mentions unopened: a run with
// attachments goes without it, a run without keeps it.
// claude-cli only: openclaude has no --bare.
class ClaudePresetPrompt : public PresetPrompt {};

TEST_P(ClaudePresetPrompt, GoesWithoutBareWhenTheRunHasAttachments) {
  write_attachment_files(dir_);
  const std::map<std::string, std::string> key{{"ANTHROPIC_API_KEY", "sk-test"}};
  Recorded plain = run({"-o", "json", "--context", "clean"}, "hello", key);
  ASSERT_EQ(plain.calls, 1u) << plain.cli.err;
  EXPECT_NE(std::find(plain.raw_argv.begin(), plain.raw_argv.end(), "--bare"), plain.raw_argv.end());
  Recorded attached = run({"-o", "json", "--context", "clean", "--file", "notes.txt"}, "hello", key);
  ASSERT_EQ(attached.calls, 1u) << attached.cli.err;
  EXPECT_EQ(std::find(attached.raw_argv.begin(), attached.raw_argv.end(), "--bare"),
            attached.raw_argv.end());
}

TEST_P(PresetPrompt, AttachmentsOfOtherCategoriesAreRefusedBeforeTheHarnessStarts) {
  ASSERT_TRUE(kAttachmentWays.count(GetParam())) << GetParam() << " is missing from kAttachmentWays";
  write_attachment_files(dir_);
  for (const auto& [category, name] : kAttachmentFiles) {
    if (kAttachmentWays.at(GetParam()).takes.count(category)) continue;
    SCOPED_TRACE("--file " + name + " (" + category + ")");
    Recorded r = run({"-o", "json", "--file", name}, "hello");
    EXPECT_EQ(r.calls, 0u) << "the harness is not started";
    EXPECT_NE(r.cli.exit_code, 0);
    const auto result = nlohmann::json::parse(r.cli.out, nullptr, false);
    ASSERT_TRUE(result.is_object()) << r.cli.out << r.cli.err;
    EXPECT_EQ(result["error"]["code"], "unsupported_capability") << r.cli.out;
    EXPECT_NE(result["error"]["message"].get<std::string>().find(category), std::string::npos)
        << r.cli.out;
  }
}

// How each print-mode preset passes `--system`: in argv, as a file named in the environment
// (gemini: GEMINI_SYSTEM_MD), or not at all (then the result says so).
const std::map<std::string, std::string> kSystemPromptWays = {
    {"claude-cli", "argv"},  {"openclaude-cli", "argv"}, {"pi-cli", "argv"},
    {"pi-cli-text", "argv"}, {"gemini-cli", "file"},     {"codex-cli", "warning"},
    {"opencode-cli", "warning"}};

TEST_P(PresetPrompt, TheSystemPromptReachesTheHarnessOrTheResultSaysItDidNot) {
  ASSERT_TRUE(kSystemPromptWays.count(GetParam())) << GetParam() << " is missing";
  const std::string way = kSystemPromptWays.at(GetParam());
  const std::string system = "You are terse. --not-an-option";
  Recorded r = run({"-o", "json", "--system", system}, "hello");
  ASSERT_EQ(r.calls, 1u) << r.cli.err;
  const auto result = nlohmann::json::parse(r.cli.out, nullptr, false);
  ASSERT_TRUE(result.is_object()) << r.cli.out << r.cli.err;
  bool warned = false;
  for (const auto& w : result["warnings"])
    warned = warned || w.get<std::string>().find("the system prompt was not sent") != std::string::npos;
  const bool in_argv = std::find(r.argv.begin(), r.argv.end(), system) != r.argv.end();
  EXPECT_EQ(in_argv, way == "argv") << testing::PrintToString(r.argv);
  EXPECT_EQ(r.system_md == system, way == "file") << r.system_md;
  if (way == "file") {
    EXPECT_EQ(r.system_md_mode, "600\n");
  }
  EXPECT_EQ(warned, way == "warning") << result["warnings"];
  std::error_code ec;
  EXPECT_TRUE(std::filesystem::is_empty(tmp_, ec)) << "drover's temporary files must be gone";
}

// Every built-in print-mode preset, by name (CoversEveryBuiltinPrintModePreset keeps it whole).
const std::vector<std::string> kPrintModePresets = {"claude-cli",   "codex-cli", "openclaude-cli",
                                                    "opencode-cli", "pi-cli",    "pi-cli-text",
                                                    "gemini-cli"};

INSTANTIATE_TEST_SUITE_P(Claude, ClaudePresetPrompt, ::testing::Values("claude-cli"));
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
