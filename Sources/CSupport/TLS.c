// TLS for the HTTP client, over Debian's OpenSSL 3 (libssl.so.3).
//
// libssl is loaded with dlopen by the first client that opens an https
// connection, so processes that never talk TLS (the master, monitors, workers
// with the discard transport, and tests against plain-HTTP peers) never map
// it. The Swift side owns the socket, its non-blocking mode and every wait
// (poll with a deadline); these functions only drive OpenSSL on that socket
// and translate its results into HW_TLS_* codes plus a message kept in the
// session, so no OpenSSL type crosses into Swift.
//
// OpenSSL writes to the socket with plain write(2), which raises SIGPIPE when
// the peer has gone; the daemon ignores SIGPIPE, but a library user may not,
// so every OpenSSL call that may write runs with SIGPIPE blocked in the
// calling thread, and a SIGPIPE it raised is taken before unblocking.
//
// Who frees what: a context (SSL_CTX) is freed by hw_tls_context_free, a
// session (SSL plus its message) by hw_tls_free; the socket stays the
// caller's and is closed by it after hw_tls_free.

#define _GNU_SOURCE
#include "CSupport.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The OpenSSL entry points, filled once by hw_tls_load.
static struct {
    __typeof__(TLS_client_method) *client_method;
    __typeof__(SSL_CTX_new) *ctx_new;
    __typeof__(SSL_CTX_free) *ctx_free;
    __typeof__(SSL_CTX_ctrl) *ctx_ctrl;
    __typeof__(SSL_CTX_set_verify) *ctx_set_verify;
    __typeof__(SSL_CTX_set_default_verify_file) *ctx_default_file;
    __typeof__(SSL_CTX_set_default_verify_dir) *ctx_default_dir;
    __typeof__(SSL_CTX_load_verify_locations) *ctx_load_locations;
    __typeof__(SSL_new) *ssl_new;
    __typeof__(SSL_free) *ssl_free;
    __typeof__(SSL_ctrl) *ssl_ctrl;
    __typeof__(SSL_set_fd) *set_fd;
    __typeof__(SSL_set1_host) *set1_host;
    __typeof__(SSL_connect) *connect;
    __typeof__(SSL_read) *read;
    __typeof__(SSL_write) *write;
    __typeof__(SSL_pending) *pending;
    __typeof__(SSL_get_error) *get_error;
    __typeof__(SSL_get_verify_result) *verify_result;
    __typeof__(ERR_get_error) *err_get;
    __typeof__(ERR_peek_error) *err_peek;
    __typeof__(ERR_error_string_n) *err_string;
    __typeof__(ERR_clear_error) *err_clear;
    __typeof__(X509_verify_cert_error_string) *verify_string;
    __typeof__(X509_get_default_cert_dir) *default_cert_dir;
} ssl;

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static const char *tls_load_error;
static char tls_load_message[512];

struct hw_tls {
    SSL *ssl;
    char message[512];
};

#define HW_TLS_SYMBOL(library, field, name)                                                \
    do {                                                                                   \
        *(void **)&ssl.field = dlsym(library, name);                                       \
        if (!ssl.field) {                                                                  \
            snprintf(tls_load_message, sizeof tls_load_message, "libssl.so.3 has no %s",   \
                     name);                                                                \
            tls_load_error = tls_load_message;                                             \
            return;                                                                        \
        }                                                                                  \
    } while (0)

static void hw_tls_load_once(void) {
    void *library = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(tls_load_message, sizeof tls_load_message, "cannot load OpenSSL: %s",
                 dlerror());
        tls_load_error = tls_load_message;
        return;
    }
    HW_TLS_SYMBOL(library, client_method, "TLS_client_method");
    HW_TLS_SYMBOL(library, ctx_new, "SSL_CTX_new");
    HW_TLS_SYMBOL(library, ctx_free, "SSL_CTX_free");
    HW_TLS_SYMBOL(library, ctx_ctrl, "SSL_CTX_ctrl");
    HW_TLS_SYMBOL(library, ctx_set_verify, "SSL_CTX_set_verify");
    HW_TLS_SYMBOL(library, ctx_default_file, "SSL_CTX_set_default_verify_file");
    HW_TLS_SYMBOL(library, ctx_default_dir, "SSL_CTX_set_default_verify_dir");
    HW_TLS_SYMBOL(library, ctx_load_locations, "SSL_CTX_load_verify_locations");
    HW_TLS_SYMBOL(library, ssl_new, "SSL_new");
    HW_TLS_SYMBOL(library, ssl_free, "SSL_free");
    HW_TLS_SYMBOL(library, ssl_ctrl, "SSL_ctrl");
    HW_TLS_SYMBOL(library, set_fd, "SSL_set_fd");
    HW_TLS_SYMBOL(library, set1_host, "SSL_set1_host");
    HW_TLS_SYMBOL(library, connect, "SSL_connect");
    HW_TLS_SYMBOL(library, read, "SSL_read");
    HW_TLS_SYMBOL(library, write, "SSL_write");
    HW_TLS_SYMBOL(library, pending, "SSL_pending");
    HW_TLS_SYMBOL(library, get_error, "SSL_get_error");
    HW_TLS_SYMBOL(library, verify_result, "SSL_get_verify_result");
    // libcrypto's, found through libssl's dependencies.
    HW_TLS_SYMBOL(library, err_get, "ERR_get_error");
    HW_TLS_SYMBOL(library, err_peek, "ERR_peek_error");
    HW_TLS_SYMBOL(library, err_string, "ERR_error_string_n");
    HW_TLS_SYMBOL(library, err_clear, "ERR_clear_error");
    HW_TLS_SYMBOL(library, verify_string, "X509_verify_cert_error_string");
    HW_TLS_SYMBOL(library, default_cert_dir, "X509_get_default_cert_dir");
}

const char *hw_tls_load(void) {
    pthread_once(&tls_once, hw_tls_load_once);
    return tls_load_error;
}

/// Writes OpenSSL's oldest queued error (or `fallback`) into `message`, and clears the queue.
static void describe_openssl_error(char *message, size_t size, const char *fallback) {
    unsigned long code = ssl.err_get();
    if (code != 0) {
        ssl.err_string(code, message, size);
    } else {
        snprintf(message, size, "%s", fallback);
    }
    ssl.err_clear();
}

/// Whether `path` is a directory holding at least one certificate under its hash name
/// (`5ad8a5d6.0`), which is how OpenSSL looks certificates up in a directory.
static int has_hashed_certificates(const char *path) {
    DIR *directory = opendir(path);
    if (!directory) return 0;
    int found = 0;
    struct dirent *entry;
    while (!found && (entry = readdir(directory)) != NULL) {
        const char *name = entry->d_name;
        int hex = 0;
        while (hex < 8 && isxdigit((unsigned char)name[hex])) hex++;
        found = hex == 8 && name[8] == '.' && isdigit((unsigned char)name[9]);
    }
    closedir(directory);
    return found;
}

/// Trusts the system's certificates the way OpenSSL's SSL_CTX_set_default_verify_paths
/// does (SSL_CERT_FILE, SSL_CERT_DIR, else the built-in places), except that a hashed
/// directory is preferred to the bundle when it has certificates: the directory is read
/// lazily, one authority at a time, while the bundle (Debian's has about 140
/// authorities) is parsed whole into every process, about 1.4 MiB each.
static int trust_system_certificates(SSL_CTX *context) {
    const char *file = getenv("SSL_CERT_FILE");
    if (file && *file) {
        return ssl.ctx_default_file(context) == 1 && ssl.ctx_default_dir(context) == 1;
    }
    const char *directory = getenv("SSL_CERT_DIR");
    if (!directory || !*directory) directory = ssl.default_cert_dir();
    if (has_hashed_certificates(directory)) {
        return ssl.ctx_default_dir(context) == 1;
    }
    return ssl.ctx_default_file(context) == 1 && ssl.ctx_default_dir(context) == 1;
}

void *hw_tls_context_new(const char *ca_file, char *message, size_t size) {
    ssl.err_clear();
    SSL_CTX *context = ssl.ctx_new(ssl.client_method());
    if (!context) {
        describe_openssl_error(message, size, "SSL_CTX_new failed");
        return NULL;
    }
    ssl.ctx_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
    // Writes are retried with the same bytes, but Swift may hand a moved buffer.
    ssl.ctx_ctrl(context, SSL_CTRL_MODE, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, NULL);
    ssl.ctx_set_verify(context, SSL_VERIFY_PEER, NULL);
    int loaded = ca_file ? ssl.ctx_load_locations(context, ca_file, NULL) == 1
                         : trust_system_certificates(context);
    if (!loaded) {
        char detail[256];
        describe_openssl_error(detail, sizeof detail, "no detail");
        snprintf(message, size, "cannot load trusted certificates%s%s: %s",
                 ca_file ? " from " : "", ca_file ? ca_file : "", detail);
        ssl.ctx_free(context);
        return NULL;
    }
    return context;
}

void hw_tls_context_free(void *context) {
    if (context) ssl.ctx_free(context);
}

/// Whether `host` is an IPv4 or IPv6 literal, which gets no SNI (RFC 6066, section 3).
static int is_address(const char *host) {
    unsigned char address[16];
    return inet_pton(AF_INET, host, address) == 1 || inet_pton(AF_INET6, host, address) == 1;
}

hw_tls *hw_tls_new(void *context, int fd, const char *host, char *message, size_t size) {
    ssl.err_clear();
    hw_tls *tls = calloc(1, sizeof *tls);
    if (!tls) {
        snprintf(message, size, "out of memory");
        return NULL;
    }
    tls->ssl = ssl.ssl_new(context);
    // SSL_set1_host takes an address literal as an address, else as a DNS name.
    int ready = tls->ssl && ssl.set_fd(tls->ssl, fd) == 1 && ssl.set1_host(tls->ssl, host) == 1;
    if (ready && !is_address(host)) {
        ready = ssl.ssl_ctrl(tls->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                             (void *)host) == 1;
    }
    if (!ready) {
        describe_openssl_error(message, size, "cannot set up the TLS session");
        hw_tls_free(tls);
        return NULL;
    }
    return tls;
}

void hw_tls_free(hw_tls *tls) {
    if (!tls) return;
    if (tls->ssl) ssl.ssl_free(tls->ssl);
    free(tls);
}

/// Turns the result of SSL_connect, SSL_read or SSL_write into an HW_TLS_* code or a count.
static long outcome(hw_tls *tls, int result) {
    if (result > 0) return result;
    int error = ssl.get_error(tls->ssl, result);
    int saved_errno = errno;
    switch (error) {
    case SSL_ERROR_WANT_READ:
        return HW_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return HW_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return HW_TLS_CLOSED;
    case SSL_ERROR_SYSCALL:
        if (ssl.err_peek() == 0) {
            snprintf(tls->message, sizeof tls->message, "%s",
                     saved_errno ? strerror(saved_errno) : "connection closed by the peer");
            ssl.err_clear();
            return HW_TLS_FAILED;
        }
        break;
    default:
        break;
    }
    long verified = ssl.verify_result(tls->ssl);
    if (verified != X509_V_OK) {
        snprintf(tls->message, sizeof tls->message, "certificate verify failed: %s",
                 ssl.verify_string(verified));
        ssl.err_clear();
        return HW_TLS_UNTRUSTED;
    }
    describe_openssl_error(tls->message, sizeof tls->message, "TLS failure");
    return HW_TLS_FAILED;
}

/// The calling thread's signal mask before SIGPIPE was blocked, and whether a SIGPIPE
/// was already pending then (that one is not ours to take).
typedef struct {
    sigset_t old_mask;
    int was_pending;
} pipe_guard;

static pipe_guard block_sigpipe(void) {
    pipe_guard guard;
    sigset_t pipe_only, pending;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &guard.old_mask);
    guard.was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    return guard;
}

static void unblock_sigpipe(pipe_guard guard, int wrote_to_a_closed_socket) {
    if (wrote_to_a_closed_socket && !guard.was_pending) {
        sigset_t pipe_only;
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        struct timespec now = {0, 0};
        while (sigtimedwait(&pipe_only, NULL, &now) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &guard.old_mask, NULL);
}

enum tls_call { TLS_CONNECT, TLS_READ, TLS_WRITE };

/// Runs one OpenSSL call with SIGPIPE blocked and translates its result.
static long guarded(hw_tls *tls, enum tls_call call, void *buffer, size_t size) {
    int count = size > INT32_MAX ? INT32_MAX : (int)size;
    ssl.err_clear();
    pipe_guard guard = block_sigpipe();
    errno = 0;
    int result = call == TLS_CONNECT ? ssl.connect(tls->ssl)
                 : call == TLS_READ  ? ssl.read(tls->ssl, buffer, count)
                                     : ssl.write(tls->ssl, buffer, count);
    int saved_errno = errno;
    unblock_sigpipe(guard, result <= 0 && saved_errno == EPIPE);
    errno = saved_errno;
    return outcome(tls, result);
}

long hw_tls_handshake(hw_tls *tls) { return guarded(tls, TLS_CONNECT, NULL, 0); }

long hw_tls_read(hw_tls *tls, void *buffer, size_t size) {
    return guarded(tls, TLS_READ, buffer, size);
}

long hw_tls_write(hw_tls *tls, const void *buffer, size_t size) {
    return guarded(tls, TLS_WRITE, (void *)buffer, size);
}

int hw_tls_pending(hw_tls *tls) { return ssl.pending(tls->ssl); }

const char *hw_tls_message(const hw_tls *tls) { return tls->message; }
