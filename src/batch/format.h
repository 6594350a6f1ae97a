// Numbers as a batch's progress line, summary and report show them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "drover/result.h"

namespace drover::batch_format {

/// 980, 12.3k, 1.2M, 3.4G.
std::string count(int64_t n);
/// 850ms, 12.3s, 3m34s, 2h05m.
std::string duration(double ms);
/// $0.42, $0.0031 (four decimals below a cent), $12.50.
std::string cost(double usd);
/// The tokens a usage counts: its total, else input + output; nullopt when it reports neither.
std::optional<int64_t> tokens(const Usage& usage);

}  // namespace drover::batch_format
