// release_pages.c: give back the pages only start-up used, once the speaker runs (src/release-pages.ts).
//
// A Node process maps the node binary (≈ 90 MB of text and read-only data: V8, its compilers, ICU data, OpenSSL,
// the inspector, Node's own JavaScript sources and its start-up snapshot). Start-up touches tens of MB of it once
// (dynamic linking walks .dynsym / .dynstr, V8 deserialises its snapshot, the module loader and the JIT run), and
// those pages stay in the process's resident set although the running speaker never reads them again. glibc's
// malloc likewise keeps the freed start-up allocations (parsers, compiler zones) inside its heap.
//
//   releasePages()  -> { fileKb, mappings, trimmed, mallocKb, mallocFreeKb }
//       1. malloc_trim(0): glibc returns the free pages of its heaps to the kernel (MADV_DONTNEED on whole free
//          pages); `trimmed` is malloc_trim's answer (1 when memory was released). `mallocKb` / `mallocFreeKb` are
//          what malloc held from the kernel and how much of it was free, before the trim (mallinfo2).
//       2. madvise(MADV_DONTNEED) over every private, read-only, file-backed mapping that holds no anonymous page
//          (from /proc/self/smaps: path starting with '/', perms r--p or r-xp, `Anonymous: 0 kB`, not locked). For
//          such a mapping this only removes the process's page-table entries: the pages stay in the page cache, and
//          a page the process touches again comes back on its first access (a minor fault, no I/O while the file's
//          pages are cached). A mapping with anonymous pages (copy-on-write: RELRO after relocation, patched code)
//          is left alone, as MADV_DONTNEED would drop those private copies. `fileKb` is the Rss those mappings had;
//          `mappings` how many were advised.
//
// Nothing else changes: no page is locked, no mapping is removed, no protection changes.
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CHECK(call)                                                                                                   \
  do {                                                                                                                \
    if ((call) != napi_ok) return NULL;                                                                              \
  } while (0)

#define MAX_CANDIDATES 4096

struct range {
  unsigned long start, end;
  unsigned long rss_kb;
};

// mapping is the smaps block being read: its range, whether it qualifies so far, and its Rss and Anonymous.
struct mapping {
  unsigned long start, end;
  int eligible;
  unsigned long rss_kb;
  long anon_kb;
  int locked;
};

static int field_kb(const char *line, const char *name, unsigned long *out) {
  size_t n = strlen(name);
  if (strncmp(line, name, n) != 0) return 0;
  *out = strtoul(line + n, NULL, 10);
  return 1;
}

// header_eligible parses a mapping header ("start-end perms offset dev inode path") and says whether its kind
// qualifies: private, not writable, backed by a file named by an absolute path.
static int header_eligible(const char *line, struct mapping *m) {
  char perms[8] = {0};
  int path_at = 0;
  if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &m->start, &m->end, perms, &path_at) < 3) return -1;
  const char *path = path_at > 0 ? line + path_at : "";
  m->eligible = perms[0] == 'r' && perms[1] == '-' && perms[3] == 'p' && path[0] == '/' &&
                strstr(path, " (deleted)") == NULL;
  m->rss_kb = 0;
  m->anon_kb = -1;
  m->locked = 0;
  return 0;
}

static int is_header(const char *line) {
  // Header lines start with a hex address and a dash; field lines start with a capitalised name and a colon.
  const char *p = line;
  while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')) p++;
  return p != line && *p == '-';
}

static napi_value set_number(napi_env env, napi_value obj, const char *name, double v) {
  napi_value n;
  CHECK(napi_create_double(env, v, &n));
  CHECK(napi_set_named_property(env, obj, name, n));
  return obj;
}

static napi_value release_pages(napi_env env, napi_callback_info info) {
  struct mallinfo2 mi = mallinfo2();
  int trimmed = malloc_trim(0);

  static struct range candidates[MAX_CANDIDATES];
  size_t count = 0;
  FILE *f = fopen("/proc/self/smaps", "re");
  if (f == NULL) {
    napi_throw_error(env, "ENOENT", "cannot read /proc/self/smaps");
    return NULL;
  }
  char line[4096];
  struct mapping m = {0};
  int have = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    if (is_header(line)) {
      have = header_eligible(line, &m) == 0;
      continue;
    }
    if (!have) continue;
    unsigned long kb;
    if (field_kb(line, "Rss:", &kb)) m.rss_kb = kb;
    else if (field_kb(line, "Anonymous:", &kb)) m.anon_kb = (long)kb;
    else if (strncmp(line, "VmFlags:", 8) == 0) {
      // The last field of a block: decide.
      m.locked = strstr(line, " lo") != NULL;
      if (m.eligible && m.anon_kb == 0 && !m.locked && m.rss_kb > 0 && count < MAX_CANDIDATES) {
        candidates[count++] = (struct range){m.start, m.end, m.rss_kb};
      }
      have = 0;
    }
  }
  fclose(f);

  unsigned long released_kb = 0;
  unsigned long advised = 0;
  for (size_t i = 0; i < count; i++) {
    if (madvise((void *)candidates[i].start, candidates[i].end - candidates[i].start, MADV_DONTNEED) == 0) {
      released_kb += candidates[i].rss_kb;
      advised++;
    }
  }

  napi_value out;
  CHECK(napi_create_object(env, &out));
  if (set_number(env, out, "fileKb", (double)released_kb) == NULL) return NULL;
  if (set_number(env, out, "mappings", (double)advised) == NULL) return NULL;
  if (set_number(env, out, "trimmed", (double)trimmed) == NULL) return NULL;
  if (set_number(env, out, "mallocKb", (double)((mi.arena + mi.hblkhd) / 1024)) == NULL) return NULL;
  if (set_number(env, out, "mallocFreeKb", (double)(mi.fordblks / 1024)) == NULL) return NULL;
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  CHECK(napi_create_function(env, "releasePages", NAPI_AUTO_LENGTH, release_pages, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "releasePages", fn));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
