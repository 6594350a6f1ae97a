#include "parsers/json_limits.h"

namespace drover::parsers {
namespace {

// Where the scanner is: what decides whether a bracket counts.
enum class Scan { text, string, string_escape, slash, line_comment, block_comment, block_star };

}  // namespace

bool json_too_deep(std::string_view text, std::size_t max_depth, bool comments) {
  Scan state = Scan::text;
  std::size_t depth = 0;
  for (const char c : text) {
    switch (state) {
      case Scan::text:
        if (c == '"') {
          state = Scan::string;
        } else if (c == '[' || c == '{') {
          if (++depth > max_depth) return true;
        } else if (c == ']' || c == '}') {
          if (depth > 0) --depth;
        } else if (c == '/' && comments) {
          state = Scan::slash;
        }
        break;
      case Scan::string:
        if (c == '\\') state = Scan::string_escape;
        else if (c == '"') state = Scan::text;
        break;
      case Scan::string_escape:
        state = Scan::string;
        break;
      case Scan::slash:
        state = c == '/' ? Scan::line_comment : c == '*' ? Scan::block_comment : Scan::text;
        if (state == Scan::text && (c == '[' || c == '{') && ++depth > max_depth) return true;
        break;
      case Scan::line_comment:
        if (c == '\n') state = Scan::text;
        break;
      case Scan::block_comment:
        if (c == '*') state = Scan::block_star;
        break;
      case Scan::block_star:
        state = c == '/' ? Scan::text : c == '*' ? Scan::block_star : Scan::block_comment;
        break;
    }
  }
  return false;
}

std::string prune_json_depth(std::string_view text, std::size_t max_depth) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  bool escape = false;
  std::size_t depth = 0;
  std::size_t pruned_at = 0;  // depth at which the container being dropped opened; 0: none
  for (const char c : text) {
    if (in_string) {
      if (escape) escape = false;
      else if (c == '\\') escape = true;
      else if (c == '"') in_string = false;
      if (pruned_at == 0) out.push_back(c);
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++depth;
      if (pruned_at == 0 && depth > max_depth) {
        pruned_at = depth;
        out.append("null");
      }
    } else if (c == ']' || c == '}') {
      if (depth > 0) --depth;
      if (pruned_at != 0 && depth < pruned_at) {
        pruned_at = 0;
        continue;
      }
    }
    if (pruned_at == 0) out.push_back(c);
  }
  return out;
}

std::string json_depth_problem(std::size_t max_depth) {
  return "nested deeper than " + std::to_string(max_depth) + " levels";
}

}  // namespace drover::parsers
