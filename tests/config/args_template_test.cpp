// argv template parsing, validation and expansion (src/config/args_template.cpp).
#include "src/config/args_template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace drover {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Groups = std::vector<std::vector<std::string>>;

TemplateValues with_prompt(std::string prompt) {
  TemplateValues v;
  v.prompt = std::move(prompt);
  return v;
}

TEST(ArgsTemplate, PlainTokensAndPlaceholders) {
  TemplateValues v = with_prompt("hello world");
  v.model = "m1";
  EXPECT_THAT(expand_args(Groups{{"-p"}, {"{prompt}"}, {"--model", "{model}"}, {"--json"}}, v),
              ElementsAre("-p", "hello world", "--model", "m1", "--json"));
}

TEST(ArgsTemplate, PlaceholdersInsideLargerTokens) {
  TemplateValues v = with_prompt("p");
  v.model = "m1";
  v.session_id = "s-9";
  EXPECT_THAT(expand_args(Groups{{"--model={model}"}, {"--resume=<{session_id}>/{model}"}}, v),
              ElementsAre("--model=m1", "--resume=<s-9>/m1"));
}

TEST(ArgsTemplate, ValuesAreInsertedVerbatimNeverReExpanded) {
  TemplateValues v = with_prompt("say {model} and {{x}} and $(rm -rf /) 'q' \"d\"");
  v.model = "{prompt}";
  v.system = "{files}";
  EXPECT_THAT(expand_args(Groups{{"{prompt}"}, {"-m", "{model}"}, {"--sys={system}"}}, v),
              ElementsAre("say {model} and {{x}} and $(rm -rf /) 'q' \"d\"", "-m", "{prompt}",
                          "--sys={files}"));
}

TEST(ArgsTemplate, GroupsWithAbsentValuesAreDroppedWhole) {
  const Groups groups{{"run"},
                      {"--model", "{model}"},
                      {"--append-system-prompt", "{system}"},
                      {"--resume", "{session_id}"},
                      {"-o", "{output_file}"},
                      {"--attach", "{files}"},
                      {"{prompt}"}};
  EXPECT_THAT(expand_args(groups, with_prompt("hi")), ElementsAre("run", "hi"));

  TemplateValues all = with_prompt("hi");
  all.model = "m";
  all.system = "sys";
  all.session_id = "s";
  all.output_file = "/tmp/out";
  all.files = {{"/s/a.txt", "a.txt"}};
  EXPECT_THAT(expand_args(groups, all),
              ElementsAre("run", "--model", "m", "--append-system-prompt", "sys", "--resume", "s",
                          "-o", "/tmp/out", "--attach", "/s/a.txt", "hi"));
}

TEST(ArgsTemplate, OneAbsentValueDropsTheGroupEvenIfOthersArePresent) {
  TemplateValues v = with_prompt("hi");
  v.model = "m";
  EXPECT_THAT(expand_args(Groups{{"--model", "{model}", "--system", "{system}"}}, v), IsEmpty());
}

TEST(ArgsTemplate, EmptyStringIsAPresentValue) {
  TemplateValues v = with_prompt("");
  v.system = "";
  EXPECT_THAT(expand_args(Groups{{"--system", "{system}"}, {"{prompt}"}}, v),
              ElementsAre("--system", "", ""));
}

TEST(ArgsTemplate, ExactFilesTokenFansOutOnePerFile) {
  TemplateValues v = with_prompt("p");
  v.files = {{"/s/a.txt", "a.txt"}, {"/s/dir/b c.png", "b_c.png"}, {"/s/{model}", "{name}"}};
  EXPECT_THAT(expand_args(Groups{{"--files", "{files}"}, {"{prompt}"}}, v),
              ElementsAre("--files", "/s/a.txt", "/s/dir/b c.png", "/s/{model}", "p"));
}

TEST(ArgsTemplate, FilesInsideALargerTokenJoinThePathsWithCommas) {
  TemplateValues v = with_prompt("p");
  v.files = {{"/a", "a"}, {"/b", "b"}, {"/c", "c"}};
  v.per_file_args = {"--file", "{path}"};  // for the whole-token form only
  EXPECT_THAT(expand_args(Groups{{"--files={files}"}}, v), ElementsAre("--files=/a,/b,/c"));
}

TEST(ArgsTemplate, FilesBecomesThePerFileArgumentsOfEachFile) {
  TemplateValues v = with_prompt("p");
  v.files = {{"/s/attachments/a.png", "a.png"}, {"/s/attachments/{path}", "{path}"}};
  v.per_file_args = {"--image", "{path}", "--label={name}:{{x}}"};
  EXPECT_THAT(expand_args(Groups{{"run"}, {"{files}"}, {"{prompt}"}}, v),
              ElementsAre("run", "--image", "/s/attachments/a.png", "--label=a.png:{x}", "--image",
                          "/s/attachments/{path}", "--label={path}:{x}", "p"))
      << "a file's values are inserted verbatim, never expanded again";
}

TEST(ArgsTemplate, AttachmentsDirGroupIsDroppedWithoutAttachments) {
  const Groups groups{{"--add-dir", "{attachments_dir}"}, {"{prompt}"}};
  EXPECT_THAT(expand_args(groups, with_prompt("p")), ElementsAre("p"));
  TemplateValues v = with_prompt("p");
  v.attachments_dir = "/tmp/drover-att-1-abc/attachments";
  EXPECT_THAT(expand_args(groups, v),
              ElementsAre("--add-dir", "/tmp/drover-att-1-abc/attachments", "p"));
}

TEST(ArgsTemplate, FileTokensKnowOnlyPathAndName) {
  EXPECT_FALSE(parse_file_token("--f={path}/{name}").second) << "path and name are known";
  EXPECT_EQ(parse_file_token("{prompt}").second, "unknown placeholder {prompt} (known: path, name)");
  EXPECT_EQ(parse_template_token("{path}").second.value_or("").rfind("unknown placeholder {path}", 0),
            0u)
      << "an argsTemplate has no single file to name";
  EXPECT_EQ(expand_file_token("@{path} ({name})", TemplateFile{"/d/a b.txt", "a_b.txt"}),
            "@/d/a b.txt (a_b.txt)");
}

TEST(ArgsTemplate, DoubledBracesAreLiteral) {
  TemplateValues v = with_prompt("P");
  EXPECT_THAT(expand_args(Groups{{"{{prompt}}"}, {"{{{prompt}}}"}, {"a}}b{{c"}}, v),
              ElementsAre("{prompt}", "{P}", "a}b{c"));
}

TEST(ArgsTemplate, ParseTokenPieces) {
  auto [token, problem] = parse_template_token("--x={model}/{{y}}{files}");
  ASSERT_FALSE(problem.has_value()) << *problem;
  ASSERT_TRUE(token.has_value());
  ASSERT_EQ(token->pieces.size(), 4u);
  EXPECT_FALSE(token->pieces[0].is_placeholder);
  EXPECT_EQ(token->pieces[0].literal, "--x=");
  EXPECT_TRUE(token->pieces[1].is_placeholder);
  EXPECT_EQ(token->pieces[1].placeholder, Placeholder::model);
  EXPECT_EQ(token->pieces[2].literal, "/{y}");
  EXPECT_EQ(token->pieces[3].placeholder, Placeholder::files);
  EXPECT_TRUE(token->uses(Placeholder::model));
  EXPECT_FALSE(token->uses(Placeholder::prompt));
  EXPECT_FALSE(token->is_exactly(Placeholder::files));
  EXPECT_TRUE(parse_template_token("{files}").first->is_exactly(Placeholder::files));
}

TEST(ArgsTemplate, ParseTokenErrors) {
  EXPECT_EQ(parse_template_token("{foo}").second,
            "unknown placeholder {foo} (known: prompt, model, system, system_file, output_file, "
            "session_id, "
            "files, attachments_dir)");
  EXPECT_EQ(parse_template_token("{}").second,
            "unknown placeholder {} (known: prompt, model, system, system_file, output_file, "
            "session_id, "
            "files, attachments_dir)");
  EXPECT_EQ(parse_template_token("ab{model").second,
            "unbalanced '{' at offset 2 (write {{ for a literal brace)");
  EXPECT_EQ(parse_template_token("{a{model}").second,
            "unbalanced '{' at offset 0 (write {{ for a literal brace)");
  EXPECT_EQ(parse_template_token("x}").second,
            "unbalanced '}' at offset 1 (write }} for a literal brace)");
  EXPECT_EQ(parse_template_token("{Prompt}").second.value_or("").rfind("unknown placeholder", 0),
            0u);
}

TEST(ArgsTemplate, ValidateReportsEveryBadTokenWithItsPath) {
  EXPECT_FALSE(validate_args_template(Groups{{"{prompt}"}, {"--m", "{model}"}}, "t").has_value());
  auto error = validate_args_template(Groups{{"{prompt}"}, {"{bad}"}, {"--m", "{model"}}, "cli.t");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, ErrorCode::config_error);
  EXPECT_EQ(error->message,
            "cli.t[1]: unknown placeholder {bad} (known: prompt, model, system, system_file, "
            "output_file, session_id, files, attachments_dir)\n"
            "cli.t[2][1]: unbalanced '{' at offset 0 (write {{ for a literal brace)");
}

TEST(ArgsTemplate, TemplateUses) {
  const Groups groups{{"{prompt}"}, {"-o", "--out={output_file}"}, {"{bogus}"}};
  EXPECT_TRUE(template_uses(groups, "output_file"));
  EXPECT_TRUE(template_uses(groups, "prompt"));
  EXPECT_FALSE(template_uses(groups, "model"));
  EXPECT_FALSE(template_uses(groups, "bogus"));
  EXPECT_FALSE(template_uses(Groups{{"{{output_file}}"}}, "output_file"));
}

TEST(ArgsTemplate, ParsedTemplateMatchesStringForm) {
  const Groups groups{{"-p", "{prompt}"}, {"--model={model}"}};
  auto parsed = parse_args_template(groups);
  ASSERT_TRUE(parsed.has_value());
  TemplateValues v = with_prompt("x");
  v.model = "m";
  EXPECT_EQ(expand_args(*parsed, v), expand_args(groups, v));
  EXPECT_THAT(expand_args(*parsed, v), ElementsAre("-p", "x", "--model=m"));
  EXPECT_FALSE(parse_args_template(Groups{{"{nope}"}}).has_value());
}

TEST(ArgsTemplate, InvalidTokensPassThroughLiterallyWhenExpandingStrings) {
  EXPECT_THAT(expand_args(Groups{{"{nope}"}, {"{prompt}"}}, with_prompt("p")),
              ElementsAre("{nope}", "p"));
}

TEST(ArgsTemplate, PolicyConditionsFollowTheRunsPermissionPolicy) {
  RunFacts facts;
  facts.policy = PermissionPolicy::deny_all;
  EXPECT_TRUE(condition_holds("deny-all", facts));
  EXPECT_FALSE(condition_holds("approve-reads", facts));
  EXPECT_FALSE(condition_holds("approve-all", facts));
  EXPECT_TRUE(condition_holds("!approve-all", facts));
  facts.policy = PermissionPolicy::approve_all;
  EXPECT_THAT(active_groups(Groups{{"a"}, {"--safe"}, {"--yolo"}}, {{}, {"!approve-all"}, {"approve-all"}}, facts),
              ElementsAre(ElementsAre("a"), ElementsAre("--yolo")));
}

}  // namespace
}  // namespace drover
