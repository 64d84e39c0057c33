// SPDX-License-Identifier: GPL-2.0
/*
 * userptr-soak: a seeded random soak of virtio-gpu userptrs for a bounded
 * time.
 *
 * Several threads, each with its own DRM file and its own memory ("arenas",
 * some THP-backed), run a random mix: create userptrs of random size and
 * flags (USERPTR_RDONLY included) over random, overlapping subranges; close
 * handles; munmap part of an arena (then map it again) or all of it;
 * replace part of it with mmap(MAP_FIXED); mremap it (grow, shrink, move);
 * MADV_DONTNEED part of it; write into it; fork children that exit, exec
 * /bin/true, exec this program with --noop, or register memory of their own
 * on a DRM file they keep across exec; close and reopen the DRM file; read
 * the driver's debugfs list. One unprivileged process (uid 65534, a small
 * RLIMIT_MEMLOCK) registers near its limit and must see only successes and
 * ENOMEM/EAGAIN refusals, never a registration beyond its limit.
 *
 * Invariants, checked continuously and at the end:
 * - a handle whose range the process still holds works (RESOURCE_INFO 0),
 *   is listed live in debugfs, and the device reads the process's bytes
 *   (sampled through the host channel; SKIPped visibly without one);
 * - a handle whose range was given up reports -EFAULT (within a grace time:
 *   MADV_DONTNEED is checked by the driver's worker);
 * - every syscall of the mix either succeeds or fails the way it may;
 * - at the end, with every file closed: pins (nr_foll_pin_*) and VmPin back
 *   to their baselines, the debugfs list empty, the unprivileged user able to
 *   register exactly its limit again, and the device still answering.
 *
 * Each thread's random sequence derives from the seed; the interleaving of
 * threads does not, so a seed reproduces the mix, not the exact schedule.
 *
 * Usage: userptr-soak [--seconds N] [--seed S] [--threads N] [--plant KIND]
 *        userptr-soak --noop          (exits 0 at once: the exec target)
 * --plant live|revoke|device|leak makes one check see a violation on purpose,
 * to show it can fail. Prints operations per kind, the seed, the invariant
 * checks made and failures, and a line "RESULT-JSON: {...}". Exits non-zero
 * on any violation.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <drm/drm.h>
#include <drm/virtgpu_drm.h>

#include "drm/virtio_gpu/hostchan.h"
#include "virtgpu.h"

#define PAGE 4096UL
#define MIB (1UL << 20)
#define DEBUGFS "/sys/kernel/debug"
#define MAX_THREADS 8
#define MAX_ARENAS 6
#define MAX_SLOTS 48
#define GRACE 10.0		/* seconds for a revocation to show */
#define UNPRIV_LIMIT 64		/* pages of RLIMIT_MEMLOCK */

enum op {
	OP_CREATE, OP_CLOSE, OP_MUNMAP_PART, OP_MUNMAP_ARENA, OP_MAP_FIXED,
	OP_MREMAP, OP_DONTNEED, OP_WRITE, OP_FORK_EXIT, OP_FORK_EXEC_TRUE,
	OP_FORK_EXEC_SELF, OP_FORK_REGISTER, OP_REOPEN, OP_DEBUGFS,
	OP_CHECK_HANDLES, OP_CHECK_DEVICE, OP_UNPRIV_CREATE, OP_UNPRIV_REFUSED,
	OP_UNPRIV_CLOSE, NOPS
};

static const char *const op_name[NOPS] = {
	"create", "close", "munmap_part", "munmap_arena", "map_fixed",
	"mremap", "madv_dontneed", "write", "fork_exit", "fork_exec_true",
	"fork_exec_self", "fork_register", "reopen_fd", "read_debugfs",
	"check_handles", "check_device", "unpriv_create", "unpriv_refused",
	"unpriv_close",
};

/* Weights of the threads' mix (the unprivileged process has its own). */
static const unsigned int weight[NOPS] = {
	[OP_CREATE] = 30, [OP_CLOSE] = 14, [OP_MUNMAP_PART] = 4,
	[OP_MUNMAP_ARENA] = 2, [OP_MAP_FIXED] = 4, [OP_MREMAP] = 4,
	[OP_DONTNEED] = 4, [OP_WRITE] = 8, [OP_FORK_EXIT] = 2,
	[OP_FORK_EXEC_TRUE] = 1, [OP_FORK_EXEC_SELF] = 1,
	[OP_FORK_REGISTER] = 2, [OP_REOPEN] = 1, [OP_DEBUGFS] = 3,
	[OP_CHECK_HANDLES] = 8, [OP_CHECK_DEVICE] = 8,
};

static struct {
	double deadline;
	uint64_t seed;
	int nthreads;
	const char *plant;
	const char *self;	/* /proc/self/exe resolved */
	uint64_t supported;
	int chan;
	pthread_mutex_t chan_lock;
	atomic_ulong ops[NOPS];
	atomic_ulong checks, failures, tolerated;
	atomic_ulong device_checks;
	pthread_mutex_t print_lock;
	/*
	 * Held around every mapping whose place the kernel chooses (mmap
	 * without MAP_FIXED, mremap with MREMAP_MAYMOVE) and around the
	 * munmap and mmap(MAP_FIXED) that replace part of an arena. Without
	 * it another thread's new mapping can land in the hole between the
	 * two; the MAP_FIXED, or a later munmap of this arena, then destroys
	 * that thread's memory: seen as EFAULT on creations in a held arena
	 * and forked children killed by SIGSEGV.
	 */
	pthread_mutex_t vm_lock;
} g = {
	.chan_lock = PTHREAD_MUTEX_INITIALIZER,
	.print_lock = PTHREAD_MUTEX_INITIALIZER,
	.vm_lock = PTHREAD_MUTEX_INITIALIZER,
};

static void violation(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&g.print_lock);
	printf("# VIOLATION: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	pthread_mutex_unlock(&g.print_lock);
	atomic_fetch_add(&g.failures, 1);
}

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64* */
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static uint64_t below(uint64_t *s, uint64_t n)
{
	return n ? rnd(s) % n : 0;
}

/* --- the driver ---------------------------------------------------------- */

static int open_node(int cloexec)
{
	char node[64];
	int fd = virtgpu_open(node, sizeof(node)), fd2;

	if (fd < 0 || cloexec)
		return fd;
	/* Without O_CLOEXEC, to keep it across exec. */
	fd2 = fcntl(fd, F_DUPFD, 3);
	close(fd);
	return fd2;
}

static int create(int fd, uint32_t flags, const void *p, size_t len,
		  uint32_t *h, uint32_t *res)
{
	return virtgpu_userptr(fd, VIRTGPU_BLOB_MEM_GUEST, flags, p, len, h, res);
}

static FILE *open_debugfs(void)
{
	char path[300];
	struct dirent *e;
	FILE *f = NULL;
	DIR *d = opendir(DEBUGFS "/dri");

	while (d && !f && (e = readdir(d))) {
		snprintf(path, sizeof(path), DEBUGFS "/dri/%s/virtio-gpu-userptr", e->d_name);
		f = fopen(path, "r");
	}
	if (d)
		closedir(d);
	return f;
}

/* --- one thread's world -------------------------------------------------- */

struct arena {
	char *base;		/* NULL: unused */
	size_t len;
	uint64_t gen;		/* content seed */
	bool split;		/* more than one VMA: mremap would refuse it */
};

struct slot {
	bool used;
	uint32_t h, res;
	int arena;		/* -1 once the arena is gone */
	size_t off, len;
	bool ro;
	bool given_up;		/* the process gave (part of) the range up */
	double given_up_at;
};

struct world {
	int id;
	uint64_t rng;
	int fd;
	struct arena a[MAX_ARENAS];
	struct slot s[MAX_SLOTS];
	unsigned long ops;
};

static void new_arena(struct world *w, int i)
{
	bool thp = below(&w->rng, 6) == 0;
	size_t len = thp ? 4 * MIB : (1 + below(&w->rng, 512)) * PAGE;
	size_t maplen = thp ? len + 2 * MIB : len;
	char *raw, *p;

	pthread_mutex_lock(&g.vm_lock);
	raw = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w->a[i].base = NULL;
	if (raw == MAP_FAILED) {
		pthread_mutex_unlock(&g.vm_lock);
		violation("thread %d: mmap of %zu bytes: %s", w->id, maplen, strerror(errno));
		return;
	}
	p = raw;
	if (thp) {
		p = (char *)(((uintptr_t)raw + 2 * MIB - 1) & ~(2 * MIB - 1));
		if (p > raw)
			munmap(raw, p - raw);
		if (raw + maplen > p + len)
			munmap(p + len, raw + maplen - (p + len));
		madvise(p, len, MADV_HUGEPAGE);
	}
	pthread_mutex_unlock(&g.vm_lock);
	w->a[i].base = p;
	w->a[i].len = len;
	w->a[i].gen = rnd(&w->rng);
	w->a[i].split = false;
	hostchan_fill(p, len, w->a[i].gen);
}

/* Mark the slots over [off, off + len) of arena @ai given up. */
static void give_up(struct world *w, int ai, size_t off, size_t len)
{
	double t = virtgpu_now();
	int i;

	for (i = 0; i < MAX_SLOTS; i++) {
		struct slot *s = &w->s[i];

		if (!s->used || s->arena != ai || s->given_up)
			continue;
		if (s->off < off + len && off < s->off + s->len) {
			s->given_up = true;
			s->given_up_at = t;
		}
	}
}

static void forget_arena(struct world *w, int ai)
{
	int i;

	give_up(w, ai, 0, w->a[ai].len);
	for (i = 0; i < MAX_SLOTS; i++)
		if (w->s[i].used && w->s[i].arena == ai)
			w->s[i].arena = -1;
	w->a[ai].base = NULL;
}

static int pick_arena(struct world *w)
{
	int i, start = below(&w->rng, MAX_ARENAS);

	for (i = 0; i < MAX_ARENAS; i++) {
		int ai = (start + i) % MAX_ARENAS;

		if (w->a[ai].base)
			return ai;
	}
	return -1;
}

static int pick_slot(struct world *w)
{
	int i, start = below(&w->rng, MAX_SLOTS);

	for (i = 0; i < MAX_SLOTS; i++) {
		int si = (start + i) % MAX_SLOTS;

		if (w->s[si].used)
			return si;
	}
	return -1;
}

/* A random page-aligned subrange of arena @ai, at most @max_pages long. */
static void subrange(struct world *w, int ai, size_t max_pages, size_t *off, size_t *len)
{
	size_t pages = w->a[ai].len / PAGE, n;

	n = 1 + below(&w->rng, pages < max_pages ? pages : max_pages);
	*off = below(&w->rng, pages - n + 1) * PAGE;
	*len = n * PAGE;
}

static void do_close(struct world *w, int si)
{
	struct slot *s = &w->s[si];
	int ret = virtgpu_gem_close(w->fd, s->h);

	atomic_fetch_add(&g.checks, 1);
	if (ret)
		violation("thread %d: GEM_CLOSE of handle %u fails: %s", w->id, s->h, strerror(-ret));
	s->used = false;
}

/* The invariant of one handle; @final waits out the grace time. */
static void check_slot(struct world *w, int si, bool final)
{
	struct slot *s = &w->s[si];
	double deadline = s->given_up_at + GRACE;
	int ret = virtgpu_info(w->fd, s->h);

	atomic_fetch_add(&g.checks, 1);
	if (!s->given_up) {
		if (ret)
			violation("thread %d: handle %u (res %u, %zu bytes%s) of a range still held reports %s",
				  w->id, s->h, s->res, s->len, s->ro ? ", RDONLY" : "", strerror(-ret));
		return;
	}
	/* MADV_DONTNEED is checked by the driver's worker: allow it time. */
	if (ret == 0 && !final && virtgpu_now() < deadline)
		return;
	while (ret == 0 && virtgpu_now() < deadline) {
		usleep(5000);
		ret = virtgpu_info(w->fd, s->h);
	}
	if (ret != -EFAULT)
		violation("thread %d: handle %u (res %u) of a range given up %.1f s ago reports %s, not EFAULT",
			  w->id, s->h, s->res, virtgpu_now() - s->given_up_at, ret ? strerror(-ret) : "success");
}

/* What the device reads of a live slot is what the process holds. */
static void check_device(struct world *w, int si)
{
	struct slot *s = &w->s[si];
	struct hostchan_view v;
	uint64_t want;
	int ret;

	if (g.chan < 0 || s->given_up || s->arena < 0)
		return;
	want = hostchan_fnv(w->a[s->arena].base + s->off, s->len);
	if (g.plant && !strcmp(g.plant, "device"))
		want ^= 1;
	pthread_mutex_lock(&g.chan_lock);
	ret = hostchan_view(g.chan, s->res, &v);
	pthread_mutex_unlock(&g.chan_lock);
	atomic_fetch_add(&g.checks, 1);
	atomic_fetch_add(&g.device_checks, 1);
	if (ret)
		violation("thread %d: the host channel fails: %s", w->id, strerror(-ret));
	else if (!v.exists)
		violation("thread %d: the device has no resource %u of a live handle: %s",
			  w->id, s->res, v.error);
	else if (v.size != s->len || v.checksum != want || v.read_only != s->ro)
		violation("thread %d: res %u: the device reads %" PRIu64 " bytes, checksum %016" PRIx64
			  "%s; the process holds %zu bytes, %016" PRIx64 "%s",
			  w->id, s->res, v.size, v.checksum, v.read_only ? " read-only" : "",
			  s->len, want, s->ro ? " RDONLY" : "");
}

/* The debugfs list: well formed, and our live handles listed live. */
static void check_debugfs(struct world *w)
{
	char line[256], state[32], flags[8];
	uint32_t live[MAX_SLOTS];
	int nlive = 0, i, found[MAX_SLOTS] = { 0 };
	unsigned int res;
	FILE *f = open_debugfs();

	if (!f) {
		violation("no virtio-gpu-userptr list under " DEBUGFS "/dri/*/");
		return;
	}
	for (i = 0; i < MAX_SLOTS; i++)
		if (w->s[i].used && !w->s[i].given_up)
			live[nlive++] = w->s[i].res;
	while (fgets(line, sizeof(line), f)) {
		int pid;
		unsigned long start, pages;
		unsigned int ents;

		if (!strncmp(line, "res_id", 6))
			continue;
		atomic_fetch_add(&g.checks, 1);
		if (sscanf(line, "%u %d %lx %lu %u %7s %31s", &res, &pid, &start, &pages,
			   &ents, flags, state) != 7 ||
		    (strcmp(flags, "ro") && strcmp(flags, "rw")) ||
		    (strcmp(state, "live") && strcmp(state, "revoking") && strcmp(state, "revoked")) ||
		    !pages || !ents || ents > pages) {
			violation("debugfs line not understood: %s", line);
			continue;
		}
		for (i = 0; i < nlive; i++)
			if (live[i] == res && !strcmp(state, "live"))
				found[i] = 1;
	}
	fclose(f);
	for (i = 0; i < nlive; i++) {
		atomic_fetch_add(&g.checks, 1);
		if (!found[i])
			violation("thread %d: res %u of a live handle is not listed live in debugfs",
				  w->id, live[i]);
	}
}

static void reap(pid_t pid, const char *what, int want_status)
{
	int status;

	if (waitpid(pid, &status, 0) != pid) {
		violation("waitpid of the %s child: %s", what, strerror(errno));
		return;
	}
	atomic_fetch_add(&g.checks, 1);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != want_status)
		violation("the %s child ended with status %#x", what, status);
}

static void op_fork(struct world *w, enum op op)
{
	int ai = pick_arena(w);
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		violation("fork: %s", strerror(errno));
		return;
	}
	if (!pid) {
		/* Only async-signal-safe calls from here: we forked a threaded process. */
		if (ai >= 0 && w->a[ai].base)
			w->a[ai].base[0] ^= 1; /* our copy only */
		switch (op) {
		case OP_FORK_EXEC_TRUE:
			execl("/bin/true", "true", (char *)NULL);
			_exit(126);
		case OP_FORK_EXEC_SELF:
			execl(g.self, g.self, "--noop", (char *)NULL);
			_exit(126);
		case OP_FORK_REGISTER: {
			/* A file kept across exec, memory given up by the exec. */
			int fd = open_node(0);
			uint32_t h;
			char *p = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

			if (fd < 0 || p == MAP_FAILED || create(fd, 0, p, 8 * PAGE, &h, NULL) ||
			    create(fd, 0, p + PAGE, 4 * PAGE, &h, NULL))
				_exit(3);
			if (ai >= 0 && create(fd, 0, w->a[ai].base, PAGE, &h, NULL))
				_exit(4);
			if (w->rng & 1)
				_exit(0);
			execl("/bin/true", "true", (char *)NULL);
			_exit(126);
		}
		default:
			_exit(0);
		}
	}
	reap(pid, op_name[op], 0);
}

static void op_one(struct world *w, enum op op)
{
	size_t off, len;
	int ai, si, i, ret;

	switch (op) {
	case OP_CREATE: {
		struct slot *s = NULL;
		uint32_t flags = 0;

		ai = pick_arena(w);
		for (i = 0; i < MAX_SLOTS && ai >= 0; i++)
			if (!w->s[i].used) {
				s = &w->s[i];
				break;
			}
		if (!s)
			return;
		subrange(w, ai, below(&w->rng, 8) ? 64 : 1024, &off, &len);
		if ((g.supported & VIRTGPU_BLOB_FLAG_USERPTR_RDONLY) && !below(&w->rng, 4))
			flags = VIRTGPU_BLOB_FLAG_USERPTR_RDONLY;
		ret = create(w->fd, flags, w->a[ai].base + off, len, &s->h, &s->res);
		atomic_fetch_add(&g.checks, 1);
		if (ret == -EAGAIN) {
			atomic_fetch_add(&g.tolerated, 1);
			return;
		}
		if (ret) {
			violation("thread %d: creation of %zu bytes at +%zu of a held arena fails: %s",
				  w->id, len, off, strerror(-ret));
			return;
		}
		*s = (struct slot){ .used = true, .h = s->h, .res = s->res, .arena = ai,
				    .off = off, .len = len, .ro = flags != 0 };
		break;
	}
	case OP_CLOSE:
		si = pick_slot(w);
		if (si >= 0)
			do_close(w, si);
		break;
	case OP_MUNMAP_PART:
	case OP_MAP_FIXED:
	case OP_DONTNEED:
		ai = pick_arena(w);
		if (ai < 0)
			return;
		subrange(w, ai, 64, &off, &len);
		pthread_mutex_lock(&g.vm_lock);
		if (op == OP_MUNMAP_PART)
			ret = munmap(w->a[ai].base + off, len);
		else if (op == OP_DONTNEED)
			ret = madvise(w->a[ai].base + off, len, MADV_DONTNEED);
		else
			ret = 0;
		if (ret) {
			pthread_mutex_unlock(&g.vm_lock);
			violation("thread %d: %s: %s", w->id, op_name[op], strerror(errno));
			return;
		}
		if (op != OP_DONTNEED &&
		    mmap(w->a[ai].base + off, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != w->a[ai].base + off) {
			pthread_mutex_unlock(&g.vm_lock);
			violation("thread %d: mmap(MAP_FIXED): %s", w->id, strerror(errno));
			forget_arena(w, ai);
			return;
		}
		pthread_mutex_unlock(&g.vm_lock);
		if (op != OP_DONTNEED)
			w->a[ai].split = true;
		/* Planted: the bookkeeping forgets that part was given up. */
		if (!(g.plant && !strcmp(g.plant, "live") && op == OP_MUNMAP_PART))
			give_up(w, ai, off, len);
		hostchan_fill(w->a[ai].base + off, len, rnd(&w->rng));
		break;
	case OP_MUNMAP_ARENA:
		ai = pick_arena(w);
		if (ai < 0)
			return;
		if (munmap(w->a[ai].base, w->a[ai].len))
			violation("thread %d: munmap: %s", w->id, strerror(errno));
		forget_arena(w, ai);
		new_arena(w, ai);
		break;
	case OP_MREMAP: {
		size_t old, nlen;
		char *q;

		ai = pick_arena(w);
		/* mremap takes one VMA: an arena remapped in parts is left out. */
		if (ai < 0 || w->a[ai].split)
			return;
		old = w->a[ai].len;
		nlen = (1 + below(&w->rng, 2 * old / PAGE)) * PAGE;
		if (nlen > 8 * MIB)
			nlen = 8 * MIB;
		pthread_mutex_lock(&g.vm_lock);
		q = mremap(w->a[ai].base, old, nlen, MREMAP_MAYMOVE);
		pthread_mutex_unlock(&g.vm_lock);
		if (q == MAP_FAILED) {
			violation("thread %d: mremap %zu -> %zu: %s", w->id, old, nlen, strerror(errno));
			return;
		}
		if (q != w->a[ai].base)
			give_up(w, ai, 0, old);
		else if (nlen < old)
			give_up(w, ai, nlen, old - nlen);
		w->a[ai].base = q;
		w->a[ai].len = nlen;
		if (nlen > old)
			hostchan_fill(q + old, nlen - old, rnd(&w->rng));
		break;
	}
	case OP_WRITE:
		ai = pick_arena(w);
		if (ai < 0)
			return;
		subrange(w, ai, 16, &off, &len);
		/* Zero copy: live registrations see it; nothing is given up. */
		hostchan_fill(w->a[ai].base + off, len, rnd(&w->rng));
		/* Planted: the bookkeeping believes a write gives the range up. */
		if (g.plant && !strcmp(g.plant, "revoke"))
			give_up(w, ai, off, len);
		break;
	case OP_FORK_EXIT:
	case OP_FORK_EXEC_TRUE:
	case OP_FORK_EXEC_SELF:
	case OP_FORK_REGISTER:
		op_fork(w, op);
		break;
	case OP_REOPEN:
		/* Closing the file releases every handle: forget them. */
		close(w->fd);
		for (i = 0; i < MAX_SLOTS; i++)
			w->s[i].used = false;
		w->fd = open_node(1);
		if (w->fd < 0) {
			violation("thread %d: cannot open the render node again", w->id);
			return;
		}
		break;
	case OP_DEBUGFS:
		check_debugfs(w);
		break;
	case OP_CHECK_HANDLES:
		for (i = 0; i < MAX_SLOTS; i++)
			if (w->s[i].used)
				check_slot(w, i, false);
		break;
	case OP_CHECK_DEVICE:
		si = pick_slot(w);
		if (si >= 0)
			check_device(w, si);
		break;
	default:
		return;
	}
	atomic_fetch_add(&g.ops[op], 1);
	w->ops++;
}

static void *thread_main(void *arg)
{
	struct world *w = arg;
	unsigned int total = 0, r;
	int i;
	enum op op;

	for (op = 0; op < NOPS; op++)
		total += weight[op];
	w->fd = open_node(1);
	if (w->fd < 0) {
		violation("thread %d: no render node", w->id);
		return NULL;
	}
	for (i = 0; i < MAX_ARENAS; i++)
		new_arena(w, i);
	while (virtgpu_now() < g.deadline && w->fd >= 0) {
		r = below(&w->rng, total);
		for (op = 0; op < NOPS; op++) {
			if (r < weight[op])
				break;
			r -= weight[op];
		}
		op_one(w, op);
	}
	/* The end: every handle as it must be, the device's view, then close. */
	for (i = 0; i < MAX_SLOTS && w->fd >= 0; i++) {
		if (!w->s[i].used)
			continue;
		check_slot(w, i, true);
		check_device(w, i);
		if (!(g.plant && !strcmp(g.plant, "leak") && w->id == 0 && !w->s[i].given_up))
			do_close(w, i);
	}
	check_debugfs(w);
	if (g.plant && !strcmp(g.plant, "leak") && w->id == 0 && w->fd >= 0) {
		/* Planted: one more userptr, its file and memory kept. */
		uint32_t h;
		char *p;

		pthread_mutex_lock(&g.vm_lock);
		p = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		pthread_mutex_unlock(&g.vm_lock);

		if (p == MAP_FAILED || create(w->fd, 0, p, 16 * PAGE, &h, NULL))
			violation("thread 0: the planted leak could not be made");
		return NULL;
	}
	if (w->fd >= 0)
		close(w->fd);
	for (i = 0; i < MAX_ARENAS; i++)
		if (w->a[i].base && !(g.plant && !strcmp(g.plant, "leak") && w->id == 0))
			munmap(w->a[i].base, w->a[i].len);
	return NULL;
}

/* --- the unprivileged process ------------------------------------------- */

struct unpriv_report {
	unsigned long creates, refused, closes, checks, violations;
	char first[200];
};

static void unpriv_main(int fd, uint64_t seed, int out)
{
	struct rlimit rl = { UNPRIV_LIMIT * PAGE, UNPRIV_LIMIT * PAGE };
	struct unpriv_report rep = { 0 };
	struct { uint32_t h; size_t pages; bool used; } s[32] = { 0 };
	size_t held = 0, pages;
	uint64_t rng = seed;
	char *p = mmap(NULL, 2 * UNPRIV_LIMIT * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	double end;
	int i, ret;

	if (p == MAP_FAILED || setrlimit(RLIMIT_MEMLOCK, &rl) || setgid(65534) || setuid(65534))
		_exit(2);
#define UVIOL(...) do { if (!rep.violations++) snprintf(rep.first, sizeof(rep.first), __VA_ARGS__); } while (0)
	while (virtgpu_now() < g.deadline) {
		i = below(&rng, 32);
		if (s[i].used) {
			ret = virtgpu_gem_close(fd, s[i].h);
			rep.checks++;
			if (ret)
				UVIOL("GEM_CLOSE fails: %s", strerror(-ret));
			held -= s[i].pages;
			s[i].used = false;
			rep.closes++;
			continue;
		}
		/* Near the limit: sizes up to a third of it. */
		pages = 1 + below(&rng, UNPRIV_LIMIT / 3);
		ret = create(fd, 0, p + below(&rng, UNPRIV_LIMIT) * PAGE, pages * PAGE, &s[i].h, NULL);
		rep.checks++;
		if (!ret) {
			rep.creates++;
			if (held + pages > UNPRIV_LIMIT)
				UVIOL("a registration of %zu pages with %zu held passes RLIMIT_MEMLOCK (%d pages)",
				      pages, held, UNPRIV_LIMIT);
			s[i].used = true;
			s[i].pages = pages;
			held += pages;
		} else if (ret == -ENOMEM || ret == -EAGAIN) {
			rep.refused++;
			usleep(1000); /* leave the vCPUs to the mix */
		} else {
			UVIOL("creation of %zu pages with %zu held fails with %s, not ENOMEM/EAGAIN",
			      pages, held, strerror(-ret));
		}
	}
	for (i = 0; i < 32; i++)
		if (s[i].used && !virtgpu_gem_close(fd, s[i].h))
			rep.closes++;
	/* No charge left behind: exactly the limit registers again. */
	end = virtgpu_now() + 15;
	while ((ret = create(fd, 0, p, UNPRIV_LIMIT * PAGE, &s[0].h, NULL)) == -ENOMEM && virtgpu_now() < end)
		usleep(10000);
	rep.checks++;
	if (ret)
		UVIOL("after closing everything, a registration of exactly RLIMIT_MEMLOCK fails: %s (a leaked charge)",
		      strerror(-ret));
	else
		virtgpu_gem_close(fd, s[0].h);
#undef UVIOL
	if (write(out, &rep, sizeof(rep)) != sizeof(rep))
		_exit(3);
	_exit(0);
}

/* --- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static struct world worlds[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	struct unpriv_report rep = { 0 };
	struct drm_virtgpu_getparam gp;
	double seconds = 600, t0 = virtgpu_now();
	unsigned long fails_before;
	char self[256], line[256];
	long pins0, vmpin0, pins, vmpin;
	int v = 0, i, fd, upipe[2], status, lines;
	unsigned long total = 0;
	pid_t upid;
	ssize_t n;
	FILE *f;

	g.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	g.nthreads = 4;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--noop"))
			return 0;
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			g.seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			g.nthreads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--plant") && i + 1 < argc)
			g.plant = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--seconds N] [--seed S] [--threads N] [--plant live|revoke|device|leak] | --noop\n",
				argv[0]);
			return 2;
		}
	}
	if (g.nthreads < 1 || g.nthreads > MAX_THREADS)
		g.nthreads = 4;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	printf("# seed %" PRIu64 " (--seed %" PRIu64 "), %.0f s, %d threads + 1 unprivileged process\n",
	       g.seed, g.seed, seconds, g.nthreads);
	if (g.plant)
		printf("# PLANTED violation: %s (this run must fail)\n", g.plant);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		printf("Bail out! /proc/self/exe: %s\n", strerror(errno));
		return 1;
	}
	self[n] = 0;
	g.self = self;
	if (access("/bin/true", X_OK))
		printf("# note: no /bin/true in this system: fork_exec_true children fail\n");
	fd = open_node(1);
	gp = (struct drm_virtgpu_getparam){ .param = VIRTGPU_PARAM_RESOURCE_USERPTR,
					    .value = (uintptr_t)&v };
	if (fd < 0 || ioctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, &gp) ||
	    !(v & VIRTGPU_BLOB_FLAG_USE_USERPTR)) {
		printf("Bail out! no virtio-gpu render node with userptr blobs\n");
		return 1;
	}
	g.supported = v;
	g.chan = hostchan_open();
	if (g.chan < 0)
		printf("# SKIP invariant 'the device reads the process's bytes': no host channel " HOSTCHAN_NAME "\n");

	pins0 = virtgpu_wait_pins(virtgpu_pins(), 1);
	vmpin0 = virtgpu_vmpin_kib();
	printf("# baseline: %ld pins outstanding, VmPin %ld KiB\n", pins0, vmpin0);
	g.deadline = virtgpu_now() + seconds;

	/* The unprivileged process first: no threads yet to fork from. */
	if (pipe(upipe)) {
		printf("Bail out! pipe\n");
		return 1;
	}
	upid = fork();
	if (!upid) {
		close(upipe[0]);
		unpriv_main(fd, g.seed ^ 0x5555, upipe[1]);
	}
	close(upipe[1]);
	for (i = 0; i < g.nthreads; i++) {
		worlds[i].id = i;
		worlds[i].rng = g.seed * 0x9e3779b97f4a7c15ULL + i + 1;
		if (pthread_create(&tid[i], NULL, thread_main, &worlds[i])) {
			printf("Bail out! pthread_create\n");
			return 1;
		}
	}
	for (i = 0; i < g.nthreads; i++)
		pthread_join(tid[i], NULL);
	n = read(upipe[0], &rep, sizeof(rep));
	waitpid(upid, &status, 0);
	atomic_fetch_add(&g.checks, 1);
	if (n != sizeof(rep) || !WIFEXITED(status) || WEXITSTATUS(status))
		violation("the unprivileged process failed (status %#x)", status);
	atomic_fetch_add(&g.ops[OP_UNPRIV_CREATE], rep.creates);
	atomic_fetch_add(&g.ops[OP_UNPRIV_REFUSED], rep.refused);
	atomic_fetch_add(&g.ops[OP_UNPRIV_CLOSE], rep.closes);
	atomic_fetch_add(&g.checks, rep.checks);
	if (rep.violations)
		violation("unprivileged process: %lu violations, first: %s", rep.violations, rep.first);
	printf("%sok 1 mix of %d threads and an unprivileged process for %.0f s\n",
	       atomic_load(&g.failures) ? "not " : "", g.nthreads, virtgpu_now() - t0);

	/* The end: every file closed; nothing may stay pinned, charged or listed. */
	fails_before = atomic_load(&g.failures);
	pins = virtgpu_wait_pins(pins0, 30);
	vmpin = virtgpu_vmpin_kib();
	atomic_fetch_add(&g.checks, 2);
	if (pins != pins0)
		violation("%ld pages still pinned at the end (baseline %ld)", pins - pins0, pins0);
	if (vmpin != vmpin0)
		violation("VmPin %ld KiB at the end, baseline %ld KiB", vmpin, vmpin0);
	f = open_debugfs();
	lines = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "res_id", 6) && lines++ < 5)
			printf("# left in debugfs: %s", line);
	}
	if (f)
		fclose(f);
	atomic_fetch_add(&g.checks, 1);
	if (!f || lines)
		violation("the debugfs userptr list holds %d entries at the end%s", lines,
			  f ? "" : " (no list)");
	{
		/* The device still answers. */
		struct world w = { .id = -1, .fd = fd };
		char *p = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		int ret;

		w.a[0] = (struct arena){ .base = p, .len = 16 * PAGE };
		hostchan_fill(p, 16 * PAGE, 42);
		ret = create(fd, 0, p, 16 * PAGE, &w.s[0].h, &w.s[0].res);
		atomic_fetch_add(&g.checks, 1);
		if (ret) {
			violation("a fresh userptr fails at the end: %s", strerror(-ret));
		} else {
			w.s[0].used = true;
			w.s[0].len = 16 * PAGE;
			check_device(&w, 0);
			virtgpu_gem_close(fd, w.s[0].h);
		}
	}
	printf("%sok 2 at the end: pins, VmPin, debugfs back to baseline; the device answers\n",
	       atomic_load(&g.failures) > fails_before ? "not " : "");
	printf("1..2\n");

	printf("# operations per kind:\n");
	for (i = 0; i < NOPS; i++) {
		printf("#   %-16s %lu\n", op_name[i], atomic_load(&g.ops[i]));
		total += atomic_load(&g.ops[i]);
	}
	printf("# seed %" PRIu64 "; %lu operations; %lu invariant checks (%lu of the device's view%s); %lu tolerated EAGAIN; %lu failures; %.1f s\n",
	       g.seed, total, atomic_load(&g.checks), atomic_load(&g.device_checks),
	       g.chan < 0 ? ", SKIPPED: no host channel" : "", atomic_load(&g.tolerated),
	       atomic_load(&g.failures), virtgpu_now() - t0);
	printf("RESULT-JSON: {\"program\": \"userptr-soak\", \"seed\": %" PRIu64 ", \"seconds\": %.1f, \"threads\": %d, "
	       "\"operations\": %lu, \"checks\": %lu, \"device_checks\": %lu, \"device_view\": \"%s\", "
	       "\"tolerated\": %lu, \"failures\": %lu, \"ops\": {",
	       g.seed, virtgpu_now() - t0, g.nthreads, total, atomic_load(&g.checks),
	       atomic_load(&g.device_checks), g.chan < 0 ? "skipped" : "checked",
	       atomic_load(&g.tolerated), atomic_load(&g.failures));
	for (i = 0; i < NOPS; i++)
		printf("%s\"%s\": %lu", i ? ", " : "", op_name[i], atomic_load(&g.ops[i]));
	printf("}}\n");
	return atomic_load(&g.failures) ? 1 : 0;
}
