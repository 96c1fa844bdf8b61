/*
 * held-send: datagrams sent at a given moment by a thread of their own (held-send.c), for the
 * shared media socket (udp-mux.c). Plain C and POSIX threads; no Node API here.
 */
#ifndef PHONE_AGENT_HELD_SEND_H
#define PHONE_AGENT_HELD_SEND_H

#include <stddef.h>
#include <stdint.h>

typedef struct held_send held_send_t;

/* Counters since open, in the order held_stats writes them. */
enum {
  HELD_QUEUED,    /* datagrams taken to be sent later */
  HELD_SENT,      /* sent by the thread */
  HELD_DROPPED,   /* refused by the kernel when due (a full socket buffer, no route) */
  HELD_CANCELLED, /* taken back before they were due (held_cancel) */
  HELD_LATE,      /* sent more than 1 ms after they were due */
  HELD_MAX_LATE_US,
  HELD_PENDING,   /* waiting now */
  HELD_REALTIME,  /* 1: the thread runs at realtime priority (SCHED_FIFO 1), 0: at normal priority */
  HELD_STATS
};

/*
 * Starts the sending thread for `fd` (a bound UDP socket the caller keeps open until held_close).
 * `realtime`: ask for SCHED_FIFO priority 1 for it (granted to root, CAP_SYS_NICE or RLIMIT_RTPRIO
 * >= 1; else it runs at normal priority, HELD_REALTIME says which). NULL: no thread.
 */
held_send_t *held_open (int fd, int realtime);
/* Send `len` bytes to addr:port (network order address, host order port) at `due_ns` on CLOCK_MONOTONIC. 0, or -1 out of memory. */
int held_put (held_send_t *h, long long due_ns, uint32_t addr, uint16_t port, const uint8_t *data, size_t len);
/* CLOCK_MONOTONIC in nanoseconds: the clock due times are on. */
long long held_clock_ns (void);
/* The latest due time of what still waits for addr:port or is being sent to it, or -1 when nothing is. */
long long held_last_due (held_send_t *h, uint32_t addr, uint16_t port);
/* Drop every datagram still waiting for addr:port; how many. */
int held_cancel (held_send_t *h, uint32_t addr, uint16_t port);
void held_stats (held_send_t *h, long long out[HELD_STATS]);
/* Stop the thread (what is still waiting is dropped, not sent) and free everything. */
void held_close (held_send_t *h);

#endif
