#include <gtest/gtest.h>

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

}  // namespace
}  // namespace drover::parsers
