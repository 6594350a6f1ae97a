// A batch's summary (terminal), its HTML report and the merge of shard outputs.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

#include "drover/batch.h"
#include "parsers/utf8.h"
#include "src/batch/format.h"

namespace drover {
namespace {

using json = nlohmann::json;

/// The last record of each id, in the order the ids first appear.
std::vector<BatchRecord> last_per_id(const std::vector<BatchRecord>& records) {
  std::vector<BatchRecord> out;
  std::unordered_map<std::string, std::size_t> index;
  for (const BatchRecord& r : records) {
    const auto [it, fresh] = index.try_emplace(r.id, out.size());
    if (fresh) out.push_back(r);
    else out[it->second] = r;
  }
  return out;
}

std::string error_code_name(const BatchRecord& r) {
  return r.error ? std::string(to_string(r.error->code)) : std::string();
}

/// Everything from a record is hostile: valid UTF-8, then the five HTML specials escaped.
std::string esc(std::string_view raw) {
  const std::string text = parsers::valid_utf8(raw);
  std::string out;
  out.reserve(text.size() + 16);
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, std::isfinite(v) ? v : 0.0);
  return buf;
}

struct Group {
  int64_t documents = 0, succeeded = 0, failed = 0;
  double duration_ms = 0;
  Usage usage;
  bool has_usage = false;
};

std::string tokens_cell(const std::optional<int64_t>& n) {
  return n ? batch_format::count(*n) : std::string("\u2013");
}

double percentile(std::vector<double> sorted, double p) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size()))) ;
  return sorted[std::min(sorted.size() - 1, i == 0 ? 0 : i - 1)];
}

/// Bars of a latency histogram as inline SVG (a <title> per bar for its range and count).
std::string histogram_svg(const std::vector<double>& durations) {
  constexpr int kBins = 24, kW = 1040, kH = 240, kLeft = 48, kBottom = 36, kTop = 12;
  const double max = durations.empty() ? 0 : *std::max_element(durations.begin(), durations.end());
  const double width = max > 0 ? max / kBins : 1;
  std::vector<int64_t> bins(kBins, 0);
  for (double d : durations)
    ++bins[static_cast<std::size_t>(std::min<double>(kBins - 1, std::floor(d / width)))];
  const int64_t peak = std::max<int64_t>(1, *std::max_element(bins.begin(), bins.end()));
  const double plot_w = kW - kLeft - 8, plot_h = kH - kBottom - kTop;
  const double bar_w = plot_w / kBins;
  std::string svg = "<svg class=\"hist\" viewBox=\"0 0 " + std::to_string(kW) + " " +
                    std::to_string(kH) + "\" role=\"img\" aria-label=\"latency histogram\">";
  // Grid and y axis labels.
  for (int k = 0; k <= 4; ++k) {
    const double y = kTop + plot_h - plot_h * k / 4;
    svg += "<line x1=\"" + std::to_string(kLeft) + "\" x2=\"" + std::to_string(kW - 8) +
           "\" y1=\"" + fixed(y, 1) + "\" y2=\"" + fixed(y, 1) + "\" class=\"grid\"/>";
    svg += "<text x=\"" + std::to_string(kLeft - 6) + "\" y=\"" + fixed(y + 4, 1) +
           "\" class=\"axis\" text-anchor=\"end\">" +
           std::to_string(static_cast<int64_t>(std::llround(static_cast<double>(peak) * k / 4))) +
           "</text>";
  }
  for (int b = 0; b < kBins; ++b) {
    const double h = plot_h * static_cast<double>(bins[static_cast<std::size_t>(b)]) /
                     static_cast<double>(peak);
    const double x = kLeft + b * bar_w;
    svg += "<rect x=\"" + fixed(x + 1, 1) + "\" y=\"" + fixed(kTop + plot_h - h, 1) +
           "\" width=\"" + fixed(bar_w - 2, 1) + "\" height=\"" + fixed(h, 1) +
           "\" class=\"bar\"><title>" + batch_format::duration(b * width) + " \u2013 " +
           batch_format::duration((b + 1) * width) + ": " +
           std::to_string(bins[static_cast<std::size_t>(b)]) + " documents</title></rect>";
  }
  for (int k = 0; k <= 4; ++k) {
    const double x = kLeft + plot_w * k / 4;
    svg += "<text x=\"" + fixed(x, 1) + "\" y=\"" + std::to_string(kH - kBottom + 18) +
           "\" class=\"axis\" text-anchor=\"" + (k == 0 ? "start" : k == 4 ? "end" : "middle") +
           "\">" + batch_format::duration(max * k / 4) +
           "</text>";
  }
  svg += "<text x=\"" + std::to_string(kLeft + static_cast<int>(plot_w / 2)) + "\" y=\"" +
         std::to_string(kH - 2) +
         "\" class=\"axis\" text-anchor=\"middle\">duration per document (all tries)</text>";
  svg += "</svg>";
  return svg;
}

std::string status_bar_svg(int64_t succeeded, int64_t failed) {
  const double total = static_cast<double>(std::max<int64_t>(1, succeeded + failed));
  const double ok_w = 1040.0 * static_cast<double>(succeeded) / total;
  return "<svg class=\"status\" viewBox=\"0 0 1040 22\" role=\"img\" aria-label=\"status\">"
         "<rect x=\"0\" y=\"0\" height=\"22\" width=\"" + fixed(ok_w, 1) +
         "\" class=\"ok\"><title>" + std::to_string(succeeded) + " succeeded</title></rect>"
         "<rect x=\"" + fixed(ok_w, 1) + "\" y=\"0\" height=\"22\" width=\"" +
         fixed(1040.0 - ok_w, 1) + "\" class=\"" + (failed > 0 ? "bad" : "none") +
         "\"><title>" + std::to_string(failed) + " failed</title></rect></svg>";
}

constexpr const char* kCss = R"(
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
main{max-width:1100px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:16px;margin:28px 0 10px;padding-bottom:4px;border-bottom:1px solid #d9dde5}
h3{font-size:14px;margin:18px 0 6px}
.sub{color:#5b6475;margin:0 0 18px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:10px 16px;min-width:140px}
.card b{display:block;font-size:22px}
.card span{color:#5b6475;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card.good b{color:#1f7a3f}.card.bad b{color:#b42318}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e8;border-radius:8px;overflow:hidden}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #eceef2;vertical-align:top}
th{background:#f0f2f6;font-weight:600;font-size:12px;color:#3d4556}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.name{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;white-space:nowrap}
td.id{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;word-break:break-all}
td.msg{white-space:pre-wrap;word-break:break-word;font-size:13px}
.tag{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;background:#e6f4ea;color:#1f7a3f}
.tag.err{background:#fde8e7;color:#b42318}
svg{display:block;width:100%;height:auto;background:#fff;border:1px solid #dde1e8;border-radius:8px}
svg.status{border:none;border-radius:4px;margin:14px 0 4px}
.grid{stroke:#eceef2}.axis{font-size:11px;fill:#5b6475}.bar{fill:#3b6fd8}
.ok{fill:#2e9d57}.bad{fill:#d64545}.none{fill:#2e9d57}
.stats{color:#5b6475;margin:6px 0 0}
.more{color:#5b6475;font-style:italic}
)";

}  // namespace

BatchSummary summarize_batch(const std::vector<BatchRecord>& records) {
  BatchSummary s;
  std::map<std::string, BatchSummary::ErrorCount> errors;
  for (const BatchRecord& r : last_per_id(records)) {
    ++s.documents;
    if (r.error) {
      ++s.failed;
      auto& e = errors[error_code_name(r)];
      if (e.count++ == 0) {
        e.code = error_code_name(r);
        e.sample = r.error->message;
      }
    } else {
      ++s.succeeded;
    }
    if (r.usage) s.usage.add(*r.usage);
  }
  for (auto& [code, e] : errors) s.top_errors.push_back(std::move(e));
  std::stable_sort(s.top_errors.begin(), s.top_errors.end(),
                   [](const auto& a, const auto& b) { return a.count > b.count; });
  return s;
}

std::string format_batch_summary(const BatchSummary& s) {
  std::string out = std::to_string(s.documents) + " documents: " + std::to_string(s.succeeded) +
                    " succeeded, " + std::to_string(s.failed) + " failed\n";
  std::vector<std::string> facts;
  if (s.wall_ms > 0) facts.push_back("wall time " + batch_format::duration(s.wall_ms));
  if (const auto tokens = batch_format::tokens(s.usage)) {
    std::string t = batch_format::count(*tokens) + " tokens";
    if (s.usage.input_tokens || s.usage.output_tokens)
      t += " (" + batch_format::count(s.usage.input_tokens.value_or(0)) + " in, " +
           batch_format::count(s.usage.output_tokens.value_or(0)) + " out)";
    facts.push_back(t);
  }
  if (s.usage.cost_usd) facts.push_back(batch_format::cost(*s.usage.cost_usd));
  for (std::size_t i = 0; i < facts.size(); ++i) out += (i ? " \u00b7 " : "") + facts[i];
  if (!facts.empty()) out += "\n";
  if (!s.top_errors.empty()) {
    out += "most common errors:\n";
    for (std::size_t i = 0; i < s.top_errors.size() && i < 5; ++i) {
      const auto& e = s.top_errors[i];
      // The message came from a harness or a file: no escape sequences reach the terminal.
      out += "  " + std::to_string(e.count) + " \u00d7 " + parsers::excerpt(e.code, 40) + ": " +
             parsers::excerpt(e.sample, 160) + "\n";
    }
  }
  return out;
}

std::string render_batch_report_html(const std::vector<BatchRecord>& records,
                                     const std::string& title) {
  const std::vector<BatchRecord> docs = last_per_id(records);
  const BatchSummary summary = summarize_batch(records);

  std::string h;
  h.reserve(16384);
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  // Nothing may load or run: styles inline, no scripts, no fetches (images only as data: URLs).
  h += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
       "style-src 'unsafe-inline'; img-src data:\">";
  h += "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">";
  h += "<title>" + esc(title) + "</title><style>" + kCss + "</style></head><body><main>";
  h += "<h1>" + esc(title) + "</h1>";
  h += "<p class=\"sub\">drover batch report \u00b7 " + std::to_string(records.size()) +
       " output lines, " + std::to_string(docs.size()) + " documents (the last line of each counts)</p>";

  // ---- status counts
  std::vector<double> durations;
  double total_ms = 0;
  for (const auto& r : docs) {
    durations.push_back(r.duration_ms);
    total_ms += r.duration_ms;
  }
  std::sort(durations.begin(), durations.end());
  h += "<h2>Status</h2><div class=\"cards\">";
  auto card = [&](const std::string& value, const char* label, const char* cls = "") {
    h += std::string("<div class=\"card ") + cls + "\"><b>" + esc(value) + "</b><span>" + label +
         "</span></div>";
  };
  card(std::to_string(summary.documents), "documents");
  card(std::to_string(summary.succeeded), "succeeded", "good");
  card(std::to_string(summary.failed), "failed", summary.failed ? "bad" : "");
  const auto tokens = batch_format::tokens(summary.usage);
  card(tokens ? batch_format::count(*tokens) : "\u2013", "tokens");
  card(summary.usage.cost_usd ? batch_format::cost(*summary.usage.cost_usd) : "\u2013", "cost");
  card(batch_format::duration(percentile(durations, 0.5)), "median duration");
  h += "</div>" + status_bar_svg(summary.succeeded, summary.failed);

  // ---- latency histogram
  h += "<h2>Latency</h2>" + histogram_svg(durations);
  if (!durations.empty())
    h += "<p class=\"stats\">p50 " + batch_format::duration(percentile(durations, 0.5)) +
         " \u00b7 p90 " + batch_format::duration(percentile(durations, 0.9)) + " \u00b7 p99 " +
         batch_format::duration(percentile(durations, 0.99)) + " \u00b7 max " +
         batch_format::duration(durations.back()) + " \u00b7 sum " +
         batch_format::duration(total_ms) + "</p>";

  // ---- per route and model
  std::map<std::pair<std::string, std::string>, Group> groups;
  for (const auto& r : docs) {
    Group& g = groups[{r.route, r.model}];
    ++g.documents;
    ++(r.error ? g.failed : g.succeeded);
    g.duration_ms += r.duration_ms;
    if (r.usage) {
      g.usage.add(*r.usage);
      g.has_usage = true;
    }
  }
  h += "<h2>Cost and tokens per route and model</h2><table><tr><th>route</th><th>model</th>"
       "<th class=\"n\">documents</th><th class=\"n\">succeeded</th><th class=\"n\">failed</th>"
       "<th class=\"n\">input tokens</th><th class=\"n\">output tokens</th>"
       "<th class=\"n\">total tokens</th><th class=\"n\">cost</th><th class=\"n\">mean duration</th></tr>";
  for (const auto& [key, g] : groups) {
    // The model has its own column: a route id ending in ":<model>" is shown without it.
    std::string route = key.first;
    const std::string suffix = ":" + key.second;
    if (!key.second.empty() && route.size() > suffix.size() &&
        route.compare(route.size() - suffix.size(), suffix.size(), suffix) == 0)
      route.resize(route.size() - suffix.size());
    h += "<tr><td class=\"name\">" + esc(route) + "</td><td class=\"name\">" + esc(key.second) +
         "</td><td class=\"n\">" + std::to_string(g.documents) + "</td><td class=\"n\">" +
         std::to_string(g.succeeded) + "</td><td class=\"n\">" + std::to_string(g.failed) +
         "</td><td class=\"n\">" + tokens_cell(g.usage.input_tokens) + "</td><td class=\"n\">" +
         tokens_cell(g.usage.output_tokens) + "</td><td class=\"n\">" +
         tokens_cell(batch_format::tokens(g.usage)) + "</td><td class=\"n\">" +
         (g.usage.cost_usd ? batch_format::cost(*g.usage.cost_usd) : "\u2013") +
         "</td><td class=\"n\">" +
         batch_format::duration(g.duration_ms / static_cast<double>(std::max<int64_t>(1, g.documents))) +
         "</td></tr>";
  }
  h += "</table>";

  // ---- slowest documents
  std::vector<const BatchRecord*> slowest;
  for (const auto& r : docs) slowest.push_back(&r);
  std::stable_sort(slowest.begin(), slowest.end(), [](const BatchRecord* a, const BatchRecord* b) {
    return a->duration_ms > b->duration_ms;
  });
  if (slowest.size() > 10) slowest.resize(10);
  h += "<h2>Slowest documents</h2><table><tr><th>document</th><th>route</th>"
       "<th class=\"n\">attempts</th><th class=\"n\">duration</th><th>status</th></tr>";
  for (const BatchRecord* r : slowest) {
    h += "<tr><td class=\"id\">" + esc(r->id) + "</td><td class=\"id\">" + esc(r->route) +
         "</td><td class=\"n\">" + std::to_string(r->attempts) + "</td><td class=\"n\">" +
         batch_format::duration(r->duration_ms) + "</td><td>" +
         (r->error ? "<span class=\"tag err\">" + esc(error_code_name(*r)) + "</span>"
                   : std::string("<span class=\"tag\">ok</span>")) +
         "</td></tr>";
  }
  h += "</table>";

  // ---- failures by error code
  h += "<h2>Failures by error code</h2>";
  if (summary.failed == 0) h += "<p class=\"stats\">No document failed.</p>";
  constexpr std::size_t kMaxListed = 100;
  for (const auto& e : summary.top_errors) {
    h += "<h3><span class=\"tag err\">" + esc(e.code) + "</span> " + std::to_string(e.count) +
         (e.count == 1 ? " document" : " documents") + "</h3>";
    h += "<table><tr><th>document</th><th class=\"n\">attempts</th><th>message</th></tr>";
    std::size_t listed = 0;
    for (const auto& r : docs) {
      if (!r.error || error_code_name(r) != e.code) continue;
      if (listed++ == kMaxListed) break;
      h += "<tr><td class=\"id\">" + esc(r.id) + "</td><td class=\"n\">" +
           std::to_string(r.attempts) + "</td><td class=\"msg\">" + esc(r.error->message) +
           "</td></tr>";
    }
    if (e.count > static_cast<int64_t>(kMaxListed))
      h += "<tr><td colspan=\"3\" class=\"more\">\u2026 and " +
           std::to_string(e.count - static_cast<int64_t>(kMaxListed)) + " more</td></tr>";
    h += "</table>";
  }
  h += "</main></body></html>\n";
  return h;
}

BatchMergeReport merge_batch_outputs(const std::string& out, const std::vector<std::string>& shards,
                                     const std::vector<BatchDocument>* expected) {
  BatchMergeReport report;
  if (shards.empty()) {
    report.error = Error::make(ErrorCode::validation_error, "batch merge: no shard files given");
    return report;
  }
  std::vector<BatchRecord> merged;
  std::unordered_map<std::string, std::size_t> index;
  std::set<std::string> duplicates;
  for (const std::string& shard : shards) {
    std::optional<Error> error;
    const std::vector<BatchRecord> records = read_batch_output(shard, error);
    if (error) {
      report.error = std::move(error);
      return report;
    }
    for (BatchRecord& r : last_per_id(records)) {
      const auto [it, fresh] = index.try_emplace(r.id, merged.size());
      if (fresh) {
        merged.push_back(std::move(r));
        continue;
      }
      duplicates.insert(r.id);
      // In more than one shard: the first shard's record stays, unless only a later one succeeded.
      BatchRecord& kept = merged[it->second];
      if (kept.error && !r.error) kept = std::move(r);
    }
  }
  report.duplicates.assign(duplicates.begin(), duplicates.end());
  if (expected)
    for (const BatchDocument& d : *expected)
      if (!index.count(d.id)) report.missing.push_back(d.id);

  // Atomically: a temporary file beside `out`, renamed over it once complete and synced.
  const std::size_t slash = out.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : out.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? out : out.substr(slash + 1);
  std::string tmp = dir + (dir.back() == '/' ? "" : "/") + "." + base + ".merge-XXXXXX";
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  const auto fail = [&](const std::string& what, int err) {
    report.error = Error::make(ErrorCode::harness_error,
                               "batch merge: " + what + " " +
                                   json(out).dump(-1, ' ', false, json::error_handler_t::replace) +
                                   ": " + std::strerror(err));
  };
  if (fd < 0) {
    fail("cannot create a temporary file beside", errno);
    return report;
  }
  std::string text;
  for (const BatchRecord& r : merged) text += batch_record_line(r);
  std::size_t written = 0;
  int err = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    written += static_cast<std::size_t>(n);
  }
  if (!err && (::fchmod(fd, 0644) != 0 || ::fsync(fd) != 0)) err = errno;
  if (::close(fd) != 0 && !err) err = errno;
  if (!err && ::rename(tmp.c_str(), out.c_str()) != 0) err = errno;
  if (err) {
    ::unlink(tmp.c_str());
    fail("cannot write", err);
    return report;
  }
  report.records = static_cast<int64_t>(merged.size());
  return report;
}

}  // namespace drover
