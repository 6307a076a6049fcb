/*
 * The ceiling for one process per item on this machine: WORKERS threads,
 * each starting `/bin/echo LINE` with posix_spawn (vfork semantics in
 * glibc), its stdout on a pipe read to the end, then waiting for it; N items
 * in all. Nothing is stored and nothing is looked up: batch's per-item mode
 * is reported as a ratio to this.
 *
 *   cc -O2 -pthread spawn_bound.c -o spawn_bound && ./spawn_bound 5000 2
 * prints: items seconds
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static long total;
static atomic_long next_line = 1;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void *worker(void *unused) {
    (void)unused;
    char line[32], buffer[4096];
    for (;;) {
        long item = atomic_fetch_add(&next_line, 1);
        if (item > total) return NULL;
        snprintf(line, sizeof line, "%ld", item);
        int out[2];
        if (pipe2(out, O_CLOEXEC) != 0) { perror("pipe"); exit(1); }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, out[1], 1);
        char *argv[] = {"echo", line, NULL};
        pid_t pid;
        if (posix_spawn(&pid, "/bin/echo", &actions, NULL, argv, environ) != 0) { perror("posix_spawn"); exit(1); }
        posix_spawn_file_actions_destroy(&actions);
        close(out[1]);
        while (read(out[0], buffer, sizeof buffer) > 0) {}
        close(out[0]);
        int status;
        waitpid(pid, &status, 0);
    }
}

int main(int argc, char **argv) {
    total = argc > 1 ? atol(argv[1]) : 5000;
    int workers = argc > 2 ? atoi(argv[2]) : 2;
    pthread_t threads[256];
    double t0 = now();
    for (int i = 0; i < workers && i < 256; i++) pthread_create(&threads[i], NULL, worker, NULL);
    for (int i = 0; i < workers && i < 256; i++) pthread_join(threads[i], NULL);
    printf("%ld %.3f\n", total, now() - t0);
    return 0;
}
