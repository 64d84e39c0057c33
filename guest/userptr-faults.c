// SPDX-License-Identifier: GPL-2.0
/*
 * userptr-faults: fault-injection sweeps over the virtio-gpu userptr paths.
 *
 * With the per-task fail-nth interface (/proc/thread-self/fail-nth, served by
 * failslab and fail_page_alloc, configured here through debugfs for it), each
 * swept operation is run with its 1st, 2nd, 3rd, ... injection point failed,
 * until it runs without reaching the armed point. The operations:
 *
 *   creation   DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB with USE_USERPTR, for
 *              each blob_mem and flag combination the UAPI allows on this
 *              device, from one page to a THP-backed 64 MiB range; also in
 *              a fresh process (its mm's first notifier) and as an
 *              unprivileged user exactly at its RLIMIT_MEMLOCK
 *   close      DRM_IOCTL_GEM_CLOSE of a live and of a revoked userptr, and
 *              close() of a DRM file holding live userptrs
 *   revocation munmap (whole and partial), mremap, mmap(MAP_FIXED) over the
 *              range, MADV_DONTNEED, and a partial munmap that splits a THP,
 *              then waiting for the revocation
 *
 * After every step it checks: the syscall either succeeded or failed with a
 * clean errno (ENOMEM or EAGAIN, and only when a fault was injected); a
 * handle it returned works and the device reads the process's bytes (through
 * the host channel, when there is one); a handle is either live or reports
 * -EFAULT once revoked; no pin is leaked (nr_foll_pin_acquired against
 * nr_foll_pin_released, from a baseline, polled while the driver unpins on
 * its workqueue); no RLIMIT_MEMLOCK charge is leaked (VmPin back to its
 * baseline; for the unprivileged user, a creation of exactly its limit
 * works); the driver's debugfs userptr list holds nothing of this process;
 * and the device still answers (a fresh userptr works). At the end kmemleak
 * is scanned twice and must report nothing.
 *
 * Output: TAP, one case per swept operation and combination, and a line
 * "RESULT-JSON: {...}" with the fault points swept per category, the steps,
 * failures and leaks. Exits non-zero on any failure.
 *
 * Usage: userptr-faults [--only SUBSTRING] [--max-points N]
 *                       [--plant handle|errno|device|revoke]
 * --plant makes one check see a violation on purpose (a kept handle: pins,
 * VmPin and debugfs; an errno taken as wrong; a wrong expected checksum; a
 * revocation that did not happen), to show the checks can fail.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
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
/* Sweep caps, to keep the whole sweep within a few minutes of TCG time. */
#define MAX_POINTS_DEFAULT 400
#define THP_LEN (64 * MIB)
#define SCATTER_LEN (4 * MIB)
#define UNPRIV_PAGES 16

enum cat { CREATION, CLOSE, REVOCATION, NCAT };

static struct {
	int fd;			/* the render node */
	int chan;		/* the host channel, or -1 */
	int nth;		/* /proc/thread-self/fail-nth */
	uint64_t supported;	/* VIRTGPU_PARAM_RESOURCE_USERPTR */
	int has_3d;
	long pins;		/* baseline of pins outstanding */
	long vmpin;		/* baseline of VmPin, KiB */
	int entries;		/* baseline of our debugfs entries (0) */
	unsigned int max_points;
	const char *only;
	const char *plant;
	int planted;
	char *probe;		/* one page for the device-answers check */
	/* figures */
	unsigned long points[NCAT];
	unsigned long steps, failures, leaks, checks, skipped, cases;
	unsigned long errnos[256];
	/* the current case */
	int case_failed;
} g;

static void failure(bool leak, const char *fmt, ...)
{
	va_list ap;

	printf("# FAIL%s: ", leak ? " (leak)" : "");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (leak)
		g.leaks++;
	else
		g.failures++;
	g.case_failed = 1;
}

/* --- fail-nth ------------------------------------------------------------ */

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

/* Configure failslab and fail_page_alloc for fail-nth; 0 or why not. */
static const char *setup_faults(void)
{
	static const char *const common[][2] = {
		{ "probability", "0" }, { "interval", "1" }, { "times", "-1" },
		{ "space", "0" }, { "verbose", "0" }, { "task-filter", "N" },
	};
	static const char *const dirs[] = { "failslab", "fail_page_alloc" };
	char path[256];
	size_t i, j;

	if (access(DEBUGFS "/failslab", F_OK))
		mount("debugfs", DEBUGFS, "debugfs", 0, NULL);
	for (i = 0; i < 2; i++) {
		for (j = 0; j < sizeof(common) / sizeof(common[0]); j++) {
			snprintf(path, sizeof(path), DEBUGFS "/%s/%s", dirs[i], common[j][0]);
			if (write_file(path, common[j][1]))
				return "cannot configure failslab/fail_page_alloc in debugfs (CONFIG_FAULT_INJECTION_DEBUG_FS?)";
		}
	}
	if (write_file(DEBUGFS "/failslab/ignore-gfp-wait", "N") ||
	    write_file(DEBUGFS "/fail_page_alloc/ignore-gfp-wait", "N") ||
	    write_file(DEBUGFS "/fail_page_alloc/ignore-gfp-highmem", "N") ||
	    write_file(DEBUGFS "/fail_page_alloc/min-order", "0"))
		return "cannot set ignore-gfp-wait/ignore-gfp-highmem/min-order";
	g.nth = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (g.nth < 0)
		return "no /proc/thread-self/fail-nth (CONFIG_FAULT_INJECTION)";
	return NULL;
}

static void nth_arm(int fd, unsigned int n)
{
	char b[16];
	int l = snprintf(b, sizeof(b), "%u", n);

	if (pwrite(fd, b, l, 0) != l) {
		printf("Bail out! cannot write fail-nth: %s\n", strerror(errno));
		exit(1);
	}
}

/* Was the armed fault injected? Disarms. */
static bool nth_hit(int fd)
{
	char b[16] = { 0 };
	bool hit;

	if (pread(fd, b, sizeof(b) - 1, 0) <= 0) {
		printf("Bail out! cannot read fail-nth: %s\n", strerror(errno));
		exit(1);
	}
	hit = strtoul(b, NULL, 10) == 0;
	if (pwrite(fd, "0", 1, 0) != 1) {
		printf("Bail out! cannot reset fail-nth\n");
		exit(1);
	}
	return hit;
}

/* --- the driver ---------------------------------------------------------- */

static int create(int fd, uint32_t mem, uint32_t flags, const void *p,
		  size_t len, uint32_t *h, uint32_t *res)
{
	return virtgpu_userptr(fd, mem, flags, p, len, h, res);
}

static int wait_revoked(int fd, uint32_t h)
{
	int ret = virtgpu_info(fd, h), i;

	for (i = 0; i < 2000 && ret == 0; i++) {
		usleep(5000);
		ret = virtgpu_info(fd, h);
	}
	return ret;
}

/* Lines of the driver's debugfs userptr list owned by @pid (any pid: 0). */
static int debugfs_entries(pid_t pid, char *first, size_t len)
{
	char path[300], line[256];
	struct dirent *e;
	int count = 0, found = 0;
	DIR *d = opendir(DEBUGFS "/dri");

	if (first)
		first[0] = 0;
	while (d && (e = readdir(d))) {
		FILE *f;

		snprintf(path, sizeof(path), DEBUGFS "/dri/%s/virtio-gpu-userptr", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		found = 1;
		while (fgets(line, sizeof(line), f)) {
			int lpid;

			if (sscanf(line, "%*u %d", &lpid) != 1)
				continue;
			if (pid && lpid != pid)
				continue;
			if (first && !count)
				snprintf(first, len, "%s", line);
			count++;
		}
		fclose(f);
		break; /* one device: dri/0 and dri/128 are the same list */
	}
	if (d)
		closedir(d);
	return found ? count : -1;
}

/* The device reads @len bytes at @p for resource @res (when it can be asked). */
static void check_device(const char *what, uint32_t res, const void *p, size_t len)
{
	struct hostchan_view v;
	uint64_t want;

	if (g.chan < 0)
		return;
	want = hostchan_fnv(p, len);
	if (g.plant && !strcmp(g.plant, "device"))
		want ^= 1;
	g.checks++;
	if (hostchan_view(g.chan, res, &v)) {
		failure(false, "%s: the host channel does not answer", what);
		return;
	}
	if (!v.exists)
		failure(false, "%s: the device has no resource %u: %s", what, res, v.error);
	else if (v.size != len || v.checksum != want)
		failure(false, "%s: the device reads size %" PRIu64 " checksum %016" PRIx64
			", the process %zu %016" PRIx64, what, v.size, v.checksum, len, want);
}

/* Wait until the device no longer has @res (revoked or freed). */
static bool device_gone(uint32_t res)
{
	struct hostchan_view v;
	int i;

	if (g.chan < 0)
		return true;
	for (i = 0; i < 1000; i++) {
		if (hostchan_view(g.chan, res, &v))
			return false;
		if (!v.exists)
			return true;
		usleep(5000);
	}
	return false;
}

/*
 * After a step: nothing pinned, charged or listed beyond the baseline, and
 * the device still answers. A leak is reported once (the baseline follows).
 */
static void check_clean(const char *what, unsigned int n)
{
	char line[256];
	long pins, vmpin;
	double end;
	uint32_t h, res;
	int ents, ret;

	g.checks++;
	pins = virtgpu_wait_pins(g.pins, 10);
	if (pins != g.pins) {
		failure(true, "%s, fault point %u: %ld pages still pinned (baseline %ld, now %ld)",
			what, n, pins - g.pins, g.pins, pins);
		g.pins = pins;
	}
	g.checks++;
	end = virtgpu_now() + 5;
	while ((vmpin = virtgpu_vmpin_kib()) != g.vmpin && virtgpu_now() < end)
		usleep(2000);
	if (vmpin != g.vmpin) {
		failure(true, "%s, fault point %u: VmPin %ld KiB, baseline %ld KiB (a leaked RLIMIT_MEMLOCK/pinned_vm charge)",
			what, n, vmpin, g.vmpin);
		g.vmpin = vmpin;
	}
	g.checks++;
	end = virtgpu_now() + 5;
	while ((ents = debugfs_entries(getpid(), line, sizeof(line))) > g.entries && virtgpu_now() < end)
		usleep(2000);
	if (ents > g.entries) {
		failure(true, "%s, fault point %u: %d entries of this process left in the debugfs userptr list, first: %s",
			what, n, ents, line);
		g.entries = ents;
	}
	else if (ents < 0)
		failure(false, "%s: no virtio-gpu-userptr file under " DEBUGFS "/dri/*/", what);

	/* The device still answers: a fresh userptr works. */
	g.checks++;
	g.probe[0]++;
	ret = create(g.fd, VIRTGPU_BLOB_MEM_GUEST, 0, g.probe, PAGE, &h, &res);
	if (ret) {
		failure(false, "%s, fault point %u: a fresh userptr fails afterwards: %s",
			what, n, strerror(-ret));
		return;
	}
	check_device(what, res, g.probe, PAGE);
	virtgpu_gem_close(g.fd, h);
	if (virtgpu_wait_pins(g.pins, 10) != g.pins)
		failure(true, "%s: the fresh userptr's pin stays after close", what);
}

static bool errno_clean(int err)
{
	if (g.plant && !strcmp(g.plant, "errno"))
		return false;
	return err == ENOMEM || err == EAGAIN;
}

/* A syscall under an armed fault returned @ret (-errno or 0). */
static void judge(const char *what, unsigned int n, int ret, bool hit)
{
	if (!ret)
		return;
	if (!hit) {
		failure(false, "%s: fails with %s although no fault was injected (point %u)",
			what, strerror(-ret), n);
		return;
	}
	if (-ret < 256)
		g.errnos[-ret]++;
	if (!errno_clean(-ret))
		failure(false, "%s: fault point %u fails the syscall with %s (%d), not ENOMEM/EAGAIN",
			what, n, strerror(-ret), ret);
}

/* --- cases --------------------------------------------------------------- */

struct tally {
	unsigned int points, refused, absorbed;
	char errs[128];
};

static bool case_begin(const char *name)
{
	if (g.only && !strstr(name, g.only))
		return false;
	g.case_failed = 0;
	printf("# %s\n", name);
	fflush(stdout);
	return true;
}

static void case_end(const char *name, enum cat cat, const struct tally *t, double t0)
{
	g.cases++;
	g.points[cat] += t->points;
	printf("%sok %lu %s # %u fault points: %u refused%s%s, %u absorbed; %.1f s\n",
	       g.case_failed ? "not " : "", g.cases, name, t->points, t->refused,
	       t->errs[0] ? " " : "", t->errs, t->absorbed, virtgpu_now() - t0);
	fflush(stdout);
}

static void case_skip(const char *name, const char *why)
{
	if (g.only && !strstr(name, g.only))
		return;
	g.cases++;
	g.skipped++;
	printf("ok %lu %s # SKIP %s\n", g.cases, name, why);
	fflush(stdout);
}

static void tally_step(struct tally *t, int ret, bool hit)
{
	char e[24];

	g.steps++;
	if (!hit)
		return;
	t->points++;
	if (ret) {
		t->refused++;
		snprintf(e, sizeof(e), "%s", strerrorname_np(-ret) ? strerrorname_np(-ret) : "?");
		if (!strstr(t->errs, e) && strlen(t->errs) + strlen(e) + 3 < sizeof(t->errs)) {
			strcat(t->errs, t->errs[0] ? "," : "(");
			strcat(t->errs, e);
		}
	} else {
		t->absorbed++;
	}
}

static void tally_done(struct tally *t)
{
	if (t->errs[0])
		strcat(t->errs, ")");
}

static void too_many(const char *name, unsigned int n)
{
	failure(false, "%s: still reaching the armed fault point at %u (cap): a loop that retries forever?",
		name, n);
}

/* Creation with every injection point failed in turn. */
static void sweep_create(const char *name, uint32_t mem, uint32_t flags, char *p, size_t len)
{
	struct tally t = { 0 };
	double t0 = virtgpu_now();
	unsigned int n;

	if (!case_begin(name))
		return;
	for (n = 1; n <= g.max_points; n++) {
		uint32_t h, res;
		bool hit;
		int ret;

		nth_arm(g.nth, n);
		ret = create(g.fd, mem, flags, p, len, &h, &res);
		hit = nth_hit(g.nth);
		tally_step(&t, ret, hit);
		judge(name, n, ret, hit);
		if (!ret) {
			g.checks++;
			ret = virtgpu_info(g.fd, h);
			if (ret)
				failure(false, "%s: point %u: the new handle reports %s", name, n, strerror(-ret));
			check_device(name, res, p, len);
			/* Planted: the first handle created stays open. */
			if (g.plant && !strcmp(g.plant, "handle") && !g.planted) {
				g.planted = 1;
			} else {
				ret = virtgpu_gem_close(g.fd, h);
				if (ret)
					failure(false, "%s: closing the handle fails: %s", name, strerror(-ret));
			}
		}
		check_clean(name, n);
		if (!hit)
			break;
	}
	if (n > g.max_points)
		too_many(name, n);
	tally_done(&t);
	case_end(name, CREATION, &t, t0);
}

/* Creation in a process of its own: the mm's first interval notifier. */
static void sweep_create_fresh(const char *name)
{
	struct tally t = { 0 };
	double t0 = virtgpu_now();
	unsigned int n;

	if (!case_begin(name))
		return;
	for (n = 1; n <= g.max_points; n++) {
		int out[2], r[2] = { -EIO, 0 }, status;
		pid_t pid;

		if (pipe(out)) {
			failure(false, "pipe: %s", strerror(errno));
			break;
		}
		pid = fork();
		if (!pid) {
			char *p = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
			int nth = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
			uint32_t h;

			if (p == MAP_FAILED || nth < 0)
				_exit(2);
			nth_arm(nth, n);
			r[0] = create(g.fd, VIRTGPU_BLOB_MEM_GUEST, 0, p, 16 * PAGE, &h, NULL);
			r[1] = nth_hit(nth);
			if (!r[0])
				r[0] = virtgpu_info(g.fd, h) == 0 ? 0 : -EBADE;
			if (!r[0])
				virtgpu_gem_close(g.fd, h);
			if (write(out[1], r, sizeof(r)) != sizeof(r))
				_exit(3);
			_exit(0);
		}
		close(out[1]);
		if (read(out[0], r, sizeof(r)) != sizeof(r))
			failure(false, "%s: the child reported nothing", name);
		close(out[0]);
		waitpid(pid, &status, 0);
		if (r[0] == -EBADE) {
			failure(false, "%s: point %u: the new handle does not work", name, n);
			r[0] = 0;
		}
		tally_step(&t, r[0], r[1]);
		judge(name, n, r[0], r[1]);
		check_clean(name, n);
		if (!r[1])
			break;
	}
	if (n > g.max_points)
		too_many(name, n);
	tally_done(&t);
	case_end(name, CREATION, &t, t0);
}

/*
 * Creation as an unprivileged user at exactly its RLIMIT_MEMLOCK: after each
 * step a registration of the whole limit must work, so no charge leaked.
 * The child and this process take turns; this one checks pins and debugfs.
 */
static void sweep_create_unpriv(const char *name)
{
	struct tally t = { 0 };
	double t0 = virtgpu_now();
	int to[2], from[2], status;
	unsigned int n = 0;
	pid_t pid;

	if (!case_begin(name))
		return;
	if (pipe(to) || pipe(from)) {
		failure(false, "pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (!pid) {
		struct rlimit rl = { UNPRIV_PAGES * PAGE, UNPRIV_PAGES * PAGE };
		char *p = mmap(NULL, 2 * UNPRIV_PAGES * PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		int nth = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
		unsigned int cmd;

		close(to[1]);
		close(from[0]);
		if (p == MAP_FAILED || nth < 0 || setrlimit(RLIMIT_MEMLOCK, &rl) ||
		    setgid(65534) || setuid(65534))
			_exit(2);
		/* Each command: 0 quits, n > 0 sweeps point n, ~0 probes the limit. */
		while (read(to[0], &cmd, sizeof(cmd)) == sizeof(cmd) && cmd) {
			int r[2] = { 0, 0 };
			uint32_t h;

			if (cmd == ~0U) {
				double end = virtgpu_now() + 5;

				/* The last close's uncharge follows the host's answer. */
				while ((r[0] = create(g.fd, VIRTGPU_BLOB_MEM_GUEST, 0, p,
						      UNPRIV_PAGES * PAGE, &h, NULL)) == -ENOMEM &&
				       virtgpu_now() < end)
					usleep(5000);
				if (!r[0])
					virtgpu_gem_close(g.fd, h);
				/* One page more than the limit is refused. */
				if (!r[0] && (r[1] = create(g.fd, VIRTGPU_BLOB_MEM_GUEST, 0, p,
							    (UNPRIV_PAGES + 1) * PAGE, &h, NULL)) == 0)
					virtgpu_gem_close(g.fd, h);
			} else {
				nth_arm(nth, cmd);
				r[0] = create(g.fd, VIRTGPU_BLOB_MEM_GUEST, 0, p + PAGE,
					      UNPRIV_PAGES * PAGE, &h, NULL);
				r[1] = nth_hit(nth);
				if (!r[0])
					virtgpu_gem_close(g.fd, h);
			}
			if (write(from[1], r, sizeof(r)) != sizeof(r))
				_exit(3);
		}
		_exit(0);
	}
	close(to[0]);
	close(from[1]);
	for (n = 1; n <= g.max_points; n++) {
		unsigned int cmd = n;
		int r[2] = { -EIO, 0 }, q[2] = { -EIO, -EIO };

		if (write(to[1], &cmd, sizeof(cmd)) != sizeof(cmd) ||
		    read(from[0], r, sizeof(r)) != sizeof(r)) {
			failure(false, "%s: the unprivileged child is gone", name);
			break;
		}
		tally_step(&t, r[0], r[1]);
		judge(name, n, r[0], r[1]);
		check_clean(name, n);
		cmd = ~0U;
		if (write(to[1], &cmd, sizeof(cmd)) != sizeof(cmd) ||
		    read(from[0], q, sizeof(q)) != sizeof(q)) {
			failure(false, "%s: the unprivileged child is gone", name);
			break;
		}
		g.checks++;
		if (q[0])
			failure(true, "%s, fault point %u: a registration of exactly RLIMIT_MEMLOCK (%lu pages) fails with %s: a leaked charge",
				name, n, UNPRIV_PAGES, strerror(-q[0]));
		else if (q[1] != -ENOMEM)
			failure(false, "%s, fault point %u: one page over RLIMIT_MEMLOCK gives %s, not ENOMEM",
				name, n, q[1] ? strerror(-q[1]) : "success");
		check_clean(name, n);
		if (!r[1])
			break;
	}
	if (n > g.max_points)
		too_many(name, n);
	{
		unsigned int cmd = 0;

		if (write(to[1], &cmd, sizeof(cmd)) != sizeof(cmd))
			failure(false, "%s: cannot stop the child", name);
	}
	close(to[1]);
	close(from[0]);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		failure(false, "%s: the unprivileged child failed (status %#x)", name, status);
	tally_done(&t);
	case_end(name, CREATION, &t, t0);
}

static long read_long(const char *path)
{
	char b[32] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return LONG_MIN;
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	return n > 0 ? strtol(b, NULL, 10) : LONG_MIN;
}

static int write_long(const char *path, long v)
{
	char b[32];

	snprintf(b, sizeof(b), "%ld", v);
	return write_file(path, b);
}

/* Back to the fail-nth configuration of setup_faults(). */
static void restore_faults(void)
{
	write_file(DEBUGFS "/failslab/probability", "0");
	write_file(DEBUGFS "/failslab/task-filter", "N");
	write_file(DEBUGFS "/failslab/space", "0");
	write_file(DEBUGFS "/failslab/times", "-1");
	write_file(DEBUGFS "/fail_page_alloc/probability", "0");
	write_file(DEBUGFS "/fail_page_alloc/task-filter", "N");
	write_file(DEBUGFS "/fail_page_alloc/min-order", "0");
	write_file(DEBUGFS "/fail_page_alloc/times", "-1");
}

/*
 * Two faults in one creation, which fail-nth cannot make: every high-order
 * page allocation of this thread fails (fail_page_alloc with task-filter
 * and min-order 1, so kvmalloc() falls back to vmalloc() for the entry
 * list), and failslab fails the one slab allocation at which a budget of S
 * bytes ("space") runs out. A first run with an endless budget measures the
 * creation's slab bytes T; S = T fails the last slab allocation, and the
 * budget left by each run names the allocation before it, walked down to
 * the first. Needs task-filter (make-it-fail) and readable space/times.
 */
static void sweep_create_space(const char *name, char *p, size_t len)
{
	/* The filters first: probability 100 without them fails everyone. */
	static const char *const pa[][2] = {
		{ "task-filter", "Y" }, { "min-order", "1" }, { "interval", "1" },
		{ "times", "-1" }, { "space", "0" }, { "probability", "100" },
	};
	struct tally t = { 0 };
	double t0 = virtgpu_now();
	char path[128];
	long budget = 1L << 30, left;
	unsigned int n, misses = 0;
	size_t i;
	int mif;

	if (!case_begin(name))
		return;
	mif = open("/proc/thread-self/make-it-fail", O_WRONLY | O_CLOEXEC);
	for (i = 0; i < sizeof(pa) / sizeof(pa[0]); i++) {
		snprintf(path, sizeof(path), DEBUGFS "/fail_page_alloc/%s", pa[i][0]);
		if (write_file(path, pa[i][1]))
			mif = -1;
	}
	if (mif < 0 || write_file(DEBUGFS "/failslab/task-filter", "Y") ||
	    write_file(DEBUGFS "/failslab/probability", "100") ||
	    read_long(DEBUGFS "/failslab/space") == LONG_MIN) {
		failure(false, "%s: cannot set up task-filtered failslab/fail_page_alloc", name);
		goto out;
	}
	for (n = 0; n <= g.max_points && budget > 0; n++) {
		uint32_t h, res;
		bool hit;
		int ret;

		write_long(DEBUGFS "/failslab/space", budget);
		write_file(DEBUGFS "/failslab/times", "1");
		if (write(mif, "1", 1) != 1)
			break;
		ret = create(g.fd, VIRTGPU_BLOB_MEM_GUEST, 0, p, len, &h, &res);
		if (write(mif, "0", 1) != 1)
			break;
		hit = read_long(DEBUGFS "/failslab/times") == 0;
		left = read_long(DEBUGFS "/failslab/space");
		if (getenv("USERPTR_FAULTS_VERBOSE"))
			printf("#   budget %ld: %s, %s, %ld bytes left\n", budget,
			       hit ? "failed one" : "no failure", ret ? strerror(-ret) : "created", left);
		if (n == 0) {
			/* The measuring run: nothing may fail but high-order pages. */
			if (hit)
				failure(false, "%s: the measuring run hit its budget", name);
			if (ret)
				judge(name, n, ret, true);
		} else {
			tally_step(&t, ret, hit);
			judge(name, n, ret, hit);
		}
		if (!ret) {
			g.checks++;
			if (virtgpu_info(g.fd, h))
				failure(false, "%s: step %u: the new handle does not work", name, n);
			check_device(name, res, p, len);
			virtgpu_gem_close(g.fd, h);
		}
		check_clean(name, n);
		/*
		 * Measuring: T, all slab bytes. After a failure: the bytes
		 * before the failed allocation. A run without one measured T
		 * again (first-time allocations, kmemleak and KASAN metadata
		 * vary): go on from there, and stop after two such runs.
		 */
		budget -= left;
		if (hit)
			misses = 0;
		else if (n && ++misses == 2)
			break;
	}
out:
	if (mif >= 0)
		close(mif);
	restore_faults();
	tally_done(&t);
	case_end(name, CREATION, &t, t0);
}

static char *map_pop(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

enum close_kind { CLOSE_LIVE, CLOSE_REVOKED, CLOSE_FILE };

static void sweep_close(const char *name, enum close_kind kind)
{
	struct tally t = { 0 };
	double t0 = virtgpu_now();
	unsigned int n;
	char *p = map_pop(4 * 16 * PAGE);

	if (!case_begin(name))
		return;
	if (!p) {
		failure(false, "%s: mmap: %s", name, strerror(errno));
		goto out;
	}
	for (n = 1; n <= g.max_points; n++) {
		uint32_t h[4];
		int fd = g.fd, ret, i;
		bool hit;

		if (kind == CLOSE_FILE) {
			char node[64];

			fd = virtgpu_open(node, sizeof(node));
			if (fd < 0) {
				failure(false, "%s: cannot open the render node again", name);
				break;
			}
		}
		for (i = 0; i < (kind == CLOSE_FILE ? 4 : 1); i++) {
			ret = create(fd, VIRTGPU_BLOB_MEM_GUEST, 0, p + i * 16 * PAGE,
				     16 * PAGE, &h[i], NULL);
			if (ret) {
				failure(false, "%s: setup creation fails: %s", name, strerror(-ret));
				goto out;
			}
		}
		if (kind == CLOSE_REVOKED) {
			char *q = mmap(p, 16 * PAGE, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE, -1, 0);

			g.checks++;
			if (q != p || wait_revoked(fd, h[0]) != -EFAULT)
				failure(false, "%s: replacing the range does not revoke", name);
		}
		nth_arm(g.nth, n);
		if (kind == CLOSE_FILE)
			ret = close(fd) ? -errno : 0;
		else
			ret = virtgpu_gem_close(fd, h[0]);
		hit = nth_hit(g.nth);
		tally_step(&t, ret, hit);
		judge(name, n, ret, hit);
		if (ret && kind != CLOSE_FILE) {
			/* Refused: the handle is still there and closes now. */
			ret = virtgpu_gem_close(fd, h[0]);
			if (ret)
				failure(false, "%s: the handle does not close after a refused close: %s",
					name, strerror(-ret));
		}
		check_clean(name, n);
		if (!hit)
			break;
	}
	if (n > g.max_points)
		too_many(name, n);
out:
	if (p)
		munmap(p, 4 * 16 * PAGE);
	tally_done(&t);
	case_end(name, CLOSE, &t, t0);
}

enum revoke_kind { R_MUNMAP, R_MUNMAP_PART, R_MREMAP, R_MAP_FIXED, R_DONTNEED, R_THP_SPLIT };

static void sweep_revoke(const char *name, enum revoke_kind kind)
{
	size_t len = kind == R_THP_SPLIT ? 2 * MIB : 16 * PAGE;
	struct tally t = { 0 };
	double t0 = virtgpu_now();
	unsigned int n;

	if (!case_begin(name))
		return;
	for (n = 1; n <= g.max_points; n++) {
		size_t maplen = len + 2 * MIB;
		char *raw = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *dst = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *p;
		uint32_t h, res;
		bool hit;
		int ret;

		if (raw == MAP_FAILED || dst == MAP_FAILED) {
			failure(false, "%s: mmap: %s", name, strerror(errno));
			break;
		}
		p = (char *)(((uintptr_t)raw + 2 * MIB - 1) & ~(2 * MIB - 1));
		madvise(p, len, kind == R_THP_SPLIT ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
		hostchan_fill(p, len, n);
		ret = create(g.fd, VIRTGPU_BLOB_MEM_GUEST, 0, p, len, &h, &res);
		if (ret) {
			failure(false, "%s: setup creation fails: %s", name, strerror(-ret));
			munmap(raw, maplen);
			munmap(dst, len);
			break;
		}
		nth_arm(g.nth, n);
		switch (kind) {
		case R_MUNMAP:
			ret = munmap(p, len);
			break;
		case R_MUNMAP_PART:
		case R_THP_SPLIT:
			ret = munmap(p + 5 * PAGE, PAGE);
			break;
		case R_MREMAP:
			ret = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst) == dst ? 0 : -1;
			break;
		case R_MAP_FIXED:
			ret = mmap(p + 4 * PAGE, PAGE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
				      p + 4 * PAGE ? 0 : -1;
			break;
		case R_DONTNEED:
			ret = madvise(p + 5 * PAGE, PAGE, MADV_DONTNEED);
			break;
		}
		ret = ret ? -errno : 0;
		hit = nth_hit(g.nth);
		tally_step(&t, ret, hit);
		judge(name, n, ret, hit);
		g.checks++;
		if (!ret) {
			/* Given up: the revocation must follow, and the device let go. */
			int r = wait_revoked(g.fd, h);

			if (g.plant && !strcmp(g.plant, "revoke"))
				r = 0;
			if (r != -EFAULT)
				failure(false, "%s: point %u: the handle reports %s after the range was given up, not EFAULT",
					name, n, r ? strerror(-r) : "success");
			else if (!device_gone(res))
				failure(false, "%s: point %u: the device still has resource %u after the revocation",
					name, n, res);
		} else {
			/* Refused: the range is untouched; the handle is live or revoked. */
			int r = virtgpu_info(g.fd, h);

			if (r == 0)
				check_device(name, res, p, len);
			else if (r != -EFAULT)
				failure(false, "%s: point %u: the handle reports %s, neither live nor EFAULT",
					name, n, strerror(-r));
		}
		ret = virtgpu_gem_close(g.fd, h);
		if (ret)
			failure(false, "%s: closing the handle fails: %s", name, strerror(-ret));
		munmap(raw, maplen);
		munmap(dst, len);
		check_clean(name, n);
		if (!hit)
			break;
	}
	if (n > g.max_points)
		too_many(name, n);
	tally_done(&t);
	case_end(name, REVOCATION, &t, t0);
}

/* --- memory layouts ------------------------------------------------------ */

/* AnonHugePages (KiB) of the mapping holding @p. */
static long anon_huge_kib(const void *p)
{
	char line[256];
	unsigned long lo, hi;
	bool in = false;
	long kib = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = lo <= (uintptr_t)p && (uintptr_t)p < hi;
			continue;
		}
		if (in && !strncmp(line, "AnonHugePages:", 14)) {
			kib = atol(line + 14);
			break;
		}
	}
	if (f)
		fclose(f);
	return kib;
}

static char *map_aligned(size_t len, int advice)
{
	char *raw = mmap(NULL, len + 2 * MIB, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p;

	if (raw == MAP_FAILED)
		return NULL;
	p = (char *)(((uintptr_t)raw + 2 * MIB - 1) & ~(2 * MIB - 1));
	madvise(p, len, advice);
	return p;
}

/* Pages faulted in a shuffled order: physical runs stay short. */
static char *map_scattered(size_t len)
{
	char *p = map_aligned(len, MADV_NOHUGEPAGE);

	if (!p)
		return NULL;
	virtgpu_touch_scattered(p, len);
	hostchan_fill(p, len, len);
	return p;
}

static void json(double t0)
{
	int i, first = 1;

	printf("RESULT-JSON: {\"program\": \"userptr-faults\", \"points\": {\"creation\": %lu, \"close\": %lu, \"revocation\": %lu}, "
	       "\"points_total\": %lu, \"cases\": %lu, \"skipped\": %lu, \"steps\": %lu, \"checks\": %lu, "
	       "\"failures\": %lu, \"leaks\": %lu, \"host_channel\": %s, \"max_points\": %u, \"seconds\": %.1f, \"errnos\": {",
	       g.points[CREATION], g.points[CLOSE], g.points[REVOCATION],
	       g.points[CREATION] + g.points[CLOSE] + g.points[REVOCATION],
	       g.cases, g.skipped, g.steps, g.checks, g.failures, g.leaks,
	       g.chan >= 0 ? "true" : "false", g.max_points, virtgpu_now() - t0);
	for (i = 1; i < 256; i++) {
		if (!g.errnos[i])
			continue;
		printf("%s\"%s\": %lu", first ? "" : ", ", strerrorname_np(i) ?: "?", g.errnos[i]);
		first = 0;
	}
	printf("}}\n");
}

/* Two kmemleak scans with a pause; anything reported is a leak. */
static void kmemleak_check(void)
{
	char line[256];
	int lines = 0;
	FILE *f;

	g.checks++;
	if (write_file(DEBUGFS "/kmemleak", "scan")) {
		failure(false, "kmemleak: cannot trigger a scan (CONFIG_DEBUG_KMEMLEAK?)");
		return;
	}
	sleep(5);
	if (write_file(DEBUGFS "/kmemleak", "scan")) {
		failure(false, "kmemleak: the second scan fails");
		return;
	}
	f = fopen(DEBUGFS "/kmemleak", "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (lines++ < 60)
			printf("# kmemleak: %s", line);
	}
	if (f)
		fclose(f);
	if (lines)
		failure(true, "kmemleak reports %d lines of suspected leaks", lines);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		enum revoke_kind kind;
	} revokes[] = {
		{ "munmap whole range (16 pages)", R_MUNMAP },
		{ "munmap one page inside (16 pages, VMA split)", R_MUNMAP_PART },
		{ "mremap the range away (16 pages)", R_MREMAP },
		{ "mmap MAP_FIXED over one page (16 pages)", R_MAP_FIXED },
		{ "MADV_DONTNEED one page (16 pages)", R_DONTNEED },
		{ "munmap one page of a THP (2 MiB, PMD split)", R_THP_SPLIT },
	};
	struct drm_virtgpu_getparam gp;
	struct {
		const char *name;
		char *p;
		size_t len;
		const char *skip;
	} sizes[5];
	char node[64], name[200], *ro;
	const char *why;
	double t0 = virtgpu_now();
	int v = 0, i, j, nsizes = 0;
	long huge;

	g.max_points = MAX_POINTS_DEFAULT;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--only") && i + 1 < argc)
			g.only = argv[++i];
		else if (!strcmp(argv[i], "--max-points") && i + 1 < argc)
			g.max_points = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--plant") && i + 1 < argc)
			g.plant = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--only SUBSTRING] [--max-points N] [--plant handle|errno|device|revoke]\n",
				argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	g.chan = -1;
	g.fd = virtgpu_open(node, sizeof(node));
	if (g.fd < 0) {
		printf("Bail out! no virtio-gpu render node\n");
		return 1;
	}
	gp = (struct drm_virtgpu_getparam){ .param = VIRTGPU_PARAM_RESOURCE_USERPTR,
					    .value = (uintptr_t)&v };
	if (ioctl(g.fd, DRM_IOCTL_VIRTGPU_GETPARAM, &gp) || !(v & VIRTGPU_BLOB_FLAG_USE_USERPTR)) {
		printf("Bail out! the driver or device offers no userptr blobs\n");
		return 1;
	}
	g.supported = v;
	v = 0;
	gp = (struct drm_virtgpu_getparam){ .param = VIRTGPU_PARAM_3D_FEATURES,
					    .value = (uintptr_t)&v };
	g.has_3d = !ioctl(g.fd, DRM_IOCTL_VIRTGPU_GETPARAM, &gp) && v;
	why = setup_faults();
	if (why) {
		printf("Bail out! %s\n", why);
		return 1;
	}
	g.chan = hostchan_open();
	printf("# %s; userptr flags %#" PRIx64 "; 3D %s; host channel %s\n", node, g.supported,
	       g.has_3d ? "yes" : "no", g.chan >= 0 ? "yes" : "no (device checks SKIP)");
	if (g.chan < 0)
		printf("# SKIP device view checks: no host channel " HOSTCHAN_NAME "\n");
	printf("# caps (to stay within a few minutes of TCG time): sizes 1 page, 16 pages, 4 MiB scattered, 64 MiB THP; "
	       "at most %u fault points per operation; revocation and close on 16 pages (2 MiB for the THP split)%s%s\n",
	       g.max_points, g.only ? "; only cases matching " : "", g.only ? g.only : "");
	if (g.plant)
		printf("# PLANTED violation: %s (this run must fail)\n", g.plant);

	g.probe = map_pop(PAGE);
	sizes[nsizes++] = (typeof(sizes[0])){ "1 page", map_pop(PAGE), PAGE, NULL };
	sizes[nsizes++] = (typeof(sizes[0])){ "16 pages", map_pop(16 * PAGE), 16 * PAGE, NULL };
	sizes[nsizes++] = (typeof(sizes[0])){ "4 MiB scattered", map_scattered(SCATTER_LEN), SCATTER_LEN, NULL };
	sizes[nsizes] = (typeof(sizes[0])){ "64 MiB THP", map_aligned(THP_LEN, MADV_HUGEPAGE), THP_LEN, NULL };
	if (sizes[nsizes].p) {
		hostchan_fill(sizes[nsizes].p, THP_LEN, 64);
		huge = anon_huge_kib(sizes[nsizes].p);
		printf("# 64 MiB THP range: %ld KiB THP-backed\n", huge);
		if (huge < (long)(THP_LEN / 1024))
			sizes[nsizes].skip = "THP not available (the 64 MiB range is not THP-backed)";
	}
	nsizes++;
	for (i = 0; i < nsizes; i++) {
		if (!sizes[i].p && !sizes[i].skip) {
			printf("Bail out! cannot map %s\n", sizes[i].name);
			return 1;
		}
		if (sizes[i].p && sizes[i].len <= 16 * PAGE)
			hostchan_fill(sizes[i].p, sizes[i].len, i + 1);
	}
	ro = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (ro == MAP_FAILED || !g.probe) {
		printf("Bail out! mmap: %s\n", strerror(errno));
		return 1;
	}
	hostchan_fill(ro, 16 * PAGE, 99);
	mprotect(ro, 16 * PAGE, PROT_READ);

	g.pins = virtgpu_wait_pins(virtgpu_pins(), 1);
	g.vmpin = virtgpu_vmpin_kib();
	printf("# baseline: %ld pins outstanding, VmPin %ld KiB\n", g.pins, g.vmpin);

	/* Creation: every blob_mem and flag combination, every size. */
	for (i = 0; i < 2; i++) {
		uint32_t flags = i ? VIRTGPU_BLOB_FLAG_USERPTR_RDONLY : 0;

		for (j = 0; j < nsizes; j++) {
			snprintf(name, sizeof(name), "creation BLOB_MEM_GUEST %s %s",
				 i ? "USERPTR_RDONLY" : "rw", sizes[j].name);
			if (sizes[j].skip)
				case_skip(name, sizes[j].skip);
			else if (i && !(g.supported & VIRTGPU_BLOB_FLAG_USERPTR_RDONLY))
				case_skip(name, "the device offers no read-only userptrs");
			else
				sweep_create(name, VIRTGPU_BLOB_MEM_GUEST, flags, sizes[j].p, sizes[j].len);
		}
	}
	if (g.supported & VIRTGPU_BLOB_FLAG_USERPTR_RDONLY)
		sweep_create("creation BLOB_MEM_GUEST USERPTR_RDONLY 16 pages of a PROT_READ mapping",
			     VIRTGPU_BLOB_MEM_GUEST, VIRTGPU_BLOB_FLAG_USERPTR_RDONLY, ro, 16 * PAGE);
	else
		case_skip("creation BLOB_MEM_GUEST USERPTR_RDONLY 16 pages of a PROT_READ mapping",
			  "the device offers no read-only userptrs");
	for (i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "creation BLOB_MEM_HOST3D_GUEST %s 16 pages",
			 i ? "USERPTR_RDONLY" : "rw");
		/* A HOST3D_GUEST userptr needs a 3D context: the 3D suite's. */
		case_skip(name, g.has_3d ? "needs a 3D context (covered by userptr-3d)" :
					   "the device has no 3D (VIRTGPU_PARAM_3D_FEATURES 0)");
	}
	sweep_create_space("creation BLOB_MEM_GUEST rw 4 MiB scattered, high-order pages failing, each slab allocation failed in turn",
			   sizes[2].p, sizes[2].len);
	sweep_create_fresh("creation BLOB_MEM_GUEST rw 16 pages in a fresh process (first notifier of its mm)");
	sweep_create_unpriv("creation BLOB_MEM_GUEST rw 16 pages as uid 65534 at exactly RLIMIT_MEMLOCK");

	/* Close. */
	sweep_close("close: GEM_CLOSE of a live userptr (16 pages)", CLOSE_LIVE);
	sweep_close("close: GEM_CLOSE of a revoked userptr (16 pages)", CLOSE_REVOKED);
	sweep_close("close: close() of a DRM file holding 4 live userptrs", CLOSE_FILE);

	/* Revocation. */
	for (i = 0; i < (int)(sizeof(revokes) / sizeof(revokes[0])); i++) {
		snprintf(name, sizeof(name), "revocation: %s", revokes[i].name);
		if (revokes[i].kind == R_THP_SPLIT && sizes[3].skip)
			case_skip(name, sizes[3].skip);
		else
			sweep_revoke(name, revokes[i].kind);
	}

	printf("# kmemleak: two scans\n");
	kmemleak_check();
	printf("1..%lu\n", g.cases);
	printf("# fault points swept: creation %lu, close %lu, revocation %lu; %lu steps, %lu checks, %lu failures, %lu leaks, %.1f s\n",
	       g.points[CREATION], g.points[CLOSE], g.points[REVOCATION], g.steps, g.checks,
	       g.failures, g.leaks, virtgpu_now() - t0);
	json(t0);
	return g.failures || g.leaks ? 1 : 0;
}
