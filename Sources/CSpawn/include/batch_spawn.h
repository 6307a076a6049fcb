#ifndef BATCH_SPAWN_H
#define BATCH_SPAWN_H

#include <sys/types.h>

/// Starts `path` with `argv` and `envp` in `cwd`, in a process group of its
/// own, with stdin from /dev/null, stdout and stderr on the given
/// descriptors, no other descriptor, default signal handling and an empty
/// signal mask; and, unlike posix_spawn, with `parent_death_signal` sent to
/// it by the kernel when the thread that started it dies (PR_SET_PDEATHSIG),
/// so a command dies with a daemon that is SIGKILLed.
///
/// Returns 0 and the pid in `*pid`, or the errno of what failed (in this
/// process, or in the child before its exec, which is then reaped).
int batch_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], const char *cwd,
                int stdout_fd, int stderr_fd, int parent_death_signal);

#endif
