// Config sections: where attachments are staged (top-level `staging`) and which attachments a
// route takes and how (`transport.<kind>.fileInput`).
#include "src/config/args_template.h"
#include "src/config/sections.h"

namespace drover::cfg {

namespace {

// A staging directory: absolute, as the runs of every working directory share it. `~` is not
// expanded (nothing else in a config file is), so "~/x" is refused rather than read as a
// relative directory named "~".
std::optional<std::string> staging_dir_member(Ctx& ctx, const ojson& v, const std::string& path,
                                              const char* key) {
  auto dir = ctx.string_member(v, path, key, false, true);
  if (!dir) return std::nullopt;
  if (dir->find('\0') != std::string::npos) {
    ctx.error(child(path, key), "contains a NUL byte (\\u0000), which no path can hold");
    return std::nullopt;
  }
  if (dir->front() != '/') {
    ctx.error(child(path, key), "expected an absolute directory (starting with '/'" +
                                    std::string(dir->front() == '~' ? "; ~ is not expanded" : "") +
                                    "), got " + quote(*dir));
    return std::nullopt;
  }
  return fs::path(*dir).lexically_normal().string();
}

std::optional<uint64_t> bytes_member(Ctx& ctx, const ojson& v, const std::string& path,
                                     const char* key) {
  if (auto n = ctx.positive_int_member(v, path, key)) return static_cast<uint64_t>(*n);
  return std::nullopt;
}

// A text of {path} and {name} (a perFileArgs token or the mentionTemplate): the template's
// problem, if any, reported at `path`.
bool valid_file_text(Ctx& ctx, const std::string& text, const std::string& path) {
  if (text.find('\0') != std::string::npos) {
    ctx.error(path, kNulInArgv);
    return false;
  }
  auto [token, problem] = parse_file_token(text);
  if (!token) ctx.error(path, *problem);
  return token.has_value();
}

}  // namespace

void parse_staging(Ctx& ctx, const ojson& v, const std::string& path, StagingSpec& staging) {
  if (!ctx.object(v, path)) return;
  staging.configured = true;
  ctx.check_keys(v, path, {"dir", "maxFileBytes", "maxTotalBytes", "keep"});
  if (auto dir = staging_dir_member(ctx, v, path, "dir")) staging.dir = *dir;
  if (auto n = bytes_member(ctx, v, path, "maxFileBytes")) staging.max_file_bytes = *n;
  if (auto n = bytes_member(ctx, v, path, "maxTotalBytes")) staging.max_total_bytes = *n;
  if (auto b = ctx.bool_member(v, path, "keep")) staging.keep = *b;
}

void parse_file_input(Ctx& ctx, const ojson& v, const std::string& path, TransportKind kind,
                      FileInputSpec& in) {
  if (!ctx.object(v, path)) return;
  ctx.check_keys(v, path,
                 {"placement", "perFileArgs", "mentionTemplate", "separator", "categories",
                  "stagingDir", "maxFileBytes", "maxTotalBytes", "keep"});
  if (kind != TransportKind::cli) {
    // How a file reaches the harness is print mode's business: ACP and API carry it themselves.
    for (const char* key : {"placement", "perFileArgs", "mentionTemplate", "separator"})
      if (v.contains(key))
        ctx.error(child(path, key),
                  "only valid for print-mode routes (transport.cli.fileInput): a " +
                      std::string(to_string(kind)) +
                      " route delivers attachments in its own messages");
  } else {
    if (auto p = ctx.string_member(v, path, "placement", false, false)) {
      if (*p == "args")
        in.placement = FileInputSpec::Placement::args;
      else if (*p == "prompt")
        in.placement = FileInputSpec::Placement::prompt;
      else
        ctx.expected(child(path, "placement"), "one of args, prompt", v.at("placement"));
    }
    if (auto it = v.find("perFileArgs"); it != v.end()) {
      const std::string apath = child(path, "perFileArgs");
      if (!it->is_array() || it->empty()) {
        ctx.expected(apath, "a non-empty array of strings ({path} and {name} allowed)", *it);
      } else {
        std::vector<std::string> tokens;
        bool valid = true;
        for (size_t i = 0; i < it->size(); ++i) {
          const ojson& token = (*it)[i];
          if (!token.is_string() || token.get<std::string>().empty()) {
            ctx.expected(child(apath, i), "a non-empty string", token);
            valid = false;
          } else if (valid_file_text(ctx, token.get<std::string>(), child(apath, i))) {
            tokens.push_back(token.get<std::string>());
          } else {
            valid = false;
          }
        }
        if (valid) in.per_file_args = std::move(tokens);
      }
    }
    if (auto m = ctx.string_member(v, path, "mentionTemplate", false, true)) {
      const std::string mpath = child(path, "mentionTemplate");
      if (valid_file_text(ctx, *m, mpath)) {
        auto token = parse_file_token(*m).first;
        if (!token->uses(Placeholder::path) && !token->uses(Placeholder::name))
          ctx.error(mpath, "must contain {path} or {name} (the mention names the file), got " +
                               quote(*m));
        else
          in.mention_template = *m;
      }
    }
    if (auto s = ctx.string_member(v, path, "separator", false, false)) {
      if (s->find('\0') != std::string::npos)
        ctx.error(child(path, "separator"), kNulInArgv);
      else
        in.separator = *s;
    }
  }
  if (auto it = v.find("categories"); it != v.end()) {
    const std::string cpath = child(path, "categories");
    if (!it->is_array() || it->empty()) {
      // An empty list would read as "every category": leaving the key out says that.
      ctx.expected(cpath,
                   "a non-empty array of categories (image, document, text, other; leave the "
                   "key out to accept every category)",
                   *it);
    } else {
      for (size_t i = 0; i < it->size(); ++i) {
        const ojson& c = (*it)[i];
        auto category =
            c.is_string() ? attachment_category_from_string(c.get<std::string>()) : std::nullopt;
        if (!category)
          ctx.expected(child(cpath, i), "one of image, document, text, other", c);
        else if (std::find(in.categories.begin(), in.categories.end(), *category) ==
                 in.categories.end())
          in.categories.push_back(*category);
      }
    }
  }
  in.staging_dir = staging_dir_member(ctx, v, path, "stagingDir");
  in.max_file_bytes = bytes_member(ctx, v, path, "maxFileBytes");
  in.max_total_bytes = bytes_member(ctx, v, path, "maxTotalBytes");
  in.keep = ctx.bool_member(v, path, "keep");
}

}  // namespace drover::cfg

namespace drover {

const FileInputSpec* file_input_of(const TransportSpec& transport) noexcept {
  const std::optional<FileInputSpec>* input =
      transport.if_cli()   ? &transport.if_cli()->file_input
      : transport.if_acp() ? &transport.if_acp()->file_input
      : transport.if_api() ? &transport.if_api()->file_input
                           : nullptr;
  return input && *input ? &**input : nullptr;
}

std::vector<AttachmentCategory> accepted_attachment_categories(const TransportSpec& transport) {
  const std::vector<AttachmentCategory> all{AttachmentCategory::image, AttachmentCategory::document,
                                            AttachmentCategory::text, AttachmentCategory::other};
  const CliSpec* cli = transport.if_cli();
  const FileInputSpec* file_input = file_input_of(transport);
  if (file_input && !file_input->categories.empty()) return file_input->categories;
  if (cli) {
    const bool files = template_uses(cli->args_template, "files") ||
                       (cli->streaming && template_uses(cli->streaming->args_template, "files"));
    return file_input || files ? all : std::vector<AttachmentCategory>{};
  }
  if (transport.if_acp()) return all;
  return {AttachmentCategory::image, AttachmentCategory::document, AttachmentCategory::text};
}

}  // namespace drover
