#include "src/transport/transport.h"

namespace drover {

std::optional<Error> empty_answer_error(const std::string& text, std::string message) {
  if (text.find_first_not_of(" \t\r\n") != std::string::npos) return std::nullopt;
  return Error::make(ErrorCode::temporary_unavailable, std::move(message));
}

}  // namespace drover
