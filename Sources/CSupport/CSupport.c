#define _GNU_SOURCE
#include "CSupport.h"

#include <fcntl.h>
#include <unistd.h>

#include <signal.h>
#include <sys/prctl.h>

CURLcode hw_curl_set_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode hw_curl_set_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode hw_curl_set_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode hw_curl_set_slist(CURL *handle, CURLoption option, struct curl_slist *list) {
    return curl_easy_setopt(handle, option, list);
}

CURLcode hw_curl_set_size(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode hw_curl_set_write_function(CURL *handle, hw_curl_write_fn function) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, function);
}

CURLcode hw_curl_set_header_function(CURL *handle, hw_curl_write_fn function) {
    return curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, function);
}

CURLcode hw_curl_get_response_code(CURL *handle, long *code) {
    return curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, code);
}

CURLcode hw_curl_get_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
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
