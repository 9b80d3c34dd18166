// Name resolution with a deadline, for the HTTP client.
//
// getaddrinfo blocks for as long as the resolver likes (several seconds per
// name server when one does not answer), which would let a send outlive its
// timeout and the worker's heartbeat. Address literals are resolved at once,
// without the resolver. Names go through glibc's getaddrinfo_a, which resolves
// on a helper thread of glibc's while this thread waits with a timeout; a
// lookup that times out is cancelled, or, when glibc can no longer cancel it,
// left to finish on its own and its request block is deliberately leaked
// (glibc still writes into it).

#define _GNU_SOURCE
#include "CSupport.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct lookup {
    struct gaicb request;
    struct addrinfo hints;
    char *host;
    char *service;
};

static void lookup_free(struct lookup *lookup) {
    free(lookup->host);
    free(lookup->service);
    free(lookup);
}

static long long now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int hw_resolve(const char *host, const char *service, int timeout_ms,
               struct addrinfo **result) {
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    if (getaddrinfo(host, service, &hints, result) == 0) return 0;

    struct lookup *lookup = calloc(1, sizeof *lookup);
    if (!lookup) return EAI_MEMORY;
    lookup->host = strdup(host);
    lookup->service = strdup(service);
    if (!lookup->host || !lookup->service) {
        lookup_free(lookup);
        return EAI_MEMORY;
    }
    lookup->hints.ai_family = AF_UNSPEC;
    lookup->hints.ai_socktype = SOCK_STREAM;
    lookup->request.ar_name = lookup->host;
    lookup->request.ar_service = lookup->service;
    lookup->request.ar_request = &lookup->hints;

    struct gaicb *requests[1] = {&lookup->request};
    int started = getaddrinfo_a(GAI_NOWAIT, requests, 1, NULL);
    if (started != 0) {
        lookup_free(lookup);
        return started;
    }
    long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    while (gai_error(&lookup->request) == EAI_INPROGRESS) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            if (gai_cancel(&lookup->request) == EAI_CANCELED) {
                lookup_free(lookup);
            }
            return HW_RESOLVE_TIMEOUT;
        }
        struct timespec wait = {left / 1000, (left % 1000) * 1000000};
        gai_suspend((const struct gaicb *const *)requests, 1, &wait);
    }
    int status = gai_error(&lookup->request);
    *result = status == 0 ? lookup->request.ar_result : NULL;
    lookup_free(lookup);
    return status;
}
