/*
 * bentevi_native: the small C shim Bentevi calls through Deno.dlopen.
 *
 *  - read-only mmap of a whole file (with madvise hints), so token datasets are read zero-copy;
 *  - a streaming bzip2 decompressor over the system libbz2 (feed input, pull output) that
 *    decompresses multi-stream files (several bz2 streams back to back, as Wikipedia's
 *    "multistream" dumps are) and reports truncated or corrupt input as an error code.
 *
 * Every function uses only fixed-width integers and pointers so the FFI signatures are plain.
 * Build: cc -O2 -shared -fPIC -o libbentevi_native.so bentevi_native.c -lbz2
 */
#ifndef BENTEVI_NATIVE_H
#define BENTEVI_NATIVE_H

#include <stdint.h>

/* ABI version; bumped whenever a signature changes (the loader checks it). */
#define BN_ABI_VERSION 2

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

#endif
