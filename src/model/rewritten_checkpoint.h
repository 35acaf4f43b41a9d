// Test helper (header only, used by *_test.cc): writes a copy of a checkpoint directory through the
// safetensors writer after `edit` has changed its tensor list, so a test can corrupt one tensor.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "io/checkpoint.h"
#include "io/safetensors_writer.h"

namespace dsv4::testing_ckpt {

inline Status rewrite_checkpoint(const std::string& src_dir, const std::filesystem::path& out_dir,
                                 const std::function<void(std::vector<TensorBlob>&)>& edit) {
  DSV4_ASSIGN_OR_RETURN(auto ck, Checkpoint::open(src_dir));
  std::vector<TensorBlob> blobs;
  for (const TensorInfo* t : ck->tensors())
    blobs.push_back({t->name, t->dtype, t->shape, std::vector<uint8_t>(t->data, t->data + t->nbytes())});
  edit(blobs);
  std::vector<int> shard_of(blobs.size());
  for (size_t i = 0; i < blobs.size(); ++i) shard_of[i] = blobs[i].name.starts_with("layers.") ? 0 : 1;
  DSV4_TRY(write_sharded_safetensors(out_dir.string(), blobs, shard_of));
  std::filesystem::copy_file(std::filesystem::path(src_dir) / "config.json", out_dir / "config.json",
                             std::filesystem::copy_options::overwrite_existing);
  return ok_status();
}

}  // namespace dsv4::testing_ckpt
