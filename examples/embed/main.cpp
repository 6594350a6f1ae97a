// Embedding drover in a C++ program: load a config, run one prompt, stream its deltas.
#include <cstdio>

#include <drover/client.h>
#include <drover/config.h>

int main(int argc, char** argv) {
  drover::ConfigLookup lookup = drover::ConfigLookup::from_environment();
  if (argc > 1) lookup.explicit_path = argv[1];
  auto [config, error] = drover::load_config(lookup);
  if (!config) return std::fprintf(stderr, "%s\n", error->message.c_str()), 2;

  drover::Client client(std::move(*config));
  drover::RunRequest request{.prompt = argc > 2 ? argv[2] : "Say hello"};
  drover::Result result = client.stream(request, [](const drover::Event& event) {
    if (event.kind == drover::Event::Kind::delta) std::fprintf(stderr, "[delta] %s\n", event.text.c_str());
  });
  if (!result.ok()) return std::fprintf(stderr, "%s\n", result.error->message.c_str()), result.exit_code();
  std::printf("%s\n(route %s, %.1f ms)\n", result.text.c_str(), result.route.c_str(), result.timings.wall_ms);
  return 0;
}
