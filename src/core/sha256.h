// SHA-256 (FIPS 180-4), for fingerprinting files the user has reviewed (src/config/trust.h).
#pragma once

#include <string>
#include <string_view>

namespace drover {

/// The SHA-256 digest of `data` as 64 lower-case hex digits.
std::string sha256_hex(std::string_view data);

}  // namespace drover
