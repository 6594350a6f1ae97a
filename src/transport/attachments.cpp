#include "src/transport/attachments.h"

namespace drover {
}  // namespace drover
