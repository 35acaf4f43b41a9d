// The memory plan as `dsv4 info --ctx` prints it and `dsv4 serve` checks it at start-up
// (docs/memory.md): the budget (--memory-budget, default MemAvailable minus a margin), the
// checkpoint's bytes on disk, and the text of a plan, its KV comparison and a refusal.
#pragma once
#include <cstdint>
#include <string>

#include "base/status.h"
#include "io/config.h"
#include "model/memory_plan.h"

namespace dsv4::cli {

// /proc/meminfo MemAvailable in bytes; an error when it cannot be read.
Result<int64_t> mem_available_bytes();
// What --memory-budget defaults to: MemAvailable minus max(1 GiB, 10 % of it) (what the kernel,
// other processes and this one's untracked allocations need).
int64_t default_budget_margin(int64_t available);

// Sum of the *.safetensors files of a checkpoint directory (what the mmap can make resident).
Result<int64_t> checkpoint_file_bytes(const std::string& dir);

// 7707926528 -> "7.18 GiB" (binary units, two decimals; plain bytes under 1 KiB).
std::string human_bytes(double b);
// "7.18 GiB (7707926528 B)"
std::string bytes_both(int64_t b);

// The plan's lines (indented, one item per line, ending in "total").
std::string plan_text(const MemoryPlan& p);
// KV of one sequence at `tokens` in the four layouts, with the ratios to V3.2.
std::string kv_comparison_text(const ModelConfig& cfg, int64_t tokens);
// "fits ..." or "does not fit ...; the largest --ctx that fits at --parallel P is ..., ...".
std::string verdict_text(const ModelConfig& cfg, const MemoryPlan& p, int64_t budget, const std::string& budget_source);

}  // namespace dsv4::cli
