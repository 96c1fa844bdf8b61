/*
 * udp-mux: one UDP socket for every call's unicast media in this process, read and written in
 * batches (recvmmsg / sendmmsg), for lib/media/stream/udp-mux.ts.
 *
 * Why: with a Node dgram socket per call, every 20 ms datagram is one syscall and one JavaScript
 * callback each way, about 9-11 µs per datagram on loopback (docs/benchmarks.md, tenth session):
 * at 500 calls, 50,000 datagrams a second, that alone is most of a core. Here a readable socket
 * wakes JavaScript once for up to BATCH datagrams, and a pacer tick's frames for every call go
 * out in one sendmmsg. Every call's FreeSWITCH sends to the same port of ours; each comes from
 * its own `local-port`, which the JavaScript side uses to find the call.
 *
 * API (N-API only, so one build serves every Node version with N-API 8):
 *   open(address, port, inbox, meta, onBatch, gatherMs, realtime) -> [handle, boundPort]   IPv4 only
 *       inbox: ArrayBuffer of BATCH * SLOT bytes, datagram i at i * SLOT;
 *       meta: Int32Array of BATCH * 4: source address (network order as read), port, length
 *       (length SLOT + 1: the datagram was larger than a slot and is cut), and how long ago the
 *       kernel received it, in microseconds (SO_TIMESTAMPNS; -1 when unknown).
 *       onBatch(count) is called on the event loop whenever datagrams were read.
 *       gatherMs > 0: once the socket is readable, wait that long before reading, so one wake-up
 *       reads what every call sent meanwhile (each call's FreeSWITCH sends on its own phase of the
 *       20 ms clock: read at once, a wake-up finds about one datagram); the receive timestamps keep
 *       each frame's true arrival time.
 *       realtime: 1 asks for realtime priority for the thread that sends held datagrams (held_open).
 *       -> [handle, boundPort, holds]: holds is 1 when datagrams can be held (held-send.c's thread runs)
 *   send(handle, outbox, meta, count) -> datagrams taken (sent, or held to be sent when due)
 *       outbox: ArrayBuffer, datagram i at i * SLOT; meta: Int32Array, i * 5: address (network
 *       order), port, length, held (0: send now; 1: held-send.c sends it when due), and when it is
 *       due: the low 32 bits of CLOCK_MONOTONIC in microseconds (clockMs), taken as the moment
 *       within 35 minutes of now that has them. meta[i * 5 + 3] is overwritten with 1 when
 *       datagram i was taken, 0 when the kernel (or memory) refused it.
 *   clockMs() -> CLOCK_MONOTONIC in milliseconds: the clock due times are on
 *   cancel(handle, address, port) -> held datagrams to address:port dropped before they were due
 *   heldStats(handle) -> [queued, sent, dropped, cancelled, late, maxLateUs, pending, realtime] (held-send.h)
 *   close(handle)
 * Built by lib/media/native/build.mjs with the machine's C compiler (optional: without it the
 * service keeps a socket per call).
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include "held-send.h"
#include "napi-args.h"
#include "send-batch.h"
#include <uv.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define SLOT 2048
/* Readable wake-ups drained per event-loop pass before yielding to timers (a flood must not starve the pacer). */
#define MAX_ROUNDS 8
/* Asked for; the kernel caps it at net.core.[rw]mem_max. 500 calls' frames of one tick are 160 KB. */
#define SOCKET_BUFFER (4 * 1024 * 1024)
#define META 4
#define CONTROL_SPACE CMSG_SPACE(sizeof(struct timespec))

typedef struct {
  int fd;
  int closed;
  /* The thread that sends held datagrams when due (NULL: none could start; they go at once). */
  held_send_t *held;
  uv_poll_t poll;
  uv_timer_t gather;
  int gather_ms;
  int open_handles;
  napi_env env;
  napi_ref on_batch;
  napi_ref inbox_ref;
  napi_ref meta_ref;
  napi_ref resource;
  napi_async_context context;
  uint8_t *inbox;
  int32_t *meta;
  struct mmsghdr msgs[BATCH];
  struct iovec iovs[BATCH];
  struct sockaddr_in addrs[BATCH];
  char control[BATCH][CONTROL_SPACE];
} mux_t;

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "udp-mux: " #call " failed"); return NULL; } } while (0)

/* Reads up to BATCH datagrams without waiting: how many (0 when none are waiting or on error). */
static int read_batch (mux_t *m) {
  for (int i = 0; i < BATCH; i++) {
    m->iovs[i].iov_base = m->inbox + (size_t)i * SLOT;
    m->iovs[i].iov_len = SLOT;
    memset(&m->msgs[i].msg_hdr, 0, sizeof m->msgs[i].msg_hdr);
    m->msgs[i].msg_hdr.msg_iov = &m->iovs[i];
    m->msgs[i].msg_hdr.msg_iovlen = 1;
    m->msgs[i].msg_hdr.msg_name = &m->addrs[i];
    m->msgs[i].msg_hdr.msg_namelen = sizeof m->addrs[i];
    m->msgs[i].msg_hdr.msg_control = m->control[i];
    m->msgs[i].msg_hdr.msg_controllen = CONTROL_SPACE;
  }
  int n;
  do { n = recvmmsg(m->fd, m->msgs, BATCH, MSG_DONTWAIT, NULL); } while (n < 0 && errno == EINTR);
  if (n <= 0) return 0;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  for (int i = 0; i < n; i++) {
    int truncated = (m->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
    int32_t *meta = m->meta + i * META;
    meta[0] = (int32_t)m->addrs[i].sin_addr.s_addr;
    meta[1] = ntohs(m->addrs[i].sin_port);
    meta[2] = truncated ? SLOT + 1 : (int32_t)m->msgs[i].msg_len;
    meta[3] = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m->msgs[i].msg_hdr); c != NULL; c = CMSG_NXTHDR(&m->msgs[i].msg_hdr, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
      struct timespec at;
      memcpy(&at, CMSG_DATA(c), sizeof at);
      long long age = (now.tv_sec - at.tv_sec) * 1000000LL + (now.tv_nsec - at.tv_nsec) / 1000;
      meta[3] = age < 0 ? 0 : age > 10000000 ? 10000000 : (int32_t)age;
    }
  }
  return n;
}

static void drain (mux_t *m) {
  napi_env env = m->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, resource, argv[1], result;
  napi_get_reference_value(env, m->on_batch, &callback);
  napi_get_reference_value(env, m->resource, &resource);
  for (int round = 0; round < MAX_ROUNDS && !m->closed; round++) {
    int n = read_batch(m);
    if (n == 0) break;
    napi_create_int32(env, n, &argv[0]);
    /* make_callback, not call_function: promise jobs the handler queues run before we return. */
    napi_status s = napi_make_callback(env, m->context, resource, callback, 1, argv, &result);
    if (s == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
      break;
    }
    if (n < BATCH) break;
  }
  napi_close_handle_scope(env, scope);
}

static void on_readable (uv_poll_t *handle, int status, int events);

static void on_gathered (uv_timer_t *timer) {
  mux_t *m = timer->data;
  if (m->closed) return;
  drain(m);
  if (!m->closed) uv_poll_start(&m->poll, UV_READABLE, on_readable);
}

static void on_readable (uv_poll_t *handle, int status, int events) {
  mux_t *m = handle->data;
  (void)events;
  if (m->closed || status < 0) return;
  if (m->gather_ms <= 0) { drain(m); return; }
  /* Stop watching until the timer reads: the socket stays readable meanwhile. */
  uv_poll_stop(&m->poll);
  /* The loop's clock was read before it slept in epoll: the wait counts from now. */
  uv_update_time(m->gather.loop);
  uv_timer_start(&m->gather, on_gathered, (uint64_t)m->gather_ms, 0);
}

static void free_mux (uv_handle_t *handle) {
  mux_t *m = handle->data;
  if (--m->open_handles == 0) free(m);
}

static void release (napi_env env, mux_t *m) {
  if (m->closed) return;
  m->closed = 1;
  uv_poll_stop(&m->poll);
  uv_timer_stop(&m->gather);
  /* The thread sends on the socket: stopped before the socket closes. */
  if (m->held != NULL) held_close(m->held);
  m->held = NULL;
  close(m->fd);
  napi_delete_reference(env, m->on_batch);
  napi_delete_reference(env, m->inbox_ref);
  napi_delete_reference(env, m->meta_ref);
  napi_delete_reference(env, m->resource);
  napi_async_destroy(env, m->context);
  uv_close((uv_handle_t *)&m->poll, free_mux);
  uv_close((uv_handle_t *)&m->gather, free_mux);
}

static napi_value mux_open (napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char address[64];
  size_t address_len;
  int32_t port;
  if (argc < 5 || napi_get_value_string_utf8(env, argv[0], address, sizeof address, &address_len) != napi_ok || napi_get_value_int32(env, argv[1], &port) != napi_ok) {
    napi_throw_type_error(env, NULL, "udp-mux: open(address, port, inbox, meta, onBatch, gatherMs, realtime)");
    return NULL;
  }
  uint8_t *inbox = buffer_data(env, argv[2], (size_t)BATCH * SLOT);
  int32_t *meta = int32_data(env, argv[3], BATCH * META);
  int32_t gather_ms = 0;
  if (argc >= 6) napi_get_value_int32(env, argv[5], &gather_ms);
  int32_t realtime = 0;
  if (argc >= 7) napi_get_value_int32(env, argv[6], &realtime);
  napi_valuetype callback_type;
  CHECK(napi_typeof(env, argv[4], &callback_type));
  if (inbox == NULL || meta == NULL || callback_type != napi_function) {
    napi_throw_type_error(env, NULL, "udp-mux: open needs an inbox ArrayBuffer, an Int32Array meta and a function");
    return NULL;
  }
  struct sockaddr_in local = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  if (port < 0 || port > 65535 || inet_pton(AF_INET, address, &local.sin_addr) != 1) {
    napi_throw_type_error(env, NULL, "udp-mux: an IPv4 address and a port 0-65535");
    return NULL;
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int size = SOCKET_BUFFER, on = 1;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind", err);
  }
  socklen_t local_len = sizeof local;
  getsockname(fd, (struct sockaddr *)&local, &local_len);

  mux_t *m = calloc(1, sizeof *m);
  if (m == NULL) { close(fd); return throw_errno(env, "calloc", ENOMEM); }
  m->fd = fd;
  m->held = held_open(fd, realtime != 0);
  m->env = env;
  m->inbox = inbox;
  m->meta = meta;
  uv_loop_t *loop;
  napi_value resource, name;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &m->poll, fd) != 0) {
    if (m->held != NULL) held_close(m->held);
    close(fd);
    free(m);
    napi_throw_error(env, NULL, "udp-mux: cannot watch the socket");
    return NULL;
  }
  m->poll.data = m;
  uv_timer_init(loop, &m->gather);
  m->gather.data = m;
  m->gather_ms = gather_ms < 0 ? 0 : gather_ms > 20 ? 20 : gather_ms;
  m->open_handles = 2;
  CHECK(napi_create_object(env, &resource));
  CHECK(napi_create_string_utf8(env, "UdpMux", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, resource, name, &m->context));
  CHECK(napi_create_reference(env, argv[4], 1, &m->on_batch));
  CHECK(napi_create_reference(env, argv[2], 1, &m->inbox_ref));
  CHECK(napi_create_reference(env, argv[3], 1, &m->meta_ref));
  CHECK(napi_create_reference(env, resource, 1, &m->resource));
  uv_poll_start(&m->poll, UV_READABLE, on_readable);
  /* The calls' Event Socket connections keep the process alive, not their media. */
  uv_unref((uv_handle_t *)&m->poll);
  uv_unref((uv_handle_t *)&m->gather);

  napi_value handle, bound, holds, result;
  CHECK(napi_create_external(env, m, NULL, NULL, &handle));
  CHECK(napi_create_int32(env, ntohs(local.sin_port), &bound));
  CHECK(napi_create_int32(env, m->held != NULL, &holds));
  CHECK(napi_create_array_with_length(env, 3, &result));
  CHECK(napi_set_element(env, result, 0, handle));
  CHECK(napi_set_element(env, result, 1, bound));
  CHECK(napi_set_element(env, result, 2, holds));
  return result;
}

static mux_t *get_mux (napi_env env, napi_value value) {
  void *m = NULL;
  if (napi_get_value_external(env, value, &m) != napi_ok || m == NULL) {
    napi_throw_type_error(env, NULL, "udp-mux: not a handle");
    return NULL;
  }
  return m;
}

/* A call's `want` arguments into argv, and the handle the first one is (NULL, with a JavaScript error, otherwise). */
static mux_t *handle_args (napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != want) {
    napi_throw_type_error(env, NULL, "udp-mux: wrong number of arguments");
    return NULL;
  }
  return get_mux(env, argv[0]);
}

#define OUT_META 5

static napi_value mux_send (napi_env env, napi_callback_info info) {
  napi_value argv[4];
  mux_t *m = handle_args(env, info, 4, argv);
  if (m == NULL) return NULL;
  int32_t count;
  CHECK(napi_get_value_int32(env, argv[3], &count));
  uint8_t *outbox = buffer_data(env, argv[1], (size_t)(count > 0 ? count : 0) * SLOT);
  int32_t *meta = int32_data(env, argv[2], (size_t)(count > 0 ? count : 0) * OUT_META);
  if (outbox == NULL || meta == NULL || count < 0) {
    napi_throw_range_error(env, NULL, "udp-mux: send(handle, outbox, meta, count) out of range");
    return NULL;
  }
  int taken = 0, direct = 0;
  for (int k = 0; k < count; k++) {
    int32_t *d = meta + k * OUT_META;
    if (m->closed) { d[3] = 0; continue; }
    if (m->held == NULL) { d[3] = 0; direct++; continue; }
    long long now_ns = held_clock_ns(), due_ns;
    if (d[3] <= 0) {
      /* At once, unless a frame of this call still waits: the thread was held off past udp-mux.ts's
       * ORDER_GUARD_MS (another realtime thread, a loaded machine). Then behind it, never ahead. */
      long long last = held_last_due(m->held, (uint32_t)d[0], (uint16_t)d[1]);
      if (last < 0) { d[3] = 0; direct++; continue; }
      due_ns = last > now_ns ? last : now_ns;
    } else {
      /* The due time's low 32 bits: the moment nearest now that has them (a signed 32-bit difference). */
      long long now_us = now_ns / 1000;
      due_ns = (now_us + (int32_t)((uint32_t)d[4] - (uint32_t)now_us)) * 1000;
    }
    int32_t len = d[2] < 0 ? 0 : d[2] > SLOT ? SLOT : d[2];
    int ok = held_put(m->held, due_ns, (uint32_t)d[0], (uint16_t)d[1], outbox + (size_t)k * SLOT, (size_t)len) == 0;
    /* 1: taken; -1: refused (out of memory), made 0 below (0 here would mean "send now"). */
    d[3] = ok ? 1 : -1;
    taken += ok;
  }
  if (direct > 0) taken += send_unheld(m->fd, outbox, SLOT, meta, OUT_META, count);
  for (int k = 0; k < count; k++) if (meta[k * OUT_META + 3] == -1) meta[k * OUT_META + 3] = 0;
  napi_value result;
  CHECK(napi_create_int32(env, taken, &result));
  return result;
}

static napi_value mux_cancel (napi_env env, napi_callback_info info) {
  napi_value argv[3];
  mux_t *m = handle_args(env, info, 3, argv);
  if (m == NULL) return NULL;
  int32_t address, port;
  CHECK(napi_get_value_int32(env, argv[1], &address));
  CHECK(napi_get_value_int32(env, argv[2], &port));
  int n = m->closed || m->held == NULL ? 0 : held_cancel(m->held, (uint32_t)address, (uint16_t)port);
  napi_value result;
  CHECK(napi_create_int32(env, n, &result));
  return result;
}

static napi_value mux_held_stats (napi_env env, napi_callback_info info) {
  napi_value argv[1];
  mux_t *m = handle_args(env, info, 1, argv);
  if (m == NULL) return NULL;
  long long stats[HELD_STATS] = { 0 };
  if (!m->closed && m->held != NULL) held_stats(m->held, stats);
  napi_value result, value;
  CHECK(napi_create_array_with_length(env, HELD_STATS, &result));
  for (int i = 0; i < HELD_STATS; i++) {
    CHECK(napi_create_double(env, (double)stats[i], &value));
    CHECK(napi_set_element(env, result, (uint32_t)i, value));
  }
  return result;
}

static napi_value mux_clock_ms (napi_env env, napi_callback_info info) {
  napi_value result;
  CHECK(napi_create_double(env, (double)held_clock_ns() / 1e6, &result));
  return result;
}

static napi_value mux_close (napi_env env, napi_callback_info info) {
  napi_value argv[1];
  mux_t *m = handle_args(env, info, 1, argv);
  if (m == NULL) return NULL;
  release(env, m);
  return NULL;
}

NAPI_MODULE_INIT () {
  napi_property_descriptor methods[] = {
    { "open", NULL, mux_open, NULL, NULL, NULL, napi_default, NULL },
    { "send", NULL, mux_send, NULL, NULL, NULL, napi_default, NULL },
    { "cancel", NULL, mux_cancel, NULL, NULL, NULL, napi_default, NULL },
    { "heldStats", NULL, mux_held_stats, NULL, NULL, NULL, napi_default, NULL },
    { "clockMs", NULL, mux_clock_ms, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, mux_close, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_value batch, slot;
  napi_create_int32(env, BATCH, &batch);
  napi_create_int32(env, SLOT, &slot);
  napi_set_named_property(env, exports, "BATCH", batch);
  napi_set_named_property(env, exports, "SLOT", slot);
  napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
  return exports;
}
