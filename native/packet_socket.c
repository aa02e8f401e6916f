/*
 * packet_socket.c — a Linux AF_PACKET socket for Node (plain Node-API), see packet(7).
 *
 * new PacketSocket(ifindex, protocol, onFrame(frame, pktType), onError?(err), batch?) opens a SOCK_RAW packet socket bound
 * to one interface and one ethertype, non-blocking; a uv_poll_t reads every pending frame per readiness event and
 * hands each to onFrame with sll_pkttype (PACKET_OUTGOING = 4 is a copy of a frame sent from this host); with batch
 * true, onFrame gets all of one event's frames at once as (frames[], pktTypes[]).
 * With repeats(slots) on (batch mode), a frame identical to one handed over before (same bytes, same packet type)
 * comes as a hole in frames[] and its slot in a third array: see on_readable.
 * Methods: send(frame) -> bytes, sendBatch(frames) -> frames sent (sendmmsg(2), one system call per up to
 * BATCH_MAX frames), membership(add, mac | null), attachFilter(bpf), bufferSizes(rcv, snd) -> [rcv, snd] (0 keeps
 * one; as root beyond the sysctl maxima, SO_RCVBUFFORCE), close() (idempotent).
 * Module function: neighbors(family, ifindex) -> [{ address: Buffer, mac: Buffer, state }] dumps the kernel's
 * neighbour table (rtnetlink RTM_GETNEIGH, rtnetlink(7)) for one interface, entries with a link-layer address only.
 * Open, send and option errors throw an Error whose code is the errno name; read errors other than EAGAIN go to
 * onError and the loop goes on. An open socket keeps its JS object (and the event loop) alive until close().
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "quiet.h"
#include "recv_batch.h"

#define MAX_FRAME 65536 /* larger than any MTU we serve; longer frames arrive truncated */
#define MAX_BURST 64    /* frames read per readiness event before yielding to the loop */
#define BATCH_MAX 256   /* frames per sendmmsg call */
#define CHECK(call) do { if ((call) != napi_ok) return NULL; } while (0)
#define REP_MAX_LEN 1024 /* longer frames are never remembered: adverts are far shorter */

/* rep_entry_t is one remembered frame of the repeat table (see repeats()). */
typedef struct {
  uint32_t hash;
  uint16_t len;
  uint8_t pkttype, used;
  unsigned char *bytes;
} rep_entry_t;

/* rep_t: frames already handed to JS, by content, so a repeat is reported by its slot instead of copied (open
 * addressing, linear probing; cleared whole when three quarters full, so a flood of distinct frames costs no more). */
typedef struct {
  uint32_t slots, used; /* slots: a power of two */
  rep_entry_t *entries;
} rep_t;

typedef struct {
  int fd, ifindex;
  bool batch; /* onFrame takes (frames[], pktTypes[]) per readiness event */
  uv_poll_t *poll;
  napi_env env;
  napi_ref self, on_frame, on_error; /* self: strong while open */
  napi_async_context async;
  rep_t *rep; /* NULL unless repeats() enabled it */
  quiet_t *quiet; /* NULL until hush() first used (quiet.c) */
  recv_batch_t *rb; /* frames read ahead with recvmmsg (recv_batch.c); NULL until the first read */
  uint16_t ethertype;
  unsigned char buf[MAX_FRAME];
} ps_t;

static void rep_clear(rep_t *rep) {
  for (uint32_t i = 0; i < rep->slots; i++) {
    free(rep->entries[i].bytes);
    rep->entries[i] = (rep_entry_t){0};
  }
  rep->used = 0;
}

static void rep_free(rep_t *rep) {
  if (rep == NULL) return;
  rep_clear(rep);
  free(rep->entries);
  free(rep);
}

/* rep_hash is FNV-1a over the frame and its packet type. */
static uint32_t rep_hash(const unsigned char *p, size_t n, uint8_t pkttype) {
  uint32_t h = 2166136261u ^ pkttype;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

/* rep_lookup returns the slot of this frame: *seen is true when it was remembered before, false when it has just
 * been stored there; -1 when it cannot be remembered (too long, out of memory). */
static int32_t rep_lookup(rep_t *rep, const unsigned char *p, size_t n, uint8_t pkttype, bool *seen) {
  *seen = false;
  if (n > REP_MAX_LEN) return -1;
  uint32_t h = rep_hash(p, n, pkttype), mask = rep->slots - 1;
  for (uint32_t i = h & mask;; i = (i + 1) & mask) {
    rep_entry_t *e = &rep->entries[i];
    if (!e->used) break;
    if (e->hash == h && e->len == n && e->pkttype == pkttype && memcmp(e->bytes, p, n) == 0) {
      *seen = true;
      return (int32_t)i;
    }
  }
  if (rep->used + 1 > rep->slots / 4 * 3) rep_clear(rep);
  uint32_t i = h & mask;
  while (rep->entries[i].used) i = (i + 1) & mask;
  unsigned char *copy = malloc(n > 0 ? n : 1);
  if (copy == NULL) return -1;
  memcpy(copy, p, n);
  rep->entries[i] = (rep_entry_t){.hash = h, .len = (uint16_t)n, .pkttype = pkttype, .used = 1, .bytes = copy};
  rep->used++;
  return (int32_t)i;
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, strerrorname_np(err), msg);
  return NULL;
}

static void on_poll_closed(uv_handle_t *h) { free(h); }

/* shutdown stops the poll and closes the fd; it makes no JS call, so the env cleanup hook may use it. */
static void shutdown_fd(ps_t *ps) {
  if (ps->fd < 0) return;
  uv_poll_stop(ps->poll);
  uv_close((uv_handle_t *)ps->poll, on_poll_closed);
  ps->poll = NULL;
  close(ps->fd);
  ps->fd = -1;
}

static void env_cleanup(void *arg) { shutdown_fd((ps_t *)arg); }

static void finalize(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  shutdown_fd((ps_t *)data);
  rep_free(((ps_t *)data)->rep);
  quiet_free(((ps_t *)data)->quiet);
  rb_free(((ps_t *)data)->rb);
  free(data);
}

static void call_js(ps_t *ps, napi_value self, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_value fn, result, exc;
  if (fn_ref == NULL || napi_get_reference_value(ps->env, fn_ref, &fn) != napi_ok) return;
  if (napi_make_callback(ps->env, ps->async, self, fn, argc, argv, &result) == napi_pending_exception &&
      napi_get_and_clear_last_exception(ps->env, &exc) == napi_ok)
    napi_fatal_exception(ps->env, exc); /* a throwing callback is an uncaught exception, as in any event */
}

static void report(ps_t *ps, napi_value self, const char *what, int err) {
  napi_value code, msg, error;
  char text[256];
  snprintf(text, sizeof text, "%s: %s", what, strerror(err));
  if (napi_create_string_utf8(ps->env, strerrorname_np(err), NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(ps->env, text, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_error(ps->env, code, msg, &error) != napi_ok)
    return;
  call_js(ps, self, ps->on_error, 1, &error);
}

static void on_readable(uv_poll_t *h, int status, int events) {
  ps_t *ps = h->data;
  napi_env env = ps->env;
  napi_handle_scope scope;
  napi_value self, argv[2];
  (void)events;
  if (ps->fd < 0 || napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (napi_get_reference_value(env, ps->self, &self) != napi_ok) self = NULL; /* a local keeps it alive */
  if (status < 0) {
    /* libuv turns POLLERR into UV_EBADF and stops the handle. A packet socket raises POLLERR for a pending socket
     * error (ENETDOWN when the link goes down) or a non-empty error queue: take both, report, and poll again. */
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(ps->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
      report(ps, self, "poll", errno); /* the fd itself is unusable: the loop stays stopped */
    } else {
      while (recv(ps->fd, ps->buf, MAX_FRAME, MSG_ERRQUEUE | MSG_DONTWAIT) >= 0) {}
      report(ps, self, "recv", err != 0 ? err : -status);
      if (ps->fd >= 0) uv_poll_start(ps->poll, UV_READABLE, on_readable);
    }
  }
  /* Batch mode: every frame of this readiness event in one call, onFrames(frames[], pktTypes[]): one JS entry (and
   * one microtask checkpoint) per burst instead of per frame. With the repeat table on, a third array holds each
   * frame's slot, and a frame already handed over in that slot is left out of frames[] (a hole): a master sends the
   * same advert every interval, so a backup's steady stream costs no Buffer and no parsing. */
  uint32_t count = 0;
  napi_value argv3[3];
  bool arrays = false; /* made for the first frame handed on: a burst of hushed repeats allocates nothing */
  if (ps->quiet != NULL) quiet_burst(ps->quiet);
  for (int i = 0; i < MAX_BURST && ps->fd >= 0; i++) {
    struct sockaddr_ll sll;
    ssize_t n = rb_recv(&ps->rb, ps->fd, ps->buf, MAX_FRAME, &sll, (unsigned)(MAX_BURST - i));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) report(ps, self, "recvfrom", errno);
      break;
    }
    size_t len = n > MAX_FRAME ? MAX_FRAME : (size_t)n;
    if (ps->quiet != NULL && quiet_take(ps->quiet, ps->buf, len, sll.sll_pkttype)) continue; /* a hushed repeat */
    if (ps->batch && !arrays &&
        !(arrays = napi_create_array(env, &argv3[0]) == napi_ok && napi_create_array(env, &argv3[1]) == napi_ok &&
                   (ps->rep == NULL || napi_create_array(env, &argv3[2]) == napi_ok)))
      break;
    napi_value frame, type, slot;
    bool seen = false;
    int32_t id = ps->rep != NULL && ps->batch ? rep_lookup(ps->rep, ps->buf, len, sll.sll_pkttype, &seen) : -1;
    bool failed = (!seen && napi_create_buffer_copy(env, len, ps->buf, NULL, &frame) != napi_ok) ||
                  napi_create_uint32(env, sll.sll_pkttype, &type) != napi_ok;
    if (!failed && ps->batch)
      failed = (!seen && napi_set_element(env, argv3[0], count, frame) != napi_ok) ||
               napi_set_element(env, argv3[1], count, type) != napi_ok ||
               (ps->rep != NULL &&
                (napi_create_int32(env, id, &slot) != napi_ok || napi_set_element(env, argv3[2], count, slot) != napi_ok));
    if (failed) {
      /* A frame just remembered but never handed over would later come as a repeat of whatever JS last had in its
       * slot: forget everything (JS keeps nothing the table does not name). */
      if (id >= 0 && !seen) rep_clear(ps->rep);
      break;
    }
    if (ps->batch) {
      count++;
    } else {
      argv[0] = frame, argv[1] = type;
      call_js(ps, self, ps->on_frame, 2, argv);
    }
  }
  if (ps->batch && count > 0 && ps->fd >= 0) call_js(ps, self, ps->on_frame, ps->rep != NULL ? 3 : 2, argv3);
  napi_close_handle_scope(env, scope);
}

static ps_t *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  ps_t *ps = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok ||
      napi_unwrap(env, self, (void **)&ps) != napi_ok)
    return NULL;
  if (ps->fd < 0) {
    napi_throw_error(env, "ERR_SOCKET_CLOSED", "packet socket is closed");
    return NULL;
  }
  return ps;
}

static napi_value js_new(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], self, name;
  napi_valuetype t2, t3 = napi_undefined;
  bool batch = false;
  int32_t ifindex, proto;
  uv_loop_t *loop;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  if (argc < 3 || napi_get_value_int32(env, argv[0], &ifindex) != napi_ok ||
      napi_get_value_int32(env, argv[1], &proto) != napi_ok || napi_typeof(env, argv[2], &t2) != napi_ok ||
      t2 != napi_function || (argc > 3 && napi_typeof(env, argv[3], &t3) != napi_ok) || ifindex <= 0 ||
      proto <= 0 || proto > 0xffff) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "expected (ifindex > 0, protocol 1..65535, onFrame[, onError])");
    return NULL;
  }
  ps_t *ps = calloc(1, sizeof *ps);
  if (ps == NULL) return throw_errno(env, "calloc", ENOMEM);
  if (argc > 4 && napi_get_value_bool(env, argv[4], &batch) != napi_ok) batch = false;
  ps->env = env, ps->ifindex = ifindex, ps->batch = batch, ps->ethertype = (uint16_t)proto;
  /* Protocol 0 at socket() receives nothing until bind names ethertype and interface: no frame of another
   * interface can slip in between, as it could with socket(htons(proto)) then bind (packet(7)). */
  ps->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (ps->fd < 0) return free(ps), throw_errno(env, "socket(AF_PACKET)", errno);
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons((uint16_t)proto), .sll_ifindex = ifindex};
  if (bind(ps->fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    int err = errno;
    return close(ps->fd), free(ps), throw_errno(env, "bind(AF_PACKET)", err);
  }
  ps->poll = malloc(sizeof *ps->poll);
  if (ps->poll == NULL || napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, ps->poll, ps->fd) != 0)
    return close(ps->fd), free(ps->poll), free(ps), throw_errno(env, "uv_poll_init", EIO);
  ps->poll->data = ps;
  if (napi_wrap(env, self, ps, finalize, NULL, NULL) != napi_ok) {
    shutdown_fd(ps);
    free(ps);
    return NULL;
  }
  CHECK(napi_create_reference(env, self, 1, &ps->self));
  CHECK(napi_create_reference(env, argv[2], 1, &ps->on_frame));
  if (t3 == napi_function) CHECK(napi_create_reference(env, argv[3], 1, &ps->on_error));
  CHECK(napi_create_string_utf8(env, "PacketSocket", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &ps->async));
  CHECK(napi_add_env_cleanup_hook(env, env_cleanup, ps));
  uv_poll_start(ps->poll, UV_READABLE, on_readable);
  return self;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 1, len;
  napi_value argv[1], out;
  void *data;
  ps_t *ps = unwrap(env, info, &argc, argv);
  if (ps == NULL) return NULL;
  if (argc < 1 || napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "send(frame: Buffer)");
    return NULL;
  }
  ssize_t n = send(ps->fd, data, len, 0);
  if (n < 0) return throw_errno(env, "send", errno);
  CHECK(napi_create_int32(env, (int32_t)n, &out));
  return out;
}

/* sendBatch(frames: Buffer[]) -> frames sent. Sends in order with sendmmsg; stops at the first frame the kernel
 * refuses and throws its errno with `sent` (the frames sent before it) on the error, so the caller knows where. */
static napi_value js_send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  bool is_array = false;
  uint32_t count = 0, sent = 0;
  ps_t *ps = unwrap(env, info, &argc, argv);
  if (ps == NULL) return NULL;
  if (argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[0], &count) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "sendBatch(frames: Buffer[])");
    return NULL;
  }
  struct mmsghdr msgs[BATCH_MAX];
  struct iovec iov[BATCH_MAX];
  while (sent < count) {
    unsigned int n = count - sent > BATCH_MAX ? BATCH_MAX : count - sent;
    for (unsigned int i = 0; i < n; i++) {
      napi_value item;
      void *data;
      size_t len;
      if (napi_get_element(env, argv[0], sent + i, &item) != napi_ok ||
          napi_get_buffer_info(env, item, &data, &len) != napi_ok) {
        napi_throw_type_error(env, "ERR_INVALID_ARG", "sendBatch(frames: Buffer[])");
        return NULL;
      }
      iov[i] = (struct iovec){.iov_base = data, .iov_len = len};
      memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int r = sendmmsg(ps->fd, msgs, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int err = r < 0 ? errno : EAGAIN;
      napi_value error, code, msg, num;
      char text[256];
      snprintf(text, sizeof text, "sendmmsg: %s", strerror(err));
      CHECK(napi_create_string_utf8(env, strerrorname_np(err), NAPI_AUTO_LENGTH, &code));
      CHECK(napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg));
      CHECK(napi_create_error(env, code, msg, &error));
      CHECK(napi_create_uint32(env, sent, &num));
      CHECK(napi_set_named_property(env, error, "sent", num));
      napi_throw(env, error);
      return NULL;
    }
    sent += (uint32_t)r;
  }
  CHECK(napi_create_uint32(env, sent, &out));
  return out;
}

/* repeats(slots): turn the repeat table on (batch mode only) with `slots` entries (rounded up to a power of two,
 * 64..65536), or off with 0. See on_readable. */
static napi_value js_repeats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t want;
  ps_t *ps = unwrap(env, info, &argc, argv);
  if (ps == NULL) return NULL;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &want) != napi_ok || want < 0 || want > 65536 || !ps->batch) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "repeats(slots: 0..65536), on a batch-mode socket");
    return NULL;
  }
  rep_free(ps->rep);
  ps->rep = NULL;
  if (want == 0) return NULL;
  uint32_t slots = 64;
  while (slots < (uint32_t)want) slots <<= 1;
  rep_t *rep = calloc(1, sizeof *rep);
  if (rep == NULL || (rep->entries = calloc(slots, sizeof *rep->entries)) == NULL) {
    free(rep);
    return throw_errno(env, "calloc", ENOMEM);
  }
  rep->slots = slots;
  ps->rep = rep;
  return NULL;
}

/* hush(vrid, frame, pktType, watchMs?) / hush(vrid, null), heard(vrid) and due(aheadMs): see quiet.c. */
static napi_value js_hush(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  ps_t *ps = unwrap(env, info, &argc, argv);
  return ps == NULL ? NULL : quiet_js_hush(env, &ps->quiet, ps->ethertype, argc, argv);
}

static napi_value js_heard(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  ps_t *ps = unwrap(env, info, &argc, argv);
  return ps == NULL ? NULL : quiet_js_heard(env, ps->quiet, argc, argv);
}

static napi_value js_due(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  ps_t *ps = unwrap(env, info, &argc, argv);
  return ps == NULL ? NULL : quiet_js_due(env, ps->quiet, argc, argv);
}

/* membership(add, mac | null): PACKET_MR_MULTICAST for one group MAC, PACKET_MR_ALLMULTI for null. */
static napi_value js_membership(napi_env env, napi_callback_info info) {
  size_t argc = 2, len = 0;
  napi_value argv[2];
  napi_valuetype t = napi_null;
  bool add;
  void *mac = NULL;
  ps_t *ps = unwrap(env, info, &argc, argv);
  if (ps == NULL) return NULL;
  if (argc < 2 || napi_get_value_bool(env, argv[0], &add) != napi_ok || napi_typeof(env, argv[1], &t) != napi_ok ||
      (t != napi_null && (napi_get_buffer_info(env, argv[1], &mac, &len) != napi_ok || len != 6))) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "membership(add: boolean, mac: 6-byte Buffer | null)");
    return NULL;
  }
  struct packet_mreq mr = {.mr_ifindex = ps->ifindex, .mr_type = mac ? PACKET_MR_MULTICAST : PACKET_MR_ALLMULTI};
  if (mac) mr.mr_alen = 6, memcpy(mr.mr_address, mac, 6);
  if (setsockopt(ps->fd, SOL_PACKET, add ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP, &mr, sizeof mr) < 0)
    return throw_errno(env, "setsockopt(PACKET_MEMBERSHIP)", errno);
  return NULL;
}

/* attachFilter(program): classic BPF, 8 bytes per instruction in host byte order (SO_ATTACH_FILTER). */
static napi_value js_attach_filter(napi_env env, napi_callback_info info) {
  size_t argc = 1, len;
  napi_value argv[1];
  void *data;
  ps_t *ps = unwrap(env, info, &argc, argv);
  if (ps == NULL) return NULL;
  if (argc < 1 || napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok || len == 0 || len % 8 != 0 ||
      len / 8 > BPF_MAXINSNS) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "attachFilter(program: Buffer of 8-byte instructions)");
    return NULL;
  }
  struct sock_fprog prog = {.len = (unsigned short)(len / 8), .filter = data};
  if (setsockopt(ps->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0)
    return throw_errno(env, "setsockopt(SO_ATTACH_FILTER)", errno);
  return NULL;
}

/* bufferSizes(rcv, snd) -> [rcv, snd]: asks for socket buffers of these sizes (0 leaves one alone), with the FORCE
 * options first (CAP_NET_ADMIN, past net.core.rmem_max), then the plain ones; returns what the kernel granted. A
 * burst of hundreds of adverts (one per router, all due in the same tick) must fit in the receiver's buffer. */
static napi_value js_buffer_sizes(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out, v;
  int32_t want[2];
  ps_t *ps = unwrap(env, info, &argc, argv);
  if (ps == NULL) return NULL;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &want[0]) != napi_ok ||
      napi_get_value_int32(env, argv[1], &want[1]) != napi_ok || want[0] < 0 || want[1] < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "bufferSizes(rcv >= 0, snd >= 0)");
    return NULL;
  }
  const int force[2] = {SO_RCVBUFFORCE, SO_SNDBUFFORCE}, plain[2] = {SO_RCVBUF, SO_SNDBUF};
  CHECK(napi_create_array_with_length(env, 2, &out));
  for (int i = 0; i < 2; i++) {
    if (want[i] > 0 && setsockopt(ps->fd, SOL_SOCKET, force[i], &want[i], sizeof want[i]) < 0 &&
        setsockopt(ps->fd, SOL_SOCKET, plain[i], &want[i], sizeof want[i]) < 0)
      return throw_errno(env, "setsockopt(SO_RCVBUF/SO_SNDBUF)", errno);
    int got = 0;
    socklen_t len = sizeof got;
    if (getsockopt(ps->fd, SOL_SOCKET, plain[i], &got, &len) < 0) return throw_errno(env, "getsockopt", errno);
    CHECK(napi_create_int32(env, got, &v));
    CHECK(napi_set_element(env, out, (uint32_t)i, v));
  }
  return out;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value self;
  ps_t *ps = NULL;
  CHECK(napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  if (napi_unwrap(env, self, (void **)&ps) != napi_ok || ps->fd < 0) return NULL;
  shutdown_fd(ps);
  rep_free(ps->rep);
  ps->rep = NULL;
  quiet_free(ps->quiet);
  ps->quiet = NULL;
  rb_free(ps->rb);
  ps->rb = NULL;
  napi_remove_env_cleanup_hook(env, env_cleanup, ps);
  napi_async_destroy(env, ps->async);
  if (ps->on_error) napi_delete_reference(env, ps->on_error);
  napi_delete_reference(env, ps->on_frame);
  napi_delete_reference(env, ps->self); /* from now on the object may be collected; finalize frees ps */
  ps->on_error = ps->on_frame = ps->self = NULL;
  return NULL;
}

/* neighbors(family: 4 | 6, ifindex) -> [{ address, mac, state }]: one synchronous RTM_GETNEIGH dump (a few
 * microseconds for a small table), filtered here to the interface and to entries that carry a 6-byte lladdr. */
static napi_value js_neighbors(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], list;
  int32_t fam, ifindex;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fam) != napi_ok || (fam != 4 && fam != 6) ||
      napi_get_value_int32(env, argv[1], &ifindex) != napi_ok || ifindex <= 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "neighbors(family: 4 | 6, ifindex > 0)");
    return NULL;
  }
  int af = fam == 4 ? AF_INET : AF_INET6;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return throw_errno(env, "socket(AF_NETLINK)", errno);
  struct {
    struct nlmsghdr nh;
    struct ndmsg nd;
  } req = {.nh = {.nlmsg_len = sizeof req, .nlmsg_type = RTM_GETNEIGH, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
                  .nlmsg_seq = 1},
           .nd = {.ndm_family = (unsigned char)af, .ndm_ifindex = ifindex}};
  if (send(fd, &req, sizeof req, 0) < 0) {
    int err = errno;
    return close(fd), throw_errno(env, "send(RTM_GETNEIGH)", err);
  }
  CHECK(napi_create_array(env, &list));
  uint32_t count = 0;
  static char buf[32768];
  for (int done = 0; !done;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      return close(fd), throw_errno(env, "recv(RTM_GETNEIGH)", err);
    }
    int len = (int)n;
    for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
      if (nh->nlmsg_type == NLMSG_DONE || nh->nlmsg_type == NLMSG_ERROR) {
        done = 1;
        break;
      }
      if (nh->nlmsg_type != RTM_NEWNEIGH) continue;
      struct ndmsg *nd = NLMSG_DATA(nh);
      if (nd->ndm_family != af || nd->ndm_ifindex != ifindex) continue;
      void *dst = NULL, *ll = NULL;
      size_t dst_len = 0, ll_len = 0;
      int alen = (int)RTM_PAYLOAD(nh);
      for (struct rtattr *a = (struct rtattr *)((char *)nd + NLMSG_ALIGN(sizeof *nd)); RTA_OK(a, alen);
           a = RTA_NEXT(a, alen)) {
        if (a->rta_type == NDA_DST) dst = RTA_DATA(a), dst_len = RTA_PAYLOAD(a);
        if (a->rta_type == NDA_LLADDR) ll = RTA_DATA(a), ll_len = RTA_PAYLOAD(a);
      }
      if (dst == NULL || ll == NULL || ll_len != 6 || dst_len != (af == AF_INET ? 4u : 16u)) continue;
      napi_value entry, address, mac, state;
      CHECK(napi_create_object(env, &entry));
      CHECK(napi_create_buffer_copy(env, dst_len, dst, NULL, &address));
      CHECK(napi_create_buffer_copy(env, 6, ll, NULL, &mac));
      CHECK(napi_create_uint32(env, nd->ndm_state, &state));
      CHECK(napi_set_named_property(env, entry, "address", address));
      CHECK(napi_set_named_property(env, entry, "mac", mac));
      CHECK(napi_set_named_property(env, entry, "state", state));
      CHECK(napi_set_element(env, list, count++, entry));
    }
  }
  close(fd);
  return list;
}

napi_value neighbor_responder_init(napi_env env, napi_value exports); /* native/neighbor_responder.c */

NAPI_MODULE_INIT() {
  napi_value neighbors;
  napi_value cls;
  napi_property_descriptor methods[] = {
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"sendBatch", NULL, js_send_batch, NULL, NULL, NULL, napi_default, NULL},
      {"bufferSizes", NULL, js_buffer_sizes, NULL, NULL, NULL, napi_default, NULL},
      {"membership", NULL, js_membership, NULL, NULL, NULL, napi_default, NULL},
      {"attachFilter", NULL, js_attach_filter, NULL, NULL, NULL, napi_default, NULL},
      {"repeats", NULL, js_repeats, NULL, NULL, NULL, napi_default, NULL},
      {"hush", NULL, js_hush, NULL, NULL, NULL, napi_default, NULL},
      {"heard", NULL, js_heard, NULL, NULL, NULL, napi_default, NULL},
      {"due", NULL, js_due, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_class(env, "PacketSocket", NAPI_AUTO_LENGTH, js_new, NULL, sizeof methods / sizeof methods[0],
                          methods, &cls));
  CHECK(napi_set_named_property(env, exports, "PacketSocket", cls));
  CHECK(napi_create_function(env, "neighbors", NAPI_AUTO_LENGTH, js_neighbors, NULL, &neighbors));
  CHECK(napi_set_named_property(env, exports, "neighbors", neighbors));
  return neighbor_responder_init(env, exports);
}
