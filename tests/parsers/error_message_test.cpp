#include <gtest/gtest.h>

#include "parsers/output_parser.h"

namespace drover::parsers {
namespace {

using nlohmann::json;

std::string unwrap(const char* json_text) { return unwrap_error_message(json::parse(json_text)); }

TEST(UnwrapErrorMessage, PlainString) {
  EXPECT_EQ(unwrap_error_message(json("Invalid API key")), "Invalid API key");
  EXPECT_EQ(unwrap_error_message(json("  padded\n")), "padded");
}

TEST(UnwrapErrorMessage, ObjectFields) {
  EXPECT_EQ(unwrap(R"({"message":"m"})"), "m");
  EXPECT_EQ(unwrap(R"({"error":"e"})"), "e");
  EXPECT_EQ(unwrap(R"({"detail":"d"})"), "d");
  EXPECT_EQ(unwrap(R"({"error_description":"desc"})"), "desc");
}

TEST(UnwrapErrorMessage, NestedProviderPayloads) {
  EXPECT_EQ(unwrap(R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"),
            "Overloaded");
  EXPECT_EQ(unwrap(R"({"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit"}})"),
            "Rate limit reached");
}

TEST(UnwrapErrorMessage, InnermostMessageWinsOverASummary) {
  EXPECT_EQ(unwrap(R"({"message":"Request failed","error":{"message":"quota exceeded"}})"),
            "quota exceeded");
  // A nested object without a message does not hide the sibling one.
  EXPECT_EQ(unwrap(R"({"message":"Invalid key","error":{"type":"authentication_error"}})"),
            "Invalid key");
}

TEST(UnwrapErrorMessage, StringifiedJson) {
  EXPECT_EQ(unwrap_error_message(json(R"({"error":{"message":"bad request"}})")), "bad request");
  EXPECT_EQ(unwrap(R"({"error":{"message":"{\"error\":{\"message\":\"Rate limit\"}}"}})"),
            "Rate limit");
  EXPECT_EQ(unwrap_error_message(json(R"("quoted")")), "quoted");
}

TEST(UnwrapErrorMessage, PrefixFollowedByJsonKeepsThePrefix) {
  EXPECT_EQ(unwrap_error_message(json(
                R"(API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})")),
            "API Error: 529 Overloaded");
  EXPECT_EQ(unwrap(R"({"message":"stream error: {\"error\":{\"message\":\"upstream reset\"}}"})"),
            "stream error: upstream reset");
}

TEST(UnwrapErrorMessage, PrefixWithUnparsableOrMessagelessJsonStaysAsIs) {
  EXPECT_EQ(unwrap_error_message(json("Error: {not json}")), "Error: {not json}");
  EXPECT_EQ(unwrap_error_message(json(R"(API Error: 500 {"code":500})")), R"(API Error: 500 {"code":500})");
}

TEST(UnwrapErrorMessage, BracketedErrorsAreUnwrapped) {
  EXPECT_EQ(unwrap_error_message(json(R"([API Error: {"error":{"message":"bad key"}}])")),
            "API Error: bad key");
  EXPECT_EQ(unwrap(R"({"error":{"message":"[API Error: {\"error\":{\"message\":\"bad key\"}}]"}})"),
            "API Error: bad key");
  // Gemini CLI: plain text in the brackets, advice on the next line.
  EXPECT_EQ(unwrap_error_message(json("[API Error: Rate limit reached (scripted)]\nPlease wait")),
            "API Error: Rate limit reached (scripted)\nPlease wait");
  // A bracket inside the JSON does not close the wrapper.
  EXPECT_EQ(unwrap_error_message(json("[Error: {\"error\":{\"message\":\"x]y\"}}]\nretry later")),
            "Error: x]y\nretry later");
  // The message may itself be a status followed by JSON.
  EXPECT_EQ(unwrap_error_message(json(R"([API Error: 429 {"error":{"message":"slow down"}}])")),
            "API Error: 429 slow down");
}

TEST(UnwrapErrorMessage, BracketsThatWrapNothingStayAsIs) {
  EXPECT_EQ(unwrap_error_message(json("[]")), "[]");
  EXPECT_EQ(unwrap_error_message(json("[unclosed")), "[unclosed");
  EXPECT_EQ(unwrap_error_message(json("[ ] x")), "[ ] x");
  // A tag at the start of a line is not a wrapper.
  EXPECT_EQ(unwrap_error_message(json("[warn] disk full")), "[warn] disk full");
}

TEST(UnwrapErrorMessage, TextAfterTheJsonIsKept) {
  EXPECT_EQ(unwrap_error_message(json(R"(API Error: 529 {"error":{"message":"Overloaded"}} (attempt 3))")),
            "API Error: 529 Overloaded (attempt 3)");
  EXPECT_EQ(unwrap_error_message(json(R"({"error":{"message":"reset"}}. Retrying)")),
            "reset. Retrying");
}

TEST(StructuredError, TheLastLineThatSaysErrorWins) {
  EXPECT_EQ(structured_error("{\"type\":\"init\"}\n"
                             "{\"type\":\"error\",\"message\":\"first\"}\n"
                             "{\"type\":\"result\",\"status\":\"error\",\"error\":{\"message\":\"last\"}}\n"
                             "not json\n"),
            "last");
  EXPECT_EQ(structured_error(R"({"type":"turn.failed","error":{"message":"exceeded retry limit"}})"),
            "exceeded retry limit");
  EXPECT_EQ(structured_error(R"({"level":"FATAL","msg":"x","message":"disk full"})"), "disk full");
  EXPECT_EQ(structured_error(R"({"is_error":true,"result":"API Error: 500 {\"error\":{\"message\":\"boom\"}}"})"),
            "API Error: 500 boom");
  EXPECT_EQ(structured_error(R"({"error":true,"message":"flagged"})"), "flagged");
  // A document over several lines counts as one.
  EXPECT_EQ(structured_error("{\n  \"error\": {\"message\": \"pretty\"}\n}\n"), "pretty");
}

TEST(StructuredError, ObjectsThatDoNotSayErrorAreNotErrors) {
  for (const char* out : {"", "plain text\n", R"({"type":"result","error":null,"message":"ok"})",
                          R"({"type":"message","message":"an error happened to the hero"})",
                          R"({"error":false,"result":"fine"})", R"({"error":"","status":"ok"})",
                          R"({"status":"failed"})", "[1,2]\n", "{not json"})
    EXPECT_FALSE(structured_error(out).has_value()) << out;
}

TEST(StructuredError, OnlyTheLastTwentyLinesAreRead) {
  std::string out = R"({"type":"error","message":"old"})" "\n";
  for (int i = 0; i < 20; ++i) out += "line\n";
  EXPECT_FALSE(structured_error(out).has_value());
  out += R"({"type":"error","message":"new"})";  // no newline at the end
  EXPECT_EQ(structured_error(out), "new");
}

TEST(UnwrapErrorMessage, ThreeLevelsAreUnwrapped) {
  EXPECT_EQ(unwrap(R"({"error":{"error":{"error":{"message":"deep"}}}})"), "deep");
}

TEST(UnwrapErrorMessage, FourLevelsStop) {
  const char* four = R"({"error":{"error":{"error":{"error":{"message":"deep"}}}}})";
  EXPECT_EQ(unwrap(four), json::parse(four).dump());
}

TEST(UnwrapErrorMessage, FourLevelsOfStringifiedJsonStop) {
  // Each level is the previous document serialized into a string.
  json level = json{{"message", "deep"}};
  for (int i = 0; i < 4; ++i) level = json(level.dump());
  const std::string got = unwrap_error_message(level);
  EXPECT_NE(got, "deep");
  EXPECT_NE(got.find("deep"), std::string::npos);  // the bounded result still says something

  json three = json{{"message", "deep"}};
  for (int i = 0; i < 2; ++i) three = json(three.dump());
  EXPECT_EQ(unwrap_error_message(three), "deep");
}

TEST(UnwrapErrorMessage, ArraysOfErrors) {
  EXPECT_EQ(unwrap(R"([{"error":{"message":"first"}},{"message":"second"}])"), "first");
}

TEST(UnwrapErrorMessage, GarbageFallsBackToCompactDump) {
  EXPECT_EQ(unwrap("42"), "42");
  EXPECT_EQ(unwrap("null"), "null");
  EXPECT_EQ(unwrap("true"), "true");
  EXPECT_EQ(unwrap(R"({"code": 500, "status": "INTERNAL"})"), R"({"code":500,"status":"INTERNAL"})");
  EXPECT_EQ(unwrap(R"({"message": 7})"), R"({"message":7})");
  EXPECT_EQ(unwrap(R"([])"), "[]");
  EXPECT_EQ(unwrap_error_message(json("")), "");
}

TEST(UnwrapErrorMessage, InvalidUtf8NeverThrows) {
  const json payload = std::string("bad \xff byte");
  std::string got;
  EXPECT_NO_THROW(got = unwrap_error_message(payload));
  EXPECT_EQ(got, "bad \xef\xbf\xbd byte");
  const json object = {{"code", std::string("\xc3")}};
  EXPECT_NO_THROW(got = unwrap_error_message(object));
}

TEST(UnwrapErrorMessage, DeeplyNestedGarbageStringIsCheap) {
  std::string s(100000, '[');
  EXPECT_EQ(unwrap_error_message(json(s)), s);
}

}  // namespace
}  // namespace drover::parsers
