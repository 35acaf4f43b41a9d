#include "cli/flash_slice.h"

#include <nlohmann/json.hpp>

namespace dsv4::cli {
namespace {

const char* const kFlashConfig =
#include "flash_config.inc"
    ;

bool has_csa_and_hca(const std::vector<int>& r, size_t begin, size_t n) {
  bool csa = false, hca = false;
  for (size_t i = begin; i < begin + n; ++i) {
    csa |= r[i] == 4;
    hca |= r[i] > 4;
  }
  return csa && hca;
}

}  // namespace

Result<std::string> flash_slice_config(int layers) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(kFlashConfig);
  const int n_real = j["num_hidden_layers"].get<int>();
  const int n_hash = j["num_hash_layers"].get<int>();
  const std::vector<int> ratios = j["compress_ratios"].get<std::vector<int>>();
  if (layers < 1 || layers > n_real)
    return error("--layers {} is out of range: V4-Flash has {} layers", layers, n_real);
  size_t start = 0;
  if (layers >= 2)
    while (start + layers <= static_cast<size_t>(n_real) && !has_csa_and_hca(ratios, start, layers)) ++start;
  if (start + layers > static_cast<size_t>(n_real)) return error("no run of {} V4-Flash layers has CSA and HCA", layers);
  std::vector<int> slice(ratios.begin() + start, ratios.begin() + start + layers);
  slice.insert(slice.end(), ratios.begin() + n_real, ratios.end());  // the MTP block(s)
  int hash = 0;
  for (int i = 0; i < layers; ++i) hash += static_cast<int>(start) + i < n_hash;
  j["num_hidden_layers"] = layers;
  j["num_hash_layers"] = hash;
  j["compress_ratios"] = slice;
  return j.dump(2) + "\n";
}

}  // namespace dsv4::cli
