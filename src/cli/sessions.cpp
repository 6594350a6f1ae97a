// `drover sessions` and `drover sessions delete`: a thin front end to drover/agent_sessions.h.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "drover/agent_sessions.h"
#include "drover/config.h"
#include "drover/output.h"

namespace drover_cli {

using LoadConfig = std::optional<drover::Config> (*)(const std::string& config_path, int& exit_code);

struct SessionsCommand {
  CLI::App* command = nullptr;
  CLI::App* remove = nullptr;
  std::string config, route, cwd;
  bool json = false;
  std::vector<std::string> ids;
};

namespace {

constexpr size_t kMaxTitleColumn = 48;

// What a terminal would act on (escape sequences, carriage returns, tabs) never reaches it: the
// agent wrote these strings.
std::string printable(const std::string& text, size_t max_chars = 0) {
  std::string out;
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) != 0x80) {
      if (max_chars && chars == max_chars) {
        out += "…";
        break;
      }
      ++chars;
    }
    out += c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c);
  }
  return out;
}

size_t width(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string pad(const std::string& text, size_t to) {
  return text + std::string(to > width(text) ? to - width(text) : 0, ' ');
}

void print_problems(const drover::AgentSessionsReport& report) {
  for (const auto& w : report.warnings) std::fprintf(stderr, "drover: warning: %s\n", w.c_str());
  if (report.error)
    std::fprintf(stderr, "drover: %s: %s\n", std::string(to_string(report.error->code)).c_str(),
                 report.error->message.c_str());
}

// One row per session: ID, TITLE, CWD, UPDATED (a header first, "-" for what the agent left out).
std::string table(const std::vector<drover::AgentSession>& sessions) {
  std::vector<std::vector<std::string>> rows = {{"ID", "TITLE", "CWD", "UPDATED"}};
  for (const auto& s : sessions)
    rows.push_back({printable(s.id), s.title.empty() ? "-" : printable(s.title, kMaxTitleColumn),
                    s.cwd.empty() ? "-" : printable(s.cwd),
                    s.updated_at.empty() ? "-" : printable(s.updated_at)});
  std::vector<size_t> widths(4, 0);
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], width(row[i]));
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i)
      line += i + 1 < row.size() ? pad(row[i], widths[i]) + "  " : row[i];
    out += line + "\n";
  }
  return out;
}

}  // namespace

SessionsCommand* add_sessions_command(CLI::App& app) {
  static SessionsCommand c;
  c.command = app.add_subcommand(
      "sessions", "List the sessions an ACP route's agent keeps (session/list)");
  c.command->add_option("--route,-r", c.route,
                        "ACP route id (full or a prefix); default route if omitted");
  c.command->add_option("--config,-c", c.config, "Config file");
  c.command->add_option("--cwd", c.cwd, "Only the sessions of this directory");
  c.command->add_flag("--json", c.json, "Print JSON");
  c.remove = c.command->add_subcommand("delete", "Delete sessions of an ACP route's agent "
                                                 "(session/delete)");
  c.remove->add_option("--route,-r", c.route,
                       "ACP route id (full or a prefix); default route if omitted");
  c.remove->add_option("--config,-c", c.config, "Config file");
  c.remove->add_flag("--json", c.json, "Print JSON");
  c.remove->add_option("id", c.ids, "Session ids (as drover sessions lists them)")->required();
  return &c;
}

bool sessions_command_parsed(const SessionsCommand& c) { return c.command->parsed(); }

int run_sessions_command(SessionsCommand& c, LoadConfig load) {
  int exit_code = 0;
  auto config = load(c.config, exit_code);
  if (!config) return exit_code;
  drover::FileOutput out(stdout);
  const bool deletion = c.remove->parsed();
  drover::AgentSessionsReport report;
  if (deletion) {
    report = drover::delete_agent_sessions(*config, c.route, c.ids);
  } else {
    drover::AgentSessionsOptions options;
    if (!c.cwd.empty()) options.cwd = c.cwd;
    report = drover::list_agent_sessions(*config, c.route, options);
  }
  if (c.json) {
    out.write(drover::dump_json_line(to_json(report, deletion)) + "\n");
  } else {
    if (deletion)
      for (const auto& id : report.deleted) out.write("deleted " + printable(id) + "\n");
    else if (!report.error)
      out.write(table(report.sessions));
    print_problems(report);
  }
  if (out.error() != 0) {
    std::fprintf(stderr, "drover: cannot write to stdout\n");
    return 1;
  }
  return report.error ? drover::exit_code_for(report.error->code) : 0;
}

}  // namespace drover_cli
