#include "cli/bench_onednn.h"

#ifdef DSV4_HAVE_ONEDNN
#include <chrono>
#include <cstring>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>
#endif
#ifdef DSV4_HAVE_OPENMP
#include <omp.h>
#endif

namespace dsv4::cli {

#ifdef DSV4_HAVE_ONEDNN
Result<GemmResult> onednn_matmul_gflops(int64_t m, int64_t n, int64_t k, int threads, int reps, bool bf16) {
#ifdef DSV4_HAVE_OPENMP
  if (threads > 0) omp_set_num_threads(threads);
#endif
  try {
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    dnnl::stream strm(eng);
    const dt in = bf16 ? dt::bf16 : dt::f32;
    dnnl::memory::desc a_md({m, k}, in, tag::ab), b_md({k, n}, in, tag::ab), c_md({m, n}, dt::f32, tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), eng);
    dnnl::memory a(a_md, eng), b(b_md, eng), c(c_md, eng);
    // Small non-zero inputs (0x3c00 is bf16 0.0078125; 0x3c000000 the same in f32).
    auto fill = [](dnnl::memory& mem, size_t bytes, bool half) {
      auto* p = static_cast<uint8_t*>(mem.get_data_handle());
      if (half) {
        for (size_t i = 0; i + 1 < bytes; i += 2) p[i] = 0, p[i + 1] = 0x3c;
      } else {
        for (size_t i = 0; i + 3 < bytes; i += 4) p[i] = p[i + 1] = 0, p[i + 2] = 0, p[i + 3] = 0x3c;
      }
    };
    fill(a, a_md.get_size(), bf16);
    fill(b, b_md.get_size(), bf16);
    dnnl::matmul mm(pd);
    auto run = [&] {
      mm.execute(strm, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
      strm.wait();
    };
    run();  // warm-up: JIT, first touch
    GemmResult r;
    r.impl = pd.impl_info_str();
    for (int i = 0; i < std::max(1, reps); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      run();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (r.seconds == 0 || s < r.seconds) r.seconds = s;
    }
    r.gflops = 2.0 * m * n * k / r.seconds / 1e9;
    return r;
  } catch (const dnnl::error& e) {
    return error("oneDNN matmul {}x{}x{}: {} (status {})", m, n, k, e.what(), static_cast<int>(e.status));
  }
}
#else
Result<GemmResult> onednn_matmul_gflops(int64_t, int64_t, int64_t, int, int, bool) {
  return error("built without oneDNN (install libdnnl-dev and reconfigure)");
}
#endif

}  // namespace dsv4::cli
