/* bentevi_native: see bentevi_native.h. */
#define _GNU_SOURCE
#include "bentevi_native.h"

#include <bzlib.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

int32_t bn_abi_version(void) { return BN_ABI_VERSION; }

void *bn_mmap_file(const char *path, int32_t advice, uint64_t *size_out, int32_t *err_out,
                   int32_t *errno_out) {
  *size_out = 0;
  *err_out = BN_OK;
  *errno_out = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err_out = BN_ERR_OPEN;
    *errno_out = errno;
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    *err_out = BN_ERR_OPEN;
    *errno_out = errno;
    close(fd);
    return NULL;
  }
  *size_out = (uint64_t)st.st_size;
  if (st.st_size == 0) {
    close(fd);
    return NULL;
  }
  void *addr = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int saved = errno;
  close(fd); /* the mapping stays valid after close */
  if (addr == MAP_FAILED) {
    *err_out = BN_ERR_MMAP;
    *errno_out = saved;
    return NULL;
  }
  int hint = advice == 1   ? MADV_SEQUENTIAL
             : advice == 2 ? MADV_RANDOM
             : advice == 3 ? MADV_WILLNEED
                           : MADV_NORMAL;
  (void)madvise(addr, (size_t)st.st_size, hint); /* a hint: failure is harmless */
  return addr;
}

int32_t bn_munmap(void *addr, uint64_t size) {
  if (addr == NULL || size == 0) return BN_OK;
  return munmap(addr, (size_t)size) == 0 ? BN_OK : BN_ERR_MMAP;
}

struct bn_bz2 {
  bz_stream s;
  int in_stream;      /* BZ2_bzDecompressInit done and the stream not yet ended */
  int failed;         /* sticky error code (0 = none) */
  uint8_t *buf;       /* pending input */
  size_t buf_len;     /* bytes in buf */
  size_t buf_pos;     /* bytes of buf consumed */
  size_t buf_cap;
  uint64_t consumed;  /* compressed bytes consumed in total */
  uint64_t streams;   /* complete streams decoded */
};

bn_bz2 *bn_bz2_new(void) {
  bn_bz2 *d = calloc(1, sizeof *d);
  return d;
}

int32_t bn_bz2_feed(bn_bz2 *d, const uint8_t *input, uint32_t len) {
  if (d->failed) return d->failed;
  if (len == 0) return BN_OK;
  /* compact: drop consumed bytes */
  if (d->buf_pos > 0) {
    memmove(d->buf, d->buf + d->buf_pos, d->buf_len - d->buf_pos);
    d->buf_len -= d->buf_pos;
    d->buf_pos = 0;
  }
  if (d->buf_len + len > d->buf_cap) {
    size_t cap = d->buf_cap ? d->buf_cap : 65536;
    while (cap < d->buf_len + len) cap *= 2;
    uint8_t *nb = realloc(d->buf, cap);
    if (!nb) return d->failed = BN_ERR_MEMORY;
    d->buf = nb;
    d->buf_cap = cap;
  }
  memcpy(d->buf + d->buf_len, input, len);
  d->buf_len += len;
  return BN_OK;
}

static int32_t map_bz_error(int rc) {
  switch (rc) {
    case BZ_MEM_ERROR: return BN_ERR_MEMORY;
    case BZ_DATA_ERROR_MAGIC: return BN_ERR_MAGIC;
    case BZ_DATA_ERROR: return BN_ERR_DATA;
    default: return BN_ERR_STATE;
  }
}

int64_t bn_bz2_pull(bn_bz2 *d, uint8_t *out, uint32_t cap) {
  if (d->failed) return d->failed;
  uint32_t written = 0;
  while (written < cap) {
    size_t avail = d->buf_len - d->buf_pos;
    if (!d->in_stream) {
      if (avail == 0) break; /* need more input (or the end) */
      memset(&d->s, 0, sizeof d->s);
      int rc = BZ2_bzDecompressInit(&d->s, 0, 0);
      if (rc != BZ_OK) return d->failed = map_bz_error(rc);
      d->in_stream = 1;
    }
    /* Called even without new input: libbz2 may still hold decoded output of a block. */
    d->s.next_in = avail ? (char *)(d->buf + d->buf_pos) : (char *)"";
    d->s.avail_in = (unsigned)(avail > 0x40000000u ? 0x40000000u : avail);
    d->s.next_out = (char *)(out + written);
    d->s.avail_out = cap - written;
    unsigned in_before = d->s.avail_in;
    unsigned out_before = d->s.avail_out;
    int rc = BZ2_bzDecompress(&d->s);
    size_t used = in_before - d->s.avail_in;
    d->buf_pos += used;
    d->consumed += used;
    written += out_before - d->s.avail_out;
    if (rc == BZ_STREAM_END) {
      BZ2_bzDecompressEnd(&d->s);
      d->in_stream = 0;
      d->streams++;
      continue; /* another stream may follow */
    }
    if (rc != BZ_OK) {
      BZ2_bzDecompressEnd(&d->s);
      d->in_stream = 0;
      return d->failed = map_bz_error(rc);
    }
    if (used == 0 && out_before == d->s.avail_out) break; /* no progress: needs input */
  }
  return (int64_t)written;
}

int32_t bn_bz2_finish(bn_bz2 *d) {
  if (d->failed) return d->failed;
  if (d->in_stream || d->buf_pos < d->buf_len) return d->failed = BN_ERR_TRUNCATED;
  if (d->streams == 0) return d->failed = BN_ERR_EMPTY;
  return BN_OK;
}

uint64_t bn_bz2_position(const bn_bz2 *d) { return d->consumed; }
uint64_t bn_bz2_streams(const bn_bz2 *d) { return d->streams; }

void bn_bz2_free(bn_bz2 *d) {
  if (!d) return;
  if (d->in_stream) BZ2_bzDecompressEnd(&d->s);
  free(d->buf);
  free(d);
}

int64_t bn_thread_cpu_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return -1;
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t bn_children_cpu_ns(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_CHILDREN, &ru) != 0) return -1;
  return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
         ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}
