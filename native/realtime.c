// realtime.c: real-time scheduling of the calling thread (sched(7)), for the speaker's --realtime-priority.
//
// The speaker's event loop runs the VRRP adverts, the BFD sessions and the ARP / NDP answers; on a busy node the
// CFS scheduler may leave it waiting for tens of milliseconds, longer than a BFD Detection Time, and its peers then
// declare it dead. keepalived offers the same remedy (vrrp_rt_priority: SCHED_RR for its VRRP process).
//
//   setRealtime(priority)  SCHED_RR at `priority` (1..99) for the calling thread, with SCHED_RESET_ON_FORK so a
//                          child process does not inherit it; 0 puts the thread back to SCHED_OTHER. Throws an
//                          Error whose `code` is the errno name (EPERM without CAP_SYS_NICE or RLIMIT_RTPRIO).
//   scheduler()            { policy, priority } of the calling thread: policy is "other", "fifo", "rr", "batch",
//                          "idle" or "unknown".
//
// Only the calling thread (the JS main thread) changes: Linux schedules threads, and sched_setscheduler(0, ...)
// names the caller. libuv's pool and V8's helper threads stay at normal priority.
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#define CHECK(call)                                                                                                   \
  do {                                                                                                                \
    if ((call) != napi_ok) return NULL;                                                                              \
  } while (0)

static const char *errno_name(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case ESRCH: return "ESRCH";
    default: return "EUNKNOWN";
  }
}

static napi_value throw_errno(napi_env env, int err, const char *what) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, text, error;
  CHECK(napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code));
  CHECK(napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text));
  CHECK(napi_create_error(env, code, text, &error));
  napi_throw(env, error);
  return NULL;
}

static napi_value set_realtime(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t priority = 0;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &priority) != napi_ok || priority < 0 || priority > 99) {
    napi_throw_range_error(env, "EINVAL", "priority must be an integer in 0..99");
    return NULL;
  }
  struct sched_param param = {.sched_priority = priority};
  int policy = priority == 0 ? SCHED_OTHER : (SCHED_RR | SCHED_RESET_ON_FORK);
  if (sched_setscheduler(0, policy, &param) != 0) return throw_errno(env, errno, "sched_setscheduler");
  return NULL;
}

static napi_value scheduler(napi_env env, napi_callback_info info) {
  int policy = sched_getscheduler(0);
  if (policy < 0) return throw_errno(env, errno, "sched_getscheduler");
  struct sched_param param;
  if (sched_getparam(0, &param) != 0) return throw_errno(env, errno, "sched_getparam");
  const char *name;
  switch (policy & ~SCHED_RESET_ON_FORK) {
    case SCHED_OTHER: name = "other"; break;
    case SCHED_FIFO: name = "fifo"; break;
    case SCHED_RR: name = "rr"; break;
    case SCHED_BATCH: name = "batch"; break;
    case SCHED_IDLE: name = "idle"; break;
    default: name = "unknown";
  }
  napi_value out, p, prio;
  CHECK(napi_create_object(env, &out));
  CHECK(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &p));
  CHECK(napi_create_int32(env, param.sched_priority, &prio));
  CHECK(napi_set_named_property(env, out, "policy", p));
  CHECK(napi_set_named_property(env, out, "priority", prio));
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  CHECK(napi_create_function(env, "setRealtime", NAPI_AUTO_LENGTH, set_realtime, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "setRealtime", fn));
  CHECK(napi_create_function(env, "scheduler", NAPI_AUTO_LENGTH, scheduler, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "scheduler", fn));
  return exports;
}
