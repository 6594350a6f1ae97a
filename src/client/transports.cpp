// The built-in transports: print mode and ACP (harness/) and the model APIs (src/api/).
#include "src/transport/transport.h"

#include "harness/acp.h"
#include "harness/print_mode.h"
#include "src/api/api_transport.h"

namespace drover {
namespace {

template <TransportKind Kind, auto Start>
class BuiltinTransport final : public Transport {
 public:
  TransportKind kind() const noexcept override { return Kind; }
  std::shared_ptr<RunControl> start(Loop& loop, const TransportAttempt& attempt,
                                    TransportSink sink) override {
    return Start(loop, attempt, std::move(sink));
  }
};

}  // namespace

const TransportSet& builtin_transports() {
  static BuiltinTransport<TransportKind::cli, &start_print_mode> print_mode;
  static BuiltinTransport<TransportKind::acp, &start_acp> acp;
  static BuiltinTransport<TransportKind::api, &start_api_call> api;
  static const TransportSet set = [] {
    TransportSet s;
    s.set(print_mode);
    s.set(acp);
    s.set(api);
    return s;
  }();
  return set;
}

}  // namespace drover
