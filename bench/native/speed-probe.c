/*
 * speed-probe: how fast each CPU of this machine runs one fixed piece of work, measured all
 * through a bench window (issue 18).
 *
 * The load bench's figures move between runs of the same code by a quarter or more (CPU per
 * turn 6.8-12.4 ms at 500 calls in one hour, docs/benchmarks.md): on a VM the cores' speed
 * depends on what the neighbours do (a busy sibling hyperthread, the shared caches, the
 * frequency). This program says how fast the machine was while a window was measured, apart
 * from anything of ours: a thread pinned to each CPU given wakes every PERIOD_MS (the CPUs a
 * period's fraction apart), runs the same work (a dependent floating-point filter over 64 KB and
 * random updates of a 256 KB table: the caches and the core, as JIT-compiled media code uses
 * them) and prints the thread CPU time it took (CLOCK_THREAD_CPUTIME_ID: time the guest ran it,
 * so being preempted does not count) and the wall time:
 *   s CPU CPU_NS WALL_NS
 * A slower machine gives a larger CPU_NS for the same work. About 0.2 ms every 100 ms a CPU:
 * 0.2 % of each. It exits when its stdin closes.
 * Usage: speed-probe PERIOD_MS CPU...
 * Built by bench/speed-probe.ts with the machine's compiler; never shipped in the package.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FILTER_LEN 16384 /* floats: 64 KB */
#define TABLE_LEN 65536  /* uint32: 256 KB */
#define ROUNDS 3

static long long period_ns;
static int cpu_count;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile uint64_t sink;

struct probe { int cpu; int index; float *filter; uint32_t *table; };

static long long now_ns (clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The fixed work: the same instructions and the same memory every time. */
static void work (struct probe *p) {
  uint32_t x = 2463534242u;
  float acc = 0.0f;
  for (int r = 0; r < ROUNDS; r++) {
    for (int i = 0; i < FILTER_LEN; i++) { acc = acc * 0.999f + p->filter[i]; p->filter[i] = acc * 0.5f; }
    for (int i = 0; i < FILTER_LEN; i++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; p->table[x & (TABLE_LEN - 1)] += x; }
  }
  sink += x + (uint64_t)acc;
}

static void *run (void *arg) {
  struct probe *p = arg;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(p->cpu, &set);
  int err = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  if (err != 0) { fprintf(stderr, "speed-probe: cannot pin to CPU %d (%s)\n", p->cpu, strerror(err)); exit(2); }
  for (int i = 0; i < FILTER_LEN; i++) p->filter[i] = (float)(i % 97) / 97.0f;
  /* Each CPU a fraction of the period after the one before, so no two probes run at once. */
  long long due = now_ns(CLOCK_MONOTONIC) + period_ns + period_ns * p->index / cpu_count;
  for (;;) {
    struct timespec at = { .tv_sec = due / 1000000000LL, .tv_nsec = due % 1000000000LL };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR) {}
    long long cpu0 = now_ns(CLOCK_THREAD_CPUTIME_ID), wall0 = now_ns(CLOCK_MONOTONIC);
    work(p);
    long long cpu1 = now_ns(CLOCK_THREAD_CPUTIME_ID), wall1 = now_ns(CLOCK_MONOTONIC);
    pthread_mutex_lock(&out_lock);
    printf("s %d %lld %lld\n", p->cpu, cpu1 - cpu0, wall1 - wall0);
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
    due += period_ns;
    /* Asleep past a whole period (a suspended VM, a stopped process): start again from now. */
    if (due < wall1) due = wall1 + period_ns;
  }
  return NULL;
}

int main (int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: speed-probe PERIOD_MS CPU...\n"); return 2; }
  period_ns = atoll(argv[1]) * 1000000LL;
  if (period_ns <= 0) { fprintf(stderr, "speed-probe: PERIOD_MS must be positive\n"); return 2; }
  cpu_count = argc - 2;
  for (int i = 0; i < cpu_count; i++) {
    struct probe *p = calloc(1, sizeof *p);
    if (p == NULL) return 2;
    p->cpu = atoi(argv[i + 2]);
    p->index = i;
    p->filter = calloc(FILTER_LEN, sizeof *p->filter);
    p->table = calloc(TABLE_LEN, sizeof *p->table);
    if (p->filter == NULL || p->table == NULL) return 2;
    pthread_t thread;
    if (pthread_create(&thread, NULL, run, p) != 0) { fprintf(stderr, "speed-probe: cannot start a thread\n"); return 2; }
  }
  /* Until our parent closes its end of stdin (or dies). */
  char buf[256];
  while (read(0, buf, sizeof buf) > 0) {}
  return 0;
}
