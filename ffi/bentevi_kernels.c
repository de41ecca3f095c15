/*
 * bentevi_kernels: the compute kernels of the native backend (see bentevi_native.h).
 *
 *  - Matrix products go to a CBLAS library (OpenBLAS) that this file opens at run time with
 *    dlopen: the shim itself never links it, so the shim (mmap, bzip2) loads on a machine
 *    without OpenBLAS, and the backend can say why it is unavailable in one line.
 *  - The other ops are plain C loops written so that GCC/Clang vectorise them (lane arrays
 *    instead of float reductions, branch-free exp). On x86-64 the hot functions are compiled
 *    twice (target_clones: Haswell's AVX2 + FMA, and the x86-64 baseline) and the loader
 *    picks one at run time, so a library built on one x86-64 machine runs on any other.
 *  - Work is split across a small pool of threads by fixed ranges (thread p of P always gets
 *    the same rows), and every sum is taken in a fixed order inside a range: results depend
 *    on the thread count, never on timing.
 */
#define _GNU_SOURCE
#include "bentevi_native.h"

#include <dlfcn.h>
#include <link.h>
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The hot loops in two clones, picked once at load by the CPU's features: x86-64-v3 (AVX2, FMA,
 * F16C, BMI: Intel since Haswell, AMD since Zen) and the x86-64 baseline. Not "arch=haswell":
 * GCC's resolver tests that clone by CPU model (`__builtin_cpu_is`), so it ran on Haswell alone
 * and every AMD or later Intel CPU got the baseline. x86-64-v3 clones need GCC 12. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && \
    __GNUC__ >= 12
#define BN_DISPATCH __attribute__((target_clones("arch=x86-64-v3", "default")))
#define BN_CLONES 3
#elif defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define BN_DISPATCH __attribute__((target_clones("avx2", "default")))
#else
#define BN_DISPATCH
#endif

/* Which clone the loader picked, seen from inside one: a·b + c is contracted into a fused
 * multiply-add only where FMA is enabled (the x86-64-v3 clone), and for a = 1 + 2⁻¹²,
 * c = −(1 + 2⁻¹¹) the fused result is 2⁻²⁴ where the rounded product gives 0. Returns 3 (the
 * x86-64-v3 clone), 0 (the baseline clone), or -1 (cannot tell: no x86-64-v3 clones compiled —
 * another compiler or platform, or GCC < 12). A test holds the loader to picking the x86-64-v3
 * clone on a CPU that has its features (the `arch=haswell` clones were picked on Haswell only). */
BN_DISPATCH static float clone_probe(float a, float b, float c) { return a * b + c; }

int32_t bn_simd_clone(void) {
#ifdef BN_CLONES
  volatile float a = 1.0f + 0x1p-12f, c = -(1.0f + 0x1p-11f);
  return clone_probe(a, a, c) != 0.0f ? BN_CLONES : 0;
#else
  return -1;
#endif
}

/* What the CPU offers, asked directly (not through a clone's resolver): 3 with every x86-64-v3
 * feature, 0 without, -1 cannot tell (as bn_simd_clone). The test compares the two. */
int32_t bn_cpu_level(void) {
#ifdef BN_CLONES
  __builtin_cpu_init();
  return __builtin_cpu_supports("x86-64-v3") ? 3 : 0;
#else
  return -1;
#endif
}

/* ---- CBLAS, opened at run time ------------------------------------------------------------ */

enum { BN_ROW_MAJOR = 101, BN_NO_TRANS = 111, BN_TRANS = 112 };
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *,
                         int, float, float *, int);
typedef void (*sgemv_fn)(int, int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);
typedef void (*set_threads_fn)(int);
typedef char *(*get_config_fn)(void);

static void *blas_handle = NULL;
static sgemm_fn blas_sgemm = NULL;
static sgemv_fn blas_sgemv = NULL;
static set_threads_fn blas_set_threads = NULL;
static get_config_fn blas_get_config = NULL;
static char blas_message[512] = "";

int32_t bn_blas_load(const char *path) {
  if (blas_handle) return BN_OK;
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    snprintf(blas_message, sizeof blas_message, "%s", e ? e : "dlopen failed");
    return BN_ERR_OPEN;
  }
  sgemm_fn gemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
  sgemv_fn gemv = (sgemv_fn)dlsym(h, "cblas_sgemv");
  if (!gemm || !gemv) {
    snprintf(blas_message, sizeof blas_message, "%s has no cblas_sgemm/cblas_sgemv", path);
    dlclose(h);
    return BN_ERR_STATE;
  }
  blas_handle = h;
  blas_sgemm = gemm;
  blas_sgemv = gemv;
  blas_set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
  blas_get_config = (get_config_fn)dlsym(h, "openblas_get_config");
  const char *config = blas_get_config ? blas_get_config() : "CBLAS";
  snprintf(blas_message, sizeof blas_message, "%s", config ? config : "CBLAS");
  return BN_OK;
}

int32_t bn_blas_message(uint8_t *out, uint32_t cap) {
  size_t n = strlen(blas_message);
  if (cap == 0) return (int32_t)n;
  if (n >= cap) n = cap - 1;
  memcpy(out, blas_message, n);
  out[n] = 0;
  return (int32_t)n;
}

/* ---- the thread pool ----------------------------------------------------------------------- */

#define BN_MAX_THREADS 256
/* The pool's threads live as long as the process (they sleep in sem_wait, with return addresses
 * in this library). Deno unloads a library (dlclose) when the isolate that opened it ends — each
 * `deno test` module, each Worker — so without this the code under those sleeping threads could be
 * unmapped, or replaced by another load at the same address, and a woken thread would jump into
 * it. Pinning the library (RTLD_NODELETE) keeps it mapped; a later dlopen of the same file gets
 * this same copy, its threads and its state. */
__attribute__((constructor)) static void bn_pin_library(void) {
  Dl_info info;
  if (dladdr((void *)bn_pin_library, &info) && info.dli_fname)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

/* Pins every loaded library whose file name contains `part` (RTLD_NODELETE: a later dlclose
 * leaves it mapped); returns how many. Why: a Worker that used WebGPU and ends while the process
 * exits destroys its Vulkan instance, and the Vulkan loader then dlcloses the driver — unmapping
 * it and libraries only it needed — while the exiting main thread may still run code in them
 * (a crash at exit, seen with `bench/_exit_race.ts`). Pinned, nothing is unmapped. */
typedef struct {
  const char *part;
  int32_t pinned;
} pin_ctx;

static int pin_one(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  pin_ctx *c = data;
  if (info->dlpi_name && info->dlpi_name[0] && strstr(info->dlpi_name, c->part) &&
      dlopen(info->dlpi_name, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE))
    c->pinned++; /* the handle's reference is kept on purpose: pinned anyway */
  return 0;
}

int32_t bn_pin_loaded(const char *part) {
  pin_ctx c = {.part = part, .pinned = 0};
  if (part && part[0]) dl_iterate_phdr(pin_one, &c);
  return c.pinned;
}

typedef void (*range_fn)(void *ctx, int64_t begin, int64_t end);

static int pool_threads = 1; /* the thread count ops use (bn_set_threads) */
static int pool_workers = 0; /* worker threads started (never stopped) */
static pthread_mutex_t pool_call = PTHREAD_MUTEX_INITIALIZER; /* one parallel op at a time */
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
/* Semaphores, not condition variables: worker w waits on its own `go`, the caller counts
 * `done` posts. Each post hands over exactly one part, so no wake-up can be lost or stolen. */
static sem_t pool_go[BN_MAX_THREADS];
static sem_t pool_done;
static range_fn pool_fn;
static void *pool_ctx;
static int64_t pool_n;
static int pool_parts;

static inline int64_t part_begin(int64_t n, int p, int parts) { return n * p / parts; }

static void sem_wait_uninterrupted(sem_t *s) {
  while (sem_wait(s) != 0) {
    /* EINTR (a signal arrived): wait again */
  }
}

static void *pool_worker(void *arg) {
  int part = (int)(intptr_t)arg + 1; /* worker w runs part w + 1 */
  for (;;) {
    sem_wait_uninterrupted(&pool_go[part - 1]);
    pool_fn(pool_ctx, part_begin(pool_n, part, pool_parts),
            part_begin(pool_n, part + 1, pool_parts));
    sem_post(&pool_done);
  }
  return NULL;
}

static void pool_init(void) { sem_init(&pool_done, 0, 0); }

int32_t bn_set_threads(int32_t n) {
  if (n < 1 || n > BN_MAX_THREADS) return BN_ERR_STATE;
  pthread_once(&pool_once, pool_init);
  pthread_mutex_lock(&pool_call);
  while (pool_workers < n - 1) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sem_init(&pool_go[pool_workers], 0, 0);
    int rc = pthread_create(&t, &attr, pool_worker, (void *)(intptr_t)pool_workers);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      sem_destroy(&pool_go[pool_workers]);
      break;
    }
    pool_workers++;
  }
  pool_threads = pool_workers + 1 < n ? pool_workers + 1 : n;
  pthread_mutex_unlock(&pool_call);
  if (blas_set_threads) blas_set_threads(pool_threads);
  return pool_threads;
}

int32_t bn_get_threads(void) { return pool_threads; }

/* Runs fn over [0, n) in up to `threads` fixed parts of at least `grain` items each. */
static void parallel_for(int64_t n, int64_t grain, range_fn fn, void *ctx) {
  if (n <= 0) return;
  int64_t most = grain > 0 ? (n + grain - 1) / grain : n;
  int parts = pool_threads < most ? pool_threads : (int)most;
  if (parts <= 1 || pthread_mutex_trylock(&pool_call) != 0) {
    fn(ctx, 0, n);
    return;
  }
  pool_fn = fn;
  pool_ctx = ctx;
  pool_n = n;
  pool_parts = parts;
  for (int w = 0; w < parts - 1; w++) sem_post(&pool_go[w]); /* sem_post publishes the job */
  fn(ctx, 0, part_begin(n, 1, parts));
  for (int w = 0; w < parts - 1; w++) sem_wait_uninterrupted(&pool_done);
  pthread_mutex_unlock(&pool_call);
}

/* ---- small vectorisable helpers ------------------------------------------------------------ */

/* e^x in float32, branch-free (Cephes' polynomial; ~1 ulp), clamped to finite results. */
static inline __attribute__((always_inline)) float bn_expf(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  const float shifter = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer */
  float n = (x * 1.44269504088896341f + shifter) - shifter;
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * r * r + r + 1.0f;
  int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

/* 8 floats as one GCC vector (AVX in the x86-64-v3 clones, two SSE registers otherwise);
 * bn_load8 reads one from any float address (the unaligned, may-alias twin of the type). */
typedef float bn_v8f __attribute__((vector_size(32)));
typedef float bn_v8f_any __attribute__((vector_size(32), aligned(4), may_alias));
#define bn_load8(p) (*(const bn_v8f_any *)(p))

static inline __attribute__((always_inline)) float sum_f32(const float *x, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) acc[j] += x[i + j];
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; i++) s += x[i];
  return s;
}

/* Cached keys and values are read a head's slice per position, rows apart: the hardware
 * prefetchers do not follow that, so the loops fetch the slice BN_AHEAD positions ahead. */
#define BN_AHEAD 16

/* Attention's output row: o[0…hd) = Σ_s (S[s]·inv) · v_s over s = 0…n−1 in order, v_s = v + s·stride.
 * 64 columns at a time in 8 vector registers, so that the sums are not stored and reloaded for
 * every s (what the loop over o in memory did: half the time of a long-context decode step);
 * each column adds in the same order, so the bits are the same. */
static inline __attribute__((always_inline)) void weighted_rows(float *o, const float *S, float inv,
                                                                const float *v, int64_t stride,
                                                                int64_t n, int64_t hd) {
  int64_t d0 = 0;
  for (; d0 + 64 <= hd; d0 += 64) {
    bn_v8f acc[8];
    for (int c = 0; c < 8; c++) acc[c] = (bn_v8f){0};
    for (int64_t s = 0; s < n; s++) {
      const float p = S[s] * inv, *vs = v + s * stride + d0;
      if (stride > hd)
        for (int c = 0; c < 64; c += 16) __builtin_prefetch(vs + BN_AHEAD * stride + c);
      for (int c = 0; c < 8; c++) acc[c] += p * bn_load8(vs + 8 * c);
    }
    memcpy(o + d0, acc, sizeof acc);
  }
  for (int64_t d = d0; d < hd; d++) o[d] = 0;
  for (int64_t s = 0; s < n; s++) {
    const float p = S[s] * inv, *vs = v + s * stride;
    for (int64_t d = d0; d < hd; d++) o[d] += p * vs[d];
  }
}

static inline __attribute__((always_inline)) float max_f32(const float *x, int64_t n) {
  float m = -INFINITY;
  float acc[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY,
                  -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
  for (int j = 0; j < 8; j++) m = acc[j] > m ? acc[j] : m;
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

/* ---- matmul ------------------------------------------------------------------------------- */

int32_t bn_sgemm(float *out, const float *a, const float *b, const float *bias, int32_t M,
                 int32_t N, int32_t K, int32_t transA, int32_t transB, int32_t lda, int32_t ldb,
                 int32_t ldc, int32_t accumulate) {
  if (!blas_sgemm) return BN_ERR_STATE;
  if (M == 0 || N == 0) return BN_OK;
  float beta = accumulate ? 1.0f : 0.0f;
  if (bias) {
    for (int32_t i = 0; i < M; i++) {
      float *row = out + (int64_t)i * ldc;
      if (accumulate)
        for (int32_t j = 0; j < N; j++) row[j] += bias[j];
      else
        memcpy(row, bias, sizeof(float) * (size_t)N);
    }
    beta = 1.0f;
  }
  if (K == 0) {
    if (beta == 0.0f)
      for (int32_t i = 0; i < M; i++) memset(out + (int64_t)i * ldc, 0, sizeof(float) * N);
    return BN_OK;
  }
  if (M == 1) {
    /* One row: a matrix-vector product (generation), reading b in place. */
    int incx = transA ? lda : 1;
    if (transB) /* b is [N, K]: out = b · a */
      blas_sgemv(BN_ROW_MAJOR, BN_NO_TRANS, N, K, 1.0f, b, ldb, a, incx, beta, out, 1);
    else /* b is [K, N]: out = bᵀ · a */
      blas_sgemv(BN_ROW_MAJOR, BN_TRANS, K, N, 1.0f, b, ldb, a, incx, beta, out, 1);
    return BN_OK;
  }
  blas_sgemm(BN_ROW_MAJOR, transA ? BN_TRANS : BN_NO_TRANS, transB ? BN_TRANS : BN_NO_TRANS, M, N,
             K, 1.0f, a, lda, b, ldb, beta, out, ldc);
  return BN_OK;
}

/* ---- elementwise and reductions ------------------------------------------------------------ */

typedef struct {
  float *out;
  const float *x, *y;
  double alpha;
  double *partial;
  int64_t n;
} ew_ctx;

BN_DISPATCH static void add_into_range(void *c, int64_t b, int64_t e) {
  ew_ctx *k = c;
  float alpha = (float)k->alpha;
  for (int64_t i = b; i < e; i++) k->out[i] += alpha * k->x[i];
}

void bn_add_into(float *dst, const float *src, int32_t n, double alpha) {
  ew_ctx c = {.out = dst, .x = src, .alpha = alpha};
  parallel_for(n, 1 << 16, add_into_range, &c);
}

BN_DISPATCH static void add_range(void *c, int64_t b, int64_t e) {
  ew_ctx *k = c;
  for (int64_t i = b; i < e; i++) k->out[i] = k->x[i] + k->y[i];
}

void bn_add(float *out, const float *a, const float *b, int32_t n) {
  ew_ctx c = {.out = out, .x = a, .y = b};
  parallel_for(n, 1 << 16, add_range, &c);
}

/* Σx² in fixed chunks of 4096 (double per chunk, chunks summed in order): the same result
 * whatever the thread count. */
#define SQ_CHUNK 4096
BN_DISPATCH static void sumsq_range(void *c, int64_t b, int64_t e) {
  ew_ctx *k = c;
  for (int64_t chunk = b; chunk < e; chunk++) {
    int64_t i0 = chunk * SQ_CHUNK, i1 = i0 + SQ_CHUNK < k->n ? i0 + SQ_CHUNK : k->n;
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = i0;
    for (; i + 8 <= i1; i += 8)
      for (int j = 0; j < 8; j++) acc[j] += k->x[i + j] * k->x[i + j];
    double s = 0;
    for (int j = 0; j < 8; j++) s += acc[j];
    for (; i < i1; i++) s += (double)k->x[i] * k->x[i];
    k->partial[chunk] = s;
  }
}

double bn_sum_squares(const float *x, int32_t n) {
  int64_t chunks = (n + SQ_CHUNK - 1) / SQ_CHUNK;
  if (chunks == 0) return 0;
  double stack[64];
  double *partial = chunks <= 64 ? stack : malloc(sizeof(double) * (size_t)chunks);
  if (!partial) return NAN;
  ew_ctx c = {.x = x, .partial = partial, .n = n};
  parallel_for(chunks, 16, sumsq_range, &c);
  double s = 0;
  for (int64_t i = 0; i < chunks; i++) s += partial[i];
  if (partial != stack) free(partial);
  return s;
}

typedef struct {
  float *out;
  const float *x;
  int64_t M, N;
  int accumulate;
} rows_ctx;

BN_DISPATCH static void sum_rows_range(void *c, int64_t b, int64_t e) {
  rows_ctx *k = c;
  for (int64_t j = b; j < e; j++) k->out[j] = k->accumulate ? k->out[j] : 0.0f;
  for (int64_t m = 0; m < k->M; m++) {
    const float *row = k->x + m * k->N;
    for (int64_t j = b; j < e; j++) k->out[j] += row[j];
  }
}

void bn_sum_rows(float *out, const float *x, int32_t M, int32_t N, int32_t accumulate) {
  rows_ctx c = {.out = out, .x = x, .M = M, .N = N, .accumulate = accumulate};
  parallel_for(N, 64, sum_rows_range, &c);
}

/* ---- activations --------------------------------------------------------------------------- */

#define GELU_SCALE 0.7978845608028654f
#define GELU_CUBIC 0.044715f

typedef struct {
  float *out, *dx;
  const float *x, *y, *dout;
} act_ctx;

BN_DISPATCH static void gelu_range(void *c, int64_t b, int64_t e) {
  act_ctx *k = c;
  for (int64_t i = b; i < e; i++) {
    float x = k->x[i];
    float u = GELU_SCALE * (x + GELU_CUBIC * x * x * x);
    float th = 1.0f - 2.0f / (bn_expf(2.0f * u) + 1.0f);
    k->out[i] = 0.5f * x * (1.0f + th);
  }
}

void bn_gelu(float *out, const float *x, int32_t n) {
  act_ctx c = {.out = out, .x = x};
  parallel_for(n, 1 << 14, gelu_range, &c);
}

BN_DISPATCH static void gelu_backward_range(void *c, int64_t b, int64_t e) {
  act_ctx *k = c;
  for (int64_t i = b; i < e; i++) {
    float x = k->x[i];
    float u = GELU_SCALE * (x + GELU_CUBIC * x * x * x);
    float th = 1.0f - 2.0f / (bn_expf(2.0f * u) + 1.0f);
    float sech2 = 1.0f - th * th;
    float local =
        0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_SCALE * (1.0f + 3.0f * GELU_CUBIC * x * x);
    k->dx[i] += local * k->dout[i];
  }
}

void bn_gelu_backward(float *dx, const float *x, const float *dout, int32_t n) {
  act_ctx c = {.dx = dx, .x = x, .dout = dout};
  parallel_for(n, 1 << 14, gelu_backward_range, &c);
}

typedef struct {
  float *out, *dgate, *dup;
  const float *gate, *up, *dout;
} swiglu_ctx;

BN_DISPATCH static void swiglu_range(void *c, int64_t b, int64_t e) {
  swiglu_ctx *k = c;
  for (int64_t i = b; i < e; i++) {
    float g = k->gate[i];
    k->out[i] = (g / (1.0f + bn_expf(-g))) * k->up[i];
  }
}

void bn_swiglu(float *out, const float *gate, const float *up, int32_t n) {
  swiglu_ctx c = {.out = out, .gate = gate, .up = up};
  parallel_for(n, 1 << 14, swiglu_range, &c);
}

BN_DISPATCH static void swiglu_backward_range(void *c, int64_t b, int64_t e) {
  swiglu_ctx *k = c;
  for (int64_t i = b; i < e; i++) {
    float g = k->gate[i], s = 1.0f / (1.0f + bn_expf(-g)), d = k->dout[i];
    k->dgate[i] += d * k->up[i] * s * (1.0f + g * (1.0f - s));
    k->dup[i] += d * g * s;
  }
}

void bn_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                        const float *up, int32_t n) {
  swiglu_ctx c = {.dgate = dgate, .dup = dup, .dout = dout, .gate = gate, .up = up};
  parallel_for(n, 1 << 14, swiglu_backward_range, &c);
}

/* ---- LayerNorm and RMSNorm ----------------------------------------------------------------- */

typedef struct {
  float *out, *mean, *rstd, *dx, *dw, *db;
  const float *x, *w, *b, *dout;
  int64_t N, C;
  float eps;
} norm_ctx;

BN_DISPATCH static void layernorm_range(void *c, int64_t r0, int64_t r1) {
  norm_ctx *k = c;
  const int64_t C = k->C;
  for (int64_t n = r0; n < r1; n++) {
    const float *x = k->x + n * C;
    float *o = k->out + n * C;
    float m = sum_f32(x, C) / (float)C;
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= C; i += 8)
      for (int j = 0; j < 8; j++) acc[j] += (x[i + j] - m) * (x[i + j] - m);
    float v = sum_f32(acc, 8);
    for (; i < C; i++) v += (x[i] - m) * (x[i] - m);
    v /= (float)C;
    float s = 1.0f / sqrtf(v + k->eps);
    for (int64_t j = 0; j < C; j++) o[j] = (x[j] - m) * s * k->w[j] + k->b[j];
    k->mean[n] = m;
    k->rstd[n] = s;
  }
}

void bn_layernorm(float *out, float *mean, float *rstd, const float *x, const float *w,
                  const float *b, int32_t N, int32_t C, float eps) {
  norm_ctx c = {.out = out, .mean = mean, .rstd = rstd, .x = x, .w = w, .b = b, .N = N, .C = C,
                .eps = eps};
  parallel_for(N, 4096 / (C + 1) + 1, layernorm_range, &c);
}

/* dx per row (rows split across threads); dw/db per column block (each column sums its rows in
 * order), so the result does not depend on the split. */
BN_DISPATCH static void layernorm_dx_range(void *c, int64_t r0, int64_t r1) {
  norm_ctx *k = c;
  const int64_t C = k->C;
  for (int64_t n = r0; n < r1; n++) {
    const float *x = k->x + n * C, *g = k->dout + n * C;
    float *dx = k->dx + n * C;
    float m = k->mean[n], s = k->rstd[n];
    float a1[8] = {0, 0, 0, 0, 0, 0, 0, 0}, a2[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= C; i += 8)
      for (int j = 0; j < 8; j++) {
        float norm = (x[i + j] - m) * s, dnorm = k->w[i + j] * g[i + j];
        a1[j] += dnorm;
        a2[j] += dnorm * norm;
      }
    float dmean = sum_f32(a1, 8), dnm = sum_f32(a2, 8);
    for (; i < C; i++) {
      float norm = (x[i] - m) * s, dnorm = k->w[i] * g[i];
      dmean += dnorm;
      dnm += dnorm * norm;
    }
    dmean /= (float)C;
    dnm /= (float)C;
    for (int64_t j = 0; j < C; j++) {
      float norm = (x[j] - m) * s;
      dx[j] += (k->w[j] * g[j] - dmean - norm * dnm) * s;
    }
  }
}

BN_DISPATCH static void layernorm_dwdb_range(void *c, int64_t c0, int64_t c1) {
  norm_ctx *k = c;
  const int64_t C = k->C;
  for (int64_t n = 0; n < k->N; n++) {
    const float *x = k->x + n * C, *g = k->dout + n * C;
    float m = k->mean[n], s = k->rstd[n];
    for (int64_t j = c0; j < c1; j++) {
      k->db[j] += g[j];
      k->dw[j] += (x[j] - m) * s * g[j];
    }
  }
}

void bn_layernorm_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                           const float *w, const float *mean, const float *rstd, int32_t N,
                           int32_t C) {
  norm_ctx c = {.dx = dx, .dw = dw, .db = db, .dout = dout, .x = x, .w = w,
                .mean = (float *)mean, .rstd = (float *)rstd, .N = N, .C = C};
  parallel_for(N, 4096 / (C + 1) + 1, layernorm_dx_range, &c);
  parallel_for(C, 64, layernorm_dwdb_range, &c);
}

BN_DISPATCH static void rmsnorm_range(void *c, int64_t r0, int64_t r1) {
  norm_ctx *k = c;
  const int64_t C = k->C;
  for (int64_t n = r0; n < r1; n++) {
    const float *x = k->x + n * C;
    float *o = k->out + n * C;
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= C; i += 8)
      for (int j = 0; j < 8; j++) acc[j] += x[i + j] * x[i + j];
    float ms = sum_f32(acc, 8);
    for (; i < C; i++) ms += x[i] * x[i];
    float s = 1.0f / sqrtf(ms / (float)C + k->eps);
    for (int64_t j = 0; j < C; j++) o[j] = x[j] * s * k->w[j];
    k->rstd[n] = s;
  }
}

void bn_rmsnorm(float *out, float *rstd, const float *x, const float *w, int32_t N, int32_t C,
                float eps) {
  norm_ctx c = {.out = out, .rstd = rstd, .x = x, .w = w, .N = N, .C = C, .eps = eps};
  parallel_for(N, 4096 / (C + 1) + 1, rmsnorm_range, &c);
}

BN_DISPATCH static void rmsnorm_dx_range(void *c, int64_t r0, int64_t r1) {
  norm_ctx *k = c;
  const int64_t C = k->C;
  for (int64_t n = r0; n < r1; n++) {
    const float *x = k->x + n * C, *g = k->dout + n * C;
    float *dx = k->dx + n * C;
    float s = k->rstd[n];
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= C; i += 8)
      for (int j = 0; j < 8; j++) acc[j] += k->w[i + j] * g[i + j] * x[i + j];
    float dot = sum_f32(acc, 8);
    for (; i < C; i++) dot += k->w[i] * g[i] * x[i];
    float kk = (dot / (float)C) * s * s;
    for (int64_t j = 0; j < C; j++) dx[j] += (k->w[j] * g[j] - x[j] * kk) * s;
  }
}

BN_DISPATCH static void rmsnorm_dw_range(void *c, int64_t c0, int64_t c1) {
  norm_ctx *k = c;
  const int64_t C = k->C;
  for (int64_t n = 0; n < k->N; n++) {
    const float *x = k->x + n * C, *g = k->dout + n * C;
    float s = k->rstd[n];
    for (int64_t j = c0; j < c1; j++) k->dw[j] += g[j] * x[j] * s;
  }
}

void bn_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                         const float *rstd, int32_t N, int32_t C) {
  norm_ctx c = {.dx = dx, .dw = dw, .dout = dout, .x = x, .w = w, .rstd = (float *)rstd, .N = N,
                .C = C};
  parallel_for(N, 4096 / (C + 1) + 1, rmsnorm_dx_range, &c);
  parallel_for(C, 64, rmsnorm_dw_range, &c);
}

/* ---- RoPE (Hugging Face rotate_half pairs) --------------------------------------------------- */

typedef struct {
  float *out;
  const float *x, *cos, *sin;
  int64_t T, W, half, rotated;
  int64_t pos_offset;
  int backward;
} rope_ctx;

BN_DISPATCH static void rope_range(void *c, int64_t r0, int64_t r1) {
  rope_ctx *k = c;
  for (int64_t r = r0; r < r1; r++) {
    int64_t t = r % k->T, row = r * k->W, table = (k->pos_offset + t) * k->half;
    const float *cs = k->cos + table, *sn = k->sin + table;
    for (int64_t h = 0; h < k->rotated; h += 2 * k->half) {
      const float *x1 = k->x + row + h, *x2 = x1 + k->half;
      float *o1 = k->out + row + h, *o2 = o1 + k->half;
      if (!k->backward) {
        for (int64_t i = 0; i < k->half; i++) {
          float a = x1[i], b = x2[i];
          o1[i] = a * cs[i] - b * sn[i];
          o2[i] = b * cs[i] + a * sn[i];
        }
      } else {
        for (int64_t i = 0; i < k->half; i++) {
          float a = x1[i], b = x2[i];
          o1[i] += a * cs[i] + b * sn[i];
          o2[i] += b * cs[i] - a * sn[i];
        }
      }
    }
    if (k->backward) {
      for (int64_t j = k->rotated; j < k->W; j++) k->out[row + j] += k->x[row + j];
    } else if (k->out != k->x) {
      for (int64_t j = k->rotated; j < k->W; j++) k->out[row + j] = k->x[row + j];
    }
  }
}

/* Forward: out = R(posOffset + t)·x (out may be x). Backward (backward = 1): out += R(t)ᵀ·x,
 * where x is dout and out is dx. */
void bn_rope(float *out, const float *x, const float *cos, const float *sin, int32_t B, int32_t T,
             int32_t W, int32_t head_dim, int32_t rotated_heads, int32_t pos_offset,
             int32_t backward) {
  rope_ctx c = {.out = out, .x = x, .cos = cos, .sin = sin, .T = T, .W = W, .half = head_dim / 2,
                .rotated = rotated_heads * head_dim, .pos_offset = pos_offset,
                .backward = backward};
  parallel_for(B * T, 4096 / (W + 1) + 1, rope_range, &c);
}

/* ---- embeddings ---------------------------------------------------------------------------- */

/* Returns the first position whose id is outside [0, V), or -1. */
static int64_t first_bad_id(const int32_t *ids, int64_t n, int64_t V) {
  for (int64_t i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= V) return i;
  return -1;
}

typedef struct {
  float *out;
  const int32_t *ids;
  const float *wte, *wpe;
  int64_t T, C, pos_offset;
} emb_ctx;

BN_DISPATCH static void embedding_range(void *c, int64_t r0, int64_t r1) {
  emb_ctx *k = c;
  for (int64_t n = r0; n < r1; n++) {
    const float *tok = k->wte + (int64_t)k->ids[n] * k->C;
    float *o = k->out + n * k->C;
    if (k->wpe) {
      const float *pos = k->wpe + (k->pos_offset + n % k->T) * k->C;
      for (int64_t j = 0; j < k->C; j++) o[j] = tok[j] + pos[j];
    } else {
      memcpy(o, tok, sizeof(float) * (size_t)k->C);
    }
  }
}

int32_t bn_embedding(float *out, const int32_t *ids, int32_t n, const float *wte, int32_t V,
                     const float *wpe, int32_t T, int32_t pos_offset, int32_t C) {
  int64_t bad = first_bad_id(ids, n, V);
  if (bad >= 0) return bad;
  emb_ctx c = {.out = out, .ids = ids, .wte = wte, .wpe = wpe, .T = T, .C = C,
               .pos_offset = pos_offset};
  parallel_for(n, 4096 / (C + 1) + 1, embedding_range, &c);
  return -1;
}

/* A scatter-add: sequential, in position order (deterministic). */
BN_DISPATCH int32_t bn_embedding_backward(float *dwte, int32_t V, float *dwpe, const float *dout,
                                          const int32_t *ids, int32_t n, int32_t T, int32_t C) {
  int64_t bad = first_bad_id(ids, n, V);
  if (bad >= 0) return bad;
  for (int64_t i = 0; i < n; i++) {
    float *dt = dwte + (int64_t)ids[i] * C;
    const float *g = dout + i * C;
    for (int64_t j = 0; j < C; j++) dt[j] += g[j];
    if (dwpe) {
      float *dp = dwpe + (i % T) * C;
      for (int64_t j = 0; j < C; j++) dp[j] += g[j];
    }
  }
  return -1;
}

/* ---- softmax + cross-entropy --------------------------------------------------------------- */

typedef struct {
  float *losses, *dlogits;
  const float *logits;
  const int32_t *targets;
  int64_t V;
  float grad_scale;
} xent_ctx;

BN_DISPATCH static void xent_range(void *c, int64_t r0, int64_t r1) {
  xent_ctx *k = c;
  const int64_t V = k->V;
  float *scratch = k->dlogits ? NULL : malloc(sizeof(float) * (size_t)V);
  for (int64_t n = r0; n < r1; n++) {
    const float *l = k->logits + n * V;
    int32_t target = k->targets[n];
    float *e = k->dlogits ? k->dlogits + n * V : scratch;
    if (target < 0) {
      k->losses[n] = 0;
      if (k->dlogits) memset(e, 0, sizeof(float) * (size_t)V);
      continue;
    }
    if (!e) { /* out of memory for the scratch row: compute the sum without storing */
      float max = max_f32(l, V);
      double sum = 0;
      for (int64_t v = 0; v < V; v++) sum += bn_expf(l[v] - max);
      k->losses[n] = (float)(max + log(sum) - l[target]);
      continue;
    }
    float max = max_f32(l, V);
    for (int64_t v = 0; v < V; v++) e[v] = bn_expf(l[v] - max);
    double sum = sum_f32(e, V);
    double lse = max + log(sum);
    if (k->dlogits) {
      float scale = (float)(k->grad_scale / sum);
      for (int64_t v = 0; v < V; v++) e[v] *= scale;
      e[target] = (float)((exp(l[target] - lse) - 1.0) * k->grad_scale);
    }
    k->losses[n] = (float)(lse - l[target]);
  }
  free(scratch);
}

/* Returns the first row whose target is ≥ V, or -1. */
int32_t bn_softmax_xent(float *losses, float *dlogits, const float *logits, const int32_t *targets,
                        int32_t N, int32_t V, float grad_scale) {
  for (int64_t n = 0; n < N; n++)
    if (targets[n] >= V) return n;
  xent_ctx c = {.losses = losses, .dlogits = dlogits, .logits = logits, .targets = targets, .V = V,
                .grad_scale = grad_scale};
  parallel_for(N, 1 + 16384 / (V + 1), xent_range, &c);
  return -1;
}

/* ---- AdamW --------------------------------------------------------------------------------- */

typedef struct {
  float *params, *m, *v;
  const float *grads, *mask;
  double lr, beta1, beta2, eps, wd, c1, c2, gscale;
} adam_ctx;

BN_DISPATCH static void adamw_range(void *c, int64_t b, int64_t e) {
  adam_ctx *k = c;
  const float lr = (float)k->lr, b1 = (float)k->beta1, b2 = (float)k->beta2, eps = (float)k->eps;
  const float wd = (float)k->wd, gs = (float)k->gscale;
  const float ic1 = (float)(1.0 / k->c1), ic2 = (float)(1.0 / k->c2);
  const float nb1 = (float)(1.0 - k->beta1), nb2 = (float)(1.0 - k->beta2);
  for (int64_t i = b; i < e; i++) {
    float g = k->grads[i] * gs;
    float mi = b1 * k->m[i] + nb1 * g;
    float vi = b2 * k->v[i] + nb2 * g * g;
    k->m[i] = mi;
    k->v[i] = vi;
    float decay = k->mask ? wd * k->mask[i] : wd;
    float p = k->params[i];
    k->params[i] = p - lr * ((mi * ic1) / (sqrtf(vi * ic2) + eps) + decay * p);
  }
}

/* c1 = 1 − β1^step, c2 = 1 − β2^step (computed by the caller); gscale includes the clip scale. */
void bn_adamw(float *params, const float *grads, float *m, float *v, const float *mask, int32_t n,
              double lr, double beta1, double beta2, double eps, double weight_decay, double c1,
              double c2, double gscale) {
  adam_ctx c = {.params = params, .grads = grads, .m = m, .v = v, .mask = mask, .lr = lr,
                .beta1 = beta1, .beta2 = beta2, .eps = eps, .wd = weight_decay, .c1 = c1,
                .c2 = c2, .gscale = gscale};
  parallel_for(n, 1 << 15, adamw_range, &c);
}

/* ---- causal attention ---------------------------------------------------------------------- */

typedef struct {
  float *out, *lse, *dqkv, *kcache, *vcache;
  const float *qkv, *dout, *fout;
  int64_t B, T, C, NH, NKV, hd, W, Tmax, pos;
  float scale;
} attn_ctx;

/* kt[d·T + s] = k[s·stride + d] for s < n: keys as columns, so a row of scores is a sum of
 * contiguous axpys. */
static inline __attribute__((always_inline)) void transpose_keys(float *kt, const float *k, int64_t n, int64_t stride,
                                  int64_t hd, int64_t ldt) {
  for (int64_t s = 0; s < n; s++)
    for (int64_t d = 0; d < hd; d++) kt[d * ldt + s] = k[s * stride + d];
}

/* scores[s] = scale·q·k_s for s ≤ last, from transposed keys. */
static inline __attribute__((always_inline)) void row_scores(float *S, const float *q, const float *kt, int64_t n, int64_t hd,
                              int64_t ldt, float scale) {
  for (int64_t s = 0; s < n; s++) S[s] = 0;
  for (int64_t d = 0; d < hd; d++) {
    const float qd = q[d] * scale, *col = kt + d * ldt;
    for (int64_t s = 0; s < n; s++) S[s] += qd * col[s];
  }
}

BN_DISPATCH static void attention_range(void *c, int64_t j0, int64_t j1) {
  attn_ctx *k = c;
  const int64_t T = k->T, hd = k->hd, W = k->W, C = k->C, NH = k->NH;
  const int64_t group = NH / k->NKV, KV = k->NKV * hd;
  float *kt = malloc(sizeof(float) * (size_t)(hd * T + T));
  if (!kt) return;
  float *S = kt + hd * T;
  for (int64_t job = j0; job < j1; job++) {
    int64_t b = job / NH, h = job % NH, kvh = h / group;
    const float *base = k->qkv + b * T * W;
    const float *Q = base + h * hd, *K = base + C + kvh * hd, *Vv = K + KV;
    transpose_keys(kt, K, T, W, hd, T);
    for (int64_t t = 0; t < T; t++) {
      int64_t n = t + 1;
      row_scores(S, Q + t * W, kt, n, hd, T, k->scale);
      float max = max_f32(S, n);
      for (int64_t s = 0; s < n; s++) S[s] = bn_expf(S[s] - max);
      float sum = sum_f32(S, n), inv = 1.0f / sum;
      float *o = k->out + (b * T + t) * C + h * hd;
      weighted_rows(o, S, inv, Vv, W, n, hd);
      k->lse[(b * NH + h) * T + t] = max + logf(sum);
    }
  }
  free(kt);
}

void bn_attention(float *out, float *lse, const float *qkv, int32_t B, int32_t T, int32_t C,
                  int32_t NH, int32_t NKV) {
  int64_t hd = C / NH;
  attn_ctx c = {.out = out, .lse = lse, .qkv = qkv, .B = B, .T = T, .C = C, .NH = NH, .NKV = NKV,
                .hd = hd, .W = C + 2 * NKV * hd, .scale = 1.0f / sqrtf((float)hd)};
  parallel_for(B * NH, 1, attention_range, &c);
}

/* One job per (batch, kv head): its query heads run in order, so dK and dV sum in a fixed
 * order and no two threads write the same rows. */
BN_DISPATCH static void attention_backward_range(void *c, int64_t j0, int64_t j1) {
  attn_ctx *k = c;
  const int64_t T = k->T, hd = k->hd, W = k->W, C = k->C, NH = k->NH, NKV = k->NKV;
  const int64_t group = NH / NKV, KV = NKV * hd;
  const float scale = k->scale;
  size_t floats = (size_t)(2 * hd * T + 2 * T * hd + 2 * T + hd);
  float *kt = calloc(floats, sizeof(float));
  if (!kt) return;
  float *vt = kt + hd * T, *dK = vt + hd * T, *dV = dK + T * hd, *P = dV + T * hd, *dS = P + T;
  float *dq = dS + T;
  for (int64_t job = j0; job < j1; job++) {
    int64_t b = job / NKV, kvh = job % NKV;
    const float *base = k->qkv + b * T * W;
    const float *K = base + C + kvh * hd, *Vv = K + KV;
    transpose_keys(kt, K, T, W, hd, T);
    transpose_keys(vt, Vv, T, W, hd, T);
    memset(dK, 0, sizeof(float) * (size_t)(2 * T * hd));
    for (int64_t h = kvh * group; h < (kvh + 1) * group; h++) {
      const float *Q = base + h * hd;
      for (int64_t t = 0; t < T; t++) {
        int64_t n = t + 1;
        const float *q = Q + t * W;
        const float *g = k->dout + (b * T + t) * C + h * hd;
        const float *o = k->fout + (b * T + t) * C + h * hd;
        float l = k->lse[(b * NH + h) * T + t];
        row_scores(P, q, kt, n, hd, T, scale);
        for (int64_t s = 0; s < n; s++) P[s] = bn_expf(P[s] - l);
        row_scores(dS, g, vt, n, hd, T, 1.0f);
        float D = 0;
        for (int64_t d = 0; d < hd; d++) D += g[d] * o[d];
        for (int64_t s = 0; s < n; s++) dS[s] = P[s] * (dS[s] - D) * scale;
        for (int64_t d = 0; d < hd; d++) dq[d] = 0;
        for (int64_t s = 0; s < n; s++) {
          const float ds = dS[s], p = P[s], *ks = K + s * W;
          float *dks = dK + s * hd, *dvs = dV + s * hd;
          for (int64_t d = 0; d < hd; d++) {
            dq[d] += ds * ks[d];
            dks[d] += ds * q[d];
            dvs[d] += p * g[d];
          }
        }
        float *dqt = k->dqkv + (b * T + t) * W + h * hd;
        for (int64_t d = 0; d < hd; d++) dqt[d] += dq[d];
      }
    }
    for (int64_t s = 0; s < T; s++) {
      float *dk = k->dqkv + (b * T + s) * W + C + kvh * hd, *dv = dk + KV;
      for (int64_t d = 0; d < hd; d++) {
        dk[d] += dK[s * hd + d];
        dv[d] += dV[s * hd + d];
      }
    }
  }
  free(kt);
}

void bn_attention_backward(float *dqkv, const float *dout, const float *out, const float *lse,
                           const float *qkv, int32_t B, int32_t T, int32_t C, int32_t NH,
                           int32_t NKV) {
  int64_t hd = C / NH;
  attn_ctx c = {.dqkv = dqkv, .dout = dout, .fout = out, .lse = (float *)lse, .qkv = qkv, .B = B,
                .T = T, .C = C, .NH = NH, .NKV = NKV, .hd = hd, .W = C + 2 * NKV * hd,
                .scale = 1.0f / sqrtf((float)hd)};
  parallel_for(B * NKV, 1, attention_backward_range, &c);
}

/* A query's scores against 8 keys at once, from the keys of one kv head packed 8 positions at a
 * time with d outermost (kt[d·8 + i] = k_{s+i}[d]): lane i of a[j] is the sum over d ≡ j (mod 8)
 * for key i, and the vertical adds below sum a[0…7] in sum_f32's order. These are the one-key
 * loop's operations in the same order (the same bits), without its horizontal sum per key,
 * which took most of a long prefill's attention time. */
static inline __attribute__((always_inline)) void scores8(float *S, const float *q, const float *kt,
                                                          int64_t hd, float scale) {
  bn_v8f a[8];
  for (int j = 0; j < 8; j++) a[j] = (bn_v8f){0};
  for (int64_t d = 0; d < hd; d += 8)
    for (int j = 0; j < 8; j++) a[j] += q[d + j] * bn_load8(kt + (d + j) * 8);
  bn_v8f sum = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
  sum *= scale;
  memcpy(S, &sum, sizeof sum);
}

/* Attention's output rows of two queries of one head, o1 over n1 positions and o2 over n1 + 1
 * (the next query): weighted_rows for both, 32 columns at a time, each row of v loaded once for
 * the two; every column adds in weighted_rows' order, so the bits are the same. Column d of
 * position s is at v + (d / 32)·chunk + s·stride + d % 32: the cache itself (stride KV, chunk 32)
 * or a head's values packed 32 columns at a time (stride 32, chunk = the positions × 32). */
static inline __attribute__((always_inline)) void weighted_rows2(float *o1, const float *S1,
                                                                 float inv1, float *o2,
                                                                 const float *S2, float inv2,
                                                                 const float *v, int64_t stride,
                                                                 int64_t chunk, int64_t n1,
                                                                 int64_t hd) {
  int64_t d0 = 0;
  for (; d0 + 32 <= hd; d0 += 32) {
    const float *vd = v + d0 / 32 * chunk;
    bn_v8f a[4], b[4];
    for (int c = 0; c < 4; c++) a[c] = b[c] = (bn_v8f){0};
    for (int64_t s = 0; s < n1; s++) {
      const float p1 = S1[s] * inv1, p2 = S2[s] * inv2, *vs = vd + s * stride;
      for (int c = 0; c < 4; c++) {
        const bn_v8f x = bn_load8(vs + 8 * c);
        a[c] += p1 * x;
        b[c] += p2 * x;
      }
    }
    const float p2 = S2[n1] * inv2, *vs = vd + n1 * stride;
    for (int c = 0; c < 4; c++) b[c] += p2 * bn_load8(vs + 8 * c);
    memcpy(o1 + d0, a, sizeof a);
    memcpy(o2 + d0, b, sizeof b);
  }
  for (int64_t d = d0; d < hd; d++) o1[d] = o2[d] = 0;
  for (int64_t s = 0; s <= n1 && d0 < hd; s++) { /* the last hd mod 32 columns (chunk 32) */
    const float p1 = s < n1 ? S1[s] * inv1 : 0, p2 = S2[s] * inv2, *vs = v + s * stride;
    for (int64_t d = d0; d < hd; d++) {
      if (s < n1) o1[d] += p1 * vs[d];
      o2[d] += p2 * vs[d];
    }
  }
}

/* One query's attention weights over the n cached positions kc (rows KV floats apart), into S
 * (unnormalised); returns 1 / their sum. With kt (a prefill), keys are packed for scores8 up to
 * n as the queries need them, *kt_n counting the packed ones. */
static inline __attribute__((always_inline)) float cached_scores(float *S, const float *q,
                                                                 const float *kc, int64_t KV,
                                                                 int64_t hd, int64_t n, float scale,
                                                                 float *kt, int64_t *kt_n) {
  int64_t s = 0;
  if (kt) {
    for (; *kt_n + 8 <= n; *kt_n += 8)
      for (int64_t i = 0; i < 8; i++)
        for (int64_t d = 0; d < hd; d++) kt[*kt_n * hd + d * 8 + i] = kc[(*kt_n + i) * KV + d];
    for (; s + 8 <= n; s += 8) scores8(S + s, q, kt + s * hd, hd, scale);
  }
  /* Four keys at a time: four independent accumulator chains where one key's dot product
   * alone waits on each multiply-add. Each key's sum keeps the one-key order below (8 lanes
   * over d, then sum_f32, then the tail): the same bits. GCC vector types, because the
   * vectoriser leaves the four-key form of the loop scalar. */
  for (; s + 4 <= n && hd % 8 == 0; s += 4) {
    const float *k0 = kc + s * KV, *k1 = k0 + KV, *k2 = k1 + KV, *k3 = k2 + KV;
    bn_v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    if (KV > hd) /* rows apart in the cache: fetch the keys BN_AHEAD positions on */
      for (int64_t u = 0; u < 4; u++)
        for (int64_t d = 0; d < hd; d += 16) __builtin_prefetch(k0 + (BN_AHEAD + u) * KV + d);
    for (int64_t d = 0; d < hd; d += 8) {
      const bn_v8f qd = bn_load8(q + d);
      a0 += qd * bn_load8(k0 + d);
      a1 += qd * bn_load8(k1 + d);
      a2 += qd * bn_load8(k2 + d);
      a3 += qd * bn_load8(k3 + d);
    }
    float l[4][8];
    memcpy(l[0], &a0, 32), memcpy(l[1], &a1, 32), memcpy(l[2], &a2, 32), memcpy(l[3], &a3, 32);
    for (int u = 0; u < 4; u++) S[s + u] = sum_f32(l[u], 8) * scale;
  }
  for (; s < n; s++) {
    const float *ks = kc + s * KV;
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t d = 0;
    for (; d + 8 <= hd; d += 8)
      for (int j = 0; j < 8; j++) acc[j] += q[d + j] * ks[d + j];
    float dot = sum_f32(acc, 8);
    for (; d < hd; d++) dot += q[d] * ks[d];
    S[s] = dot * scale;
  }
  float max = max_f32(S, n);
  for (int64_t s = 0; s < n; s++) S[s] = bn_expf(S[s] - max);
  return 1.0f / sum_f32(S, n);
}

/* KV-cached attention: queries t of this call attend to cache positions 0 … pos + t.
 * Jobs run head by head, job = (b·NH + h)·T + t: a prefill's queries of one head then read
 * that head's keys and values one after another (from L2: 0.8 MB for 1,536 positions of 64
 * floats), where jobs ordered (t, h) streamed every head's cache in turn from memory; and a
 * split of the jobs into contiguous ranges gives each thread whole heads, where (t, h) gave one
 * thread the short early rows and the other the long late ones. One job's sums are unchanged. */
BN_DISPATCH static void attention_cached_range(void *c, int64_t j0, int64_t j1) {
  attn_ctx *k = c;
  const int64_t T = k->T, hd = k->hd, W = k->W, C = k->C, NH = k->NH, Tmax = k->Tmax;
  const int64_t group = NH / k->NKV, KV = k->NKV * hd, most = k->pos + T;
  float *S = malloc(sizeof(float) * (size_t)(2 * most));
  if (!S) return;
  /* A prefill (many queries per head) packs each kv head's keys for scores8 once, as its
   * queries first need them, and takes its queries two by two; without the memory for the
   * packed keys, every query takes the decode path alone (the same bits either way). */
  float *kt = T >= 8 && hd % 8 == 0 ? malloc(sizeof(float) * (size_t)(most * hd)) : NULL;
  /* and, when hd is a multiple of 32, its values 32 columns at a time, so that the output rows
   * read them as one stream instead of 32 floats from rows KV floats apart */
  float *vt = kt && hd % 32 == 0 ? malloc(sizeof(float) * (size_t)(most * hd)) : NULL;
  int64_t head = -1, kt_n = 0, vt_n = 0;
  for (int64_t job = j0; job < j1; job++) {
    int64_t bh = job / T, t = job % T, b = bh / NH, h = bh % NH, kvh = h / group;
    const float *q = k->qkv + (b * T + t) * W + h * hd;
    const float *kc = k->kcache + b * Tmax * KV + kvh * hd;
    const float *vc = k->vcache + b * Tmax * KV + kvh * hd;
    float *o = k->out + (b * T + t) * C + h * hd;
    const int64_t n = k->pos + t + 1;
    const int pair = kt && job + 1 < j1 && t + 1 < T; /* the next job: this head's next query */
    if (b * k->NKV + kvh != head) head = b * k->NKV + kvh, kt_n = vt_n = 0;
    float inv = cached_scores(S, q, kc, KV, hd, n, k->scale, kt, &kt_n);
    if (pair) {
      float inv2 = cached_scores(S + most, q + W, kc, KV, hd, n + 1, k->scale, kt, &kt_n);
      if (vt) {
        for (; vt_n < n + 1; vt_n++)
          for (int64_t d = 0; d < hd; d++) vt[d / 32 * most * 32 + vt_n * 32 + d % 32] = vc[vt_n * KV + d];
        weighted_rows2(o, S, inv, o + C, S + most, inv2, vt, 32, most * 32, n, hd);
      } else {
        weighted_rows2(o, S, inv, o + C, S + most, inv2, vc, KV, 32, n, hd);
      }
      job++;
    } else {
      weighted_rows(o, S, inv, vc, KV, n, hd);
    }
  }
  free(vt);
  free(kt);
  free(S);
}

void bn_attention_cached(float *out, const float *qkv, float *kcache, float *vcache, int32_t pos,
                         int32_t Tmax, int32_t B, int32_t T, int32_t C, int32_t NH, int32_t NKV) {
  int64_t hd = C / NH, KV = NKV * hd, W = C + 2 * KV;
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < T; t++) {
      const float *src = qkv + (b * T + t) * W + C;
      memcpy(kcache + (b * Tmax + pos + t) * KV, src, sizeof(float) * (size_t)KV);
      memcpy(vcache + (b * Tmax + pos + t) * KV, src + KV, sizeof(float) * (size_t)KV);
    }
  attn_ctx c = {.out = out, .qkv = qkv, .kcache = kcache, .vcache = vcache, .B = B, .T = T, .C = C,
                .NH = NH, .NKV = NKV, .hd = hd, .W = W, .Tmax = Tmax, .pos = pos,
                .scale = 1.0f / sqrtf((float)hd)};
  /* Each job reads pos + t keys of hd floats: split only when there is enough work. */
  int64_t per_job = (pos + T) * hd * 4 + 1;
  parallel_for(B * T * NH, 1 + 65536 / per_job, attention_cached_range, &c);
}

/* ---- RWKV-4 WKV ---------------------------------------------------------------------------- */

#define WKV_EMPTY_PP (-1e38)

typedef struct {
  float *y, *state, *dw, *du, *dk, *dv;
  const float *k, *v, *decay, *first, *dy;
  int64_t B, T, C;
} wkv_ctx;

static void wkv_range(void *c, int64_t j0, int64_t j1) {
  wkv_ctx *x = c;
  const int64_t T = x->T, C = x->C;
  for (int64_t job = j0; job < j1; job++) {
    int64_t b = job / C, ch = job % C;
    double w = -exp((double)x->decay[ch]), u = x->first[ch];
    int64_t s = b * 3 * C + ch;
    double aa = x->state ? x->state[s] : 0, bb = x->state ? x->state[s + C] : 0;
    double pp = x->state ? x->state[s + 2 * C] : WKV_EMPTY_PP;
    for (int64_t t = 0; t < T; t++) {
      int64_t i = (b * T + t) * C + ch;
      double kk = x->k[i], vv = x->v[i];
      double ww = u + kk, p = pp > ww ? pp : ww;
      double e1 = exp(pp - p), e2 = exp(ww - p);
      x->y[i] = (float)((e1 * aa + e2 * vv) / (e1 * bb + e2));
      ww = w + pp;
      p = ww > kk ? ww : kk;
      e1 = exp(ww - p);
      e2 = exp(kk - p);
      aa = e1 * aa + e2 * vv;
      bb = e1 * bb + e2;
      pp = p;
    }
    if (x->state) {
      x->state[s] = (float)aa;
      x->state[s + C] = (float)bb;
      x->state[s + 2 * C] = (float)pp;
    }
  }
}

void bn_wkv(float *y, const float *k, const float *v, const float *decay, const float *first,
            float *state, int32_t B, int32_t T, int32_t C) {
  wkv_ctx c = {.y = y, .k = k, .v = v, .decay = decay, .first = first, .state = state, .B = B,
               .T = T, .C = C};
  parallel_for(B * C, 1 + 4096 / (T + 1), wkv_range, &c);
}

/* One job per channel, its batches in order: dw[c] and du[c] sum in a fixed order. */
static void wkv_backward_range(void *c, int64_t c0, int64_t c1) {
  wkv_ctx *x = c;
  const int64_t T = x->T, C = x->C;
  double *ys = malloc(sizeof(double) * (size_t)(3 * T + 1));
  if (!ys) return;
  double *zs = ys + T, *nos = zs + T;
  for (int64_t ch = c0; ch < c1; ch++) {
    double w = -exp((double)x->decay[ch]), u = x->first[ch];
    double gw = 0, gu = 0;
    for (int64_t b = 0; b < x->B; b++) {
      double aa = 0, bb = 0, pp = WKV_EMPTY_PP, daa = 0, dbb = 0;
      for (int64_t t = 0; t < T; t++) {
        int64_t i = (b * T + t) * C + ch;
        double kk = x->k[i], vv = x->v[i], g = x->dy[i];
        double no = pp > u + kk ? pp : u + kk;
        double A = exp(pp - no), E = exp(u + kk - no);
        double z = 1 / (A * bb + E);
        double yt = (A * aa + E * vv) * z;
        ys[t] = yt;
        zs[t] = z;
        nos[t] = no;
        gw += g * (daa - dbb * yt) * z * A;
        gu += g * (vv - yt) * E * z;
        no = w + pp > kk ? w + pp : kk;
        A = exp(w + pp - no);
        E = exp(kk - no);
        daa = A * (aa + daa);
        dbb = A * (bb + dbb);
        aa = A * aa + E * vv;
        bb = A * bb + E;
        pp = no;
      }
      double ga = 0, gb = 0, o = WKV_EMPTY_PP;
      for (int64_t t = T - 1; t >= 0; t--) {
        int64_t i = (b * T + t) * C + ch;
        double kk = x->k[i], vv = x->v[i], g = x->dy[i], yt = ys[t];
        double direct = g * zs[t] * exp(u + kk - nos[t]);
        double later = exp(kk + o);
        x->dk[i] = (float)(x->dk[i] + (direct * (vv - yt) + later * (ga * vv - gb)));
        x->dv[i] = (float)(x->dv[i] + (direct + later * ga));
        double no = w + o > -nos[t] ? w + o : -nos[t];
        double A = exp(w + o - no);
        double E = g * zs[t] * exp(-nos[t] - no);
        ga = A * ga + E;
        gb = A * gb + E * yt;
        o = no;
      }
    }
    x->dw[ch] = (float)(x->dw[ch] + gw * w);
    x->du[ch] = (float)(x->du[ch] + gu);
  }
  free(ys);
}

void bn_wkv_backward(float *dw, float *du, float *dk, float *dv, const float *dy, const float *k,
                     const float *v, const float *decay, const float *first, int32_t B, int32_t T,
                     int32_t C) {
  wkv_ctx c = {.dw = dw, .du = du, .dk = dk, .dv = dv, .dy = dy, .k = k, .v = v, .decay = decay,
               .first = first, .B = B, .T = T, .C = C};
  parallel_for(C, 1 + 4096 / (B * T + 1), wkv_backward_range, &c);
}

/* ---- quantized matmul (ggml Q8_0 / Q4_0 weights) ------------------------------------------ */

/* llama.cpp's arithmetic (ggml_vec_dot_q8_0_q8_0 / _q4_0_q8_0): each input row is first rounded
 * to Q8_0 blocks as ggml's x86 quantize_row_q8_0 does (d = amax/127 stored as float16,
 * q = round-half-even(x · 127/amax)); a block's product is an exact integer dot product of the
 * weight's and the input's 32 quants, scaled by d_w · d_x and added in float32. Each output is
 * computed by one thread in a fixed order, so results do not depend on the thread count. */

#define BN_Q8 0
#define BN_Q4 1
#define BN_Q4X16 2 /* Q4_0 repacked by bn_quant_repack: 16 rows interleaved per block */

/* Q4_0X16, the layout of bn_quant_repack: the rows in groups of 16; for group g and block b,
 * 288 bytes at (g·nb + b)·288: the 16 rows' float16 scales (32 bytes), then 4 chunks of 64
 * bytes, chunk c holding, in 32-bit lane j, row j's quant bytes 4c…4c+3 (quants 4c…4c+3 in the
 * low nibbles, 16+4c…16+4c+3 in the high ones). One 64-byte load thus serves 16 rows, and a
 * broadcast of 4 input quants multiplies all 16 (as llama.cpp's repacked Q4_0 GEMM does). The
 * N mod 16 last rows follow as plain Q4_0 rows; the size is the plain layout's. */
#define Q4X16_GROUP 288

/* Plain Q4_0 rows ↔ Q4_0X16 (dir 1: to the interleaved layout, 0: back), src and dst the same
 * size and allowed to be the same buffer (the groups go through a temporary copy). */
static int32_t q4x16_convert(uint8_t *dst, const uint8_t *src, int32_t N, int32_t K, int dir) {
  if (N < 1 || K < 32 || K % 32 != 0) return BN_ERR_STATE;
  const int64_t nb = K / 32, groups = N / 16, bytes = groups * nb * Q4X16_GROUP;
  uint8_t *tmp = malloc(bytes > 0 ? (size_t)bytes : 1);
  if (!tmp) return BN_ERR_MEMORY;
  memcpy(tmp, src, (size_t)bytes);
  for (int64_t g = 0; g < groups; g++)
    for (int64_t b = 0; b < nb; b++) {
      uint8_t *x = (dir ? dst : tmp) + (g * nb + b) * Q4X16_GROUP;
      for (int j = 0; j < 16; j++) {
        uint8_t *blk = (dir ? tmp : dst) + ((g * 16 + j) * nb + b) * 18;
        uint8_t *from = dir ? blk : x, *to = dir ? x : blk;
        if (dir) {
          to[2 * j] = from[0], to[2 * j + 1] = from[1];
          for (int c = 0; c < 4; c++) memcpy(to + 32 + 64 * c + 4 * j, from + 2 + 4 * c, 4);
        } else {
          to[0] = from[2 * j], to[1] = from[2 * j + 1];
          for (int c = 0; c < 4; c++) memcpy(to + 2 + 4 * c, from + 32 + 64 * c + 4 * j, 4);
        }
      }
    }
  free(tmp);
  if (dst != src) memcpy(dst + bytes, src + bytes, (size_t)((N - groups * 16) * nb * 18));
  return BN_OK;
}

int32_t bn_quant_repack(uint8_t *dst, const uint8_t *src, int32_t N, int32_t K) {
  return q4x16_convert(dst, src, N, K, 1);
}

int32_t bn_quant_unpack(uint8_t *dst, const uint8_t *src, int32_t N, int32_t K) {
  return q4x16_convert(dst, src, N, K, 0);
}

static inline float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (e == 0) {
    float f = (float)man * 5.9604644775390625e-8f; /* zero or subnormal: man · 2^-24 */
    return sign ? -f : f;
  }
  bits = e == 31 ? sign | 0x7f800000u | (man << 13) : sign | ((e + 112) << 23) | (man << 13);
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* A non-negative finite float rounded to float16 (nearest even) and back: ggml stores the
 * input blocks' scales as float16. */
static inline float round_to_half(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  if (x >= 0x477ff000u) return INFINITY;                     /* ≥ 65520 rounds to infinity */
  if (x < 0x38800000u) return nearbyintf(f * 16777216.0f) * 5.9604644775390625e-8f; /* subnormal */
  x = (x + 0xfffu + ((x >> 13) & 1)) & ~0x1fffu;
  memcpy(&f, &x, sizeof f);
  return f;
}

typedef struct {
  float *out;
  const float *a, *bias, *da;
  float *da8; /* each input block's scale 8 times (the AVX-512 Q8_0 kernel's scale vectors) */
  const uint8_t *w;
  int8_t *qa;
  int32_t *ys; /* per input block, −8 · (sum of its quants): Q4_0's offset of 8 */
  int64_t M, N, K;
  int32_t type, accumulate;
} mq_ctx;

/* Input rows → Q8_0 blocks (quants in qa[M·K], scales in da[M·K/32]). */
BN_DISPATCH static void mq_quantize_rows(void *c, int64_t r0, int64_t r1) {
  mq_ctx *k = c;
  const int64_t K = k->K, nb = K / 32;
  float *da = (float *)k->da;
  for (int64_t r = r0; r < r1; r++) {
    for (int64_t b = 0; b < nb; b++) {
      const float *x = k->a + r * K + b * 32;
      int8_t *q = k->qa + r * K + b * 32;
      float amax = 0;
      for (int j = 0; j < 32; j++) {
        float v = fabsf(x[j]);
        amax = v > amax ? v : amax;
      }
      const float id = amax != 0.0f && amax <= 3.4028235e38f ? 127.0f / amax : 0.0f;
      float poison = 0; /* NaN when the block holds a NaN or an infinity: its outputs are NaN */
      int32_t sum = 0;
      for (int j = 0; j < 32; j++) {
        poison += x[j] * 0.0f;
        q[j] = (int8_t)nearbyintf(x[j] * id);
        sum += q[j];
      }
      da[r * nb + b] = round_to_half(amax / 127.0f) + poison;
      for (int l = 0; l < 8; l++) k->da8[(r * nb + b) * 8 + l] = da[r * nb + b];
      k->ys[r * nb + b] = -8 * sum;
    }
  }
}

static inline void mq_store(mq_ctx *k, int64_t m, int64_t n, float s) {
  if (k->bias) s += k->bias[n];
  float *o = k->out + m * k->N + n;
  *o = k->accumulate ? *o + s : s;
}

/* Q8_0: the float part of every path in one order (so that all paths give the same bits): a
 * block's 8 integer lane sums (lane l: the products of quants 4l…4l+3) become floats, times
 * d_w · d_x, fused-multiply-added into 8 float lanes, even blocks in one chain and odd blocks in
 * another; the two chains are added lane-wise and the 8 lanes summed as mq_hsum does.
 * Q4_0 (plain or repacked): a block's whole integer dot product becomes one float, times
 * d_w · d_x, fused-multiply-added into one chain over the blocks — one multiply-add per block,
 * which the 16-row kernels do for 16 rows at once. */

/* Portable Q8_0 (fmaf: the same rounding as the vector FMA). */
static void mq_range_generic(void *c, int64_t n0, int64_t n1) {
  mq_ctx *k = c;
  const int64_t K = k->K, nb = K / 32;
  for (int64_t n = n0; n < n1; n++) {
    const uint8_t *row = k->w + n * nb * 34;
    for (int64_t m = 0; m < k->M; m++) {
      const int8_t *qa = k->qa + m * K;
      float acc[2][8] = {{0}};
      for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = row + b * 34;
        const int8_t *y = qa + b * 32;
        int32_t s[8] = {0};
        const int8_t *q = (const int8_t *)(blk + 2);
        for (int j = 0; j < 32; j++) s[j / 4] += (int32_t)q[j] * y[j];
        const float d = half_to_float((uint16_t)(blk[0] | blk[1] << 8)) * k->da[m * nb + b];
        for (int l = 0; l < 8; l++) acc[b & 1][l] = fmaf(d, (float)s[l], acc[b & 1][l]);
      }
      float v[8], t[4];
      for (int l = 0; l < 8; l++) v[l] = acc[0][l] + acc[1][l];
      for (int l = 0; l < 4; l++) t[l] = v[l] + v[l + 4];
      mq_store(k, m, n, (t[0] + t[2]) + (t[1] + t[3]));
    }
  }
}

/* Portable Q4_0, plain rows [n0, n1) (`rows` points at row n0 … of plain blocks). */
static void mq_q4_rows(mq_ctx *k, const uint8_t *rows, int64_t n0, int64_t n1) {
  const int64_t K = k->K, nb = K / 32;
  for (int64_t n = n0; n < n1; n++) {
    const uint8_t *row = rows + (n - n0) * nb * 18;
    for (int64_t m = 0; m < k->M; m++) {
      float acc = 0;
      for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = row + b * 18;
        const int8_t *y = k->qa + m * K + b * 32;
        int32_t s = 0;
        for (int j = 0; j < 16; j++)
          s += ((int32_t)(blk[2 + j] & 15) - 8) * y[j] + ((int32_t)(blk[2 + j] >> 4) - 8) * y[j + 16];
        const float d = half_to_float((uint16_t)(blk[0] | blk[1] << 8)) * k->da[m * nb + b];
        acc = fmaf(d, (float)s, acc);
      }
      mq_store(k, m, n, acc);
    }
  }
}

/* Portable Q4_0X16: group g's 16 rows, read from the interleaved layout. */
static void mq_q4x16_group_generic(mq_ctx *k, int64_t g) {
  const int64_t K = k->K, nb = K / 32;
  const uint8_t *grp = k->w + g * nb * Q4X16_GROUP;
  for (int j = 0; j < 16; j++)
    for (int64_t m = 0; m < k->M; m++) {
      float acc = 0;
      for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = grp + b * Q4X16_GROUP;
        const int8_t *y = k->qa + m * K + b * 32;
        int32_t s = 0;
        for (int i = 0; i < 16; i++) {
          const uint8_t q = blk[32 + 64 * (i / 4) + 4 * j + i % 4];
          s += ((int32_t)(q & 15) - 8) * y[i] + ((int32_t)(q >> 4) - 8) * y[i + 16];
        }
        const float d = half_to_float((uint16_t)(blk[2 * j] | blk[2 * j + 1] << 8)) * k->da[m * nb + b];
        acc = fmaf(d, (float)s, acc);
      }
      mq_store(k, m, g * 16 + j, acc);
    }
}

/* Plain Q4_0 rows [n0, n1) (any path: the repacked layout is the fast one). */
static void mq_range_q4(void *c, int64_t n0, int64_t n1) {
  mq_ctx *k = c;
  mq_q4_rows(k, k->w + n0 * (k->K / 32) * 18, n0, n1);
}

/* Q4_0X16 units [u0, u1): unit u < N/16 is group u, the last unit the N mod 16 plain rows. */
typedef void (*mq_group_fn)(mq_ctx *k, int64_t g);
static inline void mq_units(mq_ctx *k, int64_t u0, int64_t u1, mq_group_fn group) {
  const int64_t groups = k->N / 16, nb = k->K / 32;
  for (int64_t u = u0; u < u1; u++) {
    if (u < groups) group(k, u);
    else mq_q4_rows(k, k->w + groups * nb * Q4X16_GROUP, groups * 16, k->N);
  }
}
static void mq_range_q4x16_generic(void *c, int64_t u0, int64_t u1) {
  mq_units(c, u0, u1, mq_q4x16_group_generic);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BN_AVX2 __attribute__((target("avx2,fma,f16c")))
#define BN_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define BN_HAVE_AVX2_QUANT 1

BN_AVX2 static inline float mq_hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* Q8_0, ROWS input rows (a compile-time 1..4) against weight rows [n0, n1): each weight block
 * is loaded once for all ROWS rows; |w| · (y signed by w) with maddubs, as llama.cpp. */
BN_AVX2 static inline __attribute__((always_inline)) void mq_tile(mq_ctx *k, int64_t m0,
                                                                  const int ROWS, int64_t n0,
                                                                  int64_t n1) {
  const int64_t K = k->K, nb = K / 32;
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t n = n0; n < n1; n++) {
    const uint8_t *row = k->w + n * nb * 34;
    __m256 acc[2][4]; /* [block parity][row] */
    for (int r = 0; r < 4; r++) acc[0][r] = acc[1][r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
      const uint8_t *blk = row + b * 34;
      const float dw = _cvtsh_ss((uint16_t)(blk[0] | blk[1] << 8));
      const __m256i w = _mm256_loadu_si256((const __m256i *)(blk + 2));
      const __m256i aw = _mm256_sign_epi8(w, w);
      for (int r = 0; r < ROWS; r++) {
        const int64_t i = (m0 + r) * nb + b;
        const __m256i y = _mm256_loadu_si256((const __m256i *)(k->qa + i * 32));
        const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(y, w)), ones);
        const __m256 d = _mm256_set1_ps(dw * k->da[i]);
        acc[b & 1][r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc[b & 1][r]);
      }
    }
    for (int r = 0; r < ROWS; r++)
      mq_store(k, m0 + r, n, mq_hsum(_mm256_add_ps(acc[0][r], acc[1][r])));
  }
}

BN_AVX2 static void mq_range_avx2(void *c, int64_t n0, int64_t n1) {
  mq_ctx *k = c;
  int64_t m = 0;
  for (; m + 4 <= k->M; m += 4) mq_tile(k, m, 4, n0, n1);
  switch (k->M - m) {
  case 3: mq_tile(k, m, 3, n0, n1); break;
  case 2: mq_tile(k, m, 2, n0, n1); break;
  case 1: mq_tile(k, m, 1, n0, n1); break;
  default: break;
  }
}

/* One block's 16 rows' outputs of the Q4_0X16 kernels: out[m0+r][n0…n0+7] from 8 float lanes,
 * with bias and accumulate as mq_store (the same float operations, lane-wise). */
BN_AVX2 static inline void mq_store8(mq_ctx *k, int64_t m, int64_t n0, __m256 s) {
  if (k->bias) s = _mm256_add_ps(s, _mm256_loadu_ps(k->bias + n0));
  float *o = k->out + m * k->N + n0;
  _mm256_storeu_ps(o, k->accumulate ? _mm256_add_ps(_mm256_loadu_ps(o), s) : s);
}

/* Q4_0X16 with AVX2, rows 8h…8h+7 of group g for ROWS input rows (1..4): per block, the 4
 * chunks' halves unpacked to low and high nibbles once; per input row, 4 quants broadcast
 * times each unpacked vector (maddubs + madd: lane j gets row j's 4 products), the block's
 * integer sums start at −8·Σy (the nibbles' offset), then one multiply-add per block. */
BN_AVX2 static inline __attribute__((always_inline)) void mq_half16(mq_ctx *k, int64_t m0,
                                                                    const int ROWS, int64_t g,
                                                                    int h) {
  const int64_t K = k->K, nb = K / 32;
  const uint8_t *grp = k->w + g * nb * Q4X16_GROUP;
  const __m256i ones = _mm256_set1_epi16(1), low4 = _mm256_set1_epi8(15);
  __m256 acc[4];
  for (int r = 0; r < 4; r++) acc[r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *blk = grp + b * Q4X16_GROUP;
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16 * h)));
    __m256i lo[4], hi[4];
    for (int c = 0; c < 4; c++) {
      const __m256i v = _mm256_loadu_si256((const __m256i *)(blk + 32 + 64 * c + 32 * h));
      lo[c] = _mm256_and_si256(v, low4);
      hi[c] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
    }
    for (int r = 0; r < ROWS; r++) {
      const int64_t i = (m0 + r) * nb + b;
      const int8_t *y = k->qa + i * 32;
      __m256i s = _mm256_set1_epi32(k->ys[i]);
      for (int c = 0; c < 4; c++) {
        int32_t y0, y1;
        memcpy(&y0, y + 4 * c, 4), memcpy(&y1, y + 16 + 4 * c, 4);
        s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(lo[c], _mm256_set1_epi32(y0)), ones));
        s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(hi[c], _mm256_set1_epi32(y1)), ones));
      }
      const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(k->da[i]));
      acc[r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc[r]);
    }
  }
  for (int r = 0; r < ROWS; r++) mq_store8(k, m0 + r, g * 16 + 8 * h, acc[r]);
}

BN_AVX2 static void mq_group_avx2(mq_ctx *k, int64_t g) {
  for (int h = 0; h < 2; h++) {
    int64_t m = 0;
    for (; m + 4 <= k->M; m += 4) mq_half16(k, m, 4, g, h);
    switch (k->M - m) {
    case 3: mq_half16(k, m, 3, g, h); break;
    case 2: mq_half16(k, m, 2, g, h); break;
    case 1: mq_half16(k, m, 1, g, h); break;
    default: break;
    }
  }
}
BN_AVX2 static void mq_range_q4x16_avx2(void *c, int64_t u0, int64_t u1) {
  mq_units(c, u0, u1, mq_group_avx2);
}

/* The AVX-512 (VNNI) Q8_0 kernel: two consecutive blocks per 512-bit register (the even block
 * in lanes 0–7, the odd one in lanes 8–15: the two chains above), their integer lane sums by
 * vpdpbusd (u8 × s8, 4 adjacent products per int32 lane: the same integers as maddubs + madd).
 * Weight row n, input rows m0…m0+ROWS−1 (ROWS compile-time 1..8). */
BN_AVX512 static inline __attribute__((always_inline)) void mq_row512(mq_ctx *k, int64_t m0,
                                                                      const int ROWS, int64_t n) {
  const int64_t K = k->K, nb = K / 32;
  const __m512i zero = _mm512_setzero_si512();
  const __m512i pair = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  const uint8_t *row = k->w + n * nb * 34;
  __m512 acc[8];
  for (int r = 0; r < ROWS; r++) acc[r] = _mm512_setzero_ps();
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    const uint8_t *blk = row + b * 34;
    /* [d_w of block b ×8, of block b+1 ×8]; per row, times the input's two scales */
    const uint32_t h2 = (uint32_t)(blk[0] | blk[1] << 8) | (uint32_t)(blk[34] | blk[35] << 8) << 16;
    const __m512 dw =
        _mm512_permutexvar_ps(pair, _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128((int)h2))));
    const __m512i w = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(blk + 2))),
        _mm256_loadu_si256((const __m256i *)(blk + 36)), 1);
    const __m512i aw = _mm512_abs_epi8(w);
    const __mmask64 neg = _mm512_movepi8_mask(w);
    for (int r = 0; r < ROWS; r++) {
      const int64_t i = (m0 + r) * nb + b;
      const __m512i y = _mm512_loadu_si512((const void *)(k->qa + i * 32));
      const __m512 da = _mm512_loadu_ps(k->da8 + i * 8);
      const __m512i p = _mm512_dpbusd_epi32(zero, aw, _mm512_mask_sub_epi8(y, neg, zero, y));
      acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(dw, da), _mm512_cvtepi32_ps(p), acc[r]);
    }
  }
  if (b < nb) { /* an odd count: the last block is even, lanes 0–7 only */
    const uint8_t *blk = row + b * 34;
    const float dw = _cvtsh_ss((uint16_t)(blk[0] | blk[1] << 8));
    const __m256i w = _mm256_loadu_si256((const __m256i *)(blk + 2));
    const __m256i aw = _mm256_abs_epi8(w);
    for (int r = 0; r < ROWS; r++) {
      const int64_t i = (m0 + r) * nb + b;
      const __m256i y = _mm256_loadu_si256((const __m256i *)(k->qa + i * 32));
      const __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), aw, _mm256_sign_epi8(y, w));
      const __m512 d = _mm512_set1_ps(dw * k->da[i]);
      acc[r] = _mm512_mask3_fmadd_ps(d, _mm512_castps256_ps512(_mm256_cvtepi32_ps(p)), acc[r],
                                     0x00ff);
    }
  }
  for (int r = 0; r < ROWS; r++) {
    const __m256 lo = _mm512_castps512_ps256(acc[r]);
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[r]), 1));
    mq_store(k, m0 + r, n, mq_hsum(_mm256_add_ps(lo, hi)));
  }
}

BN_AVX512 static inline __attribute__((always_inline)) void mq_tile512(mq_ctx *k, int64_t m0,
                                                                       const int ROWS, int64_t n0,
                                                                       int64_t n1) {
  for (int64_t n = n0; n < n1; n++) mq_row512(k, m0, ROWS, n);
}

#define MQ_TILES8(TILE, ...)                                                                    \
  do {                                                                                          \
    int64_t m = 0;                                                                              \
    for (; m + 8 <= k->M; m += 8) TILE(k, m, 8, __VA_ARGS__);                                   \
    switch (k->M - m) {                                                                         \
    case 7: TILE(k, m, 7, __VA_ARGS__); break;                                                  \
    case 6: TILE(k, m, 6, __VA_ARGS__); break;                                                  \
    case 5: TILE(k, m, 5, __VA_ARGS__); break;                                                  \
    case 4: TILE(k, m, 4, __VA_ARGS__); break;                                                  \
    case 3: TILE(k, m, 3, __VA_ARGS__); break;                                                  \
    case 2: TILE(k, m, 2, __VA_ARGS__); break;                                                  \
    case 1: TILE(k, m, 1, __VA_ARGS__); break;                                                  \
    default: break;                                                                             \
    }                                                                                           \
  } while (0)

BN_AVX512 static void mq_range_avx512(void *c, int64_t n0, int64_t n1) {
  mq_ctx *k = c;
  MQ_TILES8(mq_tile512, n0, n1);
}

/* Q4_0X16 with AVX-512 VNNI: group g (16 rows) for ROWS input rows (1..8); as mq_half16 with
 * the 16 rows in one register and vpdpbusd taking the broadcast input quants from memory. */
BN_AVX512 static inline __attribute__((always_inline)) void mq_group512(mq_ctx *k, int64_t m0,
                                                                        const int ROWS, int64_t g) {
  const int64_t K = k->K, nb = K / 32;
  const uint8_t *grp = k->w + g * nb * Q4X16_GROUP;
  const __m512i low4 = _mm512_set1_epi8(15);
  __m512 acc[8];
  for (int r = 0; r < ROWS; r++) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *blk = grp + b * Q4X16_GROUP;
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)blk));
    __m512i lo[4], hi[4];
    for (int c = 0; c < 4; c++) {
      const __m512i v = _mm512_loadu_si512((const void *)(blk + 32 + 64 * c));
      lo[c] = _mm512_and_si512(v, low4);
      hi[c] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
    }
    for (int r = 0; r < ROWS; r++) {
      const int64_t i = (m0 + r) * nb + b;
      const int8_t *y = k->qa + i * 32;
      __m512i s = _mm512_set1_epi32(k->ys[i]);
      for (int c = 0; c < 4; c++) {
        int32_t y0, y1;
        memcpy(&y0, y + 4 * c, 4), memcpy(&y1, y + 16 + 4 * c, 4);
        s = _mm512_dpbusd_epi32(s, lo[c], _mm512_set1_epi32(y0));
        s = _mm512_dpbusd_epi32(s, hi[c], _mm512_set1_epi32(y1));
      }
      const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(k->da[i]));
      acc[r] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(s), acc[r]);
    }
  }
  for (int r = 0; r < ROWS; r++) {
    __m512 s = acc[r];
    if (k->bias) s = _mm512_add_ps(s, _mm512_loadu_ps(k->bias + g * 16));
    float *o = k->out + (m0 + r) * k->N + g * 16;
    _mm512_storeu_ps(o, k->accumulate ? _mm512_add_ps(_mm512_loadu_ps(o), s) : s);
  }
}

BN_AVX512 static void mq_group_avx512(mq_ctx *k, int64_t g) {
  MQ_TILES8(mq_group512, g);
}
BN_AVX512 static void mq_range_q4x16_avx512(void *c, int64_t u0, int64_t u1) {
  mq_units(c, u0, u1, mq_group_avx512);
}
#endif

/* The kernel paths: 0 portable, 1 AVX2, 2 AVX-512 VNNI. */
static int mq_best_path(void) {
#ifdef BN_HAVE_AVX2_QUANT
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni"))
    return 2;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c"))
    return 1;
#endif
  return 0;
}
static int mq_path = -1; /* -1: not chosen yet */

int32_t bn_quant_path(int32_t path) {
  const int best = mq_best_path();
  if (path == -2) return mq_path < 0 ? (mq_path = best) : mq_path;
  if (path < -1 || path > best) return -1;
  mq_path = path == -1 ? best : path;
  return mq_path;
}

/* The rounded input rows, kept between calls (grown when a call needs more). One set per
 * process: the callers are the native backends of the main thread. */
static int8_t *mq_qa = NULL;
static float *mq_da = NULL;
static int32_t *mq_ys = NULL;
static float *mq_da8 = NULL;
static int64_t mq_cap = 0;

int32_t bn_matmul_quant(float *out, const float *a, const uint8_t *w, const float *bias,
                        int32_t M, int32_t N, int32_t K, int32_t type, int32_t accumulate) {
  if (M < 1 || N < 1 || K < 32 || K % 32 != 0 || type < BN_Q8 || type > BN_Q4X16)
    return BN_ERR_STATE;
  const int64_t need = (int64_t)M * K;
  if (need > mq_cap) {
    int8_t *qa = malloc((size_t)need);
    float *da = malloc(sizeof(float) * (size_t)(need / 32));
    int32_t *ys = malloc(sizeof(int32_t) * (size_t)(need / 32));
    float *da8 = malloc(sizeof(float) * (size_t)(need / 4));
    if (!qa || !da || !ys || !da8) {
      free(qa), free(da), free(ys), free(da8);
      return BN_ERR_MEMORY;
    }
    free(mq_qa), free(mq_da), free(mq_ys), free(mq_da8);
    mq_qa = qa, mq_da = da, mq_ys = ys, mq_da8 = da8, mq_cap = need;
  }
  mq_ctx c = {.out = out, .a = a, .bias = bias, .da = mq_da, .w = w, .qa = mq_qa, .ys = mq_ys,
              .da8 = mq_da8, .M = M, .N = N, .K = K, .type = type, .accumulate = accumulate};
  parallel_for(M, 1 + 16384 / K, mq_quantize_rows, &c);
  if (mq_path < 0) mq_path = mq_best_path();
  if (type == BN_Q4) { /* plain Q4_0 rows: the portable order everywhere */
    parallel_for(N, 1 + 65536 / ((int64_t)K * M), mq_range_q4, &c);
    return BN_OK;
  }
  if (type == BN_Q4X16) {
    range_fn fn = mq_range_q4x16_generic;
#ifdef BN_HAVE_AVX2_QUANT
    if (mq_path == 2) fn = mq_range_q4x16_avx512;
    else if (mq_path == 1) fn = mq_range_q4x16_avx2;
#endif
    /* units of 16 rows (the last one the N mod 16 rows), each at least ~64k multiply-adds */
    parallel_for((N + 15) / 16, 1 + 4096 / ((int64_t)K * M), fn, &c);
    return BN_OK;
  }
  range_fn fn = mq_range_generic;
#ifdef BN_HAVE_AVX2_QUANT
  if (mq_path == 2) fn = mq_range_avx512;
  else if (mq_path == 1) fn = mq_range_avx2;
#endif
  /* Fixed ranges of output rows, each at least ~64k multiply-adds. */
  parallel_for(N, 1 + 65536 / ((int64_t)K * M), fn, &c);
  return BN_OK;
}

/* ---- RWKV-7 WKV ---------------------------------------------------------------------------- */

/* The same recurrence as src/backend/cpu/rwkv7.ts, in double like it: per head, state
 * S [N, N] (S[i][j]: value channel i, key channel j), decay d = exp(−e^(−0.5)·σ(w)),
 *   S_t = S_{t−1}·diag(d_t) + (S_{t−1}·a_t)·b_tᵀ + v_t·k_tᵀ,   y_t = S_t·r_t.
 * One job per (batch row, head): each job writes only its own head's channels, so the
 * results do not depend on the thread count. */

typedef struct {
  float *y, *state, *dr, *dw, *dk, *dv, *da, *db;
  const float *r, *w, *k, *v, *a, *b, *dy;
  int64_t B, T, C, H;
  volatile int failed; /* a job's scratch could not be allocated */
} wkv7_ctx;

static inline double wkv7_sigmoid(double x) { return 1 / (1 + exp(-x)); }

static void wkv7_range(void *c, int64_t j0, int64_t j1) {
  wkv7_ctx *x = c;
  const int64_t T = x->T, C = x->C, H = x->H, N = C / H;
  double *S = malloc(sizeof(double) * (size_t)(N * N + N));
  if (!S) {
    x->failed = 1;
    return;
  }
  double *d = S + N * N;
  const double scale = exp(-0.5);
  for (int64_t job = j0; job < j1; job++) {
    int64_t bb = job / H, h = job % H, so = job * N * N;
    for (int64_t i = 0; i < N * N; i++) S[i] = x->state ? x->state[so + i] : 0;
    for (int64_t t = 0; t < T; t++) {
      int64_t o = (bb * T + t) * C + h * N;
      for (int64_t j = 0; j < N; j++) d[j] = exp(-scale * wkv7_sigmoid(x->w[o + j]));
      for (int64_t i = 0; i < N; i++) {
        double *row = S + i * N, sa = 0, vi = x->v[o + i], yi = 0;
        for (int64_t j = 0; j < N; j++) sa += row[j] * x->a[o + j];
        for (int64_t j = 0; j < N; j++) {
          double s = row[j] * d[j] + sa * x->b[o + j] + vi * x->k[o + j];
          row[j] = s;
          yi += s * x->r[o + j];
        }
        x->y[o + i] = (float)yi;
      }
    }
    if (x->state)
      for (int64_t i = 0; i < N * N; i++) x->state[so + i] = (float)S[i];
  }
  free(S);
}

/* Returns 0, or −1 when a thread's scratch could not be allocated (outputs then incomplete). */
int32_t bn_wkv7(float *y, const float *r, const float *w, const float *k, const float *v,
             const float *a, const float *b, float *state, int32_t B, int32_t T, int32_t C,
             int32_t H) {
  wkv7_ctx c = {.y = y, .r = r, .w = w, .k = k, .v = v, .a = a, .b = b, .state = state, .B = B,
                .T = T, .C = C, .H = H};
  /* A decoding step (T = 1) is a few µs per head: split only when a part has real work. */
  int64_t per_job = (int64_t)T * (C / H) * (C / H) + 1;
  parallel_for((int64_t)B * H, 1 + 65536 / per_job, wkv7_range, &c);
  return c.failed ? -1 : 0;
}

/* Backward from a zero initial state: a forward sweep keeps every S_t of the head (T·N²
 * doubles per thread), then the adjoint dS_{t−1} = dS_t·diag(d_t) + (dS_t·b_t)·a_tᵀ runs back
 * in time. Accumulates into every gradient. */
static void wkv7_backward_range(void *c, int64_t j0, int64_t j1) {
  wkv7_ctx *x = c;
  const int64_t T = x->T, C = x->C, H = x->H, N = C / H, NN = N * N;
  double *states = malloc(sizeof(double) * (size_t)(T * NN + 2 * NN + 9 * N));
  if (!states) {
    x->failed = 1;
    return;
  }
  double *dS = states + T * NN, *zero = dS + NN, *d = zero + NN, *sa = d + N, *dsa = sa + N;
  double *sg = dsa + N, *acc = sg + N, *dkj = acc + N, *dbj = dkj + N, *daj = dbj + N;
  double *ddj = daj + N;
  const double scale = exp(-0.5);
  for (int64_t i = 0; i < NN; i++) zero[i] = 0;
  const float *r = x->r, *w = x->w, *k = x->k, *v = x->v, *a = x->a, *b = x->b, *dy = x->dy;
  for (int64_t job = j0; job < j1; job++) {
    int64_t bb = job / H, h = job % H;
    for (int64_t t = 0; t < T; t++) {
      int64_t o = (bb * T + t) * C + h * N;
      const double *prev = t > 0 ? states + (t - 1) * NN : zero;
      double *cur = states + t * NN;
      for (int64_t j = 0; j < N; j++) d[j] = exp(-scale * wkv7_sigmoid(w[o + j]));
      for (int64_t i = 0; i < N; i++) {
        double s = 0, vi = v[o + i];
        if (t > 0)
          for (int64_t j = 0; j < N; j++) s += prev[i * N + j] * a[o + j];
        for (int64_t j = 0; j < N; j++)
          cur[i * N + j] = prev[i * N + j] * d[j] + s * b[o + j] + vi * k[o + j];
      }
    }
    for (int64_t i = 0; i < NN; i++) dS[i] = 0;
    for (int64_t t = T - 1; t >= 0; t--) {
      int64_t o = (bb * T + t) * C + h * N;
      const double *cur = states + t * NN, *Sp = t > 0 ? states + (t - 1) * NN : zero;
      for (int64_t j = 0; j < N; j++) {
        sg[j] = wkv7_sigmoid(w[o + j]);
        d[j] = exp(-scale * sg[j]);
      }
      /* Column sums run row by row (i outer) into per-column accumulators: the same order of
       * additions per column as the TypeScript kernel, with contiguous inner loops. */
      for (int64_t j = 0; j < N; j++) acc[j] = 0;
      for (int64_t i = 0; i < N; i++) {
        double gi = dy[o + i];
        const double *row = cur + i * N;
        for (int64_t j = 0; j < N; j++) acc[j] += row[j] * gi;
      }
      for (int64_t j = 0; j < N; j++) x->dr[o + j] = (float)(x->dr[o + j] + acc[j]);
      for (int64_t i = 0; i < N; i++) {
        double gi = dy[o + i];
        for (int64_t j = 0; j < N; j++) dS[i * N + j] += gi * r[o + j];
      }
      for (int64_t i = 0; i < N; i++) {
        double s = 0, dvi = 0, ds = 0;
        for (int64_t j = 0; j < N; j++) {
          s += Sp[i * N + j] * a[o + j];
          dvi += dS[i * N + j] * k[o + j];
          ds += dS[i * N + j] * b[o + j];
        }
        sa[i] = s;
        dsa[i] = ds;
        x->dv[o + i] = (float)(x->dv[o + i] + dvi);
      }
      for (int64_t j = 0; j < N; j++) dkj[j] = dbj[j] = daj[j] = ddj[j] = 0;
      for (int64_t i = 0; i < N; i++) {
        const double *gs = dS + i * N, *sp = Sp + i * N;
        double vi = v[o + i], sai = sa[i], dsai = dsa[i];
        for (int64_t j = 0; j < N; j++) {
          dkj[j] += gs[j] * vi;
          dbj[j] += gs[j] * sai;
          daj[j] += sp[j] * dsai;
          ddj[j] += gs[j] * sp[j];
        }
      }
      for (int64_t j = 0; j < N; j++) {
        x->dk[o + j] = (float)(x->dk[o + j] + dkj[j]);
        x->db[o + j] = (float)(x->db[o + j] + dbj[j]);
        x->da[o + j] = (float)(x->da[o + j] + daj[j]);
        x->dw[o + j] = (float)(x->dw[o + j] + ddj[j] * d[j] * -scale * sg[j] * (1 - sg[j]));
      }
      for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++) dS[i * N + j] = dS[i * N + j] * d[j] + dsa[i] * a[o + j];
    }
  }
  free(states);
}

int32_t bn_wkv7_backward(float *dr, float *dw, float *dk, float *dv, float *da, float *db,
                      const float *dy, const float *r, const float *w, const float *k,
                      const float *v, const float *a, const float *b, int32_t B, int32_t T,
                      int32_t C, int32_t H) {
  wkv7_ctx c = {.dr = dr, .dw = dw, .dk = dk, .dv = dv, .da = da, .db = db, .dy = dy, .r = r,
                .w = w, .k = k, .v = v, .a = a, .b = b, .B = B, .T = T, .C = C, .H = H};
  int64_t per_job = (int64_t)T * (C / H) * (C / H) + 1;
  parallel_for((int64_t)B * H, 1 + 65536 / per_job, wkv7_backward_range, &c);
  return c.failed ? -1 : 0;
}

/* ---- benchmarking ------------------------------------------------------------------------- */

/* Seconds per cblas_sgemm of [M,K]·[K,N] timed inside C (no FFI call per product): the
 * "OpenBLAS alone" figure `bench kernels native` sets beside the backend's. Negative on error. */
double bn_bench_sgemm(int32_t M, int32_t N, int32_t K, int32_t reps) {
  if (!blas_sgemm || M < 1 || N < 1 || K < 1 || reps < 1) return -1;
  float *a = malloc(sizeof(float) * (size_t)M * K), *b = malloc(sizeof(float) * (size_t)K * N);
  float *c = malloc(sizeof(float) * (size_t)M * N);
  if (!a || !b || !c) {
    free(a), free(b), free(c);
    return -1;
  }
  for (int64_t i = 0; i < (int64_t)M * K; i++) a[i] = (float)(i % 17) * 0.01f;
  for (int64_t i = 0; i < (int64_t)K * N; i++) b[i] = (float)(i % 13) * 0.01f;
  blas_sgemm(BN_ROW_MAJOR, BN_NO_TRANS, BN_NO_TRANS, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int32_t r = 0; r < reps; r++)
    blas_sgemm(BN_ROW_MAJOR, BN_NO_TRANS, BN_NO_TRANS, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  free(a), free(b), free(c);
  return ((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec)) / reps;
}
