// Bounded parsing of untrusted JSON. nlohmann's parser itself is iterative, but copying,
// comparing and dumping a value recurse once per nesting level: a document nested 100,000 levels
// deep overflows the stack wherever it is later walked. Every parse of text that came from
// outside (harness output, JSON-RPC lines, SSE data, HTTP bodies, config files) goes through
// parse_untrusted(), which refuses such documents before building them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace drover::parsers {

/// Deepest nesting of arrays and objects accepted from outside. Real documents (API bodies,
/// agent events, configs) stay below 30; 512 keeps every later recursive walk within a few
/// hundred KiB of stack.
inline constexpr std::size_t kMaxJsonDepth = 512;

/// True when `text`, read as JSON, opens more than `max_depth` arrays/objects inside one
/// another. Brackets inside strings do not count, nor inside comments when `comments` is set.
/// One pass, constant memory; malformed text is scanned all the same (the parser rejects it).
bool json_too_deep(std::string_view text, std::size_t max_depth = kMaxJsonDepth,
                   bool comments = false);

/// `text` with every array or object nested deeper than `max_depth` replaced by `null`, so that
/// the shallow part of a hostile document (a JSON-RPC id, an error code) can still be read.
std::string prune_json_depth(std::string_view text, std::size_t max_depth = kMaxJsonDepth);

/// "nested deeper than 512 levels": the problem text every rejection uses.
std::string json_depth_problem(std::size_t max_depth = kMaxJsonDepth);

/// What parse_untrusted() found wrong (none: parsed, or not JSON at all).
enum class JsonLimit { none, too_deep };

/// Parses untrusted text without exceptions: discarded when it is not JSON or nests deeper than
/// kMaxJsonDepth (then `limit`, when given, is set to too_deep).
template <class Json = nlohmann::json>
Json parse_untrusted(std::string_view text, JsonLimit* limit = nullptr,
                     bool ignore_comments = false) {
  if (limit) *limit = JsonLimit::none;
  if (json_too_deep(text, kMaxJsonDepth, ignore_comments)) {
    if (limit) *limit = JsonLimit::too_deep;
    return Json(Json::value_t::discarded);
  }
  return Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false,
                     ignore_comments);
}

}  // namespace drover::parsers
