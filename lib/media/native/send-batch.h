/* send-batch: datagrams out in as few sendmmsg calls as the kernel allows (send-batch.c). */
#ifndef PHONE_AGENT_SEND_BATCH_H
#define PHONE_AGENT_SEND_BATCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t addr; /* network order */
  uint16_t port; /* host order */
  const void *data;
  size_t len;
} datagram_t;

/* Sends `n` datagrams; taken[i] = 1 for each the kernel took, else 0. Returns how many were taken. */
int send_datagrams (int fd, const datagram_t *datagrams, int n, uint8_t *taken);

/*
 * The datagrams of an outbox not held (udp-mux.c send's layout: datagram k at k * slot; meta k * stride:
 * address, port, length, held), sent now; each one's held field becomes 1 if the kernel took it, else -1.
 */
int send_unheld (int fd, const uint8_t *outbox, size_t slot, int32_t *meta, int stride, int count);

#endif
