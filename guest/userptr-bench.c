// SPDX-License-Identifier: GPL-2.0
/*
 * userptr-bench: what a virtio-gpu userptr costs, measured in the guest,
 * always against the same work done another way in the same boot:
 *
 *   register    userptr register+release against io_uring fixed buffers
 *               (the same FOLL_LONGTERM pin, no device), 4 KiB..256 MiB,
 *               THP off and on
 *   copy        userptr against copying into a persistent, pre-faulted,
 *               mappable staging blob (one memcpy), and the cold copy (a new
 *               blob each time) as a labelled second row
 *   revoke      munmap of a registered range against an explicit close, and
 *               against close then munmap (the same end state)
 *   roundtrip   a control host command (1x1 2D resource create, wait for its
 *               fence, close) against a 4 KiB userptr create+close
 *   live        create+close of one page with N live registrations, munmap
 *               of an unrelated range with N notifiers (the levels visited
 *               in rounds, up and down), kernel memory per registration;
 *               then 1 and 10000 live in alternating blocks, each sample
 *               followed by the control round trip, for the goal
 *   threads     registrations from 1 thread against 2 threads at once
 *   teardown    process exit with N registrations, until all are unpinned
 *   host_read   the host reading a userptr through its mapping against a
 *               native memcpy on the host, whole and in shuffled pieces
 *               (QEMU times them)
 *
 * Two end points per userptr sample: the caller-visible time (the syscalls
 * returned) and the time until the pages are unpinned. The latter comes from
 * an event, never from polling: a kretprobe on the driver's unpin
 * (unpin_user_pages_dirty_lock), read from tracefs with blocking reads, on
 * the "mono" trace clock, which is CLOCK_MONOTONIC. io_uring unpins before
 * its syscall returns (checked once per row).
 *
 * Sides are interleaved (the order alternates), each point has untimed
 * warm-up rounds, and the raw samples are printed: one line per point,
 * "BENCH {json}", on stdout. Statistics, ratios and goals are computed by
 * scripts/bench-report.py. Before anything, the clock is checked: a coarse
 * clocksource (jiffies) stops the benchmark with a one-line error, exit 3.
 *
 * Usage: userptr-bench [-n SAMPLES] [-t TEARDOWN_SAMPLES_AT_10000]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/io_uring.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <drm/drm.h>
#include <drm/virtgpu_drm.h>

#include "drm/virtio_gpu/hostchan.h"
#include "virtgpu.h"

#define PAGE 4096UL
#define MIB (1UL << 20)
#define HUGE (2 * MIB)
#define WARMUP 3
#define MAX_SAMPLES 256
#define MAX_LIVE 10000
#define TRACEFS "/sys/kernel/tracing"
#define PROBE "userptr_bench/unpinned"
/* Counts the runs of the driver's dequeue work (kprobe_profile). */
#define DEQUEUE_EVENT "dequeue_work"
#define DEQUEUE_PROBE "userptr_bench/" DEQUEUE_EVENT
/* Counts the runs of the driver's userptr worker, which revocations may need. */
#define WORKER_EVENT "userptr_work"
#define WORKER_PROBE "userptr_bench/" WORKER_EVENT
#define EVENT_TIMEOUT_MS 60000

static int gpu, ring, nsamples = 31, teardown_samples = 31;
static long base_pins;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "userptr-bench: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, e ? ": %s\n" : "\n", strerror(e));
	exit(1);
}

/* ---- output: one JSON object per point; non-finite numbers are null ---- */

static void jnum(double v)
{
	if (isfinite(v))
		printf("%.3f", v);
	else
		printf("null");
}

static void jarray(const char *name, const double *v, int n, int comma)
{
	int i;

	printf("\"%s\": [", name);
	for (i = 0; i < n; i++) {
		if (i)
			printf(",");
		jnum(v[i]);
	}
	printf("]%s", comma ? ", " : "");
}

/* ---- the clock ---- */

static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = 0;
	if (f && fgets(buf, len, f))
		buf[strcspn(buf, "\n")] = 0;
	if (f)
		fclose(f);
}

/*
 * The smallest step CLOCK_MONOTONIC takes, from 64 observed changes (at most
 * 0.2 s), and the clocksource; coarse (jiffies, or steps over 10 us) stops.
 */
static double check_clock(char *cs, size_t len)
{
	double step = INFINITY, start = now_us(), a, b;
	int i;

	read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource", cs, len);
	for (i = 0; i < 64 && now_us() - start < 200000; i++) {
		a = now_us();
		do
			b = now_us();
		while (b == a && b - start < 200000);
		if (b > a && b - a < step)
			step = b - a;
	}
	if (strstr(cs, "jiffies") || !isfinite(step) || step > 10.0) {
		fprintf(stderr, "userptr-bench: error: the guest clock is coarse (clocksource %s, smallest step %.0f us): "
			"timings would be multiples of it; boot with a calibrated TSC (see README, Benchmarks)\n",
			cs[0] ? cs : "unknown", isfinite(step) ? step : -1.0);
		exit(3);
	}
	return step;
}

/* ---- the unpin event (tracefs) ---- */

static int trace_fd = -1;
static char tbuf[1 << 16];
static size_t tlen;

static void tracefs_write(const char *file, const char *val, int flags)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), TRACEFS "/%s", file);
	fd = open(path, O_WRONLY | flags);
	if (fd < 0 || write(fd, val, strlen(val)) < 0)
		die("tracefs: writing '%s' to %s (release kernel without KPROBE_EVENTS?)", val, path);
	close(fd);
}

static void trace_setup(void)
{
	tracefs_write("tracing_on", "0", O_TRUNC);
	tracefs_write("trace_clock", "mono", O_TRUNC);
	tracefs_write("buffer_size_kb", "4096", O_TRUNC);
	tracefs_write("kprobe_events", "r64:" PROBE " unpin_user_pages_dirty_lock\n", O_APPEND);
	tracefs_write("events/" PROBE "/enable", "1", O_TRUNC);
	tracefs_write("kprobe_events", "p:" DEQUEUE_PROBE " virtio_gpu_dequeue_ctrl_func\n", O_APPEND);
	tracefs_write("events/" DEQUEUE_PROBE "/enable", "1", O_TRUNC);
	tracefs_write("kprobe_events", "p:" WORKER_PROBE " virtio_gpu_userptr_work\n", O_APPEND);
	tracefs_write("events/" WORKER_PROBE "/enable", "1", O_TRUNC);
	tracefs_write("trace", "", O_TRUNC);
	trace_fd = open(TRACEFS "/trace_pipe", O_RDONLY | O_NONBLOCK);
	if (trace_fd < 0)
		die("tracefs: trace_pipe");
	tracefs_write("tracing_on", "1", O_TRUNC);
}

/* The timestamp (CLOCK_MONOTONIC, us) of the next unpin; blocks, no polling loop. */
static double next_unpin(void)
{
	for (;;) {
		char *nl = memchr(tbuf, '\n', tlen), *ev, *ts;
		struct pollfd pfd = { .fd = trace_fd, .events = POLLIN };
		ssize_t n;

		if (nl) {
			double t = NAN;

			*nl = 0;
			ev = strstr(tbuf, " unpinned: ");
			if (ev) {
				*ev = 0;
				ts = strrchr(tbuf, ' ');
				t = ts ? strtod(ts + 1, NULL) * 1e6 : NAN;
			}
			tlen -= nl + 1 - tbuf;
			memmove(tbuf, nl + 1, tlen);
			if (ev)
				return t;
			continue;
		}
		n = read(trace_fd, tbuf + tlen, sizeof(tbuf) - tlen - 1);
		if (n > 0) {
			tlen += n;
			continue;
		}
		if (n < 0 && errno != EAGAIN)
			die("reading trace_pipe");
		/* Sleep until the kernel wakes us; the timeout only catches a lost event. */
		if (poll(&pfd, 1, EVENT_TIMEOUT_MS) == 0) {
			errno = 0;
			die("no unpin event within %d s (the driver no longer calls unpin_user_pages_dirty_lock?)",
			    EVENT_TIMEOUT_MS / 1000);
		}
	}
}

/* How often the kprobe event @name (no group) has fired so far. */
static long probe_hits(const char *name)
{
	FILE *f = fopen(TRACEFS "/kprobe_profile", "r");
	char line[256], ev[128];
	long hits, v = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %ld", ev, &hits) == 2 && !strcmp(ev, name))
			v = hits;
	if (f)
		fclose(f);
	if (v < 0)
		die("no %s in kprobe_profile", name);
	return v;
}

/* The time of the last of @n unpins. */
static double unpins(long n)
{
	double t = 0;

	while (n-- > 0)
		t = next_unpin();
	return t;
}

/* ---- the two pinning interfaces ---- */

static uint32_t userptr_create(int fd, void *p, size_t len, uint32_t *res)
{
	uint32_t bo;

	if (virtgpu_userptr(fd, VIRTGPU_BLOB_MEM_GUEST, 0, p, len, &bo, res))
		die("userptr create of %zu bytes", len);
	return bo;
}

static void gem_close(int fd, uint32_t handle)
{
	if (virtgpu_gem_close(fd, handle))
		die("gem close");
}

/* Register+release: caller-visible in @vis, until unpinned returned. */
static double userptr_cycle(void *p, size_t len, double *vis)
{
	double t0 = now_us(), t1;

	gem_close(gpu, userptr_create(gpu, p, len, NULL));
	t1 = now_us();
	*vis = t1 - t0;
	return unpins(1) - t0;
}

static double io_uring_cycle(void *p, size_t len)
{
	double us = virtgpu_io_uring_cycle(ring, p, len);

	if (us < 0)
		die("io_uring register+unregister of %zu bytes", len);
	return us;
}

static void set_thp(int on)
{
	const char *mode = on ? "always" : "never";
	int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_WRONLY);

	if (fd < 0 || write(fd, mode, strlen(mode)) < 0)
		die("transparent_hugepage/enabled");
	close(fd);
}

struct buf {
	char *raw, *p;
	size_t len, maplen;
};

/*
 * A populated buffer whose start is 2 MiB aligned and whose 2 MiB blocks lie
 * inside the mapping, so that with THP on even a 4 KiB buffer can be backed
 * by a huge page; THP as set_thp() said.
 */
static struct buf buffer(size_t len)
{
	struct buf b = { .len = len };

	b.maplen = ((len + HUGE - 1) & ~(HUGE - 1)) + HUGE;
	b.raw = mmap(NULL, b.maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b.raw == MAP_FAILED)
		die("mmap of %zu bytes", b.maplen);
	b.p = (char *)(((uintptr_t)b.raw + HUGE - 1) & ~(HUGE - 1));
	memset(b.p, 1, len);
	return b;
}

static void buffer_free(struct buf *b)
{
	munmap(b->raw, b->maplen);
}

/*
 * A populated buffer with THP off whose pages were faulted in a permuted
 * order (a prime stride), so that no two neighbours are physically adjacent.
 */
static struct buf scattered_buffer(size_t len)
{
	struct buf b = { .len = len, .maplen = len };

	set_thp(0);
	b.raw = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b.raw == MAP_FAILED)
		die("mmap of %zu bytes", len);
	b.p = b.raw;
	virtgpu_touch_scattered(b.raw, len);
	return b;
}

/* AnonHugePages of the mapping holding @p, in KiB (smaps). */
static long anon_huge_kib(void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	int in = 0;
	long kib = -1;

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kib) == 1)
			break;
	}
	if (f)
		fclose(f);
	return kib;
}

/* The memory entries the driver sent for resource @res (debugfs), or -1. */
static long driver_entries(uint32_t res)
{
	char line[256];
	long entries = -1;
	FILE *f = NULL;
	glob_t g;

	if (!glob("/sys/kernel/debug/dri/*/virtio-gpu-userptr", 0, NULL, &g) && g.gl_pathc)
		f = fopen(g.gl_pathv[0], "r");
	globfree(&g);
	while (f && fgets(line, sizeof(line), f))
		if (line[0] >= '0' && line[0] <= '9' && strtoul(line, NULL, 10) == res)
			sscanf(line, "%*u %*d %*s %*u %ld", &entries);
	if (f)
		fclose(f);
	return entries;
}

/* Entries of a registration of @b (one extra, untimed), and its runs. */
static void entries_of(struct buf *b, long *entries, long *runs)
{
	uint32_t res, h = userptr_create(gpu, b->p, b->len, &res);

	*entries = driver_entries(res);
	*runs = virtgpu_contiguous_runs(b->p, b->len);
	gem_close(gpu, h);
	unpins(1);
}

/* ---- families ---- */

static const char *sz(size_t b, char *s)
{
	if (b < MIB)
		sprintf(s, "%zu KiB", b >> 10);
	else
		sprintf(s, "%zu MiB", b >> 20);
	return s;
}

static void family_register(int thp, size_t len)
{
	static double uv[MAX_SAMPLES], uu[MAX_SAMPLES], io[MAX_SAMPLES];
	struct buf b;
	long huge, entries, runs, pins_after;
	int i, k = 0;
	char s[32];

	set_thp(thp);
	b = buffer(len);
	huge = anon_huge_kib(b.p);
	for (i = 0; i < WARMUP + nsamples; i++) {
		double vis, unp, ring_t;

		if (i & 1) {
			ring_t = io_uring_cycle(b.p, len);
			unp = userptr_cycle(b.p, len, &vis);
		} else {
			unp = userptr_cycle(b.p, len, &vis);
			ring_t = io_uring_cycle(b.p, len);
		}
		if (i >= WARMUP) {
			uv[k] = vis;
			uu[k] = unp;
			io[k++] = ring_t;
		}
	}
	io_uring_cycle(b.p, len);
	pins_after = virtgpu_pins() - base_pins;
	entries_of(&b, &entries, &runs);
	printf("BENCH {\"family\": \"register\", \"thp\": %s, \"bytes\": %zu, \"label\": \"%s\", "
	       "\"anon_huge_kib\": %ld, \"entries\": %ld, \"runs\": %ld, \"io_uring_pins_left_on_return\": %ld, ",
	       thp ? "true" : "false", len, sz(len, s), huge, entries, runs, pins_after);
	jarray("userptr_caller_us", uv, k, 1);
	jarray("userptr_unpinned_us", uu, k, 1);
	jarray("io_uring_us", io, k, 0);
	printf("}\n");
	fflush(stdout);
	buffer_free(&b);
}

/* A mappable guest blob of @len bytes, mapped into this process. */
static void *blob_map(size_t len, uint32_t *handle)
{
	struct drm_virtgpu_resource_create_blob rc = {
		.blob_mem = VIRTGPU_BLOB_MEM_GUEST,
		.blob_flags = VIRTGPU_BLOB_FLAG_USE_MAPPABLE,
		.size = len,
	};
	struct drm_virtgpu_map map = { 0 };
	void *dst;

	if (ioctl(gpu, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, &rc))
		die("blob create");
	map.handle = rc.bo_handle;
	if (ioctl(gpu, DRM_IOCTL_VIRTGPU_MAP, &map))
		die("blob map");
	dst = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, gpu, map.offset);
	if (dst == MAP_FAILED)
		die("blob mmap");
	*handle = rc.bo_handle;
	return dst;
}

/* The cold copy: a new blob each time (allocation, zeroing, faults, memcpy, close). */
static double copy_cold(void *src, size_t len)
{
	double t0 = now_us();
	uint32_t h;
	void *dst = blob_map(len, &h);

	memcpy(dst, src, len);
	munmap(dst, len);
	gem_close(gpu, h);
	return now_us() - t0;
}

static void family_copy(int thp, size_t len)
{
	static double uv[MAX_SAMPLES], uu[MAX_SAMPLES], warm[MAX_SAMPLES], cold[MAX_SAMPLES];
	struct buf b;
	uint32_t staging;
	char *dst;
	int i, k = 0;
	char s[32];

	set_thp(thp);
	b = buffer(len);
	/* The staging buffer a user without userptrs keeps: created, mapped and faulted in once. */
	dst = blob_map(len, &staging);
	memset(dst, 0, len);
	for (i = 0; i < WARMUP + nsamples; i++) {
		double vis, unp, t0, w, c;

		if (i & 1) {
			t0 = now_us();
			memcpy(dst, b.p, len);
			w = now_us() - t0;
			c = copy_cold(b.p, len);
			unp = userptr_cycle(b.p, len, &vis);
		} else {
			unp = userptr_cycle(b.p, len, &vis);
			c = copy_cold(b.p, len);
			t0 = now_us();
			memcpy(dst, b.p, len);
			w = now_us() - t0;
		}
		if (i >= WARMUP) {
			uv[k] = vis;
			uu[k] = unp;
			warm[k] = w;
			cold[k++] = c;
		}
	}
	printf("BENCH {\"family\": \"copy\", \"thp\": %s, \"bytes\": %zu, \"label\": \"%s\", \"anon_huge_kib\": %ld, ",
	       thp ? "true" : "false", len, sz(len, s), anon_huge_kib(b.p));
	jarray("userptr_caller_us", uv, k, 1);
	jarray("userptr_unpinned_us", uu, k, 1);
	jarray("copy_staging_us", warm, k, 1);
	jarray("copy_cold_us", cold, k, 0);
	printf("}\n");
	fflush(stdout);
	munmap(dst, len);
	gem_close(gpu, staging);
	buffer_free(&b);
}

/*
 * Three sides, interleaved (the order rotates): munmap of a registered range
 * (revocation); an explicit close alone (the comparison, which
 * leaves the range mapped); and close followed by munmap, which ends in the
 * same state as the revocation (range unmapped, pages unpinned and freed,
 * host resource gone), so that the two do the same work.
 */
static void family_revoke(size_t len)
{
	static double mv[MAX_SAMPLES], mu[MAX_SAMPLES], cv[MAX_SAMPLES], cu[MAX_SAMPLES];
	static double bv[MAX_SAMPLES], bu[MAX_SAMPLES], md[MAX_SAMPLES];
	long w0 = probe_hits(WORKER_EVENT);
	int i, j, k = 0;
	char s[32];

	set_thp(0);
	for (i = 0; i < WARMUP + nsamples; i++) {
		double vis[3] = { 0 }, unp[3] = { 0 };

		for (j = 0; j < 3; j++) {
			int side = (i + j) % 3;
			struct buf b = buffer(len);
			uint32_t h = userptr_create(gpu, b.p, len, NULL);
			double t0 = now_us();

			if (side == 0) {
				munmap(b.raw, b.maplen);
				vis[0] = now_us() - t0;
				unp[0] = unpins(1) - t0;
				gem_close(gpu, h);
			} else if (side == 1) {
				gem_close(gpu, h);
				vis[1] = now_us() - t0;
				unp[1] = unpins(1) - t0;
				buffer_free(&b);
			} else {
				gem_close(gpu, h);
				buffer_free(&b);
				vis[2] = now_us() - t0;
				/* Both done: the pages unpinned and the range unmapped. */
				unp[2] = unpins(1) - t0;
				if (unp[2] < vis[2])
					unp[2] = vis[2];
			}
		}
		if (i >= WARMUP) {
			mv[k] = vis[0];
			mu[k] = unp[0];
			/* munmap returned and the pages unpinned: the same end state. */
			md[k] = unp[0] > vis[0] ? unp[0] : vis[0];
			cv[k] = vis[1];
			cu[k] = unp[1];
			bv[k] = vis[2];
			bu[k++] = unp[2];
		}
	}
	printf("BENCH {\"family\": \"revoke\", \"thp\": false, \"bytes\": %zu, \"label\": \"%s\", ", len, sz(len, s));
	/* Only the munmap side can need the worker: one revocation a round. */
	printf("\"worker_runs_per_revoke\": %.3f, ",
	       (double)(probe_hits(WORKER_EVENT) - w0) / (WARMUP + nsamples));
	jarray("munmap_caller_us", mv, k, 1);
	jarray("munmap_unpinned_us", mu, k, 1);
	jarray("munmap_done_us", md, k, 1);
	jarray("close_caller_us", cv, k, 1);
	jarray("close_unpinned_us", cu, k, 1);
	jarray("close_munmap_caller_us", bv, k, 1);
	jarray("close_munmap_done_us", bu, k, 0);
	printf("}\n");
	fflush(stdout);
}

/*
 * The host reading a userptr through the device's mapping of it, against a
 * native memcpy of the same size on the host, whole and in the mapping's
 * range sizes in a shuffled order: QEMU times all three itself
 * (x-query-virtio-gpu-read-speed, through the host channel), so no guest
 * clock is involved. A THP-backed 64 MiB range, or a fully scattered one.
 */
static void family_host_read(int thp)
{
	static char answer[16384];
	const char *label = thp ? "THP 64 MiB" : "scattered 64 MiB";
	int chan = hostchan_open(), rounds = nsamples < 64 ? nsamples : 64;
	uint32_t res, h;
	struct buf b;
	char *ret;

	if (thp) {
		set_thp(1);
		b = buffer(64 * MIB);
	} else {
		b = scattered_buffer(64 * MIB);
	}
	h = userptr_create(gpu, b.p, 64 * MIB, &res);

	printf("BENCH {\"family\": \"host_read\", \"thp\": %s, \"label\": \"%s\", \"bytes\": %lu, "
	       "\"anon_huge_kib\": %ld, \"entries\": %ld, ", thp ? "true" : "false", label, 64 * MIB,
	       anon_huge_kib(b.p), driver_entries(res));
	if (chan < 0) {
		printf("\"error\": \"no host channel (%s)\"}\n", HOSTCHAN_NAME);
	} else if (hostchan_ask(chan, answer, sizeof(answer),
			       "{\"execute\": \"x-query-virtio-gpu-read-speed\", \"arguments\": "
			       "{\"resource-id\": %u, \"rounds\": %d}}", res, rounds) ||
		   !(ret = strstr(answer, "{\"return\": "))) {
		printf("\"error\": \"the host did not answer\"}\n");
	} else {
		/* QEMU's answer as it came: size, nr-ranges, mapped-ns, native-ns, shuffled-ns. */
		ret += strlen("{\"return\": ");
		ret[strcspn(ret, "}") + 1] = 0;
		printf("\"host\": %s}\n", ret);
	}
	fflush(stdout);
	if (chan >= 0)
		close(chan);
	gem_close(gpu, h);
	unpins(1);
	buffer_free(&b);
	set_thp(0);
}

/* The control: a 1x1 2D resource, created with a fence, waited for, closed. */
static double control_roundtrip(double *submit)
{
	struct drm_virtgpu_resource_create rc = {
		.target = 2, .format = 1 /* B8G8R8A8 */, .width = 1, .height = 1,
		.depth = 1, .array_size = 1,
	};
	struct drm_virtgpu_3d_wait w = { 0 };
	double t0 = now_us(), t;

	if (ioctl(gpu, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE, &rc))
		die("2D resource create");
	*submit = now_us() - t0;
	w.handle = rc.bo_handle;
	if (ioctl(gpu, DRM_IOCTL_VIRTGPU_WAIT, &w))
		die("wait for the 2D resource's fence");
	gem_close(gpu, rc.bo_handle);
	t = now_us() - t0;
	return t;
}

static double getparam_cycle(void)
{
	int value = 0;
	struct drm_virtgpu_getparam gp = {
		.param = VIRTGPU_PARAM_RESOURCE_BLOB, .value = (uintptr_t)&value,
	};
	double t0 = now_us();

	if (ioctl(gpu, DRM_IOCTL_VIRTGPU_GETPARAM, &gp))
		die("getparam");
	return now_us() - t0;
}

static void family_roundtrip(void)
{
	static double rt[MAX_SAMPLES], sub[MAX_SAMPLES], uv[MAX_SAMPLES], uu[MAX_SAMPLES],
		io[MAX_SAMPLES], gp[MAX_SAMPLES];
	double vis, unp, r, s, ring_t, g;
	long h0, h1, h2;
	struct buf b;
	int i, k = 0;

	set_thp(0);
	b = buffer(PAGE);
	for (i = 0; i < WARMUP + nsamples; i++) {
		if (i & 1) {
			r = control_roundtrip(&s);
			unp = userptr_cycle(b.p, PAGE, &vis);
			ring_t = io_uring_cycle(b.p, PAGE);
		} else {
			unp = userptr_cycle(b.p, PAGE, &vis);
			r = control_roundtrip(&s);
			ring_t = io_uring_cycle(b.p, PAGE);
		}
		g = getparam_cycle();
		if (i >= WARMUP) {
			rt[k] = r;
			sub[k] = s;
			uv[k] = vis;
			uu[k] = unp;
			gp[k] = g;
			io[k++] = ring_t;
		}
	}
	/*
	 * Who delivers the answers: the dequeue work's runs per round trip,
	 * apart from the timed samples (its kprobe costs a little).
	 */
	h0 = probe_hits(DEQUEUE_EVENT);
	for (i = 0; i < nsamples; i++)
		userptr_cycle(b.p, PAGE, &vis);
	h1 = probe_hits(DEQUEUE_EVENT);
	for (i = 0; i < nsamples; i++)
		control_roundtrip(&s);
	/* The last close's UNREF: its answer may still be on its way. */
	usleep(100000);
	h2 = probe_hits(DEQUEUE_EVENT);
	printf("BENCH {\"family\": \"roundtrip\", \"bytes\": 4096, ");
	printf("\"dequeue_runs_per_userptr\": %.3f, \"dequeue_runs_per_control\": %.3f, ",
	       (double)(h1 - h0) / nsamples, (double)(h2 - h1) / nsamples);
	jarray("control_us", rt, k, 1);
	jarray("control_submit_us", sub, k, 1);
	jarray("getparam_us", gp, k, 1);
	jarray("userptr_caller_us", uv, k, 1);
	jarray("userptr_unpinned_us", uu, k, 1);
	jarray("io_uring_us", io, k, 0);
	printf("}\n");
	fflush(stdout);
	buffer_free(&b);
}

/* Kernel memory the guest reports (/proc/meminfo), in KiB. */
static long meminfo(const char *key)
{
	char line[128];
	size_t n = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':')
			v = atol(line + n + 1);
	if (f)
		fclose(f);
	return v;
}

/* Ask the host (scripts/bench.sh reads QEMU's VmRSS on this line) and give it time. */
static void host_rss_mark(const char *tag)
{
	printf("BENCH-RSS %s\n", tag);
	fflush(stdout);
	sleep(2);
}

/* Grow or shrink the live set @live (@have of them now) to @n registrations. */
static int live_set(uint32_t *live, int have, int n, char *base)
{
	int i;

	for (; have < n; have++)
		live[have] = userptr_create(gpu, base + (size_t)have * PAGE, PAGE, NULL);
	if (have > n) {
		for (i = n; i < have; i++)
			gem_close(gpu, live[i]);
		unpins(have - n);
	}
	return n;
}

/*
 * Create+close of one more page with N live registrations. The levels are
 * visited in rounds, up then down (1, 100, 1000, 10000, 10000, 1000, ...),
 * each visit taking a share of the samples, so that a drift of the host's
 * speed during the family reaches every level alike.
 */
#define LIVE_ROUNDS 4
#define LIVE_PAIRS 8	/* MAX_LIVE blocks in the alternation, between 1-live blocks */
#define LIVE_BLOCK 48	/* samples per block */
static void family_live(void)
{
	static const int counts[] = { 1, 100, 1000, MAX_LIVE };
	enum { NL = sizeof(counts) / sizeof(counts[0]) };
	static uint32_t live[MAX_LIVE];
	static double cv[NL][MAX_SAMPLES], cu[NL][MAX_SAMPLES], mu[NL][MAX_SAMPLES];
	static double pv[2 * LIVE_PAIRS + 1][LIVE_BLOCK], pc[2 * LIVE_PAIRS + 1][LIVE_BLOCK];
	int per = (nsamples + LIVE_ROUNDS - 1) / LIVE_ROUNDS, k[NL] = { 0 }, have = 0;
	long slab0, vm0, sun0, pt0;
	struct buf b;
	int r, j, i;

	set_thp(0);
	b = buffer((MAX_LIVE + 1) * PAGE);

	/* Kernel memory of MAX_LIVE registrations, from none. */
	host_rss_mark("live-before");
	slab0 = meminfo("Slab");
	sun0 = meminfo("SUnreclaim");
	vm0 = meminfo("VmallocUsed");
	pt0 = meminfo("PageTables");
	have = live_set(live, have, MAX_LIVE, b.p);
	printf("BENCH {\"family\": \"kmem\", \"live\": %d, \"slab_kib\": %ld, \"sunreclaim_kib\": %ld, "
	       "\"vmalloc_kib\": %ld, \"pagetables_kib\": %ld}\n", MAX_LIVE,
	       meminfo("Slab") - slab0, meminfo("SUnreclaim") - sun0,
	       meminfo("VmallocUsed") - vm0, meminfo("PageTables") - pt0);
	host_rss_mark("live-after");
	have = live_set(live, have, 0, b.p);

	for (r = 0; r < LIVE_ROUNDS; r++) {
		for (j = 0; j < NL; j++) {
			int l = (r & 1) ? NL - 1 - j : j;

			have = live_set(live, have, counts[l], b.p);
			/*
			 * Let the work that thousands of creations or closes
			 * left behind (freeing, RCU) finish before sampling.
			 * (It does not remove the spread of this family
			 * between runs; see the README.)
			 */
			sleep(1);
			for (i = 0; i < WARMUP + per; i++) {
				double vis, unp, t0, m;
				char *x;

				/* munmap of an unrelated, populated 64 KiB range in a process with n notifiers */
				x = mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
				if (x == MAP_FAILED)
					die("mmap");
				if (i & 1) {
					t0 = now_us();
					munmap(x, 64 * 1024);
					m = now_us() - t0;
					unp = userptr_cycle(b.p + (size_t)MAX_LIVE * PAGE, PAGE, &vis);
				} else {
					unp = userptr_cycle(b.p + (size_t)MAX_LIVE * PAGE, PAGE, &vis);
					t0 = now_us();
					munmap(x, 64 * 1024);
					m = now_us() - t0;
				}
				if (i >= WARMUP && k[l] < MAX_SAMPLES) {
					cv[l][k[l]] = vis;
					cu[l][k[l]] = unp;
					mu[l][k[l]++] = m;
				}
			}
		}
	}
	/*
	 * The goal's figure: 1 and MAX_LIVE live in alternating blocks,
	 * 1, MAX_LIVE, 1, ..., 1. The host's speed under TCG moves by up to
	 * 2x between blocks a few seconds apart, far more than any effect of
	 * the live count. So each sample is followed by the control round
	 * trip (a host command that no live registration touches), and a
	 * block is measured in control round trips; each MAX_LIVE block is
	 * then compared with the 1-live blocks just before and after it.
	 */
	have = live_set(live, have, 1, b.p);
	for (r = 0; r < 2 * LIVE_PAIRS + 1; r++) {
		int n = (r & 1) ? MAX_LIVE : 1;

		have = live_set(live, have, n, b.p);
		sleep(1);
		for (i = 0; i < WARMUP + LIVE_BLOCK; i++) {
			double vis, sub, c;

			userptr_cycle(b.p + (size_t)MAX_LIVE * PAGE, PAGE, &vis);
			c = control_roundtrip(&sub);
			if (i >= WARMUP) {
				pv[r][i - WARMUP] = vis;
				pc[r][i - WARMUP] = c;
			}
		}
	}
	have = live_set(live, have, 0, b.p);
	printf("BENCH {\"family\": \"live_pairs\", \"live\": [1, %d], \"blocks\": [", MAX_LIVE);
	for (r = 0; r < 2 * LIVE_PAIRS + 1; r++) {
		printf("%s{\"live\": %d, ", r ? ", " : "", (r & 1) ? MAX_LIVE : 1);
		jarray("userptr_caller_us", pv[r], LIVE_BLOCK, 1);
		jarray("control_us", pc[r], LIVE_BLOCK, 0);
		printf("}");
	}
	printf("]}\n");

	for (j = 0; j < NL; j++) {
		printf("BENCH {\"family\": \"live\", \"live\": %d, \"rounds\": %d, ", counts[j], LIVE_ROUNDS);
		jarray("userptr_caller_us", cv[j], k[j], 1);
		jarray("userptr_unpinned_us", cu[j], k[j], 1);
		jarray("munmap_other_us", mu[j], k[j], 0);
		printf("}\n");
	}
	fflush(stdout);
	buffer_free(&b);
}

/* ---- two threads registering at once ---- */

#define BATCH 8

struct worker {
	pthread_t th;
	struct buf b;
	pthread_barrier_t *go;
	double t;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	double t0;
	int i;

	pthread_barrier_wait(w->go);
	t0 = now_us();
	for (i = 0; i < BATCH; i++)
		gem_close(gpu, userptr_create(gpu, w->b.p, PAGE * 16, NULL));
	w->t = now_us() - t0;
	return NULL;
}

static double batch(struct worker *w, int threads)
{
	pthread_barrier_t go;
	double t0, t;
	int i;

	pthread_barrier_init(&go, NULL, threads + 1);
	for (i = 0; i < threads; i++) {
		w[i].go = &go;
		if (pthread_create(&w[i].th, NULL, worker_run, &w[i]))
			die("pthread_create");
	}
	pthread_barrier_wait(&go);
	t0 = now_us();
	for (i = 0; i < threads; i++)
		pthread_join(w[i].th, NULL);
	t = now_us() - t0;
	pthread_barrier_destroy(&go);
	unpins((long)threads * BATCH);
	return t;
}

static void family_threads(void)
{
	static double one[MAX_SAMPLES], two[MAX_SAMPLES];
	struct worker w[2];
	int i, k = 0;

	set_thp(0);
	w[0].b = buffer(PAGE * 16);
	w[1].b = buffer(PAGE * 16);
	for (i = 0; i < WARMUP + nsamples; i++) {
		double a, c;

		if (i & 1) {
			c = batch(w, 2);
			a = batch(w, 1);
		} else {
			a = batch(w, 1);
			c = batch(w, 2);
		}
		if (i >= WARMUP) {
			one[k] = a;
			two[k++] = c;
		}
	}
	printf("BENCH {\"family\": \"threads\", \"bytes\": %lu, \"per_thread\": %d, ", PAGE * 16, BATCH);
	jarray("one_thread_us", one, k, 1);
	jarray("two_threads_us", two, k, 0);
	printf("}\n");
	fflush(stdout);
	buffer_free(&w[0].b);
	buffer_free(&w[1].b);
}

/* ---- teardown at process exit ---- */

static void teardown_one(int n, double *vis, double *unp)
{
	int ready[2], go[2];
	char c = 0;
	pid_t pid;
	double t0;

	if (pipe(ready) || pipe(go))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		char node[64];
		int fd = virtgpu_open(node, sizeof(node)), i;
		char *p = mmap(NULL, (size_t)n * PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

		if (fd < 0 || p == MAP_FAILED)
			_exit(1);
		for (i = 0; i < n; i++)
			userptr_create(fd, p + (size_t)i * PAGE, PAGE, NULL);
		if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	if (read(ready[0], &c, 1) != 1)
		die("the teardown child failed to register %d ranges", n);
	t0 = now_us();
	if (write(go[1], &c, 1) != 1)
		die("pipe");
	waitpid(pid, NULL, 0);
	*vis = now_us() - t0;
	*unp = unpins(n) - t0;
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
}

static void family_teardown(void)
{
	static const int counts[] = { 1, 1000, MAX_LIVE };
	static double v[MAX_SAMPLES], u[MAX_SAMPLES];
	int l, i, k;

	for (l = 0; l < 3; l++) {
		int n = counts[l], want = n == MAX_LIVE ? teardown_samples : nsamples;
		int warm = n == MAX_LIVE ? 1 : WARMUP;

		for (i = 0, k = 0; i < warm + want; i++) {
			double vis, unp;

			teardown_one(n, &vis, &unp);
			if (i >= warm) {
				v[k] = vis;
				u[k++] = unp;
			}
		}
		printf("BENCH {\"family\": \"teardown\", \"live\": %d, ", n);
		jarray("exit_caller_us", v, k, 1);
		jarray("exit_unpinned_us", u, k, 0);
		printf("}\n");
		fflush(stdout);
	}
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = {
		4096, 64 * 1024, MIB, 4 * MIB, 16 * MIB, 64 * MIB, 256 * MIB,
	};
	struct io_uring_params params = { 0 };
	char node[64], cs[64];
	int opt, t, i;
	double step, t0;

	while ((opt = getopt(argc, argv, "n:t:")) != -1) {
		if (opt == 'n')
			nsamples = atoi(optarg);
		else if (opt == 't')
			teardown_samples = atoi(optarg);
		else
			return 2;
	}
	if (nsamples < 1 || nsamples > MAX_SAMPLES || teardown_samples < 1 || teardown_samples > MAX_SAMPLES)
		return 2;

	step = check_clock(cs, sizeof(cs));
	gpu = virtgpu_open(node, sizeof(node));
	if (gpu < 0)
		die("no virtio-gpu render node");
	ring = syscall(__NR_io_uring_setup, 4, &params);
	if (ring < 0)
		die("io_uring_setup");
	trace_setup();
	base_pins = virtgpu_pins();
	printf("BENCH {\"family\": \"env\", \"clocksource\": \"%s\", \"clock_step_us\": %.3f, "
	       "\"samples\": %d, \"teardown_samples_10000\": %d, \"warmup\": %d, \"unpin_event\": "
	       "\"kretprobe unpin_user_pages_dirty_lock, trace_clock mono\"}\n",
	       cs, step, nsamples, teardown_samples, WARMUP);
	fflush(stdout);

	/* The event source works before anything relies on it. */
	{
		struct buf b = buffer(PAGE);
		double vis;

		t0 = userptr_cycle(b.p, PAGE, &vis);
		/* The unpin may come before the caller is back from close(): only its clock is checked. */
		if (!(t0 > 0) || t0 > 10e6) {
			errno = 0;
			die("the unpin event's clock does not match CLOCK_MONOTONIC (%.1f us after start, caller saw %.1f us)",
			    t0, vis);
		}
		buffer_free(&b);
	}

	family_roundtrip();
	for (t = 0; t < 2; t++)
		for (i = 0; i < (int)(sizeof(sizes) / sizeof(sizes[0])); i++)
			family_register(t, sizes[i]);
	family_copy(0, 64 * MIB);
	family_copy(1, 64 * MIB);
	family_revoke(16 * MIB);
	family_threads();
	family_live();
	family_teardown();
	/* Entries of a THP-backed 1 GiB range and of a fully scattered 64 MiB one. */
	{
		struct buf b;
		long e, r;

		set_thp(1);
		b = buffer(1024 * MIB);
		entries_of(&b, &e, &r);
		printf("BENCH {\"family\": \"entries\", \"label\": \"THP 1 GiB\", \"bytes\": %lu, \"anon_huge_kib\": %ld, "
		       "\"entries\": %ld, \"runs\": %ld}\n", 1024 * MIB, anon_huge_kib(b.p), e, r);
		buffer_free(&b);
		b = scattered_buffer(64 * MIB);
		entries_of(&b, &e, &r);
		printf("BENCH {\"family\": \"entries\", \"label\": \"scattered 64 MiB\", \"bytes\": %lu, \"anon_huge_kib\": %ld, "
		       "\"entries\": %ld, \"runs\": %ld}\n", 64 * MIB, anon_huge_kib(b.p), e, r);
		buffer_free(&b);
	}
	family_host_read(1);
	family_host_read(0);
	printf("BENCH-DONE\n");
	return 0;
}
