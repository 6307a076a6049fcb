#ifndef BATCH_LINUX_H
#define BATCH_LINUX_H

#include <sys/types.h>

/// Linux calls that Swift's Glibc module does not import (they are declared
/// only under _GNU_SOURCE, or in headers outside the module), as plain C
/// functions rather than symbols named by hand from Swift.

/// pipe2(2): both ends created with `flags` (O_CLOEXEC) at once.
int batch_pipe2(int fds[2], int flags);

/// pidfd_open(2) (Linux 5.3): a descriptor for the process, readable once it
/// has exited; -1 and errno when it failed.
int batch_pidfd_open(pid_t pid, unsigned int flags);

/// pidfd_send_signal(2) (Linux 5.1): a signal to the very process the pidfd
/// was opened for, never to another that reused its pid.
int batch_pidfd_send_signal(int pidfd, int signal);

/// eventfd(2): a counter readable once written to.
int batch_eventfd(unsigned int initial, int flags);

/// mallopt(M_MMAP_THRESHOLD, bytes): allocations of this size or more are
/// mmapped, so their memory goes back to the system when freed.
int batch_set_mmap_threshold(int bytes);

#endif
