/* llama.cpp's own quantizer (llama_model_quantize of the prebuilt libllama that node-llama-cpp
 * ships) on a GGUF file: makes the community-style files (Q6_K, Q4_K_M, Q2_K, ...) that dsv4 must
 * read, without building llama.cpp. Built at test time against the headers of the bundled source.
 * Usage: quantize IN.gguf OUT.gguf FTYPE   (llama_ftype numbers: 15 = Q4_K_M, 18 = Q6_K, ...) */
#include <stdio.h>
#include <stdlib.h>

#include "llama.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s IN.gguf OUT.gguf FTYPE\n", argv[0]);
    return 2;
  }
  llama_backend_init();
  struct llama_model_quantize_params p = llama_model_quantize_default_params();
  p.ftype = (enum llama_ftype)atoi(argv[3]);
  p.nthread = 2;
  p.allow_requantize = true; /* the experts come as MXFP4 */
  const uint32_t rc = llama_model_quantize(argv[1], argv[2], &p);
  llama_backend_free();
  if (rc != 0) fprintf(stderr, "quantize: llama_model_quantize failed (%u)\n", rc);
  return rc == 0 ? 0 : 1;
}
