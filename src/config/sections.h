// The sections of a config file, one reader each, as the files of src/config/ divide them.
// Every reader records its problems in the Ctx and fills what it could. Internal to src/config/.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "drover/config.h"
#include "src/config/presets.h"
#include "src/config/schema.h"

namespace drover::cfg {

// ---- parser.cpp: output parsers and selectors, argv templates and their conditions ---------

/// A print-mode `parser` block. `answer_in_file`: the template names {output_file}, where the
/// harness writes its answer, so stdout needs no text selector.
ParserSpec parse_parser(Ctx& ctx, const ojson& v, const std::string& path, bool answer_in_file);
/// A selector `name` (a path string or {path, wherePath, whereEquals}) or `path_name` (a path
/// string) of `parser`; nullopt when absent or invalid (the problem recorded).
std::optional<Selector> parse_selector(Ctx& ctx, const ojson& parser, const std::string& path,
                                       const char* name, const char* path_name);
/// The `when` of a conditional argv group or envWhen entry.
std::vector<std::string> parse_when(Ctx& ctx, const ojson& v, const std::string& path);
/// {"when": conditions, "args": token or group}: returns its "args" (and sets `path` to
/// theirs) or nullptr when they are missing.
const ojson* conditional_args(Ctx& ctx, const ojson& element, std::string& path,
                              std::vector<std::string>& when);
/// argsTemplate, each token checked with its exact path.
void parse_args_template_json(Ctx& ctx, const ojson& v, const std::string& path,
                              std::optional<CliSpec::Input> input,
                              std::vector<std::vector<std::string>>& out,
                              std::vector<std::vector<std::string>>& out_when);

// ---- child.cpp: what every harness process has (environment, directory, watchdog, noise) --

// The settings every harness process has, whatever the protocol: environment, directory,
// context mode, watchdog, output cap and noise filter (print mode and ACP alike).
struct ChildSettings {
  std::map<std::string, std::string>& env;
  std::map<std::string, std::string>& clean_env;
  std::vector<std::string>& clear_env;
  std::optional<std::string>& cwd;
  ContextMode& context_mode;
  WatchdogSpec& watchdog;
  uint64_t& max_output_bytes;
  NoiseSpec& noise;
  bool system_file = false;  ///< env values may use {system_file} (print mode)
};

void parse_child_settings(Ctx& ctx, const ojson& v, const std::string& path, ChildSettings out);
/// envWhen: variables set only when every condition holds. `system_file`: their values may
/// use {system_file} (print mode).
void parse_env_when(Ctx& ctx, const ojson& v, const std::string& path,
                    std::vector<ConditionalEnv>& out, bool system_file);

// ---- staging.cpp: where attachments are staged, and which a route takes ----------------------

/// The top-level `staging` block.
void parse_staging(Ctx& ctx, const ojson& v, const std::string& path, StagingSpec& staging);
/// `transport.<kind>.fileInput`; placement, perFileArgs, mentionTemplate and separator are for
/// kind cli only (an error naming the key elsewhere).
void parse_file_input(Ctx& ctx, const ojson& v, const std::string& path, TransportKind kind,
                      FileInputSpec& in);

// ---- cli.cpp, acp.cpp, api.cpp: the blocks of the three transport kinds --------------------

void parse_cli(Ctx& ctx, const ojson& v, const std::string& path, CliSpec& cli);
void parse_acp(Ctx& ctx, const ojson& v, const std::string& path, AcpSpec& acp);
void parse_api(Ctx& ctx, const ojson& v, const std::string& path, ApiSpec& api);

/// transport.api's apiKey / apiKeyEnv / apiKeyDelimiter, or those of a `credentials` entry.
void parse_credential(Ctx& ctx, const ojson& v, const std::string& path, CredentialSpec& out);
/// A responseFormat value; nullopt (with an error) when it is not one.
std::optional<nlohmann::json> parse_response_format(Ctx& ctx, const ojson& v,
                                                    const std::string& path);

/// The first account of preset `name`, as JSON; nullopt when there is none (no error).
std::optional<ojson> find_preset_account(const Ctx& ctx, const std::string& name);
/// The same, with an error at `path` naming the known presets when there is none.
std::optional<ojson> preset_account(Ctx& ctx, const std::string& name, const std::string& path);

// ---- ai_connect.cpp: ai-connect's spellings of accounts, transports and routing ------------

/// Rewrites ai-connect's spellings in `account` into drover's, in place, before it is read:
/// "transport": "<kind>", transport.baseUrl, transport.auth.methodId and transport.<kind>.preset
/// (which becomes the account's "preset"). A value spelled both ways is an error naming both
/// paths; moved keys keep their written path in messages (Ctx::moved).
void normalize_account_layout(Ctx& ctx, ojson& account, const std::string& path);
/// The account keys of ai-connect's layout, read once the transport is: credentials,
/// modelAllowlistMode, systemPrompt, defaultResponseFormat, profile.
void parse_account_layout(Ctx& ctx, const ojson& v, const std::string& path, AccountSpec& a);
/// routing.resolution: unknownSelector, defaultRouteId.
void parse_resolution(Ctx& ctx, const ojson& v, const std::string& path, RoutingSpec& routing);

// ---- routing.cpp ----------------------------------------------------------------------------

void parse_routing(Ctx& ctx, const ojson& v, const std::string& path, RoutingSpec& routing);

// ---- fanout.cpp -----------------------------------------------------------------------------

/// A `fanout` block (top level, provider, account): its fields set in `fanout`.
void parse_fanout(Ctx& ctx, const ojson& v, const std::string& path, FanoutLimits& fanout);

// ---- document.cpp: JSON text to a Config (root, providers, accounts, transports) -----------

/// Parses and validates one source without checking defaultRoute (a workspace file may name a
/// route that only the global file defines; load_config checks after merging). `admit`, when
/// set, sees the parsed document first and may leave the source out (nullopt, no error).
std::optional<Config> parse_one(const std::string& text, const std::string& origin,
                                std::vector<std::string>& errors,
                                const std::vector<PresetSource>& presets = builtin_presets(),
                                const std::function<bool(const ojson&)>& admit = {});

// ---- resolution.cpp -------------------------------------------------------------------------

/// `origin: defaultRoute: …` when the config's defaultRoute resolves to no route.
std::optional<std::string> default_route_problem(const Config& config, const std::string& origin);

}  // namespace drover::cfg
