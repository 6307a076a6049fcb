// A posix_spawn with one more step in the child: PR_SET_PDEATHSIG, which
// posix_spawn has no attribute for. The child is started with vfork, as glibc's
// posix_spawn does (no copy of the daemon's memory), and only makes system
// calls before its exec.
#define _GNU_SOURCE
#include "batch_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int batch_spawn(pid_t *pid_out, const char *path, char *const argv[], char *const envp[], const char *cwd,
                int stdout_fd, int stderr_fd, int parent_death_signal) {
    // Signals stay blocked until the exec: a handler of the daemon's must never
    // run in the child, which shares the daemon's memory until then.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    volatile int child_error = 0;
    pid_t parent = getpid();
    pid_t pid = vfork();
    if (pid == 0) {
        struct sigaction dfl = {0};
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; sig++) {
            if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);
        }
        if (setpgid(0, 0) != 0) goto fail;
        if (parent_death_signal > 0) {
            if (prctl(PR_SET_PDEATHSIG, parent_death_signal) != 0) goto fail;
            // The daemon died before the line above: nobody would kill this one.
            if (getppid() != parent) _exit(127);
        }
        int null = open("/dev/null", O_RDONLY);
        if (null < 0 || dup2(null, 0) < 0) goto fail;
        if (dup2(stdout_fd, 1) < 0 || dup2(stderr_fd, 2) < 0) goto fail;
        if (cwd && chdir(cwd) != 0) goto fail;
        // No descriptor of the daemon's reaches the command.
        syscall(SYS_close_range, 3, ~0U, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(path, argv, envp);
    fail:
        child_error = errno ? errno : ENOEXEC;
        _exit(127);
    }
    int error = pid < 0 ? errno : 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (error) return error;
    if (child_error) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        return child_error;
    }
    *pid_out = pid;
    return 0;
}
