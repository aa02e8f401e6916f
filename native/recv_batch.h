/*
 * recv_batch.h — reading a packet socket's frames in batches (recvmmsg(2)) while handing them on one at a time, as
 * recvfrom(2) would. See recv_batch.c.
 */
#ifndef METAL_VRRP_RECV_BATCH_H
#define METAL_VRRP_RECV_BATCH_H

#include <linux/if_packet.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct recv_batch recv_batch_t;

/* rb_recv is recvfrom(fd, buf, size, MSG_TRUNC, sll) served from frames read up to `want` at a time (at most
 * RB_SLOTS) with one recvmmsg; *rb is allocated on first use (plain recvfrom when that fails). Returns the frame's
 * length (bytes beyond RB_SLOT_BYTES are cut off, as beyond `size`), or -1 with errno (EAGAIN: none left). */
ssize_t rb_recv(recv_batch_t **rb, int fd, unsigned char *buf, size_t size, struct sockaddr_ll *sll, unsigned want);

/* rb_free releases a batch and the frames it still holds (a closing socket drops them). */
void rb_free(recv_batch_t *rb);

#endif
