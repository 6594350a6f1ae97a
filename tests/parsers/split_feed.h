// Feeding helpers for parser tests: the same input whole, split in two at every byte boundary,
// and byte by byte must give the same ParsedOutput, and the deltas must add up to its text.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drover/result.h"
#include "drover/parser_spec.h"
#include "parsers/output_parser.h"

namespace drover::test {

struct FeedResult {
  parsers::ParsedOutput output;
  std::vector<Event> events;  ///< everything feed() and finish() appended
  std::string joined_deltas;  ///< concatenated text of the delta events
};

/// Makes a fresh parser for each run; make_parser(spec) in the real tests.
using ParserFactory = std::function<std::unique_ptr<parsers::OutputParser>()>;

inline FeedResult feed_chunks(const ParserFactory& make, const std::vector<std::string_view>& chunks) {
  FeedResult result;
  auto parser = make();
  for (std::string_view chunk : chunks) parser->feed(chunk, result.events);
  result.output = parser->finish(result.events);
  for (const Event& event : result.events)
    if (event.kind == Event::Kind::delta) result.joined_deltas += event.text;
  return result;
}

inline ParserFactory factory_for(const ParserSpec& spec) {
  return [spec] { return parsers::make_parser(spec); };
}

inline FeedResult feed_chunks(const ParserSpec& spec, const std::vector<std::string_view>& chunks) {
  return feed_chunks(factory_for(spec), chunks);
}

inline FeedResult feed_whole(const ParserSpec& spec, std::string_view input) {
  return feed_chunks(spec, {input});
}

inline std::vector<std::string_view> fixed_chunks(std::string_view input, std::size_t size) {
  std::vector<std::string_view> chunks;
  for (std::size_t i = 0; i < input.size(); i += size) chunks.push_back(input.substr(i, size));
  return chunks;
}

inline FeedResult feed_bytewise(const ParserSpec& spec, std::string_view input) {
  return feed_chunks(spec, fixed_chunks(input, 1));
}

/// Comparable, printable form of a ParsedOutput. Costs are rounded to 1e-9 so that a literal in
/// an expectation file compares equal to a sum.
inline nlohmann::json describe(const parsers::ParsedOutput& out) {
  const auto opt = [](const std::optional<std::string>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  nlohmann::json usage = nullptr;
  if (out.usage) {
    usage = to_json(*out.usage);
    if (out.usage->cost_usd) usage["costUsd"] = std::round(*out.usage->cost_usd * 1e9) / 1e9;
  }
  return {{"text", out.text},         {"usage", usage},
          {"sessionId", opt(out.session_id)}, {"stopReason", opt(out.stop_reason)},
          {"model", opt(out.model)},   {"error", opt(out.error)},
          {"warnings", out.warnings},  {"structured", out.structured}};
}

inline std::string show(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

/// The events other than deltas (tool, permission, usage, warning, progress) in their JSON form,
/// in order.
inline nlohmann::json other_events(const FeedResult& r) {
  nlohmann::json list = nlohmann::json::array();
  for (const Event& event : r.events)
    if (event.kind != Event::Kind::delta) list.push_back(to_json(event));
  return list;
}

/// The invariants every parser keeps, checked on one run: deltas are non-empty and add up to the
/// text; besides them a parser only reports tool, permission, usage, warning and progress events.
inline ::testing::AssertionResult deltas_add_up(const FeedResult& r) {
  for (const Event& event : r.events) {
    if (event.kind != Event::Kind::delta && event.kind != Event::Kind::tool &&
        event.kind != Event::Kind::permission && event.kind != Event::Kind::usage &&
        event.kind != Event::Kind::warning && event.kind != Event::Kind::progress)
      return ::testing::AssertionFailure() << "unexpected event " << to_string(event.kind);
    if (event.kind == Event::Kind::delta && event.text.empty())
      return ::testing::AssertionFailure() << "empty delta event";
  }
  if (r.joined_deltas != r.output.text)
    return ::testing::AssertionFailure() << "deltas " << nlohmann::json(r.joined_deltas).dump(
                                                -1, ' ', false, nlohmann::json::error_handler_t::replace)
                                         << " != text " << show(r.output.text);
  return ::testing::AssertionSuccess();
}

// Splitting at every boundary feeds O(n^2) bytes. Inputs up to kSplitBudgetBytes of total work
// (about 5.8 KB, which every fixture here stays under) get every cut. Longer ones (real
// recordings added later) get every cut near their ends and, evenly thinned, the cuts next to
// bytes where parsers keep state (line ends, '\r', ESC, multi-byte UTF-8), so that one test
// stays within seconds even under sanitizers.
constexpr std::size_t kSplitBudgetBytes = 32u << 20;

inline std::vector<std::size_t> two_chunk_cuts(std::string_view input) {
  const std::size_t n = input.size();
  std::vector<std::size_t> cuts;
  if (n * (n + 1) <= kSplitBudgetBytes) {
    for (std::size_t cut = 0; cut <= n; ++cut) cuts.push_back(cut);
    return cuts;
  }
  const std::size_t max_cuts = std::max<std::size_t>(kSplitBudgetBytes / n, 64);
  const std::size_t ends = std::min<std::size_t>(max_cuts / 4, n / 4);
  std::vector<std::size_t> interesting;
  for (std::size_t i = ends; i + ends < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(input[i]);
    if (c == '\n' || c == '\r' || c == 0x1B || c >= 0x80)
      for (std::size_t d : {i, i + 1}) interesting.push_back(d);
  }
  const std::size_t keep = max_cuts - 2 * ends;
  for (std::size_t cut = 0; cut < ends; ++cut) cuts.push_back(cut);
  if (interesting.size() <= keep) {
    cuts.insert(cuts.end(), interesting.begin(), interesting.end());
  } else {
    // A multiplicative scatter rather than a fixed stride, which could keep hitting the same
    // kind of byte in regular input (the same column of every line).
    for (std::size_t k = 0; k < keep; ++k)
      cuts.push_back(interesting[(k * std::size_t{2654435761u}) % interesting.size()]);
  }
  for (std::size_t cut = n - ends; cut <= n; ++cut) cuts.push_back(cut);
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  return cuts;
}

/// Whole, every two-chunk split (see two_chunk_cuts), fixed-size chunks, and byte by byte:
/// identical output and identical tool/permission/usage events, deltas == text each time. Returns the whole-input result in `whole_out`.
inline ::testing::AssertionResult same_for_every_split(const ParserFactory& make,
                                                       std::string_view input,
                                                       FeedResult* whole_out = nullptr) {
  const FeedResult whole = feed_chunks(make, {input});
  if (auto ok = deltas_add_up(whole); !ok) return ok << " (whole input)";
  const nlohmann::json expected = describe(whole.output);
  const nlohmann::json expected_events = other_events(whole);

  const auto compare = [&](const FeedResult& r, const std::string& how) -> ::testing::AssertionResult {
    if (auto ok = deltas_add_up(r); !ok) return ok << " (" << how << ")";
    const nlohmann::json got = describe(r.output);
    if (got != expected)
      return ::testing::AssertionFailure() << how << " differs from whole input:\n"
                                           << show(got) << "\nwhole:\n" << show(expected);
    if (other_events(r) != expected_events)
      return ::testing::AssertionFailure() << how << ": other events differ from whole input:\n"
                                           << show(other_events(r)) << "\nwhole:\n"
                                           << show(expected_events);
    return ::testing::AssertionSuccess();
  };

  for (std::size_t cut : two_chunk_cuts(input)) {
    auto r = feed_chunks(make, {input.substr(0, cut), input.substr(cut)});
    if (auto ok = compare(r, "split at byte " + std::to_string(cut)); !ok) return ok;
  }
  for (std::size_t size : {1, 2, 3, 7, 64, 4096}) {
    auto r = feed_chunks(make, fixed_chunks(input, size));
    if (auto ok = compare(r, "chunks of " + std::to_string(size) + " bytes"); !ok) return ok;
  }
  if (whole_out != nullptr) *whole_out = whole;
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult same_for_every_split(const ParserSpec& spec, std::string_view input,
                                                       FeedResult* whole_out = nullptr) {
  return same_for_every_split(factory_for(spec), input, whole_out);
}

}  // namespace drover::test
