// C helpers that Swift cannot call directly or should not see: OpenSSL behind
// a small TLS interface, the variadic prctl, and the layout of the
// shared-memory rate segment.
#ifndef HWORKER_CSUPPORT_H
#define HWORKER_CSUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/signalfd.h>
#include <spawn.h>
#include <poll.h>
#include <semaphore.h>

// MARK: name resolution

#include <netdb.h>

/// What hw_resolve returns when the lookup did not finish in time.
#define HW_RESOLVE_TIMEOUT (-1000)

/// getaddrinfo for a TCP connection to `host`:`service` (any address family) that
/// gives up after `timeout_ms` (see Resolve.c). Returns 0 with `*result` to be freed
/// with freeaddrinfo, an EAI_* code, or HW_RESOLVE_TIMEOUT.
int hw_resolve(const char *host, const char *service, int timeout_ms,
               struct addrinfo **result);

// MARK: TLS
//
// OpenSSL (libssl.so.3) is loaded with dlopen by the first HTTP client that
// opens an https connection (see TLS.c); the Swift side owns the socket and
// every wait, these functions drive OpenSSL on it. No OpenSSL type crosses
// into Swift.

/// Results of hw_tls_handshake, hw_tls_read and hw_tls_write besides a byte count.
#define HW_TLS_CLOSED 0        // the peer closed the TLS session (read only)
#define HW_TLS_FAILED (-1)     // see hw_tls_message
#define HW_TLS_WANT_READ (-2)  // wait until the socket is readable, then call again
#define HW_TLS_WANT_WRITE (-3) // wait until the socket is writable, then call again
#define HW_TLS_UNTRUSTED (-4)  // the peer's certificate failed verification; see hw_tls_message

/// One TLS session on a caller-owned socket, with the message of its last failure.
typedef struct hw_tls hw_tls;

/// Loads libssl.so.3 once per process (thread-safe).
/// Returns NULL on success, else a message saying what failed.
const char *hw_tls_load(void);

/// A client context that verifies the peer against `ca_file` (PEM), or against the
/// system's trusted certificates when `ca_file` is NULL; TLS 1.2 at least.
/// Returns NULL with a message in `message` on failure.
void *hw_tls_context_new(const char *ca_file, char *message, size_t size);
void hw_tls_context_free(void *context);

/// A session on `fd` that checks the certificate names `host` (a DNS name, with SNI, or
/// an address literal). Returns NULL with a message in `message` on failure.
hw_tls *hw_tls_new(void *context, int fd, const char *host, char *message, size_t size);
void hw_tls_free(hw_tls *tls);

long hw_tls_handshake(hw_tls *tls);
long hw_tls_read(hw_tls *tls, void *buffer, size_t size);
long hw_tls_write(hw_tls *tls, const void *buffer, size_t size);
/// Decrypted bytes buffered inside OpenSSL, readable without waiting on the socket.
int hw_tls_pending(hw_tls *tls);
const char *hw_tls_message(const hw_tls *tls);

// MARK: process control (prctl is variadic)

/// Asks the kernel to send `signal` to this process when its parent exits.
int hw_set_parent_death_signal(int signal);

/// pipe2(fds, O_CLOEXEC), which needs _GNU_SOURCE to be declared.
int hw_pipe_cloexec(int fds[2]);

// MARK: shared-memory rate segment
//
// One segment per server, created by the master, mapped by every worker.
// All fields but `holder` are read and written only while the semaphore is
// held; `holder` is also read by the master after it reaps a child, so it is
// accessed atomically.

#define HW_RATE_MAGIC 0x48575253u  // "HWRS"
#define HW_RATE_VERSION 2u
#define HW_RATE_RING 16384u

typedef struct hw_rate_segment {
    uint32_t magic;
    uint32_t version;
    uint64_t size;
    int32_t holder;          // PID inside the critical section, 0 if none
    int32_t reserved;
    double rate;             // recipients per second
    double burst;            // extra recipients allowed above `rate`
    int64_t theoretical_ns;  // GCRA theoretical arrival time, CLOCK_MONOTONIC
    int64_t last_ns;         // the latest reservation handed out
    uint64_t count;          // recipients reserved since creation
    uint64_t waits;          // reservations that had to wait
    double factor;           // share of `rate` in use, lowered after SES throttles (0.1...1)
    int64_t factor_ns;       // when `factor` was last brought up to date
    int64_t throttled_ns;    // when SES last throttled a send
    uint64_t throttles;      // throttling answers reported since creation
    int64_t ring[HW_RATE_RING];  // reservation time of recipient n at n % HW_RATE_RING
} hw_rate_segment;

void hw_rate_set_holder(hw_rate_segment *segment, int32_t pid);
int32_t hw_rate_get_holder(hw_rate_segment *segment);
/// The ring of reservation times (Swift does not import arrays this large).
static inline int64_t *hw_rate_ring(hw_rate_segment *segment) { return segment->ring; }

/// Clears `holder` if it still names `pid`; returns 1 when it did.
int hw_rate_clear_holder(hw_rate_segment *segment, int32_t pid);

#endif
