/*
 * quiet.c — hushed adverts: a backup hears its master's advert every interval, byte for byte the same frame. Once the
 * JS side has accepted one (the engine followed it and nothing else happened), it hushes that frame for its VRID:
 * from then on a repeat (same bytes, same packet type) is not handed to JS at all, only counted and stamped with the
 * time it was read (uv_hrtime, CLOCK_MONOTONIC, the clock under performance.now()). When the router's
 * Master_Down_Timer comes, JS asks heard(vrid) and, when a repeat came, steps that advert at the time it was heard,
 * as if it had seen every copy. Any other frame — another sender, another priority, a new counter, a malformed one —
 * is handed on as before.
 *
 * Order within one router: a frame handed on is stepped after every repeat left out before it (JS folds the count in
 * before stepping anything of that router). A repeat read after a handed-on frame of the same VRID in the same burst
 * must not be folded in before it, so from that frame on the burst hands on that VRID's repeats too (burst[]).
 *
 * Watching (due): JS need not fold the repeats of a backup whose master keeps sending at all. hush() may name a watch
 * interval (the router's Master_Down_Interval); due(aheadMs) lists the hushed VRIDs whose last repeat is older than
 * that interval less aheadMs (or that have had no repeat since hush), the only ones whose Master_Down_Timer could
 * come within aheadMs. One call and one pass over 256 entries per sweep, instead of one call and one engine step per
 * router.
 *
 * The VRID is the second byte of the VRRP header: after the IPv4 header (IHL words) or the fixed IPv6 header; the
 * socket's kernel filter admits only protocol / next header 112 there.
 */
#include "quiet.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define QUIET_MAX_LEN 1024 /* adverts are far shorter; longer frames are never hushed */
#define ETH_HEADER 14
#define IPV6_HEADER 40

typedef struct {
  uint64_t heard_ns; /* uv_hrtime() when the last repeat left out was read; 0: none since hush() */
  uint64_t watch_ns; /* hush()'s watch interval (see quiet_js_due); 0: always due */
  uint32_t count;    /* repeats left out since the last heard() */
  uint16_t len;
  uint8_t pkttype, on;
  unsigned char *bytes;
} quiet_entry_t;

struct quiet {
  uint16_t ethertype;
  uint64_t burst[4];       /* VRIDs handed on in the current burst, one bit each */
  quiet_entry_t entry[256]; /* VRID -> its hushed frame */
};

/* vrid_of is the VRRP VRID of an Ethernet frame of this ethertype, -1 when the frame is too short to hold one. */
static int vrid_of(uint16_t ethertype, const unsigned char *p, size_t len) {
  size_t off;
  if (ethertype == 0x0800) {
    if (len <= ETH_HEADER) return -1;
    off = ETH_HEADER + (size_t)(p[ETH_HEADER] & 0x0f) * 4;
  } else if (ethertype == 0x86dd) {
    off = ETH_HEADER + IPV6_HEADER;
  } else {
    return -1;
  }
  return off + 1 < len ? p[off + 1] : -1;
}

void quiet_burst(quiet_t *q) { memset(q->burst, 0, sizeof q->burst); }

bool quiet_take(quiet_t *q, const unsigned char *p, size_t len, uint8_t pkttype) {
  int vrid = vrid_of(q->ethertype, p, len);
  if (vrid < 0) return false;
  uint64_t bit = (uint64_t)1 << (vrid & 63);
  quiet_entry_t *e = &q->entry[vrid];
  if (e->on && !(q->burst[vrid >> 6] & bit) && e->len == len && e->pkttype == pkttype && memcmp(e->bytes, p, len) == 0) {
    e->count++;
    e->heard_ns = uv_hrtime();
    return true;
  }
  q->burst[vrid >> 6] |= bit;
  return false;
}

static void entry_off(quiet_entry_t *e) {
  free(e->bytes);
  *e = (quiet_entry_t){0};
}

void quiet_free(quiet_t *q) {
  if (q == NULL) return;
  for (int i = 0; i < 256; i++) entry_off(&q->entry[i]);
  free(q);
}

napi_value quiet_js_hush(napi_env env, quiet_t **qp, uint16_t ethertype, size_t argc, napi_value *argv) {
  int32_t vrid, pkttype = 0;
  napi_valuetype t = napi_undefined;
  void *data = NULL;
  size_t len = 0;
  double watch_ms = 0;
  napi_valuetype wt = napi_undefined;
  if (argc > 3 && (napi_typeof(env, argv[3], &wt) != napi_ok ||
                   (wt != napi_undefined && napi_get_value_double(env, argv[3], &watch_ms) != napi_ok)))
    watch_ms = -1;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &vrid) != napi_ok || vrid < 0 || vrid > 255 ||
      !(watch_ms >= 0 && watch_ms <= 1e9) || napi_typeof(env, argv[1], &t) != napi_ok ||
      (t != napi_null && (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok || argc < 3 ||
                          napi_get_value_int32(env, argv[2], &pkttype) != napi_ok || pkttype < 0 || pkttype > 255))) {
    napi_throw_type_error(env, "ERR_INVALID_ARG",
                          "hush(vrid: 0..255, frame: Buffer | null, pktType, watchMs?: 0..1e9)");
    return NULL;
  }
  napi_value out;
  bool ok = false;
  if (t == napi_null) {
    if (*qp != NULL) entry_off(&(*qp)->entry[vrid]);
    ok = true;
  } else if (len <= QUIET_MAX_LEN && vrid_of(ethertype, data, len) == vrid) {
    if (*qp == NULL && (*qp = calloc(1, sizeof **qp)) != NULL) (*qp)->ethertype = ethertype;
    unsigned char *copy = *qp == NULL ? NULL : malloc(len > 0 ? len : 1);
    if (copy != NULL) {
      quiet_entry_t *e = &(*qp)->entry[vrid];
      entry_off(e);
      memcpy(copy, data, len);
      *e = (quiet_entry_t){.len = (uint16_t)len, .pkttype = (uint8_t)pkttype, .on = 1, .bytes = copy,
                           .watch_ns = (uint64_t)(watch_ms * 1e6)};
      ok = true;
    }
  }
  if (napi_get_boolean(env, ok, &out) != napi_ok) return NULL;
  return out;
}

napi_value quiet_js_heard(napi_env env, quiet_t *q, size_t argc, napi_value *argv) {
  int32_t vrid;
  napi_value out, count, age;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &vrid) != napi_ok || vrid < 0 || vrid > 255) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "heard(vrid: 0..255)");
    return NULL;
  }
  quiet_entry_t *e = q == NULL ? NULL : &q->entry[vrid];
  if (e == NULL || e->count == 0) {
    if (napi_get_null(env, &out) != napi_ok) return NULL;
    return out;
  }
  double age_ms = (double)(uv_hrtime() - e->heard_ns) / 1e6;
  if (napi_create_array_with_length(env, 2, &out) != napi_ok || napi_create_uint32(env, e->count, &count) != napi_ok ||
      napi_create_double(env, age_ms, &age) != napi_ok || napi_set_element(env, out, 0, count) != napi_ok ||
      napi_set_element(env, out, 1, age) != napi_ok)
    return NULL;
  e->count = 0;
  return out;
}

napi_value quiet_js_due(napi_env env, quiet_t *q, size_t argc, napi_value *argv) {
  double ahead_ms;
  napi_value out, v;
  if (argc < 1 || napi_get_value_double(env, argv[0], &ahead_ms) != napi_ok || !(ahead_ms >= 0 && ahead_ms <= 1e9)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "due(aheadMs: 0..1e9)");
    return NULL;
  }
  if (napi_create_array(env, &out) != napi_ok) return NULL;
  if (q == NULL) return out;
  uint64_t now = uv_hrtime(), ahead = (uint64_t)(ahead_ms * 1e6);
  uint32_t n = 0;
  for (int vrid = 0; vrid < 256; vrid++) {
    const quiet_entry_t *e = &q->entry[vrid];
    if (!e->on) continue;
    /* due when heard_ns + watch_ns <= now + ahead, written so that nothing wraps */
    if (e->heard_ns != 0 && e->watch_ns > ahead && now - e->heard_ns < e->watch_ns - ahead) continue;
    if (napi_create_uint32(env, (uint32_t)vrid, &v) != napi_ok || napi_set_element(env, out, n++, v) != napi_ok)
      return NULL;
  }
  return out;
}
