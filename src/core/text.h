// Small ASCII text helpers shared across the library (the parsers, the wire formats, the gateway).
#pragma once

#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>

namespace drover::text {

/// ASCII lower case (bytes >= 0x80 are left alone, so UTF-8 passes through).
inline std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return out;
}

/// Whether `haystack` contains any of `needles`.
inline bool contains_any(std::string_view haystack, std::initializer_list<std::string_view> needles) {
  for (std::string_view needle : needles)
    if (haystack.find(needle) != std::string_view::npos) return true;
  return false;
}

/// `s` without leading and trailing ASCII whitespace (space, tab, CR, LF, FF, VT).
inline std::string_view trim(std::string_view s) {
  constexpr std::string_view ws = " \t\r\n\f\v";
  const size_t begin = s.find_first_not_of(ws);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(ws) - begin + 1);
}

}  // namespace drover::text
