/*
 * recv_batch.c — a backup hears every router's advert each interval: 510 frames per 100 ms with 255 + 255 routers,
 * which one recvfrom(2) per frame turned into ~5,700 system calls a second (strace -c of bench:speaker-load's backup).
 * rb_recv reads what is queued with one recvmmsg(2) and hands the frames out one by one from user space, in order.
 *
 * A batch shorter than asked for means the socket was empty then: the next call after it says EAGAIN without a
 * system call (a frame that arrives meanwhile keeps the level-triggered poll readable, so the next readiness event
 * reads it). Frames are copied from the batch's slots into the caller's buffer: adverts are ~60–100 bytes, and the
 * caller's code stays as it was for recvfrom.
 *
 * Slots are RB_SLOT_BYTES (a 9,000-byte jumbo frame and its header; the longest VRRPv3 advert, 255 IPv6 addresses,
 * is ~4.2 KB). Only the pages frames are written to become resident: one per slot for adverts.
 */
#define _GNU_SOURCE
#include "recv_batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define RB_SLOTS 16
#define RB_SLOT_BYTES 9216

struct recv_batch {
  unsigned count, next; /* frames read by the last recvmmsg, and the next one to hand out */
  int drained;          /* the last recvmmsg returned fewer than asked for: the socket was empty then */
  struct mmsghdr msgs[RB_SLOTS];
  struct iovec iov[RB_SLOTS];
  struct sockaddr_ll addr[RB_SLOTS];
  unsigned char *bytes; /* RB_SLOTS * RB_SLOT_BYTES */
};

void rb_free(recv_batch_t *rb) {
  if (rb == NULL) return;
  free(rb->bytes);
  free(rb);
}

static recv_batch_t *rb_new(void) {
  recv_batch_t *rb = calloc(1, sizeof *rb);
  if (rb == NULL) return NULL;
  rb->bytes = malloc((size_t)RB_SLOTS * RB_SLOT_BYTES);
  if (rb->bytes == NULL) return free(rb), NULL;
  return rb;
}

ssize_t rb_recv(recv_batch_t **rbp, int fd, unsigned char *buf, size_t size, struct sockaddr_ll *sll, unsigned want) {
  if (*rbp == NULL && (*rbp = rb_new()) == NULL) {
    socklen_t sl = sizeof *sll;
    return recvfrom(fd, buf, size, MSG_TRUNC, (struct sockaddr *)sll, &sl);
  }
  recv_batch_t *rb = *rbp;
  if (rb->next == rb->count) {
    if (rb->drained) {
      rb->drained = 0;
      errno = EAGAIN;
      return -1;
    }
    unsigned n = want < 1 ? 1 : want > RB_SLOTS ? RB_SLOTS : want;
    for (unsigned i = 0; i < n; i++) {
      rb->iov[i] = (struct iovec){.iov_base = rb->bytes + (size_t)i * RB_SLOT_BYTES, .iov_len = RB_SLOT_BYTES};
      rb->msgs[i].msg_hdr = (struct msghdr){.msg_name = &rb->addr[i], .msg_namelen = sizeof rb->addr[i],
                                            .msg_iov = &rb->iov[i], .msg_iovlen = 1};
      rb->msgs[i].msg_len = 0;
    }
    int r = recvmmsg(fd, rb->msgs, n, MSG_TRUNC | MSG_DONTWAIT, NULL);
    if (r <= 0) {
      rb->count = rb->next = 0;
      if (r == 0) errno = EAGAIN;
      return -1;
    }
    rb->count = (unsigned)r, rb->next = 0, rb->drained = (unsigned)r < n;
  }
  unsigned i = rb->next++;
  size_t len = rb->msgs[i].msg_len; /* MSG_TRUNC: the frame's real length, even when cut */
  size_t copied = len > RB_SLOT_BYTES ? RB_SLOT_BYTES : len;
  if (copied > size) copied = size;
  memcpy(buf, rb->bytes + (size_t)i * RB_SLOT_BYTES, copied);
  *sll = rb->addr[i];
  return (ssize_t)copied;
}
