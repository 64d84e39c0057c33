// SPDX-License-Identifier: GPL-2.0
/*
 * userptr-race: one race of the driver's revocation, made deterministic by
 * holding a vCPU at a chosen instruction (the host relay's vCPU stall, over
 * QEMU's gdbstub; see scripts/host-relay.py).
 *
 * The race (rule 4 of the driver's lifetime rules, the REVOKING bit): a
 * munmap's notifier callback marks a userptr A revoked and, before it tries
 * A's lock to send the RESOURCE_UNREF itself, loses the CPU. Meanwhile the
 * userptr worker, which had A queued from an earlier MADV_DONTNEED, sees the
 * mark, collects A's fences and holds A on its local list until its batch
 * ends. If the callback then sent the UNREF too, its answer would put A on
 * the release list while A is still on the worker's list.
 *
 * How the interleaving is forced, with the guest on two vCPUs:
 *   1. A child process (on vCPU 1) stalls the creation of a userptr C in a
 *      userfaultfd page and unmaps a page of C: the worker waits for C's
 *      lock, which the stalled creation holds.
 *   2. The parent (on vCPU 0) registers A and drops a page of it with
 *      MADV_DONTNEED: A is queued behind C, to be checked.
 *   3. The child stalls a second creation, B, and unmaps a page of it: B is
 *      queued behind A.
 *   4. A breakpoint goes on the callback's call to mutex_trylock(); the
 *      parent unmaps A. Its vCPU stops there, A marked revoked; the relay
 *      resumes the other vCPU only.
 *   5. The child lets C's creation go: the worker takes A, collects its
 *      fences, and waits for B's lock (seen in /proc/PID/stack: the worker
 *      sleeps where it slept for C's lock, after a wake-up).
 *   6. The relay resumes vCPU 0: the callback goes on. It must leave A to
 *      the worker.
 *   7. The child lets B's creation go: the worker sends A's UNREF.
 * Checked: the parent's munmap was held until step 6; every pin is released
 * and A's resource is gone from the host (asked through the host channel);
 * A's handle closes. Without the REVOKING bit, the callback sends the UNREF
 * in step 6 and the worker's list is corrupted (a hang or a splat, which
 * fails the run).
 *
 * Needs root (the stall, /proc/kallsyms, /proc/PID/stack), two vCPUs,
 * userfaultfd and the host channel with the relay's vCPU stall; SKIP (TAP)
 * without them. Output: TAP, one case. Exits non-zero on failure.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "virtgpu.h"
#include "drm/virtio_gpu/hostchan.h"

#define PAGE 4096UL
#define CASE "the notifier leaves an object the worker is revoking to the worker"

#define WHY_LEN 512
/* Why the case fails or skips: shared with the child, which finds out. */
static char why_local[WHY_LEN], *why = why_local;

/* Record why the case fails or skips (the first reason wins); false. */
static bool note(const char *fmt, ...)
{
	va_list ap;

	if (!why[0]) {
		va_start(ap, fmt);
		vsnprintf(why, WHY_LEN, fmt, ap);
		va_end(ap);
	}
	return false;
}

static void pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		perror("sched_setaffinity");
}

/* --- where to stall: from /proc/kallsyms ---------------------------------- */

struct stall_site {
	unsigned long long from, to;	/* the function that holds the call */
	unsigned long long callee[2];	/* mutex_trylock(), as built */
	int ncallees;
};

static bool sym_is(const char *name, const char *want)
{
	size_t n = strlen(want);

	/* GCC may suffix a static function: name.isra.0, name.constprop.0 */
	return !strncmp(name, want, n) && (!name[n] || name[n] == '.');
}

static bool find_stall_site(struct stall_site *s)
{
	static const char *const callees[] = { "_mutex_trylock_nest_lock", "mutex_trylock" };
	unsigned long long revoke_now = 0, invalidate = 0, a;
	unsigned long long *text = NULL;
	size_t ntext = 0, cap = 0, i;
	char line[512], name[256], type;
	FILE *f = fopen("/proc/kallsyms", "r");

	memset(s, 0, sizeof(*s));
	if (!f)
		return note("no /proc/kallsyms: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &a, &type, name) != 3 ||
		    (type != 't' && type != 'T'))
			continue;
		if (ntext == cap) {
			cap = cap ? 2 * cap : 65536;
			text = realloc(text, cap * sizeof(*text));
			if (!text)
				return note("out of memory");
		}
		text[ntext++] = a;
		if (sym_is(name, "virtio_gpu_userptr_revoke_now"))
			revoke_now = a;
		else if (sym_is(name, "virtio_gpu_userptr_invalidate"))
			invalidate = a;
		for (i = 0; i < 2; i++)
			if (!strcmp(name, callees[i]) && s->ncallees < 2)
				s->callee[s->ncallees++] = a;
	}
	fclose(f);
	/* The call is in revoke_now(), or in the callback it was inlined into. */
	s->from = revoke_now ? revoke_now : invalidate;
	if (!s->from || !s->ncallees) {
		free(text);
		return note("the driver's callback or mutex_trylock() is not in /proc/kallsyms (addresses hidden, or another build)");
	}
	s->to = ~0ULL;
	for (i = 0; i < ntext; i++)
		if (text[i] > s->from && text[i] < s->to)
			s->to = text[i];
	free(text);
	return true;
}

/* --- the host channel's vCPU stall ---------------------------------------- */

/* Ask the relay; false (and why) on an error answer. */
static bool relay(int chan, char *out, size_t len, const char *what, const char *args)
{
	if (hostchan_ask(chan, out, len,
			 "{\"execute\": \"x-relay-vcpu-stall-%s\", \"arguments\": {%s}}",
			 what, args))
		return note("the host channel did not answer x-relay-vcpu-stall-%s", what);
	if (strstr(out, "\"error\""))
		return note("x-relay-vcpu-stall-%s: %s", what, out);
	return true;
}

/* --- a creation stalled in a userfaultfd page ----------------------------- */

struct stalled {
	int fd, uffd, ret;
	char *p;
	size_t size;
	uint32_t bo;
	pthread_t thread;
};

static void *stalled_create(void *arg)
{
	struct stalled *c = arg;

	c->ret = virtgpu_userptr(c->fd, VIRTGPU_BLOB_MEM_GUEST, 0, c->p, c->size,
				 &c->bo, NULL);
	return NULL;
}

/*
 * Start creating a userptr over 8 pages, the last 4 registered missing with
 * userfaultfd, and return once its pin waits in the first of those; then
 * unmap its first page, which queues it for the worker (its creation holds
 * its lock). 0, 1 without userfaultfd, or -1 (why says it).
 */
static int stall_creation(struct stalled *c, int fd)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	struct pollfd pfd = { .events = POLLIN };
	struct uffd_msg msg;

	c->fd = fd;
	c->size = 8 * PAGE;
	c->uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	if (c->uffd < 0) {
		note("no userfaultfd: %s", strerror(errno));
		return 1;
	}
	c->p = mmap(NULL, c->size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->p == MAP_FAILED || ioctl(c->uffd, UFFDIO_API, &api))
		return note("userfaultfd setup: %s", strerror(errno)) - 1;
	memset(c->p, 1, c->size / 2);
	reg.range.start = (uintptr_t)(c->p + c->size / 2);
	reg.range.len = c->size / 2;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(c->uffd, UFFDIO_REGISTER, &reg))
		return note("UFFDIO_REGISTER: %s", strerror(errno)) - 1;
	errno = pthread_create(&c->thread, NULL, stalled_create, c);
	if (errno)
		return note("pthread_create: %s", strerror(errno)) - 1;
	pfd.fd = c->uffd;
	if (poll(&pfd, 1, 30000) != 1 || read(c->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		return note("the creation did not fault in the userfaultfd page") - 1;
	if (munmap(c->p, PAGE))
		return note("munmap: %s", strerror(errno)) - 1;
	return 0;
}

/* Let the stalled creation go (it fails or leaves a revoked object). */
static bool release_creation(struct stalled *c)
{
	close(c->uffd); /* wakes the fault */
	pthread_join(c->thread, NULL);
	if (c->ret == 0) {
		if (virtgpu_info(c->fd, c->bo) != -EFAULT)
			return note("a creation whose range was unmapped left a live object");
		return virtgpu_gem_close(c->fd, c->bo) == 0 ||
		       note("GEM_CLOSE of a revoked object failed");
	}
	return c->ret == -EFAULT || note("the stalled creation failed with %d", c->ret);
}

/* --- the worker, seen from /proc ------------------------------------------ */

struct worker {
	int pid;
	long switches;
	char site[128];	/* the top frame: where in the work it sleeps */
};

static long voluntary_switches(int pid)
{
	char path[64], line[128];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

/*
 * The kworker that sleeps in the userptr worker itself: its top frame is
 * virtio_gpu_userptr_work (a stack trace leaves out the lock's __sched
 * functions), as when it waits for an object's lock. With @not: at the same
 * place as @not, but not the same task in the same sleep (the voluntary
 * context switches tell). False if there is none.
 */
static bool find_waiting_worker(struct worker *w, const struct worker *not)
{
	char path[64], stack[4096], *top;
	struct dirent *e;
	bool found = false;
	DIR *d = opendir("/proc");

	while (d && !found && (e = readdir(d))) {
		int pid = atoi(e->d_name), fd;
		ssize_t n;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stack", pid);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, stack, sizeof(stack) - 1);
		close(fd);
		if (n <= 0)
			continue;
		stack[n] = 0;
		*strchrnul(stack, '\n') = 0;
		top = strstr(stack, "] virtio_gpu_userptr_work+");
		if (!top)
			continue;
		w->pid = pid;
		w->switches = voluntary_switches(pid);
		snprintf(w->site, sizeof(w->site), "%.100s", top + 2);
		found = !not || (!strcmp(w->site, not->site) &&
				 (w->pid != not->pid || w->switches != not->switches));
	}
	if (d)
		closedir(d);
	return found;
}

static bool wait_waiting_worker(struct worker *w, const struct worker *not)
{
	double end = virtgpu_now() + 30;

	while (!find_waiting_worker(w, not))
		if (virtgpu_now() > end)
			return false;
		else
			usleep(5000);
	return true;
}

/* --- what the test moves out of the stalled vCPU's way -------------------- */

/*
 * Route every interrupt that can be moved, and the unbound workqueues, to
 * vCPU 1 while vCPU 0 is held: the host channel's answers, the device's
 * answers and the worker must not wait for a stopped vCPU. @restore undoes.
 */
static void away_from_cpu0(bool restore)
{
	static char saved[256][32], wq[64];
	static const char *const wq_path = "/sys/devices/virtual/workqueue/cpumask";
	char path[64];
	int irq, fd;
	ssize_t n;

	for (irq = 0; irq < 256; irq++) {
		snprintf(path, sizeof(path), "/proc/irq/%d/smp_affinity", irq);
		fd = open(path, O_RDWR);
		if (fd < 0)
			continue;
		if (!restore) {
			n = read(fd, saved[irq], sizeof(saved[irq]) - 1);
			saved[irq][n > 0 ? n : 0] = 0;
			if (write(fd, "2", 1) < 0) {
				/* a managed or per-CPU interrupt: it stays */
			}
		} else if (saved[irq][0] && write(fd, saved[irq], strlen(saved[irq])) < 0) {
			/* as above */
		}
		close(fd);
	}
	fd = open(wq_path, O_RDWR);
	if (fd < 0)
		return;
	if (!restore) {
		n = read(fd, wq, sizeof(wq) - 1);
		wq[n > 0 ? n : 0] = 0;
		if (write(fd, "2", 1) < 0)
			perror(wq_path);
	} else if (wq[0] && write(fd, wq, strlen(wq)) < 0) {
		perror(wq_path);
	}
	close(fd);
}

/* --- the two processes ---------------------------------------------------- */

enum { SKIP = 1, FAIL = 2 };

/*
 * The child, on vCPU 1: steps 1 and 3 to 7. @to_parent and @from_parent
 * carry one byte per step; @pins_before is the guest's pin count before A.
 * Returns 0, SKIP or FAIL (why says it).
 */
static int child(int to_parent, int from_parent, uint32_t res_a, long pins_before)
{
	struct stalled c = { 0 }, b = { 0 };
	struct worker on_c, on_b;
	struct stall_site site;
	struct hostchan_view view;
	char line[1024], args[256], byte;
	struct pollfd pfd = { .fd = from_parent, .events = POLLIN };
	int fd, chan, ret = FAIL, i;
	double held = 0;
	char path[64];

	pin_to_cpu(1);
	if (!find_stall_site(&site))
		return SKIP;
	if (access("/proc/self/stack", R_OK)) {
		note("no /proc/PID/stack (CONFIG_STACKTRACE): %s", strerror(errno));
		return SKIP;
	}
	chan = hostchan_open();
	if (chan < 0) {
		note("no host channel (%s)", strerror(-chan));
		return SKIP;
	}
	fd = virtgpu_open(path, sizeof(path));
	if (fd < 0) {
		note("no virtio-gpu render node");
		return SKIP;
	}

	/* 1. The worker waits for C's lock. */
	i = stall_creation(&c, fd);
	if (i)
		return i > 0 ? SKIP : FAIL;
	if (!wait_waiting_worker(&on_c, NULL)) {
		note("the worker did not wait for the lock of C, whose creation holds it");
		release_creation(&c);
		return FAIL;
	}
	/* 2. A is queued behind C. */
	if (write(to_parent, "d", 1) != 1 || read(from_parent, &byte, 1) != 1 || byte != 'd') {
		note("the parent did not drop a page of A");
		goto out_c;
	}
	/* 3. B is queued behind A. */
	if (stall_creation(&b, fd))
		goto out_c;

	/* 4. Hold the parent's munmap of A at the callback's mutex_trylock(). */
	snprintf(args, sizeof(args),
		 "\"from\": %llu, \"to\": %llu, \"callees\": [%llu, %llu], \"timeout\": 60",
		 site.from, site.to, site.callee[0],
		 site.callee[site.ncallees - 1]);
	if (!relay(chan, line, sizeof(line), "arm", args)) {
		if (strstr(why, "only relays"))
			ret = SKIP; /* a relay without the vCPU stall */
		goto out_b;
	}
	if (write(to_parent, "m", 1) != 1) {
		note("the parent is gone");
		goto out_release;
	}
	if (!relay(chan, line, sizeof(line), "wait", ""))
		goto out_b; /* the relay resumed everything */
	held = virtgpu_now();
	if (hostchan_field(line, "vcpu") != 0) {
		note("vCPU %llu reached the breakpoint, not the parent's vCPU 0: %s",
		     (unsigned long long)hostchan_field(line, "vcpu"), line);
		goto out_release;
	}

	/* 5. The worker takes A, then waits for B's lock. */
	if (!release_creation(&c)) {
		c.uffd = -1;
		goto out_release;
	}
	c.uffd = -1;
	if (!wait_waiting_worker(&on_b, &on_c)) {
		note("the worker did not go on to wait for B's lock");
		goto out_release;
	}
	if (poll(&pfd, 1, 0) != 0) {
		note("the parent's munmap returned while its vCPU was held");
		goto out_release;
	}

	/* 6. The callback goes on; the munmap returns. */
	if (!relay(chan, line, sizeof(line), "release", ""))
		goto out_b;
	printf("# vCPU 0 held in the callback for %.1f ms; the worker waited at %s for C (pid %d, %ld switches), then for B (pid %d, %ld switches)\n",
	       (virtgpu_now() - held) * 1e3, on_c.site, on_c.pid, on_c.switches,
	       on_b.pid, on_b.switches);
	if (poll(&pfd, 1, 30000) != 1 || read(from_parent, &byte, 1) != 1 || byte != 'M') {
		note("the parent's munmap did not return once its vCPU was resumed");
		goto out_b;
	}

	/* 7. The worker sends A's UNREF; everything is released. */
	if (!release_creation(&b))
		goto out;
	b.uffd = -1;
	if (virtgpu_wait_pins(pins_before, 30) != pins_before) {
		note("pins outstanding: %ld, %ld before the case", virtgpu_pins(), pins_before);
		goto out;
	}
	for (i = 0; i < 1000; i++) {
		if (hostchan_view(chan, res_a, &view)) {
			note("the host channel did not answer");
			goto out;
		}
		if (!view.exists)
			break;
		usleep(10000);
	}
	if (view.exists) {
		note("resource %u still exists on the host", res_a);
		goto out;
	}
	ret = 0;
	goto out;

out_release:
	relay(chan, line, sizeof(line), "release", "");
out_b:
	if (b.uffd > 0)
		release_creation(&b);
out_c:
	if (c.uffd > 0)
		release_creation(&c);
out:
	close(fd);
	close(chan);
	return ret;
}

int main(void)
{
	int down[2], up[2], status, ret, fd;
	char path[64], byte, *a;
	uint32_t bo, res;
	long pins_before;
	pid_t pid;

	setvbuf(stdout, NULL, _IONBF, 0);
	printf("TAP version 13\n1..1\n");
	if (geteuid() != 0 || sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		printf("ok 1 %s # SKIP needs root and two vCPUs\n", CASE);
		return 0;
	}
	why = mmap(NULL, WHY_LEN, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (why == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	fd = virtgpu_open(path, sizeof(path));

	if (fd < 0) {
		printf("ok 1 %s # SKIP no virtio-gpu render node\n", CASE);
		return 0;
	}
	pin_to_cpu(0);
	away_from_cpu0(false);
	pins_before = virtgpu_pins();
	a = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(a, 7, 4 * PAGE);
	ret = virtgpu_userptr(fd, VIRTGPU_BLOB_MEM_GUEST, 0, a, 4 * PAGE, &bo, &res);
	if (ret) {
		printf("not ok 1 %s # creating A: %s\n", CASE, strerror(-ret));
		return 1;
	}
	if (pipe(down) || pipe(up)) {
		perror("pipe");
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		close(down[0]);
		close(up[1]);
		_exit(child(down[1], up[0], res, pins_before));
	}
	close(down[1]);
	close(up[0]);
	/* The parent, on vCPU 0: steps 2 and 4 (A's pages stay pinned: 4). */
	while (read(down[0], &byte, 1) == 1) {
		if (byte == 'd') {
			if (madvise(a + PAGE, PAGE, MADV_DONTNEED))
				perror("madvise");
			if (write(up[1], "d", 1) != 1)
				break;
		} else if (byte == 'm') {
			munmap(a, 4 * PAGE);
			if (write(up[1], "M", 1) != 1)
				break;
		}
	}
	waitpid(pid, &status, 0);
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : FAIL;
	if (ret == 0 && virtgpu_gem_close(fd, bo)) {
		note("GEM_CLOSE of the revoked A failed: %s", strerror(errno));
		ret = FAIL;
	}
	if (ret == 0 && virtgpu_wait_pins(pins_before, 30) != pins_before) {
		note("pins outstanding after closing A: %ld, %ld before", virtgpu_pins(),
		     pins_before);
		ret = FAIL;
	}
	away_from_cpu0(true);
	if (ret == SKIP)
		printf("ok 1 %s # SKIP %s\n", CASE, why);
	else if (ret)
		printf("not ok 1 %s # %s\n", CASE, why[0] ? why : "the child died");
	else
		printf("ok 1 %s\n", CASE);
	return ret == FAIL;
}
