// Typed C helpers that Swift cannot call directly: variadic libcurl and
// prctl entry points, and the layout of the shared-memory rate segment.
#ifndef HWORKER_CSUPPORT_H
#define HWORKER_CSUPPORT_H

#include <curl/curl.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/signalfd.h>
#include <spawn.h>
#include <poll.h>
#include <semaphore.h>

// MARK: libcurl
//
// libcurl is loaded with dlopen by the first process that talks to SES, so the
// master, the monitors and workers with another transport never map it and
// the dozen libraries it pulls in (TLS, Kerberos, LDAP, ...). Every call goes
// through these wrappers; curl_easy_setopt and curl_easy_getinfo are variadic
// and get one typed wrapper per argument type.

/// Loads libcurl.so.4 and runs curl_global_init once.
/// Returns NULL on success, else a message saying what failed.
const char *hw_curl_load(void);

CURL *hw_curl_easy_init(void);
void hw_curl_easy_cleanup(CURL *handle);
void hw_curl_easy_reset(CURL *handle);
CURLcode hw_curl_easy_perform(CURL *handle);
const char *hw_curl_easy_strerror(CURLcode code);
struct curl_slist *hw_curl_slist_append(struct curl_slist *list, const char *line);
void hw_curl_slist_free_all(struct curl_slist *list);

CURLcode hw_curl_set_long(CURL *handle, CURLoption option, long value);
CURLcode hw_curl_set_string(CURL *handle, CURLoption option, const char *value);
CURLcode hw_curl_set_pointer(CURL *handle, CURLoption option, void *value);
CURLcode hw_curl_set_slist(CURL *handle, CURLoption option, struct curl_slist *list);
CURLcode hw_curl_set_size(CURL *handle, CURLoption option, curl_off_t value);

typedef size_t (*hw_curl_write_fn)(char *data, size_t size, size_t count, void *context);
CURLcode hw_curl_set_write_function(CURL *handle, hw_curl_write_fn function);
CURLcode hw_curl_set_header_function(CURL *handle, hw_curl_write_fn function);

CURLcode hw_curl_get_response_code(CURL *handle, long *code);
CURLcode hw_curl_get_long(CURL *handle, CURLINFO info, long *value);

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
