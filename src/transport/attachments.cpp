#include "src/transport/attachments.h"

#include "src/loop/loop.h"

namespace drover {
StagingOptions staging_options_for(const Route& route, const std::string& workspace) {
  StagingOptions options;
  options.route_id = route.id;
  options.workspace = workspace;
  const StagingSpec& staging = route.staging;
  if (staging.dir) options.dir = *staging.dir;
  options.max_file_bytes = staging.max_file_bytes;
  options.max_total_bytes = staging.max_total_bytes;
  options.keep = staging.keep;
  if (route.account_spec == nullptr) return options;
  if (const FileInputSpec* input = file_input_of(route.account_spec->transport)) {
    if (input->staging_dir) options.dir = *input->staging_dir;
    if (input->max_file_bytes) options.max_file_bytes = *input->max_file_bytes;
    if (input->max_total_bytes) options.max_total_bytes = *input->max_total_bytes;
    if (input->keep) options.keep = *input->keep;
    options.categories = input->categories;
  }
  return options;
}

void stage_for_run(Loop& loop, const std::shared_ptr<StageControl>& control,
                   const RunRequest& request, StagingOptions options, StagingDone next) {
  if (request.attachments.empty()) {
    loop.post([next = std::move(next)] { next(StagedAttachments{}, std::nullopt); });
    return;
  }
  // The job may finish after the run was stopped: a stop asked for during staging turns the
  // outcome into `aborted` (the run's shape() then makes a pause "paused").
  auto job = stage_attachments(
      loop, request.attachments, std::move(options),
      [weak = std::weak_ptr<StageControl>(control), next = std::move(next)](
          std::optional<StagedAttachments> staged, std::optional<Error> error) {
        if (auto control = weak.lock()) control->set_stage(nullptr);
        next(std::move(staged), std::move(error));
      });
  control->set_stage([job](StageControl::Stop) { job->cancel(); });
}

}  // namespace drover
