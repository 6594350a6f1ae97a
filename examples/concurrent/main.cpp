// Three prompts in flight at once on one Client; one of them is cancelled.
#include <cstdio>
#include <vector>

#include <drover/client.h>

int main() {
  auto [config, error] = drover::load_config(drover::ConfigLookup::from_environment());
  if (!config) return std::fprintf(stderr, "%s\n", error->message.c_str()), 2;
  drover::Client client(std::move(*config));
  std::vector<drover::RunHandle> runs;
  for (const char* prompt : {"Name a prime", "Name a colour", "Write a long poem"}) {
    drover::RunRequest request;
    request.prompt = prompt;
    runs.push_back(client.submit(request, {}, [prompt](drover::Result r) {
      std::printf("%s -> %s\n", prompt, r.ok() ? r.text.c_str() : to_string(r.error->code).data());
    }));
  }
  runs[2].cancel();  // not wanted after all: its Result says "aborted"
  client.wait();     // drives the loop until all three have completed
}
