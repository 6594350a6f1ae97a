#include <gtest/gtest.h>

#include "parsers/json_path.h"
#include "parsers/output_parser.h"

namespace drover::parsers {
namespace {

using nlohmann::json;

const json kDoc = json::parse(R"({
  "a": {"b": [{"c": 1}, {"c": 2}, {"c": 3}]},
  "items": ["x", "y", "z"],
  "x.y": "dotted",
  "a.b": {"q\"uote": "escaped"},
  "n": null,
  "s": "str"
})");

TEST(SelectPath, EmptyPathIsTheDocument) { EXPECT_EQ(select_path(kDoc, ""), &kDoc); }

TEST(SelectPath, DottedKeysAndIndices) {
  const json* v = select_path(kDoc, "a.b[1].c");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(*v, 2);
  ASSERT_NE(select_path(kDoc, "items[0]"), nullptr);
  EXPECT_EQ(*select_path(kDoc, "items[0]"), "x");
}

TEST(SelectPath, NegativeIndexCountsFromTheEnd) {
  ASSERT_NE(select_path(kDoc, "items[-1]"), nullptr);
  EXPECT_EQ(*select_path(kDoc, "items[-1]"), "z");
  EXPECT_EQ(*select_path(kDoc, "a.b[-3].c"), 1);
  EXPECT_EQ(select_path(kDoc, "items[-4]"), nullptr);
}

TEST(SelectPath, QuotedKeysMayContainDots) {
  ASSERT_NE(select_path(kDoc, R"(["x.y"])"), nullptr);
  EXPECT_EQ(*select_path(kDoc, R"(["x.y"])"), "dotted");
  EXPECT_EQ(*select_path(kDoc, R"(['x.y'])"), "dotted");
  ASSERT_NE(select_path(kDoc, R"(["a.b"]["q\"uote"])"), nullptr);
  EXPECT_EQ(*select_path(kDoc, R"(["a.b"]["q\"uote"])"), "escaped");
}

TEST(SelectPath, LeadingIndexOnAnArrayDocument) {
  const json doc = json::parse(R"([{"text": "first"}, {"text": "last"}])");
  ASSERT_NE(select_path(doc, "[-1].text"), nullptr);
  EXPECT_EQ(*select_path(doc, "[-1].text"), "last");
  EXPECT_EQ(*select_path(doc, "0.text"), "first");  // a digit key indexes an array
}

TEST(SelectPath, NullIsAValueNotAMiss) {
  const json* v = select_path(kDoc, "n");
  ASSERT_NE(v, nullptr);
  EXPECT_TRUE(v->is_null());
}

TEST(SelectPath, MissingStepsAndWrongTypesGiveNull) {
  EXPECT_EQ(select_path(kDoc, "nope"), nullptr);
  EXPECT_EQ(select_path(kDoc, "a.nope.c"), nullptr);
  EXPECT_EQ(select_path(kDoc, "items[3]"), nullptr);
  EXPECT_EQ(select_path(kDoc, "s.length"), nullptr);
  EXPECT_EQ(select_path(kDoc, "s[0]"), nullptr);
  EXPECT_EQ(select_path(kDoc, "a[0]"), nullptr);
  EXPECT_EQ(select_path(kDoc, "n.x"), nullptr);
  EXPECT_EQ(select_path(kDoc, "items.-1"), nullptr);
}

TEST(SelectPath, MalformedPathsGiveNull) {
  for (const char* bad : {".a", "a.", "a..b", "a[", "a[x]", "a[1", "a[]", R"(a["x)", R"(a["x")",
                          "a[0]b", "a.[0]", "a[99999999999999999999]"})
    EXPECT_EQ(select_path(kDoc, bad), nullptr) << bad;
}

const json kModels = json::parse(R"({
  "stats": {"models": {
    "gemini-2.5-pro": {"tokens": {"prompt": 10, "candidates": 2}},
    "gemini-2.5-flash": {"tokens": {"prompt": 5, "candidates": 1}}
  }},
  "list": [{"v": 1}, {"v": 2}, {"w": 3}],
  "*": "star key"
})");

std::vector<json> values(const std::optional<JsonPath>& path, const json& doc) {
  std::vector<json> out;
  for (const json* v : path->eval_all(doc)) out.push_back(*v);
  return out;
}

TEST(JsonPathWildcard, AnyMemberOfAnObject) {
  auto path = JsonPath::compile("stats.models.*.tokens.prompt");
  ASSERT_TRUE(path);
  EXPECT_TRUE(path->fans_out());
  // Object members come in key order.
  EXPECT_EQ(values(path, kModels), (std::vector<json>{5, 10}));
  ASSERT_NE(path->eval(kModels), nullptr);
  EXPECT_EQ(*path->eval(kModels), 5);  // the first match
}

TEST(JsonPathWildcard, AnyElementOfAnArray) {
  for (const char* p : {"list[*].v", "list.*.v"}) {
    auto path = JsonPath::compile(p);
    ASSERT_TRUE(path) << p;
    EXPECT_EQ(values(path, kModels), (std::vector<json>{1, 2})) << p;  // {"w":3} has no v
  }
  auto all = JsonPath::compile("*");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->eval_all(kModels).size(), 3u);
  auto nested = JsonPath::compile("stats.*.*");
  ASSERT_TRUE(nested);
  EXPECT_EQ(nested->eval_all(kModels).size(), 2u);
}

TEST(JsonPathWildcard, NothingToFanOutIsNoMatch) {
  for (const char* p : {"list[0].v.*", "nope.*", "*.nope", "stats.models.*.tokens.nope"}) {
    auto path = JsonPath::compile(p);
    ASSERT_TRUE(path) << p;
    EXPECT_TRUE(path->eval_all(kModels).empty()) << p;
    EXPECT_EQ(path->eval(kModels), nullptr) << p;
  }
}

TEST(JsonPathWildcard, QuotedStarIsAPlainKey) {
  auto path = JsonPath::compile(R"(["*"])");
  ASSERT_TRUE(path);
  EXPECT_FALSE(path->fans_out());
  ASSERT_NE(path->eval(kModels), nullptr);
  EXPECT_EQ(*path->eval(kModels), "star key");
}

TEST(JsonPathWildcard, MatchesAreBounded) {
  json doc = json::array();
  for (std::size_t i = 0; i < kMaxPathMatches + 10; ++i) doc.push_back(json{{"v", i}});
  auto path = JsonPath::compile("[*].v");
  ASSERT_TRUE(path);
  EXPECT_EQ(path->eval_all(doc).size(), kMaxPathMatches);
}

TEST(JsonPathModel, SelectsTheRunsModelAsOneKey) {
  ParserContext context;
  context.model = "gemini-2.5-pro";  // dots: still one key
  auto path = JsonPath::compile("stats.models.{model}.tokens.prompt", context);
  ASSERT_TRUE(path);
  ASSERT_NE(path->eval(kModels), nullptr);
  EXPECT_EQ(*path->eval(kModels), 10);
  EXPECT_EQ(values(path, kModels), (std::vector<json>{10}));
  context.model = "other";
  EXPECT_EQ(JsonPath::compile("stats.models.{model}", context)->eval(kModels), nullptr);
}

TEST(JsonPathModel, WithoutAModelItMatchesNothing) {
  for (const ParserContext& context : {ParserContext{}, ParserContext{std::string()}}) {
    auto path = JsonPath::compile("stats.models.{model}", context);
    ASSERT_TRUE(path);
    EXPECT_EQ(path->eval(kModels), nullptr);
    EXPECT_TRUE(path->eval_all(kModels).empty());
  }
  // Even where a key is literally "{model}": the quoted form reaches that one.
  const json doc = json::parse(R"({"{model}": 1})");
  EXPECT_EQ(JsonPath::compile("{model}")->eval(doc), nullptr);
  ASSERT_NE(JsonPath::compile(R"(["{model}"])")->eval(doc), nullptr);
}

TEST(JsonPathModel, StartsAPathOrFollowsAWildcard) {
  ParserContext context;
  context.model = "m";
  const json doc = json::parse(R"({"m": {"x": 1}, "a": {"m": 2}, "b": {"m": 3}})");
  auto first = JsonPath::compile("{model}.x", context);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first->eval(doc), 1);
  auto both = JsonPath::compile("*.{model}", context);
  ASSERT_TRUE(both);
  EXPECT_EQ(values(both, doc), (std::vector<json>{2, 3}));
}

TEST(JsonPathSyntax, GlobsAndOtherPlaceholdersAreMalformed) {
  for (const char* bad : {"a*", "*a", "a.b*c", "{foo}", "a.{model}x", "a.x{model}", "a.}", "a.{",
                          "[**]", "a[*x]"})
    EXPECT_FALSE(JsonPath::compile(bad).has_value()) << bad;
  for (const char* good : {"*", "[*]", "a.*", "a[*]", "*.b", "{model}", "a.{model}.b",
                           R"(a["x*"])", R"(a["{x}"])"})
    EXPECT_TRUE(JsonPath::compile(good).has_value()) << good;
}

}  // namespace
}  // namespace drover::parsers
