/*
 * quiet.h — the hushed adverts of a packet socket (quiet.c): per VRID, one frame whose byte-for-byte repeats are
 * left out of delivery and only counted, with the time of the last one. See quiet.c.
 */
#ifndef METAL_VRRP_QUIET_H
#define METAL_VRRP_QUIET_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct quiet quiet_t;

/* quiet_burst starts a readiness event's burst of frames (see quiet_take). */
void quiet_burst(quiet_t *q);

/* quiet_take says whether this frame is a repeat of its VRID's hushed frame, left out of delivery (then counted and
 * stamped); false hands it on, and marks its VRID as handed on in this burst. */
bool quiet_take(quiet_t *q, const unsigned char *frame, size_t len, uint8_t pkttype);

void quiet_free(quiet_t *q);

/* quiet_js_hush is hush(vrid, frame, pktType, watchMs?) or hush(vrid, null); *q is allocated on first use. */
napi_value quiet_js_hush(napi_env env, quiet_t **q, uint16_t ethertype, size_t argc, napi_value *argv);

/* quiet_js_due is due(aheadMs) -> vrid[]: the hushed VRIDs whose last repeat is older than their watch interval
 * (hush's watchMs) less aheadMs; always those with no repeat since hush and those hushed without a watch interval. */
napi_value quiet_js_due(napi_env env, quiet_t *q, size_t argc, napi_value *argv);

/* quiet_js_heard is heard(vrid) -> null | [count, ageMs]: the repeats left out since the last call. */
napi_value quiet_js_heard(napi_env env, quiet_t *q, size_t argc, napi_value *argv);

#endif
