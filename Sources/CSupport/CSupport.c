#define _GNU_SOURCE
#include "CSupport.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <signal.h>
#include <sys/prctl.h>

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
