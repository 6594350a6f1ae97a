#include "staging/attachments.h"

namespace drover {
}  // namespace drover
