// Many prompts through one ACP route, each in a fresh session on a few warm agents:
//   warm-pool ROUTE MODEL AGENTS PROMPT...      (MODEL "-": the route's own)
// Prints one JSON line per prompt as it finishes: {prompt, text, sessionId, error}.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <drover/client.h>
#include <nlohmann/json.hpp>

int main(int argc, char** argv) {
  if (argc < 5) return std::fprintf(stderr, "usage: warm-pool ROUTE MODEL AGENTS PROMPT...\n"), 2;
  auto [config, error] = drover::load_config(drover::ConfigLookup::from_environment());
  if (!config) return std::fprintf(stderr, "%s\n", error->message.c_str()), 2;
  drover::Client client(std::move(*config));
  client.keep_agents_warm(std::strtoul(argv[3], nullptr, 10));  // agents kept per route
  int failed = 0;
  for (int i = 4; i < argc; ++i) {
    drover::RunRequest request;
    request.route = argv[1];
    if (std::string(argv[2]) != "-") request.model = argv[2];
    request.prompt = argv[i];
    client.submit(request, {}, [&failed, prompt = std::string(argv[i])](drover::Result r) {
      nlohmann::json line = {{"prompt", prompt}, {"text", r.text},
                             {"sessionId", r.session_id.value_or("")},
                             {"error", r.ok() ? "" : r.error->message}};
      failed += r.ok() ? 0 : 1;
      std::printf("%s\n", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      std::fflush(stdout);
    });
  }
  client.wait();  // every prompt has its line; the agents go with the Client
  return failed == 0 ? 0 : 1;
}
