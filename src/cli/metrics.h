// The per-epoch metrics CSV written by `cuae train --metrics` and read by `cuae plot`:
//   epoch,train_loss,val_loss,seconds,samples_per_s
// val_loss is "nan" when there was no validation set.
#pragma once

#include <filesystem>
#include <vector>

#include "cuae/fit.h"

namespace cuae::cli {

// Replaces the file atomically, so a reader never sees a partial table.
void write_metrics_csv(const std::filesystem::path& path, const std::vector<EpochStats>& epochs);
// Throws IoError naming file:line for a missing column or a non-numeric cell.
std::vector<EpochStats> read_metrics_csv(const std::filesystem::path& path);

}  // namespace cuae::cli
