// The per-epoch metrics CSV written by `cuae train --metrics` and read by `cuae plot`:
//   epoch,train_loss,val_loss,seconds,samples_per_s,lr,recon_loss,l1_activity,kl_sparsity,l2,kl,complete
// val_loss is "nan" when there was no validation set; lr is the rate of the epoch's last step;
// recon_loss .. kl are the terms train_loss sums (EpochStats::terms); complete is 0 for an epoch cut
// short by a signal (its row is kept, and the resumed run adds the epoch's finished row).
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "cuae/fit.h"

namespace cuae::cli {

// Replaces the file atomically, so a reader never sees a partial table.
void write_metrics_csv(const std::filesystem::path& path, const std::vector<EpochStats>& epochs);
// Throws IoError naming file:line for a missing column or a non-numeric cell.
std::vector<EpochStats> read_metrics_csv(const std::filesystem::path& path);
// The rows of an existing file that a run resumed after `epochs_completed` epochs continues: every
// finished epoch up to there and the partial row of the interrupted one. None when there is no file.
std::vector<EpochStats> metrics_before(const std::filesystem::path& path, int64_t epochs_completed);

}  // namespace cuae::cli
