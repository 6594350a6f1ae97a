#include "src/batch/format.h"

#include <cmath>
#include <cstdio>

namespace drover::batch_format {

std::string count(int64_t n) {
  char buf[32];
  const double v = static_cast<double>(n);
  const double a = std::fabs(v);
  if (a < 1000) std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
  else if (a < 999950) std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else if (a < 999950000) std::snprintf(buf, sizeof buf, "%.1fM", v / 1e6);
  else std::snprintf(buf, sizeof buf, "%.1fG", v / 1e9);
  return buf;
}

std::string duration(double ms) {
  char buf[32];
  if (!std::isfinite(ms) || ms < 0) ms = 0;
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%.0fms", ms);
  } else if (ms < 60000) {
    std::snprintf(buf, sizeof buf, "%.1fs", ms / 1000);
  } else {
    const auto s = static_cast<int64_t>(ms / 1000);
    if (s < 3600)
      std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                    static_cast<long long>(s % 60));
    else
      std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                    static_cast<long long>(s / 60 % 60));
  }
  return buf;
}

std::string cost(double usd) {
  char buf[32];
  if (!std::isfinite(usd)) usd = 0;
  std::snprintf(buf, sizeof buf, usd != 0 && std::fabs(usd) < 0.01 ? "$%.4f" : "$%.2f", usd);
  return buf;
}

std::optional<int64_t> tokens(const Usage& usage) {
  if (usage.total_tokens) return usage.total_tokens;
  if (usage.input_tokens || usage.output_tokens)
    return usage.input_tokens.value_or(0) + usage.output_tokens.value_or(0);
  return std::nullopt;
}

}  // namespace drover::batch_format
