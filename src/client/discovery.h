// Model discovery's private parts; the public API is drover/models.h.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "drover/config.h"
#include "drover/models.h"
#include "drover/result.h"

namespace drover {

/// Ids from the output of a harness's list command (DiscoverySpec parser). Pure.
std::vector<DiscoveredModel> parse_model_listing(const DiscoverySpec& spec, const std::string& output,
                                                 std::string& problem);

}  // namespace drover
