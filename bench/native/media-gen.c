/*
 * media-gen: the FreeSWITCH side of every load-bench call's unicast media, in one process.
 *
 * The JavaScript simulator (lib/simulator) keeps the Event Socket side of each call (a few
 * messages per call); at hundreds of calls its 20 ms park loops were the bench's bottleneck
 * (issue 18: 0.86-0.98 of a core at 400-500 calls). This program does what
 * switch_ivr_park() and unicast_thread_run() in src/switch_ivr.c do with the sockets:
 *   - bind FreeSWITCH's UDP socket at local-ip:local-port (switch_ivr_activate_unicast),
 *   - send the caller's frames to remote-ip:remote-port, one 20 ms frame per datagram, L16
 *     little-endian (A-law with `flags: native`), the first few all 0xFF and always
 *     decoded_bytes_per_packet long (SFF_CNG before any caller RTP: memset 255),
 *   - read our datagrams; a zero-length one ends the reading thread.
 * Each call keeps its own phase of the 20 ms clock (a real channel's timing follows its own
 * caller's RTP), sent on an absolute-time 1 ms tick (clock_nanosleep TIMER_ABSTIME), so a late
 * wake-up never shifts the frames after it. Arrival times of our datagrams come from the
 * kernel (SO_TIMESTAMPNS), so this process being late to read them does not show as jitter.
 *
 * Line protocol, stdin (requests) / stdout (replies and notices):
 *   add ID LOCAL_IP LOCAL_PORT REMOTE_IP REMOTE_PORT NATIVE   -> bound ID PORT | failed ID REASON
 *   start ID CNG_FRAMES        the park loop picked the connection up: start sending
 *   stop ID                    -> stopped ID SENT CNG RECEIVED_FRAMES
 *   talk 0|1                   callers silent (line noise) / talking TALK_PCT % of each cycle
 *   reset                      -> ok reset      (start of a measuring window)
 *   report                     -> report key=value ...   (the window so far; pacing: see BURST_NS)
 *   calls                      -> call ID SENT CNG RECEIVED ... then `end calls`
 * Notices: `flow ID` (first datagram of ours for that call), `sendfail ID ERRNO`.
 * Usage: media-gen SPEECH.raw [CYCLE_MS TALK_PCT [READ_EVERY]]   (8 kHz s16le mono, A-law quantised)
 * With MEDIA_GEN_TRACE=FILE it writes every timed interval off by more than TRACE_NS to FILE:
 * `MS ID INTERVAL_MS SOUND_BEFORE SOUND KIND` (KIND 1: a reply's first frame, 2: its lead, 0: pacing).
 * READ_EVERY n > 1: only every n-th call's datagrams are read (and timed) after the first one;
 * the others' sockets shrink to the kernel's smallest buffer and are no longer read, so the
 * kernel drops what we send them. Sending to a full socket costs the server what a delivery
 * does (the datagram is built and handed over, then dropped), and half the generator's CPU is
 * reading: at hundreds of calls a sample of them times the pacing as well.
 * Built by bench/load-media.ts with the machine's compiler; never shipped in the package.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FRAME_NS 20000000LL
#define SLOTS 20
#define TICK_NS (FRAME_NS / SLOTS)
#define SAMPLES 160
#define L16_BYTES 320
#define MAX_CALLS 8192
#define BIN_NS 50000LL /* 0.05 ms */
#define BINS 20001     /* up to 1 s */
#define NOISE_FRAMES 64
/*
 * An interval longer than a frame plus this, with silence at either end, is a gap, not pacing:
 * a quiet call of ours sends one keep-alive silence frame a second once it is cold
 * (lib/media/stream/quiet-idle.ts), and the first frame after it (the call warming up again)
 * comes whenever the caller makes a sound. Between two frames of sound (a reply playing) every
 * interval is pacing, however long; a stall of the server during idle silence shows in its
 * event-loop delay instead.
 */
#define GAP_NS 80000000LL
/*
 * A reply's first frame and its lead are not pacing. The first frame of sound after idle silence
 * (or after a gap) follows a frame sent on another clock (the shared grid's keep-alive, or idle
 * silence placed before the switch's write tick): its interval says when the reply was ready,
 * not how it is paced. With it the pacer sends `media.stream.leadFrames` more at once (0-2;
 * lib/media/stream/call-pacer.ts startLane), so FreeSWITCH holds one frame in hand against our
 * jitter: those intervals are about 0, a 20 ms "deviation" by design, and the switch's write timer
 * spaces them (its unicast thread writes one datagram per write tick). Both are counted apart
 * (start_count, lead_count: intervals under BURST_NS right after a first frame, at most MAX_LEAD);
 * the all_ figures keep them in, as the bench measured before the ninth session.
 */
#define BURST_NS 2000000LL
#define MAX_LEAD 2
/* MEDIA_GEN_TRACE=FILE: every interval off by more than this is written there (investigations). */
#define TRACE_NS 2000000LL

struct call {
  int used, id, fd, slot, launched, native, reading, connected;
  int cng_left;
  struct sockaddr_in remote;
  long long sent, cng_sent, recv_frames;
  long long last_rx_ns;
  int last_audio;       /* the last datagram read carried sound (not all silence) */
  int flowed;
  long long speech_pos; /* in frames, advanced only while talking */
  int offset;           /* frames: this caller's place in the talk cycle */
  long long frames;     /* non-CNG frames sent */
  int lead_left;        /* intervals after a reply's first frame that may still be its lead burst */
};

static struct call calls[MAX_CALLS];
/* One past the highest slot ever used: the per-tick scan stops there. */
static int high;
static int16_t *speech;
static uint8_t *speech_alaw;
static long long speech_frames;
static int16_t noise[NOISE_FRAMES * SAMPLES];
static uint8_t noise_alaw[NOISE_FRAMES * SAMPLES];
static uint8_t cng[L16_BYTES];
static int epfd;
static int talking;
static long long talk_epoch; /* global frame count when talk went on */
static long long cycle_frames = 500, talk_frames = 185;
static int read_every = 1;

/* Window statistics. */
static long long dev_hist[BINS], wake_hist[BINS];
static long long dev_count, dev_max, wake_count, wake_max, late_ticks, w_sent, w_recv, w_sendfail, gap_count;
static long long all_hist[BINS], all_count, all_max, start_count, lead_count;
static FILE *trace;
static struct rusage w_ru;
static long long w_start_ns;

static long long mono_ns (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long tv_us (struct timeval tv) { return tv.tv_sec * 1000000LL + tv.tv_usec; }

static void hist_add (long long *hist, long long *count, long long *max, long long ns) {
  if (ns < 0) ns = -ns;
  long long bin = ns / BIN_NS;
  if (bin >= BINS) bin = BINS - 1;
  hist[bin]++;
  (*count)++;
  if (ns > *max) *max = ns;
}

/* Quantile in ms: the lower edge of the bin holding rank q (the max for the overflow bin). */
static double hist_q (const long long *hist, long long count, long long max, double q) {
  if (count == 0) return -1;
  long long rank = (long long)(q * count + 0.999999);
  if (rank < 1) rank = 1;
  long long seen = 0;
  for (int i = 0; i < BINS; i++) {
    seen += hist[i];
    if (seen >= rank) return i == BINS - 1 ? max / 1e6 : i * BIN_NS / 1e6;
  }
  return max / 1e6;
}

/* G.711 A-law, as FreeSWITCH's PCMA codec encodes (the classic Sun g711.c linear2alaw). */
static uint8_t linear2alaw (int16_t pcm) {
  static const int seg_end[8] = { 0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF };
  int val = pcm >> 3, mask, seg;
  if (val >= 0) mask = 0xD5; else { mask = 0x55; val = -val - 1; }
  for (seg = 0; seg < 8 && val > seg_end[seg]; seg++) {}
  if (seg >= 8) return (uint8_t)(0x7F ^ mask);
  int aval = seg << 4;
  aval |= seg < 2 ? (val >> 1) & 0x0F : (val >> seg) & 0x0F;
  return (uint8_t)(aval ^ mask);
}

/* And back (alaw2linear): a PCMA call's L16, as FreeSWITCH decodes it for unicast. */
static int16_t alaw2linear (uint8_t a) {
  a ^= 0x55;
  int t = (a & 0x0F) << 4, seg = (a & 0x70) >> 4;
  if (seg == 0) t += 8; else if (seg == 1) t += 0x108; else t = (t + 0x108) << (seg - 1);
  return (int16_t)((a & 0x80) ? t : -t);
}

static struct call *find (int id) {
  for (int i = 0; i < high; i++) if (calls[i].used && calls[i].id == id) return &calls[i];
  return NULL;
}

static void cmd_add (int id, const char *lip, int lport, const char *rip, int rport, int native) {
  struct call *c = NULL;
  for (int i = 0; i < MAX_CALLS; i++) if (!calls[i].used) { c = &calls[i]; break; }
  if (c == NULL) { printf("failed %d too-many-calls\n", id); return; }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) { printf("failed %d socket:%d\n", id, errno); return; }
  struct sockaddr_in local = { .sin_family = AF_INET, .sin_port = htons((uint16_t)lport) };
  if (inet_pton(AF_INET, lip, &local.sin_addr) != 1 || bind(fd, (struct sockaddr *)&local, sizeof local) != 0) {
    printf("failed %d bind:%d\n", id, errno);
    close(fd);
    return;
  }
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  socklen_t len = sizeof local;
  getsockname(fd, (struct sockaddr *)&local, &len);
  memset(c, 0, sizeof *c);
  if (c - calls + 1 > high) high = (int)(c - calls) + 1;
  c->used = 1;
  c->id = id;
  c->fd = fd;
  c->native = native;
  c->reading = 1;
  c->remote.sin_family = AF_INET;
  c->remote.sin_port = htons((uint16_t)rport);
  if (inet_pton(AF_INET, rip, &c->remote.sin_addr) != 1) c->remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* Spread the calls over the 20 ms and over the talk cycle, deterministically by id. */
  c->slot = (int)(((unsigned)id * 7u) % SLOTS);
  c->offset = (int)(((unsigned)id * 7919u) % (unsigned)cycle_frames);
  c->speech_pos = ((long long)id * 997) % (speech_frames > 0 ? speech_frames : 1);
  /*
   * FreeSWITCH sends with sendto() on an unconnected socket; a connected one sends the same
   * datagrams from the same port without a route lookup each time (the server's endpoint sends
   * from the port it named as remote-port, so its audio still comes in).
   */
  c->connected = connect(fd, (struct sockaddr *)&c->remote, sizeof c->remote) == 0;
  struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)(c - calls) + 1 };
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  printf("bound %d %d\n", id, ntohs(local.sin_port));
}

static void cmd_stop (int id) {
  struct call *c = find(id);
  if (c == NULL) { printf("stopped %d 0 0 0\n", id); return; }
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  printf("stopped %d %lld %lld %lld\n", id, c->sent, c->cng_sent, c->recv_frames);
  c->used = 0;
}

static void cmd_report (void) {
  if (trace != NULL) { fprintf(trace, "report %lld\n", mono_ns() / 1000000); fflush(trace); }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double wall = (mono_ns() - w_start_ns) / 1e6;
  double user = (tv_us(ru.ru_utime) - tv_us(w_ru.ru_utime)) / 1e3;
  double sys = (tv_us(ru.ru_stime) - tv_us(w_ru.ru_stime)) / 1e3;
  int active = 0;
  for (int i = 0; i < MAX_CALLS; i++) if (calls[i].used && calls[i].launched) active++;
  printf("report wall_ms=%.1f user_ms=%.1f sys_ms=%.1f calls=%d sent=%lld received=%lld sendfail=%lld "
    "intervals=%lld gaps=%lld dev_p50_ms=%.2f dev_p99_ms=%.2f dev_max_ms=%.2f starts=%lld leads=%lld all_p99_ms=%.2f all_max_ms=%.2f "
    "wake_p99_ms=%.2f wake_max_ms=%.2f late_ticks=%lld\n",
    wall, user, sys, active, w_sent, w_recv, w_sendfail, dev_count, gap_count,
    hist_q(dev_hist, dev_count, dev_max, 0.5), hist_q(dev_hist, dev_count, dev_max, 0.99), dev_max / 1e6,
    start_count, lead_count, hist_q(all_hist, all_count, all_max, 0.99), all_max / 1e6,
    hist_q(wake_hist, wake_count, wake_max, 0.99), wake_max / 1e6, late_ticks);
}

static void cmd_reset (void) {
  memset(dev_hist, 0, sizeof dev_hist);
  memset(wake_hist, 0, sizeof wake_hist);
  memset(all_hist, 0, sizeof all_hist);
  all_count = all_max = start_count = lead_count = 0;
  dev_count = dev_max = wake_count = wake_max = late_ticks = w_sent = w_recv = w_sendfail = gap_count = 0;
  getrusage(RUSAGE_SELF, &w_ru);
  w_start_ns = mono_ns();
  if (trace != NULL) { fprintf(trace, "reset %lld\n", w_start_ns / 1000000); fflush(trace); }
  printf("ok reset\n");
}

static void command (char *line, long long global_frame) {
  char lip[64], rip[64];
  int id, lport, rport, native, n;
  if (sscanf(line, "add %d %63s %d %63s %d %d", &id, lip, &lport, rip, &rport, &native) == 6) cmd_add(id, lip, lport, rip, rport, native);
  else if (sscanf(line, "start %d %d", &id, &n) == 2) {
    struct call *c = find(id);
    if (c != NULL && !c->launched) { c->launched = 1; c->cng_left = n; }
  } else if (sscanf(line, "stop %d", &id) == 1) cmd_stop(id);
  else if (sscanf(line, "talk %d", &n) == 1) { talking = n; talk_epoch = global_frame; printf("ok talk\n"); }
  else if (strcmp(line, "reset") == 0) cmd_reset();
  else if (strcmp(line, "report") == 0) cmd_report();
  else if (strcmp(line, "calls") == 0) {
    for (int i = 0; i < MAX_CALLS; i++) if (calls[i].used) printf("call %d %lld %lld %lld\n", calls[i].id, calls[i].sent, calls[i].cng_sent, calls[i].recv_frames);
    printf("end calls\n");
  } else if (strcmp(line, "quit") == 0) exit(0);
  else printf("error unknown-command\n");
}

static char inbuf[1 << 16];
static size_t inlen;

static void read_stdin (long long global_frame) {
  for (;;) {
    ssize_t r = read(0, inbuf + inlen, sizeof inbuf - 1 - inlen);
    if (r == 0) exit(0); /* the bench went away */
    if (r < 0) return;   /* EAGAIN */
    inlen += (size_t)r;
    char *start = inbuf, *nl;
    while ((nl = memchr(start, '\n', inbuf + inlen - start)) != NULL) {
      *nl = 0;
      command(start, global_frame);
      start = nl + 1;
    }
    inlen -= (size_t)(start - inbuf);
    memmove(inbuf, start, inlen);
    if (inlen >= sizeof inbuf - 1) inlen = 0; /* a line that long is garbage */
  }
}

/* Whether a datagram of ours carries sound: not all zero (L16), not all A-law zero (0xD5 / 0x55). */
static int sounds (const uint8_t *p, size_t n, int native) {
  for (size_t i = 0; i < n; i++) {
    if (native ? (p[i] != 0xD5 && p[i] != 0x55) : p[i] != 0) return 1;
  }
  return 0;
}

/*
 * unicast_thread_run(): read one datagram. One per readiness event: epoll is level-triggered,
 * so a socket with more waiting is reported again at once, and the read that would only have
 * said EAGAIN (as many syscalls as datagrams, at one frame per socket per 20 ms) is saved.
 */
static void read_call (struct call *c) {
  static uint8_t buf[8192];
  char ctrl[256];
  {
    struct iovec iov = { buf, sizeof buf };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl, .msg_controllen = sizeof ctrl };
    ssize_t r = recvmsg(c->fd, &msg, 0);
    if (r < 0) return;
    if (!c->reading || !c->launched) return;
    if (r == 0) { c->reading = 0; return; }
    long long at = -1;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
      if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
        struct timespec ts;
        memcpy(&ts, CMSG_DATA(cm), sizeof ts);
        at = ts.tv_sec * 1000000000LL + ts.tv_nsec;
      }
    }
    int frames = (int)(r / (c->native ? SAMPLES : L16_BYTES));
    if (frames < 1) frames = 1;
    c->recv_frames += frames;
    w_recv += frames;
    if (!c->flowed) {
      c->flowed = 1;
      printf("flow %d\n", c->id);
      if (read_every > 1 && c->id % read_every != 0) {
        int small = 1; /* the kernel rounds it up to its minimum */
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        c->reading = 0;
        return;
      }
    }
    if (at >= 0) {
      /* Pacing as the switch sees it: one frame per datagram, 20 ms apart. */
      int audio = sounds(buf, (size_t)r, c->native);
      long long iv = at - c->last_rx_ns;
      int start = audio && !c->last_audio;
      int lead = c->lead_left > 0 && iv < BURST_NS;
      if (c->last_rx_ns > 0 && frames == 1) {
        long long dev = iv - FRAME_NS;
        if (trace != NULL && (dev > TRACE_NS || dev < -TRACE_NS)) fprintf(trace, "%lld %d %.3f %d %d %d\n", at / 1000000, c->id, iv / 1e6, c->last_audio, audio, start ? 1 : lead ? 2 : 0);
        if (dev > GAP_NS && !(audio && c->last_audio)) gap_count++;
        else {
          hist_add(all_hist, &all_count, &all_max, dev);
          if (start) start_count++;
          else if (lead) lead_count++;
          else hist_add(dev_hist, &dev_count, &dev_max, dev);
        }
      }
      c->lead_left = start ? MAX_LEAD : lead ? c->lead_left - 1 : 0;
      c->last_rx_ns = at;
      c->last_audio = audio;
    }
  }
}

/* switch_ivr_park(): one frame of what the caller says, or 0xFF fill before their RTP. */
static void send_frame (struct call *c, long long global_frame) {
  const void *payload;
  size_t len;
  int is_cng = c->cng_left > 0;
  if (is_cng) {
    c->cng_left--;
    payload = cng;
    len = L16_BYTES;
  } else {
    long long pos = (global_frame - talk_epoch + c->offset) % cycle_frames;
    long long f;
    int speak = talking && pos < talk_frames && speech_frames > 0;
    if (speak) f = c->speech_pos++ % speech_frames;
    else f = c->frames % NOISE_FRAMES;
    if (c->native) { payload = (speak ? speech_alaw : noise_alaw) + f * SAMPLES; len = SAMPLES; }
    else { payload = (speak ? speech : noise) + f * SAMPLES; len = L16_BYTES; }
    c->frames++;
  }
  ssize_t r = c->connected ? send(c->fd, payload, len, 0) : sendto(c->fd, payload, len, 0, (struct sockaddr *)&c->remote, sizeof c->remote);
  if (r < 0) {
    w_sendfail++;
    /* ICMP port unreachable reaches only a connected socket: FreeSWITCH's unconnected one never sees it. */
    if (errno != EAGAIN && errno != ENOBUFS && !(c->connected && errno == ECONNREFUSED)) printf("sendfail %d %d\n", c->id, errno);
    return;
  }
  c->sent++;
  if (is_cng) c->cng_sent++;
  w_sent++;
}

static void load_speech (const char *path) {
  FILE *f = path == NULL ? NULL : fopen(path, "rb");
  if (f == NULL) { fprintf(stderr, "media-gen: cannot open speech file %s\n", path ? path : "(none)"); exit(2); }
  fseek(f, 0, SEEK_END);
  long bytes = ftell(f);
  fseek(f, 0, SEEK_SET);
  speech_frames = bytes / L16_BYTES;
  speech = malloc((size_t)(speech_frames > 0 ? speech_frames : 1) * L16_BYTES);
  speech_alaw = malloc((size_t)(speech_frames > 0 ? speech_frames : 1) * SAMPLES);
  if (speech == NULL || speech_alaw == NULL || fread(speech, L16_BYTES, (size_t)speech_frames, f) != (size_t)speech_frames) {
    fprintf(stderr, "media-gen: cannot read speech file\n");
    exit(2);
  }
  fclose(f);
  for (long long i = 0; i < speech_frames * SAMPLES; i++) speech_alaw[i] = linear2alaw(speech[i]);
}

int main (int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (getenv("MEDIA_GEN_TRACE") != NULL) trace = fopen(getenv("MEDIA_GEN_TRACE"), "w");
  load_speech(argc > 1 ? argv[1] : NULL);
  if (argc > 3) {
    long cycle_ms = strtol(argv[2], NULL, 10), pct = strtol(argv[3], NULL, 10);
    if (cycle_ms >= 20) cycle_frames = cycle_ms / 20;
    if (pct >= 0 && pct <= 100) talk_frames = cycle_frames * pct / 100;
  }
  if (argc > 4 && strtol(argv[4], NULL, 10) > 1) read_every = (int)strtol(argv[4], NULL, 10);
  memset(cng, 0xFF, sizeof cng);
  /* A quiet line: low-level noise, about -60 dBFS, not digital silence. */
  uint32_t seed = 0x2545F491u;
  for (int i = 0; i < NOISE_FRAMES * SAMPLES; i++) {
    seed = seed * 1664525u + 1013904223u;
    /* Through the line's codec, as the speech file is (load-media.ts writeCallerSpeech): on a
     * PCMA call every L16 sample FreeSWITCH hands us is an A-law value. */
    noise_alaw[i] = linear2alaw((int16_t)(((int)(seed >> 24) - 128) / 4));
    noise[i] = alaw2linear(noise_alaw[i]);
  }
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 0 };
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
  getrusage(RUSAGE_SELF, &w_ru);
  w_start_ns = mono_ns();

  long long base = mono_ns();
  long long tick = 0; /* 1 ms ticks since base */
  struct epoll_event events[256];
  for (;;) {
    long long due = base + (tick + 1) * TICK_NS;
    struct timespec ts = { due / 1000000000LL, due % 1000000000LL };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
    long long now = mono_ns();
    hist_add(wake_hist, &wake_count, &wake_max, now - due);
    if (now - due > TICK_NS) late_ticks++;
    int n;
    while ((n = epoll_wait(epfd, events, 256, 0)) > 0) {
      for (int i = 0; i < n; i++) {
        uint32_t k = events[i].data.u32;
        if (k == 0) read_stdin(tick / SLOTS);
        else if (calls[k - 1].used) read_call(&calls[k - 1]);
      }
      if (n < 256) break;
    }
    /* Every tick that is due, in order: a late wake-up catches up and the clock does not drift. */
    while (base + (tick + 1) * TICK_NS <= now) {
      tick++;
      int slot = (int)(tick % SLOTS);
      long long global_frame = tick / SLOTS;
      for (int i = 0; i < high; i++) {
        struct call *c = &calls[i];
        if (c->used && c->launched && c->slot == slot) send_frame(c, global_frame);
      }
    }
  }
}
