/*
 * neighbor_responder.c — answers ARP requests (RFC 826) and IPv6 Neighbor Solicitations (RFC 4861 §7.2.4) for the
 * VIPs of a table, on a thread of its own, so an answer never waits for the JavaScript event loop (GC, timers of
 * hundreds of routers, the Kubernetes client) and an ARP flood never reaches it.
 *
 * new NeighborResponder(mac, linkLocal | null, answerFromTarget) holds the decision: our MAC, the IPv6 source of NAs
 * (our link-local, or the VIP itself), and the table of addresses to answer for (4-byte IPv4 or 16-byte IPv6 keys),
 * which JS changes with update(adds[], removes[]) exactly where it decides that this node masters a VIP or no longer.
 * decide(family, frame, pktType) -> [reason, reply?] is that decision for one frame, without a socket and without
 * counting (the tests compare it with the JS codecs, frames/arp.ts and frames/ndp.ts, reason for reason, byte for byte).
 * start(ifindex, families, rtPriority) -> { realtime, error } opens one AF_PACKET socket per family (bit 1 ARP,
 * bit 2 IPv6), each with a classic BPF filter that passes only incoming ARP requests / ICMPv6 type 135 for the
 * targets in the table (rebuilt by the thread after each update), and starts the thread: poll, recvmmsg, decide,
 * sendmmsg, count. With rtPriority > 0 the thread asks for SCHED_FIFO at that
 * priority; when the kernel refuses (EPERM: no CAP_SYS_NICE), it runs as a normal thread and `error` says why.
 * membership(add, mac) joins a multicast group (a solicited-node group, RFC 4291 §2.7.1) on the IPv6 socket.
 * stats() -> { ipv4: { reason: n }, ipv6: { reason: n } } reads the counters (answered, send-failed and every drop
 * reason, names as in frames/neighbor.ts, arp.ts, ndp.ts). close() stops the thread and closes the sockets.
 * Every frame gets a reason; a malformed one is counted and dropped, never read past its length.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NR_BATCH 32     /* frames per recvmmsg / sendmmsg */
#define NR_FRAME 2048   /* longer frames arrive truncated (MSG_TRUNC) and count as malformed */
#define NR_REPLY 96     /* an ARP reply is 60 bytes, an NA 86 */
#define NR_ROUNDS 16    /* batches read per wake-up before polling the stop event again */
#define QUIET_MS 20     /* the table filters are rebuilt once the table has not changed for this long */
#define MIN_FRAME 60    /* Ethernet minimum without FCS: replies are zero-padded to it, as encodeEthernet does */
#define CHECK(call) do { if ((call) != napi_ok) return NULL; } while (0)

/* Reasons: the fate of one frame. Names are the JS counters' (ResponderCounter). */
enum {
  R_ANSWERED, R_SEND_FAILED, R_OWN_FRAME, R_OTHER_HOST, R_MALFORMED, R_NOT_OURS, R_NOT_REQUEST, R_ANNOUNCEMENT,
  R_NOT_ICMPV6, R_NOT_SOLICITATION, R_BAD_HOP_LIMIT, R_BAD_CHECKSUM, R_INVALID_SOLICITATION, R_COUNT
};
static const char *const REASON[R_COUNT] = {
    "answered", "send-failed", "own-frame", "other-host", "malformed", "not-ours", "not-request", "announcement",
    "not-icmpv6", "not-solicitation", "bad-hop-limit", "bad-checksum", "invalid-solicitation"};
enum { F4, F6 }; /* counter families: ARP, NDP */

typedef struct { uint8_t b[16]; } nr_key; /* IPv6, or IPv4 as ::ffff:a.b.c.d */

typedef struct {
  uint8_t mac[6], link_local[16];
  bool has_link_local, answer_from_target;
  pthread_mutex_t lock; /* guards keys / n / cap: JS updates, the thread looks up */
  nr_key *keys;         /* sorted, for bsearch */
  size_t n, cap;
  _Atomic uint64_t counts[2][R_COUNT];
  int fd[2], wake_fd; /* fd[F4] ARP, fd[F6] IPv6; wake_fd: an eventfd that wakes the thread; -1 when closed */
  _Atomic bool stopping, dirty, grown; /* since the thread last rebuilt the kernel filters: the table changed / grew */
  bool narrow;                          /* the table filters are attached (thread only) */
  pthread_t thread;
  bool running;
} nr_t;

/* ---- the table ---- */

static void key_of(nr_key *k, const uint8_t *addr, size_t len) {
  memset(k, 0, sizeof *k);
  if (len == 4) {
    k->b[10] = k->b[11] = 0xff;
    memcpy(k->b + 12, addr, 4);
  } else {
    memcpy(k->b, addr, 16);
  }
}

static int key_cmp(const void *a, const void *b) { return memcmp(a, b, sizeof(nr_key)); }

/* table_find returns the index of k, or -(insertion point) - 1. Caller holds the lock. */
static ssize_t table_find(const nr_t *nr, const nr_key *k) {
  size_t lo = 0, hi = nr->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = key_cmp(&nr->keys[mid], k);
    if (c == 0) return (ssize_t)mid;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return -(ssize_t)lo - 1;
}

static bool table_has(nr_t *nr, const uint8_t *addr, size_t len) {
  nr_key k;
  key_of(&k, addr, len);
  pthread_mutex_lock(&nr->lock);
  bool found = nr->n > 0 && table_find(nr, &k) >= 0;
  pthread_mutex_unlock(&nr->lock);
  return found;
}

/* table_set adds or removes one key; false when out of memory. Caller holds the lock. */
static bool table_set(nr_t *nr, const nr_key *k, bool add) {
  ssize_t at = table_find(nr, k);
  if (add && at < 0) {
    size_t pos = (size_t)(-at - 1);
    if (nr->n == nr->cap) {
      size_t cap = nr->cap == 0 ? 64 : nr->cap * 2;
      nr_key *keys = realloc(nr->keys, cap * sizeof *keys);
      if (keys == NULL) return false;
      nr->keys = keys, nr->cap = cap;
    }
    memmove(&nr->keys[pos + 1], &nr->keys[pos], (nr->n - pos) * sizeof *nr->keys);
    nr->keys[pos] = *k;
    nr->n++;
  } else if (!add && at >= 0) {
    memmove(&nr->keys[at], &nr->keys[at + 1], (nr->n - (size_t)at - 1) * sizeof *nr->keys);
    nr->n--;
  }
  return true;
}

/* ---- the decision ---- */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }

/* decide_arp: RFC 826 request for a VIP of the table -> reply (op 2, our MAC and the VIP as sender, the requester as
 * target, unicast to its hardware address). Checks in the order of ARP_CODEC (frames/arp.ts). */
static int decide_arp(nr_t *nr, const uint8_t *f, size_t len, int pkttype, uint8_t *out, size_t *out_len) {
  if (pkttype == PACKET_OUTGOING) return R_OWN_FRAME;
  if (pkttype == PACKET_OTHERHOST) return R_OTHER_HOST;
  if (len < 14 || rd16(f + 12) != ETH_P_ARP) return R_MALFORMED;
  const uint8_t *a = f + 14;
  if (len < 14 + 28) return R_MALFORMED;
  if (rd16(a) != 1 || rd16(a + 2) != ETH_P_IP || a[4] != 6 || a[5] != 4) return R_MALFORMED;
  if (memcmp(f + 6, nr->mac, 6) == 0 || memcmp(a + 8, nr->mac, 6) == 0) return R_OWN_FRAME;
  if (rd16(a + 6) != 1) return R_NOT_REQUEST;
  if (memcmp(a + 14, a + 24, 4) == 0) return R_ANNOUNCEMENT; /* sender IP = target IP: someone's gratuitous ARP */
  if (!table_has(nr, a + 24, 4)) return R_NOT_OURS;
  memset(out, 0, MIN_FRAME);
  memcpy(out, a + 8, 6); /* to the requester's hardware address */
  memcpy(out + 6, nr->mac, 6);
  wr16(out + 12, ETH_P_ARP);
  uint8_t *r = out + 14;
  wr16(r, 1), wr16(r + 2, ETH_P_IP), r[4] = 6, r[5] = 4, wr16(r + 6, 2);
  memcpy(r + 8, nr->mac, 6);
  memcpy(r + 14, a + 24, 4); /* sender IP: the VIP asked for */
  memcpy(r + 18, a + 8, 6);
  memcpy(r + 24, a + 14, 4);
  *out_len = MIN_FRAME;
  return R_ANSWERED;
}

/* checksum16 is the one's complement sum of RFC 1071 over the RFC 8200 §8.1 pseudo-header and the ICMPv6 message,
 * folded and complemented: 0 for a message whose checksum field verifies. */
static uint16_t icmpv6_checksum(const uint8_t *src, const uint8_t *dst, const uint8_t *msg, size_t len) {
  uint32_t sum = 0;
  for (int i = 0; i < 16; i += 2) sum += rd16(src + i) + rd16(dst + i);
  sum += (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff) + 58;
  for (size_t i = 0; i + 1 < len; i += 2) sum += rd16(msg + i);
  if (len & 1) sum += (uint32_t)msg[len - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static const uint8_t ALL_NODES[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t ALL_NODES_MAC[6] = {0x33, 0x33, 0, 0, 0, 1};
static const uint8_t SOLICITED_PREFIX[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};

/* decide_nd: RFC 4861 §7.1.1 validation of an NS for a VIP of the table -> the NA of §7.2.4 (Solicited and Override
 * set, unicast to the solicitor; for a DAD probe from ::, Solicited clear, to ff02::1). Checks in the order of
 * NDP_CODEC (frames/ndp.ts), so both give one frame the same reason. */
static int decide_nd(nr_t *nr, const uint8_t *f, size_t len, int pkttype, uint8_t *out, size_t *out_len) {
  if (pkttype == PACKET_OUTGOING) return R_OWN_FRAME;
  if (pkttype == PACKET_OTHERHOST) return R_OTHER_HOST;
  if (len < 14 || rd16(f + 12) != ETH_P_IPV6) return R_MALFORMED;
  if (memcmp(f + 6, nr->mac, 6) == 0) return R_OWN_FRAME;
  const uint8_t *ip = f + 14;
  if (len < 14 + 40 || ip[0] >> 4 != 6) return R_MALFORMED;
  size_t plen = rd16(ip + 4);
  if (len < 14 + 40 + plen) return R_MALFORMED;
  if (ip[6] != 58) return R_NOT_ICMPV6;
  const uint8_t *src = ip + 8, *dst = ip + 24, *m = ip + 40;
  if (plen < 1 || m[0] != 135) return R_NOT_SOLICITATION;
  if (ip[7] != 255) return R_BAD_HOP_LIMIT;
  if (plen < 24) return R_MALFORMED;
  const uint8_t *slla = NULL;
  for (size_t at = 24; at < plen;) { /* options, RFC 4861 §4.6: length in units of 8 octets, 0 invalid */
    if (at + 2 > plen) return R_MALFORMED;
    size_t olen = (size_t)m[at + 1] * 8;
    if (olen == 0 || at + olen > plen) return R_MALFORMED;
    if (m[at] == 1 && olen >= 8) slla = m + at + 2; /* the last one wins, as in decodeNd */
    at += olen;
  }
  if (icmpv6_checksum(src, dst, m, plen) != 0) return R_BAD_CHECKSUM;
  if (m[1] != 0) return R_INVALID_SOLICITATION;
  const uint8_t *target = m + 8;
  if (target[0] == 0xff) return R_INVALID_SOLICITATION; /* multicast target */
  static const uint8_t unspecified[16] = {0};
  bool dad = memcmp(src, unspecified, 16) == 0;
  if (dad && (memcmp(dst, SOLICITED_PREFIX, 13) != 0 || slla != NULL)) return R_INVALID_SOLICITATION;
  if (!table_has(nr, target, 16)) return R_NOT_OURS;
  const uint8_t *from = nr->answer_from_target ? target : nr->link_local;
  if (!nr->answer_from_target && !nr->has_link_local) return R_MALFORMED; /* no source for the answer */
  memset(out, 0, 86);
  memcpy(out, dad ? ALL_NODES_MAC : slla != NULL ? slla : f + 6, 6);
  memcpy(out + 6, nr->mac, 6);
  wr16(out + 12, ETH_P_IPV6);
  uint8_t *o = out + 14;
  o[0] = 0x60;
  wr16(o + 4, 32);
  o[6] = 58, o[7] = 255;
  memcpy(o + 8, from, 16);
  memcpy(o + 24, dad ? ALL_NODES : src, 16);
  uint8_t *na = o + 40;
  na[0] = 136;
  na[4] = (uint8_t)((dad ? 0 : 0x40) | 0x20); /* Solicited unless DAD, Override (§7.2.4) */
  memcpy(na + 8, target, 16);
  na[24] = 2, na[25] = 1; /* Target Link-Layer Address option */
  memcpy(na + 26, nr->mac, 6);
  wr16(na + 2, icmpv6_checksum(o + 8, o + 24, na, 32));
  *out_len = 86;
  return R_ANSWERED;
}

static int decide(nr_t *nr, int fam, const uint8_t *f, size_t len, int pkttype, uint8_t *out, size_t *out_len) {
  return fam == F4 ? decide_arp(nr, f, len, pkttype, out, out_len) : decide_nd(nr, f, len, pkttype, out, out_len);
}

/* ---- the thread ---- */

/* Kernel filters: incoming (not PACKET_OUTGOING) ARP requests (opcode at offset 20 = 1); incoming IPv6 whose first
 * next header is ICMPv6 (offset 20) and whose ICMPv6 type (offset 54) is 135. Everything else is never read. */
static struct sock_filter ARP_FILTER[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 2, 0),
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 20),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, 0),
    BPF_STMT(BPF_RET | BPF_K, 0x40000),
};
static struct sock_filter ND_FILTER[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 4, 0),
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 20),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 58, 0, 2),
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 54),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 135, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, 0),
    BPF_STMT(BPF_RET | BPF_K, 0x40000),
};

typedef struct {
  uint8_t frames[NR_BATCH][NR_FRAME];
  uint8_t replies[NR_BATCH][NR_REPLY];
  struct sockaddr_ll from[NR_BATCH];
  struct iovec iov[NR_BATCH], riov[NR_BATCH];
  struct mmsghdr msgs[NR_BATCH], rmsgs[NR_BATCH];
} nr_bufs;

/* serve reads every pending frame of one socket (up to NR_ROUNDS batches), answers, counts. */
static void serve(nr_t *nr, int fam, nr_bufs *b) {
  int fd = nr->fd[fam];
  for (int round = 0; round < NR_ROUNDS; round++) {
    for (int i = 0; i < NR_BATCH; i++) {
      b->iov[i] = (struct iovec){.iov_base = b->frames[i], .iov_len = NR_FRAME};
      memset(&b->msgs[i], 0, sizeof b->msgs[i]);
      b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
      b->msgs[i].msg_hdr.msg_iovlen = 1;
      b->msgs[i].msg_hdr.msg_name = &b->from[i];
      b->msgs[i].msg_hdr.msg_namelen = sizeof b->from[i];
    }
    int got = recvmmsg(fd, b->msgs, NR_BATCH, MSG_DONTWAIT, NULL);
    if (got <= 0) {
      if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        int err = 0; /* ENETDOWN and the like: clear the pending error, go on polling */
        socklen_t el = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
      }
      return;
    }
    int nreplies = 0;
    for (int i = 0; i < got; i++) {
      size_t len = b->msgs[i].msg_len, rlen = 0;
      int reason = (b->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) || len > NR_FRAME
                       ? R_MALFORMED
                       : decide(nr, fam, b->frames[i], len, b->from[i].sll_pkttype, b->replies[nreplies], &rlen);
      if (reason != R_ANSWERED) {
        atomic_fetch_add_explicit(&nr->counts[fam][reason], 1, memory_order_relaxed);
        continue;
      }
      b->riov[nreplies] = (struct iovec){.iov_base = b->replies[nreplies], .iov_len = rlen};
      memset(&b->rmsgs[nreplies], 0, sizeof b->rmsgs[nreplies]);
      b->rmsgs[nreplies].msg_hdr.msg_iov = &b->riov[nreplies];
      b->rmsgs[nreplies].msg_hdr.msg_iovlen = 1;
      nreplies++;
    }
    for (int sent = 0; sent < nreplies;) {
      int r = sendmmsg(fd, b->rmsgs + sent, (unsigned)(nreplies - sent), MSG_DONTWAIT);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) { /* the rest is lost: counted, the next request asks again */
        atomic_fetch_add_explicit(&nr->counts[fam][R_SEND_FAILED], (uint64_t)(nreplies - sent), memory_order_relaxed);
        break;
      }
      atomic_fetch_add_explicit(&nr->counts[fam][R_ANSWERED], (uint64_t)r, memory_order_relaxed);
      sent += r;
    }
    if (got < NR_BATCH) return;
  }
}

/* Table filters: the generic filters above narrowed to the targets of the table, so a flood of requests for other
 * addresses (or for VIPs another node masters) is dropped in the kernel and never wakes the thread, as the kernel
 * answers only for its own addresses. IPv4: 2 instructions per VIP; IPv6: 9 (the 16-byte target, word by word). Past
 * BPF_MAXINSNS the generic filter stays (every request read, the table decides). The table still decides every frame:
 * the filter only thins the stream, so a frame read just before a change is judged by the table of the moment. */
#define FILTER_MAX BPF_MAXINSNS

static unsigned short arp_table_filter(const nr_key *keys, size_t n, struct sock_filter *f) {
  size_t v4 = 0;
  for (size_t i = 0; i < n; i++) v4 += keys[i].b[10] == 0xff && keys[i].b[11] == 0xff && memcmp(keys[i].b, (uint8_t[10]){0}, 10) == 0;
  if (6 + 2 * v4 + 1 > FILTER_MAX) return 0;
  unsigned short k = 0;
  f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE);
  f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 2, 0);
  f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 20);
  f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 1, 0);
  f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
  f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 38); /* ARP target protocol address */
  for (size_t i = 0; i < n; i++) {
    const uint8_t *b = keys[i].b;
    if (!(b[10] == 0xff && b[11] == 0xff && memcmp(b, (uint8_t[10]){0}, 10) == 0)) continue;
    f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)b[12] << 24 | b[13] << 16 | b[14] << 8 | b[15], 0, 1);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0x40000);
  }
  f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
  return k;
}

static uint32_t word(const uint8_t *b) { return (uint32_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]; }

static unsigned short nd_table_filter(const nr_key *keys, size_t n, struct sock_filter *f) {
  size_t v6 = 0;
  for (size_t i = 0; i < n; i++) v6 += !(keys[i].b[10] == 0xff && keys[i].b[11] == 0xff && memcmp(keys[i].b, (uint8_t[10]){0}, 10) == 0);
  if (7 + 9 * v6 + 1 > FILTER_MAX) return 0;
  unsigned short k = 0;
  f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE);
  f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 4, 0);
  f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 20);
  f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 58, 0, 2);
  f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 54);
  f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 135, 1, 0);
  f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
  for (size_t i = 0; i < n; i++) { /* the NS target: Ethernet 14 + IPv6 40 + 8 = offset 62 */
    const uint8_t *b = keys[i].b;
    if (b[10] == 0xff && b[11] == 0xff && memcmp(b, (uint8_t[10]){0}, 10) == 0) continue;
    for (int w = 0; w < 4; w++) {
      f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 62 + 4 * w);
      f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, word(b + 4 * w), 0, (uint8_t)(7 - 2 * w));
    }
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0x40000);
  }
  f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
  return k;
}

/* widen attaches the generic filters: every request is read (the table decides), e.g. while a burst of takeovers
 * adds VIPs faster than table filters are worth rebuilding. */
static void widen(nr_t *nr) {
  struct sock_fprog arp = {.len = 6, .filter = ARP_FILTER}, nd = {.len = 8, .filter = ND_FILTER};
  if (nr->fd[F4] >= 0) setsockopt(nr->fd[F4], SOL_SOCKET, SO_ATTACH_FILTER, &arp, sizeof arp);
  if (nr->fd[F6] >= 0) setsockopt(nr->fd[F6], SOL_SOCKET, SO_ATTACH_FILTER, &nd, sizeof nd);
  nr->narrow = false;
}

/* refilter attaches the table filters (on the thread, so the JS thread never pays for SO_ATTACH_FILTER). */
static void refilter(nr_t *nr) {
  struct sock_filter *f = malloc(FILTER_MAX * sizeof *f);
  if (f == NULL) return;
  for (int fam = F4; fam <= F6; fam++) {
    if (nr->fd[fam] < 0) continue;
    pthread_mutex_lock(&nr->lock);
    unsigned short len = fam == F4 ? arp_table_filter(nr->keys, nr->n, f) : nd_table_filter(nr->keys, nr->n, f);
    pthread_mutex_unlock(&nr->lock);
    struct sock_fprog prog = len > 0 ? (struct sock_fprog){.len = len, .filter = f}
                                     : fam == F4 ? (struct sock_fprog){.len = 6, .filter = ARP_FILTER}
                                                 : (struct sock_fprog){.len = 8, .filter = ND_FILTER};
    setsockopt(nr->fd[fam], SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog); /* on failure the last one stays */
  }
  free(f);
  nr->narrow = true;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *run(void *arg) {
  nr_t *nr = arg;
  nr_bufs *b = malloc(sizeof *b);
  if (b == NULL) return NULL;
  struct pollfd p[3] = {{.fd = nr->wake_fd, .events = POLLIN}, {.fd = nr->fd[F4], .events = POLLIN},
                        {.fd = nr->fd[F6], .events = POLLIN}}; /* a negative fd is ignored by poll */
  /* Table changes: a VIP added must be answered from its first request, so growth widens the filters at once (one
   * short program); the table filters are rebuilt once the table has been quiet for QUIET_MS, so a dead node's
   * hundreds of takeovers cost one rebuild, not hundreds. Removals need no hurry: the table decides every frame. */
  int64_t deadline = -1;
  for (;;) {
    int timeout = deadline < 0 ? -1 : (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0);
    int r = poll(p, 3, timeout);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[0].revents) {
      uint64_t v;
      ssize_t rd = read(nr->wake_fd, &v, sizeof v);
      (void)rd;
      if (atomic_load(&nr->stopping)) break;
      if (atomic_exchange(&nr->grown, false) && nr->narrow) widen(nr);
      if (atomic_load(&nr->dirty)) deadline = now_ms() + QUIET_MS;
    }
    if (deadline >= 0 && now_ms() >= deadline) {
      deadline = -1;
      if (atomic_exchange(&nr->dirty, false)) refilter(nr);
    }
    for (int fam = F4; fam <= F6; fam++)
      if (p[1 + fam].revents) serve(nr, fam, b);
  }
  free(b);
  return NULL;
}

/* stop ends the thread and closes the sockets; idempotent, no JS call (the env cleanup hook uses it). */
static void stop(nr_t *nr) {
  if (nr->running) {
    uint64_t one = 1;
    atomic_store(&nr->stopping, true);
    ssize_t w = write(nr->wake_fd, &one, sizeof one);
    (void)w;
    pthread_join(nr->thread, NULL);
    nr->running = false;
  }
  for (int i = 0; i < 2; i++)
    if (nr->fd[i] >= 0) close(nr->fd[i]), nr->fd[i] = -1;
  if (nr->wake_fd >= 0) close(nr->wake_fd), nr->wake_fd = -1;
}

static void env_cleanup(void *arg) { stop(arg); }

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  nr_t *nr = data;
  napi_remove_env_cleanup_hook(env, env_cleanup, nr);
  stop(nr);
  pthread_mutex_destroy(&nr->lock);
  free(nr->keys);
  free(nr);
}

/* ---- JS ---- */

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, strerrorname_np(err), msg);
  return NULL;
}

static nr_t *self_of(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  nr_t *nr = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok || napi_unwrap(env, self, (void **)&nr) != napi_ok)
    return NULL;
  return nr;
}

static bool buffer_of(napi_env env, napi_value v, size_t want, uint8_t **data) {
  size_t len;
  bool is = false;
  return napi_is_buffer(env, v, &is) == napi_ok && is &&
         napi_get_buffer_info(env, v, (void **)data, &len) == napi_ok && len == want;
}

static napi_value js_new(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self;
  napi_valuetype t1 = napi_undefined;
  uint8_t *mac, *ll = NULL;
  bool from_target = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  if (argc < 3 || !buffer_of(env, argv[0], 6, &mac) || napi_typeof(env, argv[1], &t1) != napi_ok ||
      (t1 != napi_null && !buffer_of(env, argv[1], 16, &ll)) || napi_get_value_bool(env, argv[2], &from_target) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "expected (mac: 6 bytes, linkLocal: 16 bytes | null, answerFromTarget)");
    return NULL;
  }
  nr_t *nr = calloc(1, sizeof *nr);
  if (nr == NULL) return throw_errno(env, "calloc", ENOMEM);
  memcpy(nr->mac, mac, 6);
  if (ll != NULL) memcpy(nr->link_local, ll, 16), nr->has_link_local = true;
  nr->answer_from_target = from_target;
  nr->fd[0] = nr->fd[1] = nr->wake_fd = -1;
  pthread_mutex_init(&nr->lock, NULL);
  if (napi_wrap(env, self, nr, finalize, NULL, NULL) != napi_ok) {
    pthread_mutex_destroy(&nr->lock);
    free(nr);
    return NULL;
  }
  CHECK(napi_add_env_cleanup_hook(env, env_cleanup, nr));
  return self;
}

/* update(adds: Buffer[], removes: Buffer[]) -> entries: each Buffer a 4-byte IPv4 or 16-byte IPv6 address. Removes
 * first, then adds, under one lock: the thread sees the whole change or none of it. */
static napi_value js_update(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  nr_t *nr = self_of(env, info, &argc, argv);
  if (nr == NULL) return NULL;
  uint32_t count[2] = {0, 0};
  for (int i = 0; i < 2; i++) {
    bool is = false;
    if (argc < 2 || napi_is_array(env, argv[i], &is) != napi_ok || !is ||
        napi_get_array_length(env, argv[i], &count[i]) != napi_ok) {
      napi_throw_type_error(env, "ERR_INVALID_ARG", "update(adds: Buffer[], removes: Buffer[])");
      return NULL;
    }
  }
  size_t total = (size_t)count[0] + count[1];
  nr_key *keys = malloc((total > 0 ? total : 1) * sizeof *keys);
  if (keys == NULL) return throw_errno(env, "malloc", ENOMEM);
  size_t k = 0;
  for (int i = 1; i >= 0; i--) { /* removes (argv[1]) first */
    for (uint32_t j = 0; j < count[i]; j++, k++) {
      napi_value item;
      uint8_t *data;
      size_t len = 0;
      bool is = false;
      if (napi_get_element(env, argv[i], j, &item) != napi_ok || napi_is_buffer(env, item, &is) != napi_ok || !is ||
          napi_get_buffer_info(env, item, (void **)&data, &len) != napi_ok || (len != 4 && len != 16)) {
        free(keys);
        napi_throw_type_error(env, "ERR_INVALID_ARG", "update: every address is a 4- or 16-byte Buffer");
        return NULL;
      }
      key_of(&keys[k], data, len);
    }
  }
  bool ok = true;
  pthread_mutex_lock(&nr->lock);
  for (size_t i = 0; i < total; i++) ok = table_set(nr, &keys[i], i >= count[1]) && ok;
  size_t n = nr->n;
  pthread_mutex_unlock(&nr->lock);
  free(keys);
  /* Wake the thread only when it has something new to do: the first change since its last rebuild, or the first
   * growth since it last widened (a burst of updates costs one or two wake-ups). */
  bool grew = count[0] > 0 && !atomic_exchange(&nr->grown, true);
  bool first = total > 0 && !atomic_exchange(&nr->dirty, true);
  if (nr->running && (grew || first)) {
    uint64_t one = 1;
    ssize_t w = write(nr->wake_fd, &one, sizeof one);
    (void)w;
  }
  if (!ok) return throw_errno(env, "realloc", ENOMEM);
  CHECK(napi_create_uint32(env, (uint32_t)n, &out));
  return out;
}

/* decide(family: 4 | 6, frame, pktType) -> [reason, reply?]: the thread's decision for one frame, uncounted. */
static napi_value js_decide(napi_env env, napi_callback_info info) {
  size_t argc = 3, len;
  napi_value argv[3], out, reason, reply;
  int32_t fam, pkttype;
  uint8_t *frame, buf[NR_REPLY];
  size_t rlen = 0;
  nr_t *nr = self_of(env, info, &argc, argv);
  if (nr == NULL) return NULL;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fam) != napi_ok || (fam != 4 && fam != 6) ||
      napi_get_buffer_info(env, argv[1], (void **)&frame, &len) != napi_ok ||
      napi_get_value_int32(env, argv[2], &pkttype) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "decide(family: 4 | 6, frame: Buffer, pktType)");
    return NULL;
  }
  int r = decide(nr, fam == 4 ? F4 : F6, frame, len, pkttype, buf, &rlen);
  CHECK(napi_create_array(env, &out));
  CHECK(napi_create_string_utf8(env, REASON[r], NAPI_AUTO_LENGTH, &reason));
  CHECK(napi_set_element(env, out, 0, reason));
  if (r == R_ANSWERED) {
    CHECK(napi_create_buffer_copy(env, rlen, buf, NULL, &reply));
    CHECK(napi_set_element(env, out, 1, reply));
  }
  return out;
}

static int open_socket(int ifindex, uint16_t proto, struct sock_filter *filter, unsigned short len, int *fd_out) {
  /* Protocol 0 until bind names both ethertype and interface, as packet_socket.c does (packet(7)). */
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  struct sock_fprog prog = {.len = len, .filter = filter};
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(proto), .sll_ifindex = ifindex};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0 ||
      bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    int err = errno;
    close(fd);
    return err;
  }
  *fd_out = fd;
  return 0;
}

/* start(ifindex, families: 1 ARP | 2 IPv6, rtPriority) -> { realtime: boolean, error: string | null }. */
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], out, rt, error;
  int32_t ifindex, families, prio;
  nr_t *nr = self_of(env, info, &argc, argv);
  if (nr == NULL) return NULL;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &ifindex) != napi_ok || ifindex <= 0 ||
      napi_get_value_int32(env, argv[1], &families) != napi_ok || (families & 3) == 0 ||
      napi_get_value_int32(env, argv[2], &prio) != napi_ok || prio < 0 || prio > 99) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "start(ifindex > 0, families: 1 | 2 | 3, rtPriority: 0..99)");
    return NULL;
  }
  if (nr->running || nr->wake_fd >= 0) {
    napi_throw_error(env, "ERR_STARTED", "neighbor responder already started");
    return NULL;
  }
  int err;
  if ((families & 1) && (err = open_socket(ifindex, ETH_P_ARP, ARP_FILTER, 6, &nr->fd[F4])) != 0)
    return stop(nr), throw_errno(env, "socket(AF_PACKET, ARP)", err);
  if ((families & 2) && (err = open_socket(ifindex, ETH_P_IPV6, ND_FILTER, 8, &nr->fd[F6])) != 0)
    return stop(nr), throw_errno(env, "socket(AF_PACKET, IPv6)", err);
  nr->wake_fd = eventfd(0, EFD_CLOEXEC);
  if (nr->wake_fd < 0) return err = errno, stop(nr), throw_errno(env, "eventfd", err);
  /* SCHED_FIFO at a low priority: the thread runs as soon as a request arrives, ahead of every normal task, as the
   * kernel's own softirq answer does; it does little per frame, and RT throttling (sched_rt_runtime_us) bounds it. */
  int rt_err = 0;
  bool realtime = false;
  if (prio > 0) {
    pthread_attr_t attr;
    struct sched_param sp = {.sched_priority = prio};
    pthread_attr_init(&attr);
    pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
    pthread_attr_setschedparam(&attr, &sp);
    rt_err = pthread_create(&nr->thread, &attr, run, nr);
    pthread_attr_destroy(&attr);
    realtime = rt_err == 0;
  }
  if (!realtime && (err = pthread_create(&nr->thread, NULL, run, nr)) != 0)
    return stop(nr), throw_errno(env, "pthread_create", err);
  nr->running = true;
  atomic_store(&nr->dirty, true);
  uint64_t one = 1;
  ssize_t w = write(nr->wake_fd, &one, sizeof one); /* the first table filter */
  (void)w;
  CHECK(napi_create_object(env, &out));
  CHECK(napi_get_boolean(env, realtime, &rt));
  if (rt_err != 0) CHECK(napi_create_string_utf8(env, strerrorname_np(rt_err), NAPI_AUTO_LENGTH, &error));
  else CHECK(napi_get_null(env, &error));
  CHECK(napi_set_named_property(env, out, "realtime", rt));
  CHECK(napi_set_named_property(env, out, "error", error));
  return out;
}

/* membership(add, mac): PACKET_MR_MULTICAST for one group MAC on the IPv6 socket (a solicited-node group). */
static napi_value js_membership(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool add;
  uint8_t *mac;
  nr_t *nr = self_of(env, info, &argc, argv);
  if (nr == NULL) return NULL;
  if (argc < 2 || napi_get_value_bool(env, argv[0], &add) != napi_ok || !buffer_of(env, argv[1], 6, &mac)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "membership(add: boolean, mac: 6-byte Buffer)");
    return NULL;
  }
  if (nr->fd[F6] < 0) {
    napi_throw_error(env, "ERR_SOCKET_CLOSED", "no IPv6 socket");
    return NULL;
  }
  struct sockaddr_ll sll;
  socklen_t sl = sizeof sll;
  if (getsockname(nr->fd[F6], (struct sockaddr *)&sll, &sl) < 0) return throw_errno(env, "getsockname", errno);
  struct packet_mreq mr = {.mr_ifindex = sll.sll_ifindex, .mr_type = PACKET_MR_MULTICAST, .mr_alen = 6};
  memcpy(mr.mr_address, mac, 6);
  if (setsockopt(nr->fd[F6], SOL_PACKET, add ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP, &mr, sizeof mr) < 0)
    return throw_errno(env, "setsockopt(PACKET_MEMBERSHIP)", errno);
  return NULL;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value out, fam, v;
  nr_t *nr = self_of(env, info, &argc, NULL);
  if (nr == NULL) return NULL;
  CHECK(napi_create_object(env, &out));
  for (int f = F4; f <= F6; f++) {
    CHECK(napi_create_object(env, &fam));
    for (int r = 0; r < R_COUNT; r++) {
      CHECK(napi_create_double(env, (double)atomic_load_explicit(&nr->counts[f][r], memory_order_relaxed), &v));
      CHECK(napi_set_named_property(env, fam, REASON[r], v));
    }
    CHECK(napi_set_named_property(env, out, f == F4 ? "ipv4" : "ipv6", fam));
  }
  return out;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  nr_t *nr = self_of(env, info, &argc, NULL);
  if (nr != NULL) stop(nr);
  return NULL;
}

/* neighbor_responder_init adds the NeighborResponder class to the addon's exports (called by packet_socket.c). */
napi_value neighbor_responder_init(napi_env env, napi_value exports) {
  napi_value cls;
  napi_property_descriptor methods[] = {
      {"update", NULL, js_update, NULL, NULL, NULL, napi_default, NULL},
      {"decide", NULL, js_decide, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"membership", NULL, js_membership, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_class(env, "NeighborResponder", NAPI_AUTO_LENGTH, js_new, NULL, 6, methods, &cls));
  CHECK(napi_set_named_property(env, exports, "NeighborResponder", cls));
  return exports;
}
