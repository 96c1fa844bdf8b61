/*
 * held-send: a reply's frames handed over ahead of time and sent on the dot by a thread of their
 * own, so the event loop's delays (a GC pause, a provider's response being parsed, a batch of
 * inbound frames) do not reach the caller's pacing.
 *
 * Why: a frame sent from JavaScript leaves when the event loop gets to it. At 500 calls on two
 * cores the loop is busy about half the time and late by 15 ms at p99, and one reply frame in ten
 * left more than 5 ms off its 20 ms slot (bench/load.ts, eleventh session). A frame handed over
 * early (HOLD_AHEAD_MS, endpoint-options.ts) leaves when it is due whatever the loop is doing; and
 * since what waits here can be taken back (held_cancel: barge-in), holding it costs the caller nothing.
 *
 * The queue is a list sorted by due time, stable (two datagrams due at the same moment leave in
 * the order they came), so a call's frames never overtake each other. The thread sleeps until the
 * first is due and then sends everything due within COALESCE_NS in one sendmmsg: at 500 calls the
 * replies' lanes run on their own phases, and one wake-up per datagram would cost more than the
 * millisecond of pacing it buys.
 */
#define _GNU_SOURCE
#include "held-send.h"
#include "send-batch.h"
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
/*
 * Sent together with the first: everything due within this much after it. Two milliseconds early
 * at most (the pacing goal is 5 ms; the event loop's scheduler serves slots up to 3 ms early, its
 * COALESCE_MS), and at 500 calls a wake-up every two milliseconds at most instead of one per frame.
 * A wake-up is what this thread costs, not the send: in a VM each one is a timer reprogrammed and
 * two context switches. With one millisecond the thread took 0.082-0.085 of a core at 500 calls,
 * with two 0.056-0.057, with three 0.056 (bench/load.ts --steps=500, docs/benchmarks.md, fifteenth
 * session): what is left is the sends' own loopback delivery. Early is harmless to FreeSWITCH: its
 * unicast thread hands each datagram to the session as it arrives (switch_ivr.c unicast_thread_run)
 * and a reply already runs a frame ahead (endpoint-options.ts leadFrames), so which write tick
 * plays which frame does not change (held frames on a real switch: docs/benchmarks.md, twelfth).
 */
#define COALESCE_NS 2000000LL
#define LATE_NS 1000000LL

typedef struct held {
  struct held *prev, *next;
  long long due_ns;
  uint32_t addr;
  uint16_t port;
  uint16_t len;
  uint8_t data[];
} held_t;

struct held_send {
  int fd;
  int stopping;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  held_t *head, *tail;
  /*
   * The batch taken off the queue and being sent (outside the lock). held_last_due sees it too:
   * a frame of one of its calls sent "at once" from JavaScript in that window went out ahead of
   * it, since the queue no longer held the call's frame. The thread preempted there (other
   * realtime threads, a loaded machine) let a call's 30 ms packets reach FreeSWITCH two places
   * out of order (a CI run of stream-ptime.spec, twenty-second session).
   */
  held_t *inflight[BATCH];
  int inflight_n;
  /* Tests only (PHONE_AGENT_HELD_SEND_TEST_DELAY_US): a pause between taking a batch and sending it, the window above. */
  useconds_t test_delay_us;
  long long stats[HELD_STATS];
};

long long held_clock_ns (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void unlink_held (held_send_t *h, held_t *e) {
  if (e->prev != NULL) e->prev->next = e->next; else h->head = e->next;
  if (e->next != NULL) e->next->prev = e->prev; else h->tail = e->prev;
  h->stats[HELD_PENDING]--;
}

/* Sends `n` datagrams taken off the queue; returns how many the kernel refused. */
static int send_now (int fd, held_t **batch, int n) {
  datagram_t datagrams[BATCH];
  uint8_t taken[BATCH];
  for (int i = 0; i < n; i++) datagrams[i] = (datagram_t){ batch[i]->addr, batch[i]->port, batch[i]->data, batch[i]->len };
  return n - send_datagrams(fd, datagrams, n, taken);
}

static void *run (void *arg) {
  held_send_t *h = arg;
  held_t *batch[BATCH];
  pthread_mutex_lock(&h->lock);
  while (!h->stopping) {
    if (h->head == NULL) { pthread_cond_wait(&h->wake, &h->lock); continue; }
    long long now = held_clock_ns();
    if (h->head->due_ns > now + COALESCE_NS) {
      struct timespec until = { .tv_sec = h->head->due_ns / 1000000000LL, .tv_nsec = h->head->due_ns % 1000000000LL };
      pthread_cond_timedwait(&h->wake, &h->lock, &until);
      continue;
    }
    int n = 0;
    while (n < BATCH && h->head != NULL && h->head->due_ns <= now + COALESCE_NS) {
      held_t *e = h->head;
      unlink_held(h, e);
      long long late = now - e->due_ns;
      if (late > LATE_NS) h->stats[HELD_LATE]++;
      if (late / 1000 > h->stats[HELD_MAX_LATE_US]) h->stats[HELD_MAX_LATE_US] = late / 1000;
      batch[n++] = e;
    }
    memcpy(h->inflight, batch, (size_t)n * sizeof *batch);
    h->inflight_n = n;
    pthread_mutex_unlock(&h->lock);
    if (h->test_delay_us > 0) usleep(h->test_delay_us);
    int refused = send_now(h->fd, batch, n);
    pthread_mutex_lock(&h->lock);
    h->inflight_n = 0;
    for (int i = 0; i < n; i++) free(batch[i]);
    h->stats[HELD_SENT] += n - refused;
    h->stats[HELD_DROPPED] += refused;
  }
  pthread_mutex_unlock(&h->lock);
  return NULL;
}

held_send_t *held_open (int fd, int realtime) {
  held_send_t *h = calloc(1, sizeof *h);
  if (h == NULL) return NULL;
  h->fd = fd;
  const char *delay = getenv("PHONE_AGENT_HELD_SEND_TEST_DELAY_US");
  if (delay != NULL) h->test_delay_us = (useconds_t)strtoul(delay, NULL, 10);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  /* Due times are on CLOCK_MONOTONIC; the condition's deadline must be too. */
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&h->wake, &attr);
  pthread_condattr_destroy(&attr);
  pthread_mutex_init(&h->lock, NULL);
  if (pthread_create(&h->thread, NULL, run, h) != 0) {
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h);
    return NULL;
  }
  /* Its own name in /proc/PID/task/TID/comm: its CPU shows apart from the event loop's (bench/proc-threads.ts). */
  pthread_setname_np(h->thread, "held-send");
  /*
   * Realtime priority, the lowest there is: when the cores are busy (the event loops, V8's
   * helpers, FreeSWITCH) a normal thread waits its turn after its deadline, and 7-16 % of the
   * frames left more than 1 ms late (up to 111 ms) with two CPU hogs beside 200 calls; at
   * SCHED_FIFO 1, 0.3 % (docs/benchmarks.md, thirteenth session). The thread only sleeps and
   * sends batches of at most BATCH, and the kernel's realtime throttling bounds it anyway.
   * Refused without the right (EPERM): it stays at normal priority, as before.
   */
  if (realtime) {
    struct sched_param param = { .sched_priority = 1 };
    h->stats[HELD_REALTIME] = pthread_setschedparam(h->thread, SCHED_FIFO, &param) == 0;
  }
  return h;
}

int held_put (held_send_t *h, long long due_ns, uint32_t addr, uint16_t port, const uint8_t *data, size_t len) {
  held_t *e = malloc(sizeof *e + len);
  if (e == NULL) return -1;
  e->due_ns = due_ns;
  e->addr = addr;
  e->port = port;
  e->len = (uint16_t)len;
  memcpy(e->data, data, len);
  pthread_mutex_lock(&h->lock);
  /* From the tail: what comes is nearly always due last. After every entry due no later (stable). */
  held_t *after = h->tail;
  while (after != NULL && after->due_ns > e->due_ns) after = after->prev;
  e->prev = after;
  e->next = after != NULL ? after->next : h->head;
  if (e->next != NULL) e->next->prev = e; else h->tail = e;
  if (after != NULL) after->next = e; else h->head = e;
  h->stats[HELD_QUEUED]++;
  h->stats[HELD_PENDING]++;
  /* A new first entry moves the thread's deadline earlier. */
  if (h->head == e) pthread_cond_signal(&h->wake);
  pthread_mutex_unlock(&h->lock);
  return 0;
}

long long held_last_due (held_send_t *h, uint32_t addr, uint16_t port) {
  long long last = -1;
  pthread_mutex_lock(&h->lock);
  /* Sorted by due time: from the tail, the first of this peer's is its latest. */
  for (held_t *e = h->tail; e != NULL; e = e->prev) {
    if (e->addr == addr && e->port == port) { last = e->due_ns; break; }
  }
  /* Or being sent right now: what comes next must wait for that batch too (see inflight). */
  for (int i = h->inflight_n - 1; last < 0 && i >= 0; i--) {
    if (h->inflight[i]->addr == addr && h->inflight[i]->port == port) last = h->inflight[i]->due_ns;
  }
  pthread_mutex_unlock(&h->lock);
  return last;
}

int held_cancel (held_send_t *h, uint32_t addr, uint16_t port) {
  int n = 0;
  pthread_mutex_lock(&h->lock);
  for (held_t *e = h->head, *next; e != NULL; e = next) {
    next = e->next;
    if (e->addr != addr || e->port != port) continue;
    unlink_held(h, e);
    free(e);
    n++;
  }
  h->stats[HELD_CANCELLED] += n;
  pthread_mutex_unlock(&h->lock);
  return n;
}

void held_stats (held_send_t *h, long long out[HELD_STATS]) {
  pthread_mutex_lock(&h->lock);
  memcpy(out, h->stats, sizeof h->stats);
  pthread_mutex_unlock(&h->lock);
}

void held_close (held_send_t *h) {
  pthread_mutex_lock(&h->lock);
  h->stopping = 1;
  pthread_cond_signal(&h->wake);
  pthread_mutex_unlock(&h->lock);
  pthread_join(h->thread, NULL);
  for (held_t *e = h->head, *next; e != NULL; e = next) {
    next = e->next;
    free(e);
  }
  pthread_cond_destroy(&h->wake);
  pthread_mutex_destroy(&h->lock);
  free(h);
}
