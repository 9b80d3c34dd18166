#define _GNU_SOURCE
#include "CSupport.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <signal.h>
#include <sys/prctl.h>

// The libcurl entry points, filled by hw_curl_load. Processes are single-threaded.
static struct {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *handle);
    void (*easy_reset)(CURL *handle);
    CURLcode (*easy_perform)(CURL *handle);
    const char *(*easy_strerror)(CURLcode code);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *line);
    void (*slist_free_all)(struct curl_slist *list);
    CURLcode (*easy_setopt)(CURL *handle, CURLoption option, ...);
    CURLcode (*easy_getinfo)(CURL *handle, CURLINFO info, ...);
} curl;

static const char *curl_load_error;
static int curl_load_done;
static char curl_load_message[512];

#define HW_CURL_SYMBOL(library, field, name)                                              \
    do {                                                                                  \
        *(void **)&curl.field = dlsym(library, name);                                     \
        if (!curl.field) {                                                                \
            snprintf(curl_load_message, sizeof curl_load_message, "libcurl.so.4 has no %s", \
                     name);                                                               \
            return curl_load_message;                                                     \
        }                                                                                 \
    } while (0)

static const char *hw_curl_load_once(void) {
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(curl_load_message, sizeof curl_load_message, "cannot load libcurl: %s",
                 dlerror());
        return curl_load_message;
    }
    HW_CURL_SYMBOL(library, global_init, "curl_global_init");
    HW_CURL_SYMBOL(library, easy_init, "curl_easy_init");
    HW_CURL_SYMBOL(library, easy_cleanup, "curl_easy_cleanup");
    HW_CURL_SYMBOL(library, easy_reset, "curl_easy_reset");
    HW_CURL_SYMBOL(library, easy_perform, "curl_easy_perform");
    HW_CURL_SYMBOL(library, easy_strerror, "curl_easy_strerror");
    HW_CURL_SYMBOL(library, slist_append, "curl_slist_append");
    HW_CURL_SYMBOL(library, slist_free_all, "curl_slist_free_all");
    HW_CURL_SYMBOL(library, easy_setopt, "curl_easy_setopt");
    HW_CURL_SYMBOL(library, easy_getinfo, "curl_easy_getinfo");
    CURLcode code = curl.global_init(CURL_GLOBAL_ALL);
    if (code != CURLE_OK) {
        snprintf(curl_load_message, sizeof curl_load_message, "curl_global_init failed: %s",
                 curl.easy_strerror(code));
        return curl_load_message;
    }
    return NULL;
}

const char *hw_curl_load(void) {
    if (!curl_load_done) {
        curl_load_error = hw_curl_load_once();
        curl_load_done = 1;
    }
    return curl_load_error;
}

CURL *hw_curl_easy_init(void) { return curl.easy_init(); }
void hw_curl_easy_cleanup(CURL *handle) { curl.easy_cleanup(handle); }
void hw_curl_easy_reset(CURL *handle) { curl.easy_reset(handle); }
CURLcode hw_curl_easy_perform(CURL *handle) { return curl.easy_perform(handle); }
const char *hw_curl_easy_strerror(CURLcode code) { return curl.easy_strerror(code); }

struct curl_slist *hw_curl_slist_append(struct curl_slist *list, const char *line) {
    return curl.slist_append(list, line);
}

void hw_curl_slist_free_all(struct curl_slist *list) { curl.slist_free_all(list); }

CURLcode hw_curl_set_long(CURL *handle, CURLoption option, long value) {
    return curl.easy_setopt(handle, option, value);
}

CURLcode hw_curl_set_string(CURL *handle, CURLoption option, const char *value) {
    return curl.easy_setopt(handle, option, value);
}

CURLcode hw_curl_set_pointer(CURL *handle, CURLoption option, void *value) {
    return curl.easy_setopt(handle, option, value);
}

CURLcode hw_curl_set_slist(CURL *handle, CURLoption option, struct curl_slist *list) {
    return curl.easy_setopt(handle, option, list);
}

CURLcode hw_curl_set_size(CURL *handle, CURLoption option, curl_off_t value) {
    return curl.easy_setopt(handle, option, value);
}

CURLcode hw_curl_set_write_function(CURL *handle, hw_curl_write_fn function) {
    return curl.easy_setopt(handle, CURLOPT_WRITEFUNCTION, function);
}

CURLcode hw_curl_set_header_function(CURL *handle, hw_curl_write_fn function) {
    return curl.easy_setopt(handle, CURLOPT_HEADERFUNCTION, function);
}

CURLcode hw_curl_get_response_code(CURL *handle, long *code) {
    return curl.easy_getinfo(handle, CURLINFO_RESPONSE_CODE, code);
}

CURLcode hw_curl_get_long(CURL *handle, CURLINFO info, long *value) {
    return curl.easy_getinfo(handle, info, value);
}

int hw_set_parent_death_signal(int signal) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0, 0, 0);
}

void hw_rate_set_holder(hw_rate_segment *segment, int32_t pid) {
    __atomic_store_n(&segment->holder, pid, __ATOMIC_SEQ_CST);
}

int32_t hw_rate_get_holder(hw_rate_segment *segment) {
    return __atomic_load_n(&segment->holder, __ATOMIC_SEQ_CST);
}

int hw_rate_clear_holder(hw_rate_segment *segment, int32_t pid) {
    int32_t expected = pid;
    return __atomic_compare_exchange_n(&segment->holder, &expected, 0, 0, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}

int hw_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}
