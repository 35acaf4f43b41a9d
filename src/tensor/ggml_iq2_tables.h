// Lookup tables of ggml's IQ2_XXS format (see ggml_iq2_tables.cc for their origin).
#pragma once
#include <cstdint>

namespace dsv4::ggml_tables {

extern const uint64_t kIq2xxsGrid[256];  // iq2xxs_grid
extern const uint8_t kIq2Signs[128];     // ksigns_iq2xs

}  // namespace dsv4::ggml_tables
