/*
 * bentevi_native: the small C shim Bentevi calls through Deno.dlopen.
 *
 *  - read-only mmap of a whole file (with madvise hints), so token datasets are read zero-copy;
 *  - a streaming bzip2 decompressor over the system libbz2 (feed input, pull output) that
 *    decompresses multi-stream files (several bz2 streams back to back, as Wikipedia's
 *    "multistream" dumps are) and reports truncated or corrupt input as an error code.
 *
 *  - the compute kernels of the native backend (bentevi_kernels.c): matrix products through a
 *    CBLAS library (OpenBLAS) opened at run time, the other ops as vectorised C loops split
 *    across a small thread pool.
 *
 * Every function uses only fixed-width integers, floats and pointers so the FFI signatures are
 * plain. Build (src/native/build.ts):
 * cc -O3 -shared -fPIC -pthread -fno-math-errno -fno-trapping-math -o libbentevi_native.so \
 *    bentevi_native.c bentevi_kernels.c -lbz2 -lm -ldl
 */
#ifndef BENTEVI_NATIVE_H
#define BENTEVI_NATIVE_H

#include <stdint.h>

/* ABI version; bumped whenever a signature changes (the loader checks it). */
#define BN_ABI_VERSION 10

/* Error codes (negative). */
#define BN_OK 0
#define BN_ERR_OPEN -1        /* open()/fstat() failed: errno in *err_out */
#define BN_ERR_MMAP -2        /* mmap() failed: errno in *err_out */
#define BN_ERR_MEMORY -3      /* out of memory (libbz2 or shim) */
#define BN_ERR_DATA -4        /* corrupt bzip2 data (CRC or block structure) */
#define BN_ERR_MAGIC -5       /* input is not bzip2 data (bad stream header) */
#define BN_ERR_TRUNCATED -6   /* input ended inside a bzip2 stream */
#define BN_ERR_STATE -7       /* misuse (e.g. pull after an error) */
#define BN_ERR_EMPTY -8       /* no bzip2 stream at all in the input */

int32_t bn_abi_version(void);

/* Maps `path` (NUL-terminated) read-only. Returns the address (NULL on failure or for an empty
 * file) and writes the size in bytes to *size_out and 0 / an error code to *err_out; on an
 * open/mmap failure *errno_out receives errno. `advice`: 0 normal, 1 sequential, 2 random,
 * 3 willneed. */
void *bn_mmap_file(const char *path, int32_t advice, uint64_t *size_out, int32_t *err_out,
                   int32_t *errno_out);
int32_t bn_munmap(void *addr, uint64_t size);

/* Streaming bzip2 decompression. */
typedef struct bn_bz2 bn_bz2;
bn_bz2 *bn_bz2_new(void);
/* Appends `len` input bytes (copied). Returns BN_OK or an error code. */
int32_t bn_bz2_feed(bn_bz2 *d, const uint8_t *input, uint32_t len);
/* Decompresses into out[0..cap). Returns the number of bytes written (0: needs more input),
 * or a negative error code. */
int64_t bn_bz2_pull(bn_bz2 *d, uint8_t *out, uint32_t cap);
/* Declares the end of input: BN_OK when the input ended cleanly after a complete stream,
 * BN_ERR_TRUNCATED when it ended inside a stream, BN_ERR_EMPTY when there was none. Call only
 * after pull returned 0 with all input consumed. */
int32_t bn_bz2_finish(bn_bz2 *d);
/* Compressed bytes consumed so far (the position reported with an error). */
uint64_t bn_bz2_position(const bn_bz2 *d);
/* Complete bz2 streams decoded so far. */
uint64_t bn_bz2_streams(const bn_bz2 *d);
void bn_bz2_free(bn_bz2 *d);

/* CPU time (user + system, nanoseconds) of the calling thread, and of all waited-for child
 * processes: benchmarks compare CPU time, which a busy machine disturbs far less than wall time. */
int64_t bn_thread_cpu_ns(void);
int64_t bn_children_cpu_ns(void);

/* ---- the native backend's kernels (bentevi_kernels.c) ---- */

/* Opens a CBLAS library (dlopen): BN_OK, BN_ERR_OPEN (not found / not loadable) or BN_ERR_STATE
 * (no cblas_sgemm). bn_blas_message copies the error or the library's configuration string. */
int32_t bn_blas_load(const char *path);
int32_t bn_blas_message(uint8_t *out, uint32_t cap);
/* Threads used by the kernels and by OpenBLAS; returns the count in effect. */
int32_t bn_set_threads(int32_t n);
int32_t bn_get_threads(void);

/* out[M,N] (=|+=) op(a)·op(b) (+ bias), row-major with leading dimensions. */
int32_t bn_sgemm(float *out, const float *a, const float *b, const float *bias, int32_t M,
                 int32_t N, int32_t K, int32_t transA, int32_t transB, int32_t lda, int32_t ldb,
                 int32_t ldc, int32_t accumulate);
void bn_add(float *out, const float *a, const float *b, int32_t n);
void bn_add_into(float *dst, const float *src, int32_t n, double alpha);
double bn_sum_squares(const float *x, int32_t n);
void bn_sum_rows(float *out, const float *x, int32_t M, int32_t N, int32_t accumulate);
void bn_gelu(float *out, const float *x, int32_t n);
void bn_gelu_backward(float *dx, const float *x, const float *dout, int32_t n);
void bn_swiglu(float *out, const float *gate, const float *up, int32_t n);
void bn_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                        const float *up, int32_t n);
void bn_layernorm(float *out, float *mean, float *rstd, const float *x, const float *w,
                  const float *b, int32_t N, int32_t C, float eps);
void bn_layernorm_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                           const float *w, const float *mean, const float *rstd, int32_t N,
                           int32_t C);
void bn_rmsnorm(float *out, float *rstd, const float *x, const float *w, int32_t N, int32_t C,
                float eps);
void bn_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                         const float *rstd, int32_t N, int32_t C);
void bn_rope(float *out, const float *x, const float *cos, const float *sin, int32_t B, int32_t T,
             int32_t W, int32_t head_dim, int32_t rotated_heads, int32_t pos_offset,
             int32_t backward);
/* Embeddings and cross-entropy return the first bad position/row (id outside [0, V), target
 * ≥ V) before writing anything, or -1. */
int32_t bn_embedding(float *out, const int32_t *ids, int32_t n, const float *wte, int32_t V,
                     const float *wpe, int32_t T, int32_t pos_offset, int32_t C);
int32_t bn_embedding_backward(float *dwte, int32_t V, float *dwpe, const float *dout,
                              const int32_t *ids, int32_t n, int32_t T, int32_t C);
int32_t bn_softmax_xent(float *losses, float *dlogits, const float *logits, const int32_t *targets,
                        int32_t N, int32_t V, float grad_scale);
void bn_adamw(float *params, const float *grads, float *m, float *v, const float *mask, int32_t n,
              double lr, double beta1, double beta2, double eps, double weight_decay, double c1,
              double c2, double gscale);
void bn_attention(float *out, float *lse, const float *qkv, int32_t B, int32_t T, int32_t C,
                  int32_t NH, int32_t NKV);
void bn_attention_backward(float *dqkv, const float *dout, const float *out, const float *lse,
                           const float *qkv, int32_t B, int32_t T, int32_t C, int32_t NH,
                           int32_t NKV);
void bn_attention_cached(float *out, const float *qkv, float *kcache, float *vcache, int32_t pos,
                         int32_t Tmax, int32_t B, int32_t T, int32_t C, int32_t NH, int32_t NKV);
void bn_wkv(float *y, const float *k, const float *v, const float *decay, const float *first,
            float *state, int32_t B, int32_t T, int32_t C);
void bn_wkv_backward(float *dw, float *du, float *dk, float *dv, const float *dy, const float *k,
                     const float *v, const float *decay, const float *first, int32_t B, int32_t T,
                     int32_t C);
/* bn_matmul_quant's kernel: -1 the best this CPU has, 0 portable C, 1 AVX2, 2 AVX-512 VNNI (all
 * give the same bits); -2 only reports. Returns the path in effect, or -1 (nothing changed) when this CPU lacks it. */
int32_t bn_quant_path(int32_t path);
/* out[M,N] (=|+=) a[M,K] · Wᵀ (+ bias) with W as N rows of ggml blocks (type 0: Q8_0, 1: Q4_0,
 * 2: Q4_0 repacked by bn_quant_repack — the fast Q4_0 layout), the inputs rounded to Q8_0 blocks
 * first as llama.cpp does. Types 1 and 2 give the same bits. BN_ERR_STATE for bad sizes,
 * BN_ERR_MEMORY when the scratch for the rounded inputs cannot be allocated. */
int32_t bn_matmul_quant(float *out, const float *a, const uint8_t *w, const float *bias,
                        int32_t M, int32_t N, int32_t K, int32_t type, int32_t accumulate);
/* N plain Q4_0 rows of K values (src) → the layout of type 2 (dst, the same size): rows in
 * groups of 16 interleaved block by block, the N mod 16 last rows left plain; bn_quant_unpack
 * undoes it. dst may be src (in place). BN_ERR_STATE for bad sizes, BN_ERR_MEMORY when the
 * temporary copy cannot be allocated. */
int32_t bn_quant_repack(uint8_t *dst, const uint8_t *src, int32_t N, int32_t K);
int32_t bn_quant_unpack(uint8_t *dst, const uint8_t *src, int32_t N, int32_t K);
/* RWKV-7 WKV (0, or −1 when scratch memory could not be allocated). */
int32_t bn_wkv7(float *y, const float *r, const float *w, const float *k, const float *v,
             const float *a, const float *b, float *state, int32_t B, int32_t T, int32_t C,
             int32_t H);
int32_t bn_wkv7_backward(float *dr, float *dw, float *dk, float *dv, float *da, float *db,
                      const float *dy, const float *r, const float *w, const float *k,
                      const float *v, const float *a, const float *b, int32_t B, int32_t T,
                      int32_t C, int32_t H);
/* Pins (RTLD_NODELETE) every loaded library whose path contains `part` (a NUL-terminated
 * string); returns how many. Used for the Vulkan loader and drivers once WebGPU is up. */
int32_t bn_pin_loaded(const char *part);
/* The SIMD clone the hot loops run: 3 x86-64-v3 (AVX2 + FMA), 0 the x86-64 baseline, -1 cannot
 * tell (no x86-64-v3 clones in this build). */
int32_t bn_simd_clone(void);
/* The CPU's level asked directly: 3 x86-64-v3, 0 below it, -1 cannot tell. */
int32_t bn_cpu_level(void);
/* Seconds per [M,K]·[K,N] cblas_sgemm timed inside C (benchmarks: OpenBLAS without the FFI). */
double bn_bench_sgemm(int32_t M, int32_t N, int32_t K, int32_t reps);

#endif
