#define _GNU_SOURCE
#include "batch_linux.h"

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

int batch_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }

int batch_pidfd_open(pid_t pid, unsigned int flags) { return (int)syscall(SYS_pidfd_open, pid, flags); }

int batch_pidfd_send_signal(int pidfd, int signal) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0);
}

int batch_eventfd(unsigned int initial, int flags) { return eventfd(initial, flags); }

int batch_set_mmap_threshold(int bytes) { return mallopt(M_MMAP_THRESHOLD, bytes); }
