// argv templates for print-mode harnesses (CliSpec::args_template): parsing, validation and
// expansion. Pure functions: no I/O, no shell, no environment.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "drover/config.h"
#include "drover/result.h"

namespace drover {

/// The placeholders of argsTemplate (prompt … attachments_dir) and of fileInput's perFileArgs
/// and mentionTemplate (path, name: one staged attachment).
enum class Placeholder {
  prompt,
  model,
  system,
  system_file,
  output_file,
  session_id,
  files,
  attachments_dir,
  path,
  name,
};

/// "prompt", "model", ... as written between braces.
std::string_view to_string(Placeholder p) noexcept;
/// An argsTemplate placeholder by name (path and name are not among them).
std::optional<Placeholder> placeholder_from_name(std::string_view name) noexcept;
/// "prompt, model, system, system_file, output_file, session_id, files, attachments_dir" (for
/// error messages).
std::string_view known_placeholders() noexcept;

/// One piece of a token: literal text (with `{{`/`}}` already unescaped) or a placeholder.
struct TemplatePiece {
  bool is_placeholder = false;
  std::string literal;
  Placeholder placeholder = Placeholder::prompt;
};

/// One argv token, split into pieces once so expansion never re-scans substituted values.
struct TemplateToken {
  std::vector<TemplatePiece> pieces;
  bool uses(Placeholder p) const noexcept;
  /// The token is exactly one placeholder and nothing else (`{files}` then fans out).
  bool is_exactly(Placeholder p) const noexcept;
};

using TemplateGroup = std::vector<TemplateToken>;

/// Parses one argsTemplate token. On failure returns the problem without any path, e.g.
/// `unknown placeholder {foo} (known: prompt, model, ...)` or `unbalanced '}' at offset 3`.
std::pair<std::optional<TemplateToken>, std::optional<std::string>> parse_template_token(
    std::string_view token);
/// Parses one token of perFileArgs or a mentionTemplate: the same syntax, with only {path} and
/// {name} known.
std::pair<std::optional<TemplateToken>, std::optional<std::string>> parse_file_token(
    std::string_view token);

/// Every problem in a template, one message per bad token, each prefixed with its path:
/// `<prefix>[i]` for a group of one token (a plain string in the config), `<prefix>[i][j]` for
/// larger groups.
std::vector<std::string> args_template_problems(const std::vector<std::vector<std::string>>& groups,
                                                const std::string& path_prefix);

/// All problems of args_template_problems joined with newlines as one config_error; nullopt
/// when the template is valid.
std::optional<Error> validate_args_template(const std::vector<std::vector<std::string>>& groups,
                                            const std::string& path_prefix);

/// One staged attachment as `{files}` hands it on: {path} (absolute, of the staged copy) and
/// {name} (its sanitized name, never starting with '-').
struct TemplateFile {
  std::string path;
  std::string name;
};

/// Values for one expansion. nullopt (or no files) means "absent": any group using that
/// placeholder is dropped whole. An empty string is a present value.
struct TemplateValues {
  std::string prompt;
  std::optional<std::string> model, system, output_file, session_id;
  /// {system_file}: a private file holding the system prompt (absent without one).
  std::optional<std::string> system_file;
  std::vector<TemplateFile> files;
  /// The tokens a whole-token `{files}` becomes for each file (fileInput's perFileArgs).
  std::vector<std::string> per_file_args{"{path}"};
  /// The directory holding the staged copies ({attachments_dir}); absent when the run has none.
  std::optional<std::string> attachments_dir;
};

/// Parses a whole template; nullopt when any token is invalid (validate first for messages).
std::optional<std::vector<TemplateGroup>> parse_args_template(
    const std::vector<std::vector<std::string>>& groups);

/// Expands a parsed template into argv[1..]. Values are inserted verbatim: braces inside a value
/// are never expanded again. A token that is exactly `{files}` becomes, per file, the tokens of
/// `per_file_args` with that file's {path} and {name}; `{files}` inside a larger token joins the
/// files' paths with commas.
std::vector<std::string> expand_args(const std::vector<TemplateGroup>& groups,
                                     const TemplateValues& values);
/// Same, from the configured strings. Invalid tokens (which validation rejects) are passed
/// through literally rather than failing.
std::vector<std::string> expand_args(const std::vector<std::vector<std::string>>& groups,
                                     const TemplateValues& values);

/// Whether one `when` condition (CliSpec::args_when) holds for a run.
bool condition_holds(std::string_view condition, const RunFacts& facts);
/// The groups whose conditions all hold (`when` is parallel to `groups`; empty: all groups).
std::vector<std::vector<std::string>> active_groups(
    const std::vector<std::vector<std::string>>& groups,
    const std::vector<std::vector<std::string>>& when, const RunFacts& facts);

/// Whether some condition list of `when` names a permission policy condition (approve-all,
/// approve-reads, deny-all, or one negated) that holds under `policy`: the route then has
/// something of its own for that policy.
bool conditions_map_policy(const std::vector<std::vector<std::string>>& when,
                           PermissionPolicy policy);

/// `text` (a perFileArgs token or mentionTemplate) with {path} and {name} of `file`; an invalid
/// text (which validation rejects) is returned as written.
std::string expand_file_token(std::string_view text, const TemplateFile& file);

/// Whether any token uses the named placeholder (`"output_file"`, ...). Unknown names and
/// invalid tokens count as not used.
bool template_uses(const std::vector<std::vector<std::string>>& groups,
                   std::string_view placeholder_name);

}  // namespace drover
