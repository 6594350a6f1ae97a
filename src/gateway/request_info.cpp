#include "src/gateway/request_info.h"

#include "parsers/json_limits.h"
#include "src/core/base64.h"
#include "src/core/text.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <initializer_list>
#include <regex>
#include <vector>

namespace drover::gateway {
namespace {

using nlohmann::json;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

/// "/chat/completions" matches "/v1/chat/completions", "/chat/completions" and
/// "/openai/deployments/x/chat/completions", never "/xchat/completions".
bool path_ends_with_segments(std::string_view path, std::string_view segments) {
  return path == segments || ends_with(path, segments);
}

using text::lower;
using text::trim;

/// Removes duplicate and trailing slashes: "//v1/models/" → "/v1/models".
std::string normalize_path(std::string_view path) {
  std::string out;
  out.reserve(path.size() + 1);
  if (path.empty() || path.front() != '/') out.push_back('/');
  for (char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(c);
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

bool is_true(const json& j) {
  if (j.is_boolean()) return j.get<bool>();
  if (j.is_string()) return lower(j.get<std::string>()) == "true";
  if (j.is_number_integer()) return j.get<int64_t>() != 0;
  return false;
}

// ---- text of content in every shape the four APIs use ---------------------------------------

/// Text of one content part: a string, or {type: text|input_text|output_text, text}. Other parts
/// (images, tool results, thinking) carry no user text.
std::string part_text(const json& part) {
  if (part.is_string()) return part.get<std::string>();
  if (!part.is_object()) return {};
  auto text = part.find("text");
  if (text == part.end() || !text->is_string()) return {};
  auto type = part.find("type");
  if (type != part.end() && type->is_string()) {
    const auto& t = type->get_ref<const std::string&>();
    if (t != "text" && t != "input_text" && t != "output_text") return {};
  }
  auto thought = part.find("thought");  // Gemini thinking parts
  if (thought != part.end() && is_true(*thought)) return {};
  return text->get<std::string>();
}

/// Joins the text parts of `content` (a string, one part, or an array of parts) with newlines.
std::string content_text(const json& content) {
  if (content.is_string()) return content.get<std::string>();
  if (content.is_object()) return part_text(content);
  if (!content.is_array()) return {};
  std::string out;
  for (const auto& part : content) {
    std::string t = part_text(part);
    if (t.empty()) continue;
    if (!out.empty()) out.push_back('\n');
    out += t;
  }
  return out;
}

/// Keys whose string values are identifiers or encodings, not text a model would read as words.
bool is_identifier_key(std::string_view key) {
  static constexpr std::array<std::string_view, 24> kKeys{
      "type", "role", "id", "call_id", "tool_use_id", "tool_call_id", "name", "status",
      "signature", "cache_control", "mime_type", "mimeType", "data", "image_url", "url",
      "detail", "encrypted_content", "file_id", "media_type", "fileUri", "file_uri", "format",
      "file_data", "file_url"};
  return std::find(kKeys.begin(), kKeys.end(), key) != kKeys.end();
}

int64_t words_in(const json& j, std::string_view key = {}) {
  if (j.is_string()) return is_identifier_key(key) ? 0 : count_words(j.get_ref<const std::string&>());
  int64_t n = 0;
  if (j.is_array()) {
    for (const auto& v : j) n += words_in(v, key);
  } else if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) n += words_in(it.value(), it.key());
  }
  return n;
}

std::string filtered(const std::string& text) { return strip_markup(text); }

// ---- attachments: what each part is and how big, never its bytes ----------------------------

constexpr size_t kRecordedNameChars = 200;

const std::string* string_member(const json& obj, std::initializer_list<const char*> keys) {
  if (!obj.is_object()) return nullptr;
  for (const char* key : keys) {
    auto it = obj.find(key);
    if (it != obj.end() && it->is_string()) return &it->get_ref<const std::string&>();
  }
  return nullptr;
}

bool is_data_url(std::string_view s) { return s.size() >= 5 && lower(s.substr(0, 5)) == "data:"; }

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/// The decoded size of base64 `data`, or invalid (the decoded copy is dropped at once).
void read_base64(std::string_view data, AttachmentInfo& a) {
  if (auto bytes = base64_decode(data)) {
    a.bytes = bytes->size();
  } else {
    a.invalid = true;
  }
}

/// `data:[<mediatype>][;param…][;base64],<data>`: the media type and the decoded size.
void read_data_url(std::string_view url, AttachmentInfo& a) {
  const size_t comma = url.find(',');
  const std::string_view meta = url.substr(5, comma == std::string_view::npos ? comma : comma - 5);
  bool base64 = false;
  std::string mime;
  for (size_t start = 0, n = 0;; ++n) {
    const size_t end = meta.find(';', start);
    std::string piece = lower(trim(meta.substr(start, end == std::string_view::npos ? end : end - start)));
    if (n == 0) {
      mime = std::move(piece);
    } else if (piece == "base64") {
      base64 = true;
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (a.mime.empty() && mime.find('/') != std::string::npos) a.mime = mime;
  if (comma == std::string_view::npos) {
    a.invalid = true;
    return;
  }
  const std::string_view payload = url.substr(comma + 1);
  if (base64) {
    read_base64(payload, a);
    return;
  }
  uint64_t escapes = 0;
  for (size_t i = 0; i < payload.size(); ++i) {
    if (payload[i] != '%') continue;
    if (i + 2 >= payload.size() || !is_hex(payload[i + 1]) || !is_hex(payload[i + 2])) {
      a.invalid = true;
      return;
    }
    ++escapes;
    i += 2;
  }
  a.bytes = payload.size() - 2 * escapes;
}

/// Inline data: a data: URL or bare base64.
void read_inline(std::string_view data, AttachmentInfo& a) {
  if (is_data_url(data)) {
    read_data_url(data, a);
    return;
  }
  read_base64(data, a);
}

/// A reference: inline data when it is a data: URL, else a URL (logged without its query string,
/// where signed URLs carry their tokens).
void read_reference(std::string_view ref, AttachmentInfo& a) {
  if (is_data_url(ref)) {
    read_data_url(ref, a);
    return;
  }
  a.url = std::string(ref.substr(0, std::min(ref.find('?'), ref.find('#'))));
}

void add_attachment(RequestInfo& info, AttachmentInfo a) {
  if (info.attachments.size() >= kMaxRecordedAttachments) {
    ++info.attachments_omitted;
    return;
  }
  a.name = truncate_utf8(a.name, kRecordedNameChars);
  info.attachments.push_back(std::move(a));
}

void set_name(const json& obj, std::initializer_list<const char*> keys, AttachmentInfo& a) {
  if (const std::string* name = string_member(obj, keys)) a.name = *name;
}

void set_file_id(const json& obj, AttachmentInfo& a) {
  if (const std::string* id = string_member(obj, {"file_id"})) a.file_id = *id;
}

/// OpenAI parts: Chat `image_url` / `file`, Responses `input_image` / `input_file`.
void read_openai_part(const json& part, RequestInfo& info) {
  const std::string* type = string_member(part, {"type"});
  if (type == nullptr) return;
  AttachmentInfo a;
  a.part = *type;
  if (*type == "image_url") {
    a.type = "image";
    const json& iu = part.contains("image_url") ? part["image_url"] : json();
    const std::string* url = iu.is_string() ? &iu.get_ref<const std::string&>() : string_member(iu, {"url"});
    if (url != nullptr) read_reference(*url, a);
  } else if (*type == "file") {
    a.type = "document";
    const json& file = part.contains("file") ? part["file"] : json();
    set_name(file, {"filename"}, a);
    set_file_id(file, a);
    if (const std::string* data = string_member(file, {"file_data"})) read_inline(*data, a);
  } else if (*type == "input_image") {
    a.type = "image";
    set_file_id(part, a);
    const json& iu = part.contains("image_url") ? part["image_url"] : json();
    const std::string* url = iu.is_string() ? &iu.get_ref<const std::string&>() : string_member(iu, {"url"});
    if (url != nullptr) read_reference(*url, a);
  } else if (*type == "input_file") {
    a.type = "document";
    set_name(part, {"filename"}, a);
    set_file_id(part, a);
    if (const std::string* data = string_member(part, {"file_data"})) read_inline(*data, a);
    if (const std::string* url = string_member(part, {"file_url"})) read_reference(*url, a);
  } else {
    return;
  }
  add_attachment(info, std::move(a));
}

void read_openai_content(const json& content, RequestInfo& info) {
  if (!content.is_array()) return;
  for (const auto& part : content) read_openai_part(part, info);
}

/// Anthropic `image` / `document` blocks (sources base64, url, text, file), also inside a
/// `tool_result`'s content.
void read_anthropic_content(const json& content, RequestInfo& info, int depth = 0) {
  if (!content.is_array()) return;
  for (const auto& block : content) {
    const std::string* type = string_member(block, {"type"});
    if (type == nullptr) continue;
    if (*type == "tool_result" && depth == 0) {
      if (block.contains("content")) read_anthropic_content(block["content"], info, depth + 1);
      continue;
    }
    if (*type != "image" && *type != "document") continue;
    AttachmentInfo a;
    a.part = *type;
    a.type = *type;
    set_name(block, {"title"}, a);
    const json& source = block.contains("source") ? block["source"] : json();
    if (const std::string* mime = string_member(source, {"media_type"})) a.mime = lower(*mime);
    const std::string* kind = string_member(source, {"type"});
    const std::string* data = string_member(source, {"data"});
    if (kind != nullptr && *kind == "base64") {
      read_inline(data != nullptr ? *data : std::string(), a);
    } else if (kind != nullptr && *kind == "text") {
      if (a.mime.empty()) a.mime = "text/plain";
      a.bytes = data != nullptr ? data->size() : 0;
    } else if (kind != nullptr && *kind == "url") {
      if (const std::string* url = string_member(source, {"url"})) read_reference(*url, a);
    } else if (kind != nullptr && *kind == "file") {
      set_file_id(source, a);
    }
    add_attachment(info, std::move(a));
  }
}

/// Gemini `inlineData` {mimeType, data} and `fileData` {mimeType, fileUri} parts (either case).
void read_gemini_parts(const json& parts, RequestInfo& info) {
  if (!parts.is_array()) return;
  for (const auto& part : parts) {
    if (!part.is_object()) continue;
    for (const char* key : {"inlineData", "inline_data", "fileData", "file_data"}) {
      auto it = part.find(key);
      if (it == part.end() || !it->is_object()) continue;
      const bool inline_data = key[0] == 'i';
      AttachmentInfo a;
      a.part = inline_data ? "inlineData" : "fileData";
      if (const std::string* mime = string_member(*it, {"mimeType", "mime_type"})) a.mime = lower(*mime);
      a.type = a.mime.rfind("image/", 0) == 0 ? "image" : "document";
      set_name(*it, {"displayName", "display_name"}, a);
      if (inline_data) {
        const std::string* data = string_member(*it, {"data"});
        read_inline(data != nullptr ? *data : std::string(), a);
      } else if (const std::string* uri = string_member(*it, {"fileUri", "file_uri"})) {
        read_reference(*uri, a);
      }
      add_attachment(info, std::move(a));
      break;
    }
  }
}

// ---- per-API prompt extraction ---------------------------------------------------------------

// The newest `role: "user"` message (Chat and Anthropic shapes) that still has text once markup
// is dropped.
std::string last_user_text(const json& messages) {
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
    if (!it->is_object() || it->value("role", "") != "user") continue;
    std::string text = filtered(content_text(it->value("content", json())));
    if (!text.empty()) return text;
  }
  return {};
}

void read_chat(const json& body, RequestInfo& info) {
  const json& messages = body.contains("messages") ? body["messages"] : json();
  if (messages.is_array()) {
    info.message_count = messages.size();
    info.last_user_text = last_user_text(messages);
    if (!messages.empty() && messages.back().is_object()) {
      std::string role = messages.back().value("role", "");
      info.tool_result = role == "tool" || role == "function";
    }
    info.input_words = words_in(messages);
    for (const auto& m : messages)
      if (m.is_object() && m.contains("content")) read_openai_content(m["content"], info);
  }
  if (body.contains("stream_options") && body["stream_options"].is_object())
    info.include_usage = is_true(body["stream_options"].value("include_usage", json(false)));
}

bool has_block_of_type(const json& content, std::string_view type) {
  if (!content.is_array()) return false;
  for (const auto& block : content)
    if (block.is_object() && block.value("type", "") == type) return true;
  return false;
}

void read_anthropic(const json& body, RequestInfo& info) {
  const json& messages = body.contains("messages") ? body["messages"] : json();
  if (messages.is_array()) {
    info.message_count = messages.size();
    info.last_user_text = last_user_text(messages);
    if (!messages.empty() && messages.back().is_object()) {
      const json& last = messages.back();
      info.tool_result = last.value("role", "") == "user" &&
                         has_block_of_type(last.value("content", json()), "tool_result");
    }
    info.input_words = words_in(messages);
    for (const auto& m : messages)
      if (m.is_object() && m.contains("content")) read_anthropic_content(m["content"], info);
  }
  if (body.contains("system")) info.input_words += words_in(body["system"]);
}

void read_responses(const json& body, RequestInfo& info) {
  const json& input = body.contains("input") ? body["input"] : json();
  if (input.is_string()) {
    info.message_count = 1;
    info.last_user_text = filtered(input.get<std::string>());
    info.input_words = count_words(input.get_ref<const std::string&>());
  } else if (input.is_array()) {
    info.message_count = input.size();
    for (auto it = input.rbegin(); it != input.rend(); ++it) {
      std::string text;
      if (it->is_string()) {
        text = filtered(it->get<std::string>());
      } else if (it->is_object()) {
        std::string type = it->value("type", "message");
        if (type != "message" || it->value("role", "user") != "user") continue;
        text = filtered(content_text(it->value("content", json())));
      }
      if (!text.empty()) {
        info.last_user_text = std::move(text);
        break;
      }
    }
    if (!input.empty() && input.back().is_object())
      info.tool_result = ends_with(input.back().value("type", ""), "_call_output");
    info.input_words = words_in(input);
    for (const auto& item : input) {
      if (!item.is_object()) continue;
      read_openai_part(item, info);
      for (const char* key : {"content", "output"})
        if (item.contains(key)) read_openai_content(item[key], info);
    }
  }
  if (body.contains("instructions")) info.input_words += words_in(body["instructions"]);
}

void read_gemini(const json& body, RequestInfo& info) {
  json contents = body.contains("contents") ? body["contents"] : json();
  if (contents.is_string()) contents = json::array({{{"role", "user"}, {"parts", {{{"text", contents}}}}}});
  if (contents.is_object()) contents = json::array({contents});
  if (contents.is_array()) {
    info.message_count = contents.size();
    for (auto it = contents.rbegin(); it != contents.rend(); ++it) {
      if (!it->is_object() || it->value("role", "user") != "user") continue;
      std::string text = filtered(content_text(it->value("parts", json())));
      if (!text.empty()) {
        info.last_user_text = std::move(text);
        break;
      }
    }
    if (!contents.empty() && contents.back().is_object()) {
      const json parts = contents.back().value("parts", json());
      if (parts.is_array())
        for (const auto& p : parts)
          if (p.is_object() && p.contains("functionResponse")) info.tool_result = true;
    }
    info.input_words = words_in(contents);
    for (const auto& c : contents)
      if (c.is_object() && c.contains("parts")) read_gemini_parts(c["parts"], info);
  }
  for (const char* key : {"systemInstruction", "system_instruction"})
    if (body.contains(key)) info.input_words += words_in(body[key]);
}

std::string api_key_of(const HttpInput& in) {
  std::string auth = in.header("Authorization");
  if (!auth.empty()) {
    std::string_view v = trim(auth);
    if (v.size() > 7 && lower(v.substr(0, 7)) == "bearer ") return std::string(trim(v.substr(7)));
    return std::string(v);
  }
  for (const char* h : {"x-api-key", "x-goog-api-key", "api-key"}) {
    std::string v = in.header(h);
    if (!v.empty()) return std::string(trim(v));
  }
  auto it = in.params.find("key");
  if (it != in.params.end()) return it->second;
  return {};
}

}  // namespace

std::string_view to_string(Provider provider) noexcept {
  switch (provider) {
    case Provider::openai: return "openai";
    case Provider::anthropic: return "anthropic";
    case Provider::gemini: return "gemini";
  }
  return "openai";
}

std::string_view to_string(Api api) noexcept {
  switch (api) {
    case Api::models_list: return "models";
    case Api::model_get: return "model";
    case Api::chat: return "chat.completions";
    case Api::responses: return "responses";
    case Api::messages: return "messages";
    case Api::count_tokens: return "count_tokens";
    case Api::generate: return "generateContent";
    case Api::stream_generate: return "streamGenerateContent";
    case Api::health: return "health";
    case Api::unknown: return "unknown";
  }
  return "unknown";
}

std::optional<Provider> provider_from_string(std::string_view name) noexcept {
  if (name == "openai") return Provider::openai;
  if (name == "anthropic") return Provider::anthropic;
  if (name == "gemini" || name == "google") return Provider::gemini;
  return std::nullopt;
}

RequestInfo analyze_request(const HttpInput& in) {
  RequestInfo info;
  info.method = in.method;
  info.path = normalize_path(in.path);
  info.api_key = api_key_of(in);
  const std::string& path = info.path;

  if (!trim(in.body).empty()) {
    parsers::JsonLimit limit = parsers::JsonLimit::none;
    info.body = parsers::parse_untrusted(in.body, &limit);
    info.body_too_deep = limit == parsers::JsonLimit::too_deep;
    if (info.body.is_discarded()) {
      info.body = json();
      info.body_is_json = false;
    }
  }

  const bool gemini_hint = path.find("/v1beta") != std::string::npos ||
                           path.find("/v1alpha") != std::string::npos ||
                           !in.header("x-goog-api-key").empty() || in.params.count("key") > 0;
  const bool anthropic_hint = !in.header("x-api-key").empty() ||
                              !in.header("anthropic-version").empty();

  // Gemini: …/models/{model}:{method}
  static const std::regex kGeminiCall(R"((?:^|/)(?:models|tunedModels)/([^/:]+):([A-Za-z]+)$)");
  static const std::regex kModelGet(R"((?:^|/)models/([^/:]+)$)");
  std::smatch m;
  const bool is_get = in.method == "GET" || in.method == "HEAD";

  if (is_get) {
    if (path == "/" || path == "/health" || path == "/healthz") {
      info.api = Api::health;
    } else if (path_ends_with_segments(path, "/models")) {
      info.api = Api::models_list;
      info.provider = gemini_hint ? Provider::gemini
                                  : anthropic_hint ? Provider::anthropic : Provider::openai;
    } else if (std::regex_search(path, m, kModelGet)) {
      info.api = Api::model_get;
      info.model = m[1].str();
      info.provider = gemini_hint ? Provider::gemini
                                  : anthropic_hint ? Provider::anthropic : Provider::openai;
    }
  } else if (in.method == "POST") {
    if (std::regex_search(path, m, kGeminiCall)) {
      info.provider = Provider::gemini;
      info.model = m[1].str();
      std::string method = m[2].str();
      if (method == "generateContent") {
        info.api = Api::generate;
      } else if (method == "streamGenerateContent") {
        info.api = Api::stream_generate;
        info.stream = true;
        auto alt = in.params.find("alt");
        info.sse = alt != in.params.end() && lower(alt->second) == "sse";
      } else if (method == "countTokens") {
        info.api = Api::count_tokens;
      }
    } else if (path_ends_with_segments(path, "/chat/completions")) {
      info.api = Api::chat;
    } else if (path_ends_with_segments(path, "/responses")) {
      info.api = Api::responses;
    } else if (path_ends_with_segments(path, "/messages/count_tokens")) {
      info.api = Api::count_tokens;
      info.provider = Provider::anthropic;
    } else if (path_ends_with_segments(path, "/messages")) {
      info.api = Api::messages;
      info.provider = Provider::anthropic;
    }
  }
  if (info.api == Api::unknown || info.api == Api::health)
    info.provider = gemini_hint ? Provider::gemini
                                : anthropic_hint ? Provider::anthropic : Provider::openai;

  const json& body = info.body;
  if (body.is_object()) {
    if (info.provider != Provider::gemini) {
      if (body.contains("model") && body["model"].is_string())
        info.model = body["model"].get<std::string>();
      if (body.contains("stream")) info.stream = is_true(body["stream"]);
    }
    auto tools = body.find("tools");
    info.has_tools = tools != body.end() && tools->is_array() && !tools->empty();
    if (info.api == Api::chat) {
      read_chat(body, info);
    } else if (info.api == Api::responses) {
      read_responses(body, info);
    } else if (info.api == Api::messages) {
      read_anthropic(body, info);
    } else if (info.api == Api::count_tokens) {
      if (info.provider == Provider::gemini) {
        read_gemini(body.contains("generateContentRequest") ? body["generateContentRequest"] : body,
                    info);
      } else {
        read_anthropic(body, info);
      }
    } else if (info.provider == Provider::gemini) {
      read_gemini(body, info);
    } else if (body.contains("messages")) {
      read_chat(body, info);
    }
  }
  if (info.api == Api::count_tokens) info.stream = false;
  return info;
}

std::string strip_markup(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = nl + 1;
  }

  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view t = trim(lines[i]);
    if (!t.empty() && t.front() == '<') {
      // `<tag …>`: skip through the line that closes it, when one does.
      size_t n = 1;
      while (n < t.size() && (std::isalnum(static_cast<unsigned char>(t[n])) || t[n] == '_' ||
                              t[n] == '-' || t[n] == ':' || t[n] == '.'))
        ++n;
      if (n > 1) {
        std::string closing = "</" + std::string(t.substr(1, n - 1)) + ">";
        if (t.find(closing) == std::string_view::npos) {
          for (size_t j = i + 1; j < lines.size(); ++j) {
            if (lines[j].find(closing) != std::string_view::npos) {
              i = j;
              break;
            }
          }
        }
      }
      continue;
    }
    if (!out.empty() || !t.empty()) {
      if (!out.empty()) out.push_back('\n');
      out += lines[i];
    }
  }
  return std::string(trim(out));
}

int64_t count_words(std::string_view text) {
  int64_t n = 0;
  bool in_word = false;
  for (unsigned char c : text) {
    bool space = std::isspace(c) != 0;
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

std::string truncate_utf8(std::string_view text, size_t max_chars) {
  size_t chars = 0;
  size_t i = 0;
  for (; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (chars == max_chars) break;
      ++chars;
    }
  }
  return std::string(text.substr(0, i));
}

}  // namespace drover::gateway
