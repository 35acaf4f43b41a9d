#include "model/linear_dispatch.h"

#include "base/check.h"
#include "base/profile.h"

namespace dsv4::model {

void linear_forward(const LinearWeight& w, const float* x, int64_t m, float* y) {
  switch (w.kind) {
    case LinearWeight::Kind::kFp8: {
      DSV4_PROFILE_SCOPE("linear.fp8");
      kernels::linear_fp8(x, m, w.fp8, y);
      return;
    }
    case LinearWeight::Kind::kFp4: {
      DSV4_PROFILE_SCOPE("linear.fp4");
      kernels::linear_fp4(x, m, w.fp4, y);
      return;
    }
    case LinearWeight::Kind::kBf16: {
      DSV4_PROFILE_SCOPE("linear.bf16");
      kernels::linear_bf16(x, m, w.bf, w.rows, w.cols, y, true);
      return;
    }
    case LinearWeight::Kind::kGgml: {
      DSV4_PROFILE_SCOPE("linear.ggml");
      kernels::linear_ggml(x, m, w.ggml, y, true);
      return;
    }
    case LinearWeight::Kind::kNone: break;
  }
  DSV4_CHECK(false && "linear layer without weights");
}

}  // namespace dsv4::model
