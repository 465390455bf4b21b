// Options of the readers of files that users bring (data sets and checkpoints), and the notes they
// report. A note says what a reader did that the user should know but that is not an error: an
// array converted from float16, a pandas index column dropped, tensors of other modules ignored.
// The library never prints; a program passes a sink (the `cuae` CLI prints "cuae <cmd>: note: ...").
#pragma once

#include <functional>
#include <string_view>

namespace cuae {

// Called once per note, with a complete sentence that names the file. May be empty (notes dropped).
using NoteSink = std::function<void(std::string_view)>;

// How read_checkpoint (and Model::load) treats files that PyTorch wrote.
struct CheckpointReadOptions {
  // Refuse tensors that are not the model's parameters (BatchNorm's num_batches_tracked, tensors of
  // other modules) instead of ignoring them with a note.
  bool strict = false;
  NoteSink note;
};

}  // namespace cuae
