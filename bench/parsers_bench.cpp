// Parser throughput on a few MB of synthetic harness output, fed in 64 KiB chunks the way the
// process reader delivers it, through the public parsing API (drover/parse.h), which is the
// print-mode transport's own parser.
#include <string>
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "drover/parse.h"

namespace {

using drover::Event;
using drover::ParserSpec;
using drover::Selector;

constexpr std::size_t kTargetBytes = 4u << 20;
constexpr std::size_t kChunk = 64u << 10;

std::string ansi_text() {
  std::string out;
  std::size_t n = 0;
  while (out.size() < kTargetBytes) {
    ++n;
    if (n % 50 == 0) out += "\xe2\xa0\x8b Thinking\r\xe2\xa0\x99 Thinking\r\x1b[2K\x1b[1G";
    out += "\x1b[32m\xe2\x9c\x93\x1b[0m step " + std::to_string(n) +
           ": \x1b[1mcompiled\x1b[0m the module caf\xc3\xa9 with \x1b]8;;https://example.com\x07"
           "a link\x1b]8;;\x07 and some ordinary words to make the line realistic.\r\n";
  }
  return out;
}

std::string json_result() {
  std::string answer;
  std::size_t n = 0;
  while (answer.size() < kTargetBytes) answer += "Line " + std::to_string(++n) + " of the answer: caf\xc3\xa9 \xe2\x98\x95 \"quoted\"\n";
  nlohmann::json doc = {{"type", "result"}, {"subtype", "success"}, {"is_error", false},
                        {"result", answer}, {"session_id", "2fb1c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"},
                        {"total_cost_usd", 0.000105},
                        {"usage", {{"input_tokens", 10}, {"output_tokens", 5}}}};
  return doc.dump() + "\n";
}

std::string jsonl_events() {
  std::string out;
  std::size_t n = 0;
  while (out.size() < kTargetBytes) {
    ++n;
    nlohmann::json item = {{"type", "item.completed"},
                           {"item", {{"id", "item_" + std::to_string(n)}, {"type", "agent_message"},
                                     {"text", "Message " + std::to_string(n) + ": caf\xc3\xa9 and more words."}}}};
    nlohmann::json cmd = {{"type", "item.completed"},
                          {"item", {{"id", "cmd_" + std::to_string(n)}, {"type", "command_execution"},
                                    {"command", "/bin/bash -lc ls"}, {"aggregated_output", "README.md\nsrc\n"},
                                    {"exit_code", 0}, {"status", "completed"}}}};
    nlohmann::json usage = {{"type", "turn.completed"},
                            {"usage", {{"input_tokens", 2104}, {"cached_input_tokens", 1024},
                                       {"output_tokens", 57}}}};
    out += item.dump() + "\n" + cmd.dump() + "\n" + usage.dump() + "\n";
  }
  return out;
}

void run(benchmark::State& state, const ParserSpec& spec, const std::string& input) {
  std::vector<Event> deltas;
  for (auto _ : state) {
    deltas.clear();
    drover::HarnessOutputParser parser(spec);
    for (std::size_t i = 0; i < input.size(); i += kChunk)
      parser.feed(std::string_view(input).substr(i, kChunk), deltas);
    auto out = parser.finish(deltas);
    benchmark::DoNotOptimize(out.text.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(input.size()));
}

void BM_TextParserAnsi(benchmark::State& state) {
  static const std::string input = ansi_text();
  run(state, ParserSpec{}, input);
}

void BM_JsonParser(benchmark::State& state) {
  static const std::string input = json_result();
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::json;
  spec.text = Selector{"result", "is_error", false};
  spec.usage = Selector{"", "", std::nullopt};
  spec.session_id = Selector{"session_id", "", std::nullopt};
  run(state, spec, input);
}

void BM_JsonlParser(benchmark::State& state) {
  static const std::string input = jsonl_events();
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::jsonl;
  spec.text = Selector{"item.text", "item.type", "agent_message"};
  spec.usage = Selector{"usage", "type", "turn.completed"};
  spec.session_id = Selector{"thread_id", "", std::nullopt};
  run(state, spec, input);
}

void BM_StripAnsi(benchmark::State& state) {
  static const std::string input = ansi_text();
  for (auto _ : state) benchmark::DoNotOptimize(drover::strip_ansi(input));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(input.size()));
}

}  // namespace

BENCHMARK(BM_TextParserAnsi)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_JsonParser)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_JsonlParser)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_StripAnsi)->Unit(benchmark::kMillisecond);
