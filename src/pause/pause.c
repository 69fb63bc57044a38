/* spacekeeper-pause: the whole program of an image-preload container. It
 * sleeps until SIGTERM or SIGINT and exits 0 at once, so a rollout never
 * waits out a grace period; it needs no shell and no library from the
 * image it runs in (built static). `--install DEST` copies the program
 * itself to DEST, which is how the init container puts it into the
 * volume the preload containers share, without needing a cp. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int fail(const char *what, const char *path)
{
    fprintf(stderr, "spacekeeper-pause: %s %s: %s\n", what, path, strerror(errno));
    return 1;
}

/* Copies /proc/self/exe to dest (through a temporary name, so a reader
 * never sees half a program). */
static int install(const char *dest)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", dest) >= (int)sizeof tmp)
        return fail("path too long:", dest);
    int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return fail("cannot read", "/proc/self/exe");
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0555);
    if (out < 0) {
        close(in);
        return fail("cannot create", tmp);
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) {
                close(in), close(out);
                return fail("cannot write", tmp);
            }
            off += w;
        }
    close(in);
    if (n < 0 || close(out) < 0 || chmod(tmp, 0555) < 0 || rename(tmp, dest) < 0)
        return fail("cannot install", dest);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--install") == 0)
        return install(argv[2]);
    if (argc != 1) {
        fputs("usage: spacekeeper-pause [--install DEST]\n", stderr);
        return 2;
    }
    /* As PID 1 a signal without a handler is ignored: install handlers,
     * and wait with the signals blocked outside sigsuspend so none is lost
     * between the check and the wait. */
    sigset_t block, wait_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &wait_mask);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigdelset(&wait_mask, SIGTERM);
    sigdelset(&wait_mask, SIGINT);
    while (!stopping)
        sigsuspend(&wait_mask);
    return 0;
}
