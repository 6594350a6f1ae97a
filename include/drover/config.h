// Configuration: parsed and validated once into these plain structs; nothing downstream reads
// configuration JSON.
#pragma once

#include <cassert>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "drover/attachment.h"
#include "drover/result.h"
#include "drover/parser_spec.h"
#include "drover/watchdog.h"

namespace drover {

/// Seconds of a timeout (config and command line) to milliseconds: finite, > 0 and at most 1e9
/// (about 31 years); a tiny positive value becomes 1 ms, never "no wait". nullopt otherwise.
std::optional<int64_t> timeout_seconds_to_ms(double seconds) noexcept;

/// Where a harness runs and what ambient context it may load (README "Context mode").
enum class ContextMode {
  workspace,  ///< the route's cwd (or --cwd): the harness loads its project context itself
  clean,      ///< a fresh empty directory per run, plus the preset's switches that skip context
};

/// "workspace" / "clean" (README "Context mode"); nullopt for anything else.
std::optional<ContextMode> context_mode_from_string(std::string_view name) noexcept;

/// How a headless ACP client answers `session/request_permission` (README "Permissions"), and
/// the policy a print-mode harness is put into where its route maps it.
enum class PermissionPolicy {
  approve_all,    ///< allow every request
  approve_reads,  ///< allow tool kinds read and search, deny the rest (the default)
  deny_all,       ///< deny every request
};
/// "approve-all" / "approve-reads" / "deny-all"; nullopt for anything else.
std::optional<PermissionPolicy> permission_policy_from_string(std::string_view name) noexcept;
std::string_view to_string(PermissionPolicy policy) noexcept;

/// Facts about one run that argv groups can be conditioned on (`{"when": …, "args": …}`).
struct RunFacts {
  ContextMode context = ContextMode::workspace;
  bool resuming = false;
  bool ephemeral = false;  ///< the run should leave no session files behind
  /// The permission policy of the run (conditions approve-all, approve-reads, deny-all).
  PermissionPolicy policy = PermissionPolicy::approve_reads;
  bool attachments = false;  ///< the run has attachments (condition `attachments`)
  /// Looks a variable up in the child's environment (for `env:NAME` conditions).
  std::function<bool(const std::string&)> env_has;
};

/// How `drover models` learns a print-mode route's models (README "Model discovery").
struct DiscoverySpec {
  enum class Via { static_, acp, command, none };
  Via via = Via::static_;
  std::string route;              ///< acp: the sidecar route (e.g. the preset codex-acp)
  std::vector<std::string> args;  ///< command: argv after the route's command
  /// command: how its stdout lists models. text: one model per line (first word); json: the
  /// array at `models_path` (elements are ids or objects); jsonl: one element per line.
  ParserSpec::Kind kind = ParserSpec::Kind::text;
  std::string models_path;
  std::string id_path = "id";
  std::string context_window_path;
  int64_t ttl_ms = 3600000;  ///< how long a discovered list is reused
};

/// `envWhen` entry: variables set only when every condition holds (the conditions of
/// conditional argv groups; `env:NAME` looks at the environment before this entry).
struct ConditionalEnv {
  std::vector<std::string> when;
  std::map<std::string, std::string> env;
};

/// Client-side fan-out limits (README "Fan-out limits"): the config's top-level `fanout`, a
/// provider's or account's `fanout`, a Client's set_fanout() and RunRequest::fanout. Each field
/// merges separately: the request's value, else the route's, else the client's.
struct FanoutLimits {
  std::optional<int64_t> max_concurrency;      ///< maxConcurrency: calls in flight (FIFO semaphore)
  std::optional<double> requests_per_second;   ///< requestsPerSecond: call starts (token bucket)
  std::optional<int64_t> max_calls;            ///< maxCalls: lifetime ceiling; past it fanout_limit
  bool empty() const noexcept {
    return !max_concurrency && !requests_per_second && !max_calls;
  }
};

/// Where and how attachments are staged (README "Attachments"): the config's top-level
/// `staging`, which a route's `fileInput` overrides field by field.
struct StagingSpec {
  std::optional<std::string> dir;  ///< parent of the per-run directories; unset: $TMPDIR, /tmp
  uint64_t max_file_bytes = 64ull << 20;    ///< maxFileBytes: per attachment
  uint64_t max_total_bytes = 256ull << 20;  ///< maxTotalBytes: all attachments of one run
  bool keep = false;  ///< keep the staged copies after the run (for debugging; the result says where)
  bool configured = false;  ///< set when a config file has a "staging" block
};

/// A route's `transport.<kind>.fileInput` (pinned location): which attachments it takes and, in
/// print mode, how they reach the harness.
struct FileInputSpec {
  /// Print mode: `args` puts `perFileArgs` per attachment where argsTemplate has `{files}`;
  /// `prompt` appends a mention of each staged path to the prompt.
  enum class Placement { args, prompt };
  Placement placement = Placement::args;
  std::vector<std::string> per_file_args{"{path}"};  ///< perFileArgs; {path} and {name}
  std::string mention_template = "{path}";           ///< mentionTemplate; {path} and {name}
  std::string separator = "\n";  ///< between the prompt and the first mention, and between mentions
  /// The categories accepted; empty: every category. Anything else is unsupported_capability
  /// before a process is spawned or a request sent.
  std::vector<AttachmentCategory> categories;
  std::optional<std::string> staging_dir;  ///< stagingDir: overrides `staging.dir` for this route
  std::optional<uint64_t> max_file_bytes;
  std::optional<uint64_t> max_total_bytes;
  std::optional<bool> keep;
};

/// Print mode: run an argv template once per prompt and parse what it printed.
struct CliSpec {
  /// argv[1..] template. Each element is a group of tokens (a plain string in the config is a
  /// group of one). Placeholders: {prompt} {model} {system} {output_file} {session_id} {files},
  /// also inside larger tokens (`--model={model}`). A group that uses a placeholder with no value
  /// (no model, no system prompt, not resuming, no files) is dropped whole, so
  /// `["--append-system-prompt", "{system}"]` disappears when there is no system prompt. A token
  /// that is exactly `{files}` becomes one token per file.
  std::vector<std::vector<std::string>> args_template;
  /// Per group of args_template (same length, or empty for "all unconditional"): the conditions
  /// that must all hold for the group to be used. Conditions: clean, workspace, resume, fresh,
  /// ephemeral, persistent, approve-all, approve-reads, deny-all (the run's permission policy),
  /// attachments (the run has some), env:NAME (set and non-empty in the child's environment);
  /// a leading `!` negates one.
  std::vector<std::vector<std::string>> args_when;
  enum class Input { arg, stdin_ } input = Input::arg;
  ParserSpec parser;
  std::map<std::string, std::string> env;  ///< set in the child's environment
  std::vector<std::string> clear_env;      ///< removed from the inherited environment
  std::vector<ConditionalEnv> env_when;    ///< envWhen: set on top of env and cleanEnv
  std::optional<std::string> cwd;
  ContextMode context_mode = ContextMode::workspace;  ///< contextMode
  std::map<std::string, std::string> clean_env;  ///< cleanEnv: set on top of env in clean mode
  /// Whether fresh runs leave no session files (the `ephemeral` groups are used and the result
  /// carries no session id, as there is nothing to resume). nullopt: ephemeral in clean mode only.
  std::optional<bool> ephemeral;
  WatchdogSpec watchdog = WatchdogSpec::harness_default();
  uint64_t max_output_bytes = 16ull << 20;  ///< per stream kept in memory; beyond it, the tail
  NoiseSpec noise;
  /// Used instead of argsTemplate/parser when the caller streams (`--output jsonl`,
  /// Client::stream): the harness's incremental output format (claude stream-json, …).
  struct Streaming {
    std::vector<std::vector<std::string>> args_template;
    std::vector<std::vector<std::string>> args_when;
    ParserSpec parser;
  };
  std::optional<Streaming> streaming;
  DiscoverySpec discovery;
  /// fileInput. Unset: a route whose argsTemplate has `{files}` takes every category as one
  /// path argument each; any other route takes no attachments.
  std::optional<FileInputSpec> file_input;
};

/// ACP terminal/* (README "ACP routes", "Permissions"): offered to the agent only when enabled.
struct AcpTerminalSpec {
  bool enabled = false;
  size_t max_terminals = 8;  ///< terminals not yet released, at once
  /// Output kept per terminal: the default and the most an agent's outputByteLimit gets.
  uint64_t max_output_bytes = 1ull << 20;
};

/// ACP: a long-lived agent speaking JSON-RPC on its stdio (README "ACP routes").
struct AcpSpec {
  /// argv after the command: tokens with argsTemplate's placeholders {model}, {system} and
  /// {session_id} (`{{`/`}}` literal braces).
  std::vector<std::string> args;
  /// Per element of args: the conditions under which it is passed (`{"when": …, "args": …}`
  /// groups are flattened, each token carrying its group's conditions); empty: all literal.
  std::vector<std::vector<std::string>> args_when;
  /// Per element of args: the config element (group) it came from; a group using a placeholder
  /// without a value is dropped whole. Empty: each token is its own group.
  std::vector<size_t> args_group;
  std::map<std::string, std::string> env;  ///< set in the agent's environment
  std::map<std::string, std::string> clean_env;
  std::vector<std::string> clear_env;
  std::vector<ConditionalEnv> env_when;  ///< envWhen: set on top of env and cleanEnv
  std::optional<std::string> cwd;
  ContextMode context_mode = ContextMode::workspace;
  /// startTimeout covers the handshake (initialize to session/new and model selection), idle
  /// restarts on every message from the agent, timeout bounds the whole run.
  WatchdogSpec watchdog = WatchdogSpec::harness_default();
  int64_t exit_grace_ms = 200;     ///< after closing stdin, before SIGTERM to the group
  int64_t cancel_grace_ms = 2000;  ///< after session/cancel, for the `cancelled` answer
  int64_t late_updates_ms = 100;   ///< keep reading after the prompt result
  PermissionPolicy permissions = PermissionPolicy::approve_reads;
  std::map<std::string, bool> permission_rules;  ///< per tool kind: true allow, false deny
  /// policyModes: the session mode (session/set_mode) the agent is put into per policy, once
  /// its session is ready; a policy without one leaves the agent's mode alone.
  std::map<PermissionPolicy, std::string> policy_modes;
  bool fs_read = false;   ///< serve fs/read_text_file inside the session's directories
  bool fs_write = false;  ///< serve fs/write_text_file inside the session's directories
  std::vector<std::string> extra_dirs;  ///< more directories fs/* may reach (absolute)
  AcpTerminalSpec terminal;              ///< `terminal`: terminal/* served (off by default)
  nlohmann::json mcp_servers = nlohmann::json::array();
  std::optional<std::string> auth_method;  ///< authenticate with this methodId when asked to
  /// `_meta` of session/new; every string "{model}" in it becomes the requested model (and
  /// members whose value would be "{model}" are dropped when no model was asked for).
  nlohmann::json session_meta;
  enum class ModelSelection { auto_, config_option, set_model, meta, none };
  ModelSelection model_selection = ModelSelection::auto_;
  bool strict_models = false;  ///< a model the agent does not advertise is an error
  uint64_t max_output_bytes = 16ull << 20;  ///< stderr kept in memory
  NoiseSpec noise;
  /// fileInput (categories, stagingDir, limits, keep; no placement). Unset: every category
  /// (image blocks, embedded resources or resource links, by what the agent advertises).
  std::optional<FileInputSpec> file_input;
  /// systemPrompt: how a request's system prompt reaches the agent when neither args ({system})
  /// nor sessionMeta ("{system}") carry it. `leading_block`: a text block before the prompt's
  /// text in the first prompt of each new session. `none`: not sent (the result warns).
  enum class SystemPrompt { none, leading_block };
  SystemPrompt system_prompt = SystemPrompt::none;
  /// usage: selectors for usage reports in shapes drover does not know, into the prompt result
  /// (`result`) and into each session/update's `update` object (`update`; the last match wins).
  std::optional<Selector> usage_result;
  std::optional<Selector> usage_update;
  /// modelAliases: a requested model name → the model id the agent advertises.
  std::map<std::string, std::string> model_aliases;
  /// configOptions: session config options set (session/set_config_option) once the session is
  /// ready, in order: a string is a select option's value id, a boolean a boolean option's value.
  std::vector<std::pair<std::string, nlohmann::json>> config_options;
  /// elicitation: how `elicitation/create` is answered (`decline` or `cancel`, with a warning
  /// naming what was asked). Set: the form mode is advertised in initialize; unset: nothing is
  /// advertised and a request is still declined.
  enum class Elicitation { decline, cancel };
  std::optional<Elicitation> elicitation;
};

/// Quirks of OpenAI-compatible endpoints, per model. Unset means the wire format's default.
struct ApiCompat {
  std::optional<std::string> max_tokens_field;  ///< "max_tokens" | "max_completion_tokens"
  std::optional<bool> supports_developer_role;  ///< system prompt as role "developer"
  std::optional<bool> supports_usage_in_streaming;  ///< stream_options.include_usage
  std::optional<bool> supports_strict_mode;     ///< json_schema "strict"
  std::optional<bool> supports_reasoning_effort;
};

/// Request parameters of an API route (a request may override the system prompt).
struct ApiParameters {
  std::optional<double> temperature;
  std::optional<int64_t> max_tokens;
  std::optional<std::string> system_prompt;
  /// {"type":"json_object"} or {"type":"json_schema","name":…,"schema":{…},"strict":true}
  std::optional<nlohmann::json> response_format;
  std::optional<std::string> reasoning_effort;
  bool stream = true;
};

/// Where an API key comes from. Keys never reach a log, an error, a result or argv.
struct CredentialSpec {
  /// The entry's id in an account's `credentials` list; empty for transport.api's own keys.
  std::string id;
  std::optional<std::string> api_key;      ///< literal (discouraged: prefer apiKeyEnv)
  std::optional<std::string> api_key_env;  ///< environment variable holding the key (or a pool)
  std::optional<std::string> api_key_delimiter;  ///< splits apiKeyEnv into a pool of keys
};

/// Direct HTTP API transport.
struct ApiSpec {
  /// "openai-chat" | "openai-responses" | "anthropic" | "gemini"; defaults from the provider id
  /// (openai → openai-chat, anthropic → anthropic, gemini/google → gemini).
  std::string format;
  /// API root exactly as the provider's official SDK takes it: http://host:port/v1 for OpenAI,
  /// http://host:port for Anthropic and Gemini. Empty: the provider's public endpoint.
  std::string base_url;
  /// The sources of the account's key pool, in pool order: one entry from transport.api's
  /// apiKey/apiKeyEnv/apiKeyDelimiter, or the account's `credentials` list (one or the other).
  /// Empty: the route sends no key.
  std::vector<CredentialSpec> credentials;
  ApiParameters parameters;
  std::map<std::string, std::string> headers;  ///< extra request headers
  int64_t connect_timeout_ms = 10000;
  std::optional<int64_t> total_timeout_ms;
  std::optional<int64_t> idle_timeout_ms = 120000;  ///< no byte of the response for this long
  /// fileInput (categories, stagingDir, limits, keep; no placement). Unset: what the wire
  /// format can carry (README "Attachments").
  std::optional<FileInputSpec> file_input;
};

/// How a route enforces the permission policy (transport `permissions`, README "Permissions").
enum class PermissionEnforcement {
  agent_asks,  ///< ACP: the agent asks before each tool and drover answers by the policy
  mapped,      ///< the route's argv/env put the harness into the policy's mode itself
  none,        ///< the harness cannot be restricted: refused unless the policy is approve-all
};
/// "agent-asks" / "mapped" / "none"; nullopt for anything else.
std::optional<PermissionEnforcement> permission_enforcement_from_string(
    std::string_view name) noexcept;
std::string_view to_string(PermissionEnforcement enforcement) noexcept;

struct PermissionDeclaration {
  PermissionEnforcement enforcement = PermissionEnforcement::none;
  std::string mechanism;  ///< the harness's own switch, for the result (`policy.mechanism`)
  /// Policies this route cannot enforce although it enforces the others: refused (approve-all
  /// is never refused).
  std::vector<PermissionPolicy> cannot_enforce;
};

/// How a route reaches its model. Spelled "cli", "acp", "api" in config files and results.
enum class TransportKind {
  cli,  ///< print mode: one harness process per prompt, argv from a template
  acp,  ///< a harness speaking the Agent Client Protocol on its stdio
  api,  ///< a model API over HTTP
};
std::string_view to_string(TransportKind kind) noexcept;
std::optional<TransportKind> transport_kind_from_string(std::string_view name) noexcept;

/// `text` (a URL, or a message naming URLs) with the userinfo of every scheme://user:password@host
/// replaced by "[redacted]"; text without URL credentials is returned unchanged. Use it wherever
/// a configured URL (ApiSpec::base_url) is shown.
std::string redact_url(std::string text);

/// A route's transport: its kind and the block of that kind (`cli`, `acp` or `api` in the
/// config file). Only the block of the transport's kind exists.
struct TransportSpec {
  /// Read freely; change it only with set_kind(), which also replaces the block.
  TransportKind kind = TransportKind::cli;
  std::string id;  ///< the transport part of the route id; defaults to the kind's spelling
  std::string command;       ///< executable name (PATH lookup) or path
  /// `permissions`: how the route enforces the permission policy. nullopt (undeclared): ACP
  /// routes count as agent-asks; print-mode routes run as before, with the policy reported as
  /// not enforced (README "Permissions").
  std::optional<PermissionDeclaration> permissions;

  /// The block of this transport's kind; asserts the kind (ask if_cli() and the like when the
  /// kind is not known).
  CliSpec& cli() { return block<CliSpec, TransportKind::cli>(); }
  const CliSpec& cli() const { return block<CliSpec, TransportKind::cli>(); }
  AcpSpec& acp() { return block<AcpSpec, TransportKind::acp>(); }
  const AcpSpec& acp() const { return block<AcpSpec, TransportKind::acp>(); }
  ApiSpec& api() { return block<ApiSpec, TransportKind::api>(); }
  const ApiSpec& api() const { return block<ApiSpec, TransportKind::api>(); }
  /// The block when the transport is of that kind, else nullptr.
  const CliSpec* if_cli() const noexcept { return if_block<CliSpec, TransportKind::cli>(); }
  const AcpSpec* if_acp() const noexcept { return if_block<AcpSpec, TransportKind::acp>(); }
  const ApiSpec* if_api() const noexcept { return if_block<ApiSpec, TransportKind::api>(); }
  /// Makes this a transport of `kind` with that kind's default block.
  void set_kind(TransportKind new_kind) {
    kind = new_kind;
    switch (new_kind) {
      case TransportKind::cli: block_.emplace<CliSpec>(); break;
      case TransportKind::acp: block_.emplace<AcpSpec>(); break;
      case TransportKind::api: block_.emplace<ApiSpec>(); break;
    }
  }

 private:
  template <class T, TransportKind K>
  T& block() {
    assert(kind == K && std::holds_alternative<T>(block_));
    return std::get<T>(block_);
  }
  template <class T, TransportKind K>
  const T& block() const {
    assert(kind == K && std::holds_alternative<T>(block_));
    return std::get<T>(block_);
  }
  template <class T, TransportKind K>
  const T* if_block() const noexcept {
    return kind == K ? std::get_if<T>(&block_) : nullptr;
  }
  std::variant<CliSpec, AcpSpec, ApiSpec> block_;
};

/// The attachment categories a transport takes, as `drover routes --json` lists them (README
/// "Attachments"): print mode: fileInput's categories (every category when it lists none), every
/// category when argsTemplate has `{files}` and there is no fileInput, none otherwise; ACP:
/// fileInput's, else every category; API: fileInput's, else image, document and text.
std::vector<AttachmentCategory> accepted_attachment_categories(const TransportSpec& transport);
/// The transport block's fileInput, whichever kind; nullptr when it has none.
const FileInputSpec* file_input_of(const TransportSpec& transport) noexcept;

struct ModelSpec {
  std::string id;
  std::optional<int64_t> context_window;
  std::optional<bool> supports_images;  ///< custom endpoints are text-only unless said
  ApiCompat compat;
};

/// How an account treats models its `models` list does not name (`modelAllowlistMode`).
enum class ModelAllowlistMode {
  shortlist,  ///< listed models come first (`drover models`, the default route); others allowed
  strict,     ///< only listed models: any other is refused (validation_error) before a run
};

struct AccountSpec {
  std::string id;
  TransportSpec transport;
  std::vector<ModelSpec> models;
  FanoutLimits fanout;  ///< the account's `fanout`
  /// modelAllowlistMode; unset: as shortlist, except that `drover models` keeps the order in
  /// which the harness or endpoint listed its models.
  std::optional<ModelAllowlistMode> model_allowlist;
  /// systemPrompt: the system prompt of a request that brings none (every transport kind).
  std::optional<std::string> system_prompt;
  std::string profile;  ///< `profile`: a label of the account's own; drover does not use it
};

struct ProviderSpec {
  std::string id;
  std::vector<AccountSpec> accounts;
  FanoutLimits fanout;  ///< the provider's `fanout` (an account's own fields win)
  std::string preset;  ///< the preset this provider came from; empty for the user's own
  std::string source;  ///< the file that defined it (a preset's origin for presets)
};

/// One runnable route: provider:transport:account:model.
struct Route {
  std::string id;  ///< full id; the model part is empty when the account lists no models
  std::string provider;
  std::string transport;
  std::string account;
  std::string model;
  const ProviderSpec* provider_spec = nullptr;
  const AccountSpec* account_spec = nullptr;
  StagingSpec staging;  ///< the config's `staging` (the route's fileInput is applied on top per run)
  FanoutLimits fanout;  ///< the account's `fanout`, else the provider's (field by field)
  /// Set by Config::resolve when the route stands in for a selector that matched none
  /// (`routing.resolution.unknownSelector: "default"`): the warning the run's result carries.
  std::string resolution_warning;
};

/// validation_error when `route`'s model is one its account's strict allowlist
/// (`"modelAllowlistMode": "strict"`) does not list; nullopt otherwise.
std::optional<Error> model_allowlist_refusal(const Route& route);

/// What the router does when a try fails (README "Routing and fallback").
struct RoutingSpec {
  enum class Strategy { first, round_robin };
  Strategy strategy = Strategy::first;
  enum class Step { retry, rotate_credential, rotate_account, fallback_transport, fallback_provider };
  /// Per error code, the steps taken after each consecutive failure with that code, in order
  /// (the n-th failure takes the n-th step). Codes without an entry are not retried. A configured
  /// `routing.fallback.on` replaces these defaults entirely.
  std::map<ErrorCode, std::vector<Step>> fallback{
      {ErrorCode::temporary_unavailable, {Step::retry}},
      {ErrorCode::rate_limit, {Step::rotate_credential, Step::retry}},
      {ErrorCode::auth_error, {Step::rotate_credential}},
  };
  int64_t cooldown_ms = 60000;  ///< a failed credential or route is skipped this long
  int max_attempts = 6;         ///< hard cap on tries per request
  /// `resolution.unknownSelector`: what a route selector that matches no route does.
  enum class UnknownSelector {
    error,     ///< config_error naming the selector and the routes there are (the default)
    default_,  ///< the route `defaultRouteId` is used instead, with a warning in the result
    off,       ///< no matching at all: only a configured route's full id is accepted
  };
  UnknownSelector unknown_selector = UnknownSelector::error;
  /// `resolution.defaultRouteId`: the route unknown selectors get with `default`; also the
  /// default route when the config sets no top-level defaultRoute.
  std::optional<std::string> default_route_id;
  bool configured = false;      ///< set when a config file has a "routing" block
};

/// A workspace file left out because it can run commands and the user has not trusted it
/// (README "Trusting a workspace file"). Resolving a route it would have defined is an error.
struct UntrustedSource {
  std::string path;                    ///< absolute, as `drover trust` records it
  std::vector<std::string> providers;  ///< provider ids it defines (preset names excluded)
  bool sets_default_route = false;
};

struct Config {
  std::optional<std::string> default_route;
  RoutingSpec routing;
  StagingSpec staging;  ///< `staging`: copied into every Route
  FanoutLimits fanout;  ///< top-level `fanout`: the client-wide limits
  std::vector<ProviderSpec> providers;  ///< in file order
  std::vector<std::string> sources;     ///< files this config was read from, in load order
  std::vector<UntrustedSource> untrusted;  ///< workspace files left out, untrusted
  /// One line each about how the files were read (an untrusted workspace file ignored, or its
  /// settings giving way to the global file's), for the user to see.
  std::vector<std::string> notices;

  /// Every route, in file order (providers, then accounts, then models).
  std::vector<Route> routes() const;
  /// Resolves a full or partial route id (`acme`, `acme:cli`, `acme:cli:main`,
  /// `acme:cli:main:m1`, or `provider::account:` style with empty parts as wildcards) to the
  /// first matching route. Empty `id` means the default route (defaultRoute, else
  /// routing.resolution.defaultRouteId), else the first route. routing.resolution.unknownSelector
  /// decides what a selector matching nothing does (README "Routing and fallback"): an error,
  /// the defaultRouteId route (Route::resolution_warning says so), or with `off` only full ids
  /// of configured routes are accepted at all.
  /// Errors: config_error when nothing matches (the message lists what exists).
  /// Errors: validation_error when the model is one a strict allowlist does not list.
  /// Errors: config_error also when the route would have come from an untrusted workspace file
  /// (see untrusted_dependency).
  std::pair<std::optional<Route>, std::optional<Error>> resolve(const std::string& id) const;
  /// config_error naming the file and how to trust it when resolving `id` ("" for the default
  /// route) depends on an untrusted workspace file: `id` names a provider only that file defines,
  /// or the default route would have come from it. nullopt otherwise.
  std::optional<Error> untrusted_dependency(const std::string& id) const;
};

/// Where configuration comes from (README "Configuration").
struct ConfigLookup {
  std::optional<std::string> explicit_path;  ///< --config
  std::optional<std::string> env_path;       ///< $DROVER_CONFIG
  std::string workspace_dir = ".";           ///< ./drover.json
  std::optional<std::string> xdg_config_home;  ///< $XDG_CONFIG_HOME (else $HOME/.config)
  std::optional<std::string> home;
  /// Add every preset's providers after the user's own (so `--route claude-cli` works with no
  /// config). User presets are read from `$XDG_CONFIG_HOME/drover/presets`.
  bool with_presets = true;
  static ConfigLookup from_environment();
  /// $XDG_CONFIG_HOME/drover (or ~/.config/drover); empty when neither is known.
  std::string config_dir() const;
};

/// Parses JSON-with-comments text into a validated Config. `origin` names the source in errors.
/// Every error names the JSON path and what was expected, e.g.
/// `drover.json: providers.acme.accounts[0].transport.cli.parser.kind: expected one of json,
/// jsonl, text, got "xml"`.
std::pair<std::optional<Config>, std::optional<Error>> parse_config(const std::string& text,
                                                                    const std::string& origin);

/// Loads configuration by the lookup rules. With --config or $DROVER_CONFIG that file alone is
/// read (missing is an error). Otherwise the global file and then the workspace file are read
/// when present; a workspace provider replaces a global one with the same id, and the workspace
/// defaultRoute wins. No file at all gives a Config with no user providers (not an error).
/// The workspace file is subject to trust (src/config/trust.h): one that can run commands is left out
/// (Config::untrusted, Config::notices) unless `drover trust` recorded its current content; one
/// that only picks among existing routes is read, but without trust the global file's
/// defaultRoute, routing and providers of the same id win over its own. A workspace file may not
/// define a provider named like a preset.
/// With `with_presets`, the providers of every preset (built-in, then the user's) that the user
/// did not define themselves follow the user's own, marked with ProviderSpec::preset.
std::pair<std::optional<Config>, std::optional<Error>> load_config(const ConfigLookup& lookup);

}  // namespace drover
