// A batch's documents: what a document's prompt says, its key in the output, its shard.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "drover/batch.h"

namespace drover {

/// Whether `prompt_template` uses `{document.text}` (inline delivery needs the document's text).
bool template_uses_text(std::string_view prompt_template);

/// The prompt of one document: `{document.name}` (the file's last path component, or the id),
/// `{document.path}` (the path as given; empty for a manifest text), `{document.text}` (`text`,
/// which the caller read and checked is UTF-8 text) and `{vars.KEY}` replaced in one pass
/// (replacements are never expanded again); any other brace text stays as written. Error
/// (validation_error, naming the placeholder and the document): `{vars.KEY}` the document has no
/// such var, `{document.text}` without a text.
std::optional<std::string> render_batch_prompt(std::string_view prompt_template,
                                               const BatchDocument& document,
                                               const std::optional<std::string>& text,
                                               std::optional<Error>& error);

/// The output key of a document: SHA-256 (hex) over the template, the document's content (its
/// bytes for a file, its text for a manifest line), its vars, the route, the model and the schema
/// text, each length-prefixed so that no two inputs collide by concatenation.
std::string batch_document_key(std::string_view prompt_template, std::string_view content,
                               const nlohmann::json& vars, std::string_view route,
                               std::string_view model, std::string_view schema_text);

/// The shard (0..count-1) a document id belongs to: a stable hash of the id (SHA-256's first
/// 8 bytes), the same on every machine and run.
int64_t batch_shard_of(std::string_view id, int64_t count);

/// "I/N" (0 <= I < N) to a shard; nullopt with `error` (validation_error naming the value).
std::optional<BatchShard> parse_batch_shard(std::string_view text, std::optional<Error>& error);

/// Reads a document's content for its key and delivery, bounded by `max_bytes` (error
/// validation_error naming the document when it is bigger, unreadable, not a regular file).
std::optional<std::string> read_batch_document(const BatchDocument& document, uint64_t max_bytes,
                                               std::optional<Error>& error);

}  // namespace drover
