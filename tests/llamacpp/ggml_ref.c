/* Writes the ggml parity fixture (format: src/tensor/ggml_ref_fixture.h): deterministic
 * pseudo-random rows (gaussian, with outliers and an all-zero block) quantized by llama.cpp's own
 * ggml_quantize_chunk and decoded by its dequantize_row_*, from the prebuilt libggml-base.so.
 * No ggml header is used (the llama.cpp sources are not available in CI): the few prototypes are
 * declared here, and the ggml_type numbers are those of src/tensor/ggml_type.h.
 * Usage: ggml_ref OUT_FILE */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t ggml_quantize_chunk(int type, const float* src, void* dst, int64_t start, int64_t nrows, int64_t n_per_row,
                           const float* imatrix);
void ggml_quantize_init(int type);
typedef void (*dequant_fn)(const void* x, float* y, int64_t k);
void dequantize_row_q8_0(const void* x, float* y, int64_t k);
void dequantize_row_q4_K(const void* x, float* y, int64_t k);
void dequantize_row_q6_K(const void* x, float* y, int64_t k);
void dequantize_row_q2_K(const void* x, float* y, int64_t k);
void dequantize_row_iq2_xxs(const void* x, float* y, int64_t k);
void dequantize_row_mxfp4(const void* x, float* y, int64_t k);
void dequantize_row_q4_0(const void* x, float* y, int64_t k);
void dequantize_row_q4_1(const void* x, float* y, int64_t k);
void dequantize_row_q5_0(const void* x, float* y, int64_t k);
void dequantize_row_q5_1(const void* x, float* y, int64_t k);

struct type_case {
  int type, block_elems, block_bytes;
  dequant_fn dequant;
  const char* name;
};
static const struct type_case kCases[] = {
    {8, 32, 34, dequantize_row_q8_0, "q8_0"},       {12, 256, 144, dequantize_row_q4_K, "q4_K"},
    {14, 256, 210, dequantize_row_q6_K, "q6_K"},    {10, 256, 84, dequantize_row_q2_K, "q2_K"},
    {16, 256, 66, dequantize_row_iq2_xxs, "iq2_xxs"}, {39, 32, 17, dequantize_row_mxfp4, "mxfp4"},
    {2, 32, 18, dequantize_row_q4_0, "q4_0"},       {3, 32, 20, dequantize_row_q4_1, "q4_1"},
    {6, 32, 22, dequantize_row_q5_0, "q5_0"},       {7, 32, 24, dequantize_row_q5_1, "q5_1"},
};
enum { kRows = 9, kCols = 1024 };

/* xorshift64* and Box-Muller: the same rows on every run and platform. */
static uint64_t g_state = 0x9E3779B97F4A7C15ull;
static double uniform01(void) {
  g_state ^= g_state >> 12;
  g_state ^= g_state << 25;
  g_state ^= g_state >> 27;
  return ((g_state * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}
static float gaussian(void) {
  const double u = uniform01() + 0x1.0p-54, v = uniform01();
  return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static int put(FILE* f, const void* p, size_t n) { return fwrite(p, 1, n, f) == n; }

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s OUT_FILE\n", argv[0]);
    return 2;
  }
  FILE* f = fopen(argv[1], "wb");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  const uint32_t n_cases = sizeof kCases / sizeof kCases[0];
  const uint32_t hdr[2] = {1, n_cases};
  int ok = put(f, "DSV4GGRF", 8) && put(f, hdr, 8);
  float* src = malloc(sizeof(float) * kRows * kCols);
  float* out = malloc(sizeof(float) * kRows * kCols);
  float* imatrix = malloc(sizeof(float) * kCols);
  for (int i = 0; i < kCols; ++i) imatrix[i] = 1.0f; /* IQ2_XXS needs one: uniform importance */
  for (uint32_t c = 0; ok && c < n_cases; ++c) {
    const struct type_case* tc = &kCases[c];
    for (int r = 0; r < kRows; ++r) {
      const float scale = (float)ldexp(1.0, r - 4); /* rows from 2^-4 to 2^4 */
      for (int i = 0; i < kCols; ++i) src[r * kCols + i] = gaussian() * scale;
    }
    for (int r = 0; r < kRows; ++r) src[r * kCols + (r * 37) % kCols] *= 40.0f; /* an outlier per row */
    memset(src + 2 * kCols + 256, 0, sizeof(float) * 256);                     /* an all-zero super-block */
    const size_t row_bytes = (size_t)kCols / tc->block_elems * tc->block_bytes;
    unsigned char* q = calloc(kRows, row_bytes);
    ggml_quantize_init(tc->type);
    const size_t written = ggml_quantize_chunk(tc->type, src, q, 0, kRows, kCols, tc->type == 16 ? imatrix : NULL);
    if (written != kRows * row_bytes) {
      fprintf(stderr, "ggml_quantize_chunk(%s) wrote %zu bytes, expected %zu\n", tc->name, written, kRows * row_bytes);
      ok = 0;
    }
    for (int r = 0; ok && r < kRows; ++r) tc->dequant(q + r * row_bytes, out + r * kCols, kCols);
    const uint32_t rec[4] = {(uint32_t)tc->type, kRows, kCols, (uint32_t)row_bytes};
    ok = ok && put(f, rec, 16) && put(f, q, kRows * row_bytes) && put(f, out, sizeof(float) * kRows * kCols);
    free(q);
    if (ok) printf("ggml_ref: %-8s %d x %d, %zu bytes per row\n", tc->name, kRows, kCols, row_bytes);
  }
  free(src);
  free(out);
  free(imatrix);
  if (fclose(f) != 0) ok = 0;
  if (!ok) fprintf(stderr, "ggml_ref: failed writing %s\n", argv[1]);
  return ok ? 0 : 1;
}
