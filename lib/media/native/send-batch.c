/*
 * send-batch: the one sendmmsg loop of the shared media socket, for frames sent at once
 * (udp-mux.c) and frames sent when due (held-send.c).
 */
#define _GNU_SOURCE
#include "send-batch.h"
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#define BATCH 64

int send_datagrams (int fd, const datagram_t *datagrams, int n, uint8_t *taken) {
  struct mmsghdr msgs[BATCH];
  struct iovec iovs[BATCH];
  struct sockaddr_in addrs[BATCH];
  int total = 0;
  memset(taken, 0, (size_t)n);
  for (int base = 0; base < n; base += BATCH) {
    int count = n - base < BATCH ? n - base : BATCH;
    for (int i = 0; i < count; i++) {
      const datagram_t *d = &datagrams[base + i];
      memset(&msgs[i], 0, sizeof msgs[i]);
      memset(&addrs[i], 0, sizeof addrs[i]);
      addrs[i].sin_family = AF_INET;
      addrs[i].sin_addr.s_addr = d->addr;
      addrs[i].sin_port = htons(d->port);
      iovs[i].iov_base = (void *)d->data;
      iovs[i].iov_len = d->len;
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
    }
    int next = 0;
    while (next < count) {
      int r;
      do { r = sendmmsg(fd, msgs + next, (unsigned)(count - next), MSG_DONTWAIT); } while (r < 0 && errno == EINTR);
      if (r > 0) {
        memset(taken + base + next, 1, (size_t)r);
        next += r;
        total += r;
        continue;
      }
      /* A full socket buffer: the rest is dropped (real-time audio; the caller counts it). */
      if (errno == EAGAIN || errno == EWOULDBLOCK) return total;
      /* The first datagram left was refused (no route, a bad address): skip it, send the others. */
      next++;
    }
  }
  return total;
}

int send_unheld (int fd, const uint8_t *outbox, size_t slot, int32_t *meta, int stride, int count) {
  datagram_t datagrams[BATCH];
  uint8_t taken[BATCH];
  int index[BATCH];
  int total = 0, k = 0;
  while (k < count) {
    int n = 0;
    for (; k < count && n < BATCH; k++) {
      const int32_t *d = meta + k * stride;
      if (d[3] != 0) continue;
      size_t len = d[2] < 0 ? 0 : (size_t)d[2] > slot ? slot : (size_t)d[2];
      datagrams[n] = (datagram_t){ (uint32_t)d[0], (uint16_t)d[1], outbox + (size_t)k * slot, len };
      index[n++] = k;
    }
    total += send_datagrams(fd, datagrams, n, taken);
    for (int i = 0; i < n; i++) meta[index[i] * stride + 3] = taken[i] ? 1 : -1;
  }
  return total;
}
