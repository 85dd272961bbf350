/* The checkpoint API's C client (docs/api.md), a C ABI over the C++ client (client/client.h) in
 * the same shared library (libwarmboot-client.so.0, pkg-config warmboot-client). Plain C99;
 * installed as <warmboot/client_c.h>.
 *
 *   wb_client* c;
 *   if (wb_client_connect("db", NULL, &c) != WB_OK) {    // NULL: /run/warmboot/api.sock
 *     fprintf(stderr, "%s\n", wb_last_error(NULL));
 *     ...
 *   }
 *   wb_put_fd(c, "heap", memfd);       // memfd sealed: F_SEAL_WRITE|F_SEAL_GROW|F_SEAL_SHRINK
 *   wb_put_bytes(c, "index", buf, len);
 *   int fd; uint64_t size;
 *   wb_get(c, "heap", &fd, &size);     // a new read-only descriptor; the caller closes it
 *   wb_client_close(c);
 *
 * Being told of a warm reboot is optional: an application that never waits for a prepare just
 * misses the round and starts cold. One that does:
 *
 *   uint64_t round, deadline_ms; int got;
 *   wb_wait_prepare(c, -1, &round, &deadline_ms, &got);   // or poll wb_client_fd(c) first
 *   if (got) { wb_put_fd(c, "heap", memfd); wb_ready(c, round); }
 *
 * After the reboot, wb_restored says what came back; wb_get_restored opens a segment,
 * wb_release_restored frees it.
 *
 * Contract:
 * - Every operation returns an int: WB_OK (0) or one of enum wb_error. A failure leaves its
 *   message (the daemon's, or the library's) in wb_last_error(client), and also in the calling
 *   thread's own last message, wb_last_error(NULL), which is the only place a failure without a
 *   client (wb_client_connect, a NULL client) can go. Messages stay valid until the next failing
 *   call on that client, or in that thread; success leaves them as they were (like errno).
 * - Outputs are written only on WB_OK; on failure *out pointers are set to NULL / -1 / 0 where
 *   the call has them, so nothing needs freeing.
 * - A NULL where a pointer is required is refused with WB_ERR_INVALID, never dereferenced.
 * - Blocking; one request at a time per client. A wb_client is not thread-safe: use one per
 *   thread or guard it. Different clients may be used from different threads at once.
 * - No C++ exception leaves the library: failures inside it (out of memory included) are codes.
 * - The library never keeps a descriptor the caller passes: the daemon gets its own copy.
 * - Names (application, segment) follow docs/api.md section 3: 1 to 255 bytes of UTF-8, no
 *   control character, no '/', not "." or "..". A bad one is WB_ERR_INVALID, saying which rule.
 *
 * ABI: the enum values and the layouts of struct wb_segment, wb_restored_segment and
 * wb_restored_view are fixed for soname 0; new codes may be added (treat an unknown non-zero
 * code as a failure).
 */
#ifndef WARMBOOT_CLIENT_C_H_
#define WARMBOOT_CLIENT_C_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes. The daemon's error codes (docs/api.md section 4) map as named. */
enum wb_error {
  WB_OK = 0,
  WB_ERR_NOT_FOUND = 1,   /* no such segment (not-found) */
  WB_ERR_QUOTA = 2,       /* over the app's or the uid's limits (quota) */
  WB_ERR_PERMISSION = 3,  /* e.g. listing every app's segments as another uid than root */
  WB_ERR_INVALID = 4,     /* a bad argument: NULL, a bad name, a descriptor the daemon refuses
                             (bad-fd: the message says which rule), more than 1 MiB of bytes,
                             an answer for a round not running or answered or too late */
  WB_ERR_BUSY = 5,        /* busy: the set is frozen (wb_ready answered: wb_put_* and wb_drop
                             wait for the round's end), the daemon has too many connections,
                             or it did not answer in time (wb_set_reply_timeout) */
  WB_ERR_IO = 6,          /* the connection failed or the daemon closed it */
  WB_ERR_UNSUPPORTED = 7, /* the daemon speaks no protocol version this library does */
  WB_ERR_NO_DAEMON = 8,   /* wb_client_connect: nothing listens on the socket */
  WB_ERR_PROTOCOL = 9,    /* the daemon's reply could not be understood */
  WB_ERR_NO_MEMORY = 10,  /* the library could not allocate */
  WB_ERR_INTERNAL = 11    /* any other failure inside the library (a bug: please report) */
};

/* A connection to warmbootd, registered under one application name. Opaque. */
typedef struct wb_client wb_client;

/* One segment, as wb_list returns it. The strings live in the array's allocation. */
typedef struct wb_segment {
  const char* name; /* the segment's name */
  uint64_t size;    /* bytes */
  const char* kind; /* "bytes" or "fd": how it was handed over */
  uid_t uid;        /* with wb_list(all): whose it is; otherwise 0 */
  const char* app;  /* with wb_list(all): which application's; otherwise "" */
} wb_segment;

/* One segment of the restored view (wb_restored_view). */
typedef struct wb_restored_segment {
  const char* name; /* the segment's name */
  uint64_t size;    /* bytes */
} wb_restored_segment;

/* What the last warm reboot brought back for this application, as wb_restored returns it: one
 * allocation (arrays and strings included) to free with wb_restored_free. */
typedef struct wb_restored_view {
  int warm;                            /* non-zero when this boot restored an image */
  uint64_t generation;                 /* the image's generation (0 when not warm) */
  int64_t preserved_ns;                /* when the image was written (ns since the epoch) */
  const wb_restored_segment* segments; /* this app's sound restored segments, by name */
  size_t segment_count;                /* (segments is NULL when 0) */
  const char* const* damaged;          /* names of the damaged, quarantined ones */
  size_t damaged_count;                /* (damaged is NULL when 0) */
} wb_restored_view;

/* Connects to warmbootd at `socket_path` (NULL: the default, /run/warmboot/api.sock) and
 * registers as application `app`. On WB_OK *out is a client to close with wb_client_close; on
 * failure *out is NULL and wb_last_error(NULL) says why. WB_ERR_NO_DAEMON when no daemon
 * listens there. */
int wb_client_connect(const char* app, const char* socket_path, wb_client** out);

/* wb_client_connect with the hello's options (docs/api.md, hello). `deadline_ms`: the most time
 * this application wants to be given to checkpoint, up to 3600000 (a round's prepare then
 * carries the shorter of the two); 0: the round's. `observer` non-zero: a tool that looks and
 * is not an application: rounds neither tell it nor wait for it. A deadline over 3600000 is
 * WB_ERR_INVALID, with or without a daemon. */
int wb_client_connect_ex(const char* app, const char* socket_path, uint32_t deadline_ms,
                         int observer, wb_client** out);

/* The client's socket, to poll for input (POLLIN) next to the application's own descriptors;
 * -1 for NULL. Only wb_wait_prepare reads from it outside a request. Input does not always mean
 * a prepare (wb_wait_prepare with timeout 0 then says got 0), and a prepare that arrived during
 * another call was already read from it: call wb_wait_prepare(c, 0, ...) after other calls,
 * before polling again. Do not read, write or close it. */
int wb_client_fd(const wb_client* client);

/* How long a request waits for its reply, in milliseconds (default 30000), before it fails
 * with WB_ERR_BUSY: a daemon that stopped answering is an error, never a hang. */
void wb_set_reply_timeout(wb_client* client, int timeout_ms);

/* 1 when the daemon keeps what is handed over across its own restart (systemd's fd store), 0
 * when a restart loses it (or for NULL). */
int wb_daemon_keeps(const wb_client* client);

/* What the daemon's last restart could not bring back of this app's, as told at registration:
 * how many, and the name of the i-th (NULL past the end). Hand those over again. */
size_t wb_lost_count(const wb_client* client);
const char* wb_lost_segment(const wb_client* client, size_t i);

/* Closes the connection and frees the client. What it handed over stays with the daemon.
 * NULL is allowed and does nothing (like free); it cannot fail. */
void wb_client_close(wb_client* client);

/* Stores `size` bytes (at most 1 MiB) from `data` as `segment`, replacing one of that name.
 * `data` may be NULL only when `size` is 0. */
int wb_put_bytes(wb_client* client, const char* segment, const void* data, size_t size);

/* Hands descriptor `fd` over as `segment`, replacing one of that name: a memfd sealed with
 * F_SEAL_WRITE, F_SEAL_GROW and F_SEAL_SHRINK, or a readable file on tmpfs (taken under the
 * snapshot rule, docs/api.md). Nothing is copied. `fd` stays the caller's. */
int wb_put_fd(wb_client* client, const char* segment, int fd);

/* A new read-only descriptor of `segment` in *fd_out (with its own file offset, close-on-exec;
 * the caller closes it) and its size in *size_out (`size_out` may be NULL). On failure
 * *fd_out is -1. */
int wb_get(wb_client* client, const char* segment, int* fd_out, uint64_t* size_out);

/* Removes `segment`; its size in *size_out (`size_out` may be NULL). */
int wb_drop(wb_client* client, const char* segment, uint64_t* size_out);

/* This application's segments sorted by name; with `all` non-zero every application's (root
 * only, else WB_ERR_PERMISSION). On WB_OK *segments_out is an array of *count_out entries to
 * free with wb_list_free (NULL when there are none). */
int wb_list(wb_client* client, int all, wb_segment** segments_out, size_t* count_out);

/* Frees what wb_list returned, strings included. NULL is allowed and does nothing. */
void wb_list_free(wb_segment* segments);

/* --- The checkpoint round (docs/api.md): when a warm reboot is coming, the daemon sends each
 * connected application a prepare; it puts what its set needs, then answers wb_ready or
 * wb_decline within the prepare's deadline. Only a set completed by wb_ready is preserved;
 * after wb_ready the set is frozen (wb_put_* and wb_drop are WB_ERR_BUSY) until the round ends.
 * Waiting for prepares is optional: an application that never answers starts cold. */

/* Waits up to `timeout_ms` (-1: forever; 0: only what has already arrived) for a prepare. On
 * WB_OK *got_out is 1 and *round_out, *deadline_ms_out (may be NULL) say which round and how
 * many milliseconds the application has to answer; or *got_out is 0 (and the others 0) when
 * none came in time. A connection lost is WB_ERR_IO. */
int wb_wait_prepare(wb_client* client, int timeout_ms, uint64_t* round_out,
                    uint64_t* deadline_ms_out, int* got_out);

/* Answers `round`'s prepare: the set as it stands now is the one to preserve. WB_ERR_INVALID
 * for a round not running, one already answered, or an answer after the deadline (the round
 * counts it as missed). */
int wb_ready(wb_client* client, uint64_t round);

/* Answers `round`'s prepare with no: the application starts cold after the reboot. `reason`
 * (may be NULL: none) is shown in the round's result. Refused as wb_ready is. */
int wb_decline(wb_client* client, uint64_t round, const char* reason);

/* --- After the reboot: the restored view (docs/api.md). A restored segment is a file of the
 * application's own (mode 0600, in the restore tmpfs); until released it holds its memory. */

/* What the last warm reboot brought back for this application. On WB_OK *out is a view to free
 * with wb_restored_free (also on a cold boot: warm 0, no segments). */
int wb_restored(wb_client* client, wb_restored_view** out);

/* Frees what wb_restored returned. NULL is allowed and does nothing. */
void wb_restored_free(wb_restored_view* view);

/* A new read-only descriptor of restored `segment` in *fd_out (close-on-exec; the caller
 * closes it) and its size in *size_out (may be NULL). WB_ERR_NOT_FOUND for a segment not
 * restored, released, or damaged. On failure *fd_out is -1. */
int wb_get_restored(wb_client* client, const char* segment, int* fd_out, uint64_t* size_out);

/* Removes restored `segment`'s file, freeing its memory (a descriptor still open keeps the
 * bytes until it is closed); its size in *size_out (may be NULL). */
int wb_release_restored(wb_client* client, const char* segment, uint64_t* size_out);

/* The message of the last failure on `client`, or with NULL of the calling thread's last
 * failure; "" when there was none. Never NULL. */
const char* wb_last_error(const wb_client* client);

/* A short constant name for an error code ("ok", "not-found", "quota", ...; "unknown" for a
 * code this library does not know). Never NULL. */
const char* wb_error_name(int code);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* WARMBOOT_CLIENT_C_H_ */
