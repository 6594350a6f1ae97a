// Attachments staged for one run (README "Attachments"): each source checked (regular file,
// size limits before reading), classified by content then extension, gated against what the
// route accepts, and copied under a sanitized name into a private directory, off the loop
// thread. The directory goes with the StagedAttachments that owns it, unless kept.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drover/attachment.h"
#include "drover/result.h"
#include "staging/temp_dir.h"

namespace drover {

class Loop;

/// Per-run directories are `<dir>/drover-att-<pid>-XXXXXX` (TempDir::remove_stale clears dead
/// ones by this prefix).
inline constexpr std::string_view kAttachmentDirPrefix = "drover-att-";
/// Directories kept on purpose (`keep`) are named `drover-kept-<pid>-XXXXXX`: no sweep removes
/// them.
inline constexpr std::string_view kKeptAttachmentDirPrefix = "drover-kept-";
/// Sanitized names are at most this many bytes, extension included.
inline constexpr std::size_t kMaxAttachmentNameBytes = 120;

struct StagingOptions {
  std::string route_id;   ///< for messages
  std::string workspace;  ///< absolute; relative paths resolve against it
  /// Parent of the per-run directory; empty: $TMPDIR, else /tmp. Ignored when `into` is set.
  std::string dir;
  /// Stage into `<into>/attachments/` (an existing private directory such as a clean-mode run's
  /// fresh cwd) instead of a directory of our own; `attachments-2/`, `-3/`… when that exists
  /// (a long-lived agent's cwd may have one of its own). Only what the job made is removed.
  std::string into;
  uint64_t max_file_bytes = 64ull << 20;
  uint64_t max_total_bytes = 256ull << 20;
  /// Categories the route accepts; empty: all. Checked before anything is copied.
  std::vector<AttachmentCategory> categories;
  /// Categories the route accepts as remote https:// references (passed on, never fetched);
  /// empty: none (a remote attachment is then unsupported_capability).
  std::vector<AttachmentCategory> remote_categories;
  /// Write the copies to disk (print mode, ACP links); false: only load (below).
  bool copy = true;
  /// Also read each attachment's bytes into StagedAttachment::content when it has at most this
  /// many bytes (API blocks, ACP image and resource blocks); 0: never.
  uint64_t load_max_bytes = 0;
  bool keep = false;  ///< the directory outlives the StagedAttachments
};

struct StagedAttachment {
  std::string name;    ///< sanitized basename, unique within the run, extension kept
  std::string source;  ///< as given, for messages and the result (see AttachmentReport::source)
  AttachmentCategory category = AttachmentCategory::other;
  std::string mime;    ///< from libmagic, refined by the extension
  uint64_t bytes = 0;
  std::string path;    ///< absolute path of the staged copy; empty when not copied or remote
  std::optional<std::string> url;      ///< remote reference (https://), not fetched
  std::optional<std::string> content;  ///< the bytes, when loaded (StagingOptions::load_max_bytes)
};

/// The attachments of one run and the directory holding their copies (removed on destruction
/// unless kept). Move-only.
class StagedAttachments {
 public:
  StagedAttachments() = default;
  StagedAttachments(StagedAttachments&&) noexcept = default;
  StagedAttachments& operator=(StagedAttachments&&) noexcept = default;

  std::vector<StagedAttachment> files;
  /// The directory the copies are in (`…/attachments`); empty when nothing was copied.
  std::string attachments_dir;
  /// Set when `keep` was asked for: the directory that stays.
  std::optional<std::string> kept_at;

  /// The result's view of each attachment, with how it was delivered (same order as `files`;
  /// `deliveries` may be shorter: the rest are reported as `fallback`).
  std::vector<AttachmentReport> reports(const std::vector<std::string>& deliveries,
                                        const std::string& fallback = "") const;

  /// The directory this run made (the per-run directory, or the one inside `into`), removed
  /// with the set; none when kept.
  std::optional<TempDir> owned_dir;
};

/// Stages `attachments` off the loop thread and calls `done` on the loop with the result or an
/// error naming the attachment and what was wrong: validation_error (missing, not a regular
/// file, over a size limit, a bad data: URL, an http:// URL), unsupported_capability (a category
/// or a remote reference the route does not accept, naming what it accepts). On an error
/// nothing is left on disk. `done` is never called before this returns.
class StagingJob {
 public:
  virtual ~StagingJob() = default;
  /// Abandons the job: `done` gets error `aborted` and nothing is left on disk. A copy in
  /// progress stops at its next chunk.
  virtual void cancel() = 0;
};
using StagingDone = std::function<void(std::optional<StagedAttachments>, std::optional<Error>)>;
std::shared_ptr<StagingJob> stage_attachments(Loop& loop, std::vector<Attachment> attachments,
                                              StagingOptions options, StagingDone done);

// ---- pure parts, exposed for tests ---------------------------------------------------------

/// A basename safe as an argv element, in a prompt and on disk: the last path component, bytes
/// outside [A-Za-z0-9._+-] and valid multi-byte UTF-8 replaced by '_', no leading '.' or '-',
/// at most kMaxAttachmentNameBytes (cut on a UTF-8 boundary, extension kept), "attachment" when
/// nothing is left. `taken` names already used in the run: a collision gets "-2", "-3"… before
/// the extension.
std::string sanitize_attachment_name(std::string_view raw, const std::vector<std::string>& taken);

/// MIME type of content by libmagic (from its first bytes), e.g. "image/png"; thread-safe.
std::string sniff_mime(std::string_view head);
/// The category and MIME type from the sniffed type, refined by the name's extension where the
/// content says only "text/plain" or "application/octet-stream".
std::pair<AttachmentCategory, std::string> classify_attachment(std::string_view sniffed_mime,
                                                               std::string_view name);

struct DataUrl {
  std::string mime;  ///< as given, or text/plain
  std::string bytes;
};
/// Parses `data:[<mediatype>][;base64],<data>`; nullopt with `error` set when malformed.
std::optional<DataUrl> parse_data_url(std::string_view url, std::string& error);

}  // namespace drover
