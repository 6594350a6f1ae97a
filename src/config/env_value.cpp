#include "src/config/env_value.h"

#include <cstdlib>

namespace drover {
namespace {

constexpr std::string_view kSystemFile = "{system_file}";

struct Piece {
  enum class Kind { literal, variable, system_file } kind = Kind::literal;
  std::string text;  // literal text, or the variable's name
  std::optional<std::string> fallback;  // ${NAME:-fallback}
};

bool name_start(char c) { return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

void append_literal(std::vector<Piece>& pieces, std::string_view text) {
  if (text.empty()) return;
  if (!pieces.empty() && pieces.back().kind == Piece::Kind::literal)
    pieces.back().text += text;
  else
    pieces.push_back(Piece{Piece::Kind::literal, std::string(text), std::nullopt});
}

// Splits a value once, so that expansion never scans what it inserted.
std::pair<std::vector<Piece>, std::optional<std::string>> split(std::string_view s) {
  std::vector<Piece> pieces;
  size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, 3, "$${") == 0) {  // the escape: a literal "${"
      append_literal(pieces, "${");
      i += 3;
    } else if (s.compare(i, 2, "${") == 0) {
      const size_t close = s.find('}', i + 2);
      const std::string at = " at offset " + std::to_string(i);
      if (close == std::string_view::npos)
        return {{}, "unterminated ${" + at + " (write $${ for a literal ${)"};
      const std::string_view inner = s.substr(i + 2, close - i - 2);
      size_t n = 0;
      while (n < inner.size() && name_char(inner[n])) ++n;
      const std::string_view name = inner.substr(0, n);
      if (name.empty() || !name_start(name[0]))
        return {{}, "invalid variable name in ${" + std::string(inner) + "}" + at +
                        " (a name is letters, digits and _, not starting with a digit)"};
      Piece piece{Piece::Kind::variable, std::string(name), std::nullopt};
      const std::string_view rest = inner.substr(n);
      if (rest.substr(0, 2) == ":-" && rest.find('{') == std::string_view::npos)
        piece.fallback = std::string(rest.substr(2));
      else if (rest.substr(0, 2) == ":-")
        // Defaults are literal: a nested ${…} (or {system_file}) would come out as written.
        return {{}, "a default cannot hold '{' in ${" + std::string(inner) + "}" + at +
                        " (defaults are literal text, not expanded)"};
      else if (!rest.empty())
        return {{}, "unsupported form ${" + std::string(inner) + "}" + at +
                        " (only ${NAME} and ${NAME:-default})"};
      pieces.push_back(std::move(piece));
      i = close + 1;
    } else if (s.compare(i, kSystemFile.size(), kSystemFile) == 0) {
      pieces.push_back(Piece{Piece::Kind::system_file, {}, std::nullopt});
      i += kSystemFile.size();
    } else {
      const size_t next = std::min(s.find('$', i + 1), s.find('{', i + 1));
      const size_t end = next == std::string_view::npos ? s.size() : next;
      append_literal(pieces, s.substr(i, end - i));
      i = end;
    }
  }
  return {std::move(pieces), std::nullopt};
}

}  // namespace

std::optional<std::string> env_value_problem(std::string_view value) {
  return split(value).second;
}

bool env_value_uses_system_file(std::string_view value) {
  auto [pieces, problem] = split(value);
  for (const auto& piece : pieces)
    if (piece.kind == Piece::Kind::system_file) return true;
  return false;
}

std::vector<std::string> env_value_variables(std::string_view value) {
  std::vector<std::string> names;
  for (const auto& piece : split(value).first)
    if (piece.kind == Piece::Kind::variable) names.push_back(piece.text);
  return names;
}

EnvLookup process_env_lookup() {
  return [](const std::string& name) -> const char* { return std::getenv(name.c_str()); };
}

std::optional<std::string> expand_env_value(std::string_view value, const EnvLookup& lookup,
                                            const std::optional<std::string>& system_file) {
  auto [pieces, problem] = split(value);
  if (problem) return std::string(value);
  std::string out;
  for (const auto& piece : pieces) {
    switch (piece.kind) {
      case Piece::Kind::literal:
        out += piece.text;
        break;
      case Piece::Kind::variable: {
        const char* found = lookup ? lookup(piece.text) : nullptr;
        if (piece.fallback && (found == nullptr || *found == '\0'))
          out += *piece.fallback;
        else if (found != nullptr)
          out += found;
        break;
      }
      case Piece::Kind::system_file:
        if (!system_file) return std::nullopt;
        out += *system_file;
        break;
    }
  }
  return out;
}

}  // namespace drover
