// SPDX-License-Identifier: GPL-2.0
/*
 * userptr-3d: userptr blobs on a 3D host (QEMU with virglrenderer).
 *
 * Where a userptr meets a GPU context: a virgl context made with
 * VIRTGPU_CONTEXT_INIT, userptr blobs created in it (VIRTGPU_BLOB_MEM_GUEST,
 * and HOST3D_GUEST as far as virglrenderer lets a context make one),
 * DRM_IOCTL_VIRTGPU_EXECBUFFER listing them with an out-fence that must
 * signal, -EFAULT for a revoked one, threads submitting against a userptr
 * while another thread unmaps it, the host's limit of memory entries, and
 * the guest refusing read-only userptrs when the device does not offer them.
 * After each case the guest's pinned pages must be back to where they were.
 *
 * Usage: userptr-3d [--host series|stock] [--race-rounds N] [--race-seconds S]
 *   --host  which QEMU this runs on: our series, or the stock QEMU (only
 *           the build fix), whose virgl path caps a blob at 16384 entries
 *           (the series limits it by the blob's size in pages instead);
 *           the submit/munmap race runs on the series host only.
 * Output: TAP. Exit status 0 when no case failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <drm/drm.h>
#include <drm/virtgpu_drm.h>

#include "virtgpu.h"

#define PAGE 4096UL

/* From virglrenderer's virgl_protocol.h (the wire format of a virgl context). */
#define VIRGL_CMD0(cmd, obj, len) ((cmd) | ((obj) << 8) | ((len) << 16))
#define VIRGL_CCMD_NOP 0
#define VIRGL_CCMD_PIPE_RESOURCE_CREATE 48
#define VIRGL_PIPE_RES_CREATE_SIZE 11
#define VIRGL_PIPE_BUFFER 0		/* PIPE_BUFFER */
#define VIRGL_FORMAT_R8_UNORM 64
#define VIRGL_BIND_VERTEX_BUFFER (1 << 4)
/* virtio-gpu capability sets */
#define CAPSET_VIRGL 1
#define CAPSET_VIRGL2 2

/* The stock QEMU's limit of memory entries of one blob. */
#define HOST_MAX_ENTRIES 16384

static int fd = -1;
static int nr_test, nr_failed;
static bool stock;

static void result(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++nr_test);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!ok)
		nr_failed++;
}

static void skip(const char *what, const char *fmt, ...)
{
	va_list ap;

	printf("ok %d - %s # SKIP ", ++nr_test, what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int getparam(uint64_t param, int *value)
{
	struct drm_virtgpu_getparam gp = {
		.param = param,
		.value = (uintptr_t)value,
	};

	*value = 0;
	return ioctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, &gp) ? -errno : 0;
}

/* Create a userptr blob; returns 0 or -errno, the handles in @bo and @res. */
static int userptr(void *addr, size_t size, uint32_t blob_mem, uint32_t flags,
		   uint64_t blob_id, const uint32_t *cmd, uint32_t cmd_size,
		   uint32_t *bo, uint32_t *res)
{
	return virtgpu_userptr_cmd(fd, blob_mem, flags, addr, size, blob_id, cmd,
				   cmd_size, bo, res);
}

static int gem_close(uint32_t bo)
{
	return virtgpu_gem_close(fd, bo);
}

/*
 * Submit a virgl NOP listing @bos; with @fence_out, the out-fence's sync file
 * in *@fence. Returns 0 or -errno.
 */
static int submit(int dev, const uint32_t *bos, uint32_t nbos, bool fence_out, int *fence)
{
	uint32_t nop = VIRGL_CMD0(VIRGL_CCMD_NOP, 0, 0);
	struct drm_virtgpu_execbuffer eb = {
		.flags = fence_out ? VIRTGPU_EXECBUF_FENCE_FD_OUT : 0,
		.size = sizeof(nop),
		.command = (uintptr_t)&nop,
		.bo_handles = (uintptr_t)bos,
		.num_bo_handles = nbos,
		.fence_fd = -1,
	};

	if (ioctl(dev, DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb))
		return -errno;
	if (fence)
		*fence = fence_out ? eb.fence_fd : -1;
	return 0;
}

/* 1 when the sync file signalled within @ms, 0 when not, -errno on error. */
static int fence_wait(int fence, int ms)
{
	struct pollfd p = { .fd = fence, .events = POLLIN };
	int n = poll(&p, 1, ms);

	if (n < 0)
		return -errno;
	return n == 1 && (p.revents & POLLIN);
}

/* Wait until the guest's pinned pages are back to @base; true if they are. */
static bool pins_back(long base, double seconds)
{
	double end = now() + seconds;

	do {
		if (virtgpu_pins() == base)
			return true;
		usleep(10000);
	} while (now() < end);
	return false;
}

static void *map_pages(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0x5a, size);
	return p;
}

/*
 * @npages pages faulted in a permuted order (virtgpu_touch_scattered()), so
 * that neighbours are physically apart and each needs a memory entry of its
 * own; their physically contiguous runs in *@runs (pagemap). One mapping:
 * 17408 one-page mappings took minutes to build on the debug kernel.
 */
static void *scattered(size_t npages, long *runs)
{
	char *p = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, npages * PAGE, MADV_NOHUGEPAGE);
	virtgpu_touch_scattered(p, npages * PAGE);
	*runs = virtgpu_contiguous_runs(p, npages * PAGE);
	return p;
}

/* ---- the race: submissions against a userptr while it is unmapped ---- */

struct race {
	uint32_t bo;
	atomic_bool unmapped;		/* munmap() has returned */
	atomic_long submitted, refused, late, bad_errno, resurrected, unsignalled;
	atomic_int bad_value;
};

static struct race race;

static void *submitter(void *arg)
{
	bool seen_efault = false;
	long i;

	(void)arg;
	for (i = 0; i < 100000; i++) {
		bool after = atomic_load(&race.unmapped);
		int fence = -1, ret;

		ret = submit(fd, &race.bo, 1, (i & 7) == 0, &fence);
		if (!ret) {
			atomic_fetch_add(&race.submitted, 1);
			if (after)	/* began after munmap() returned */
				atomic_fetch_add(&race.late, 1);
			if (seen_efault)
				atomic_fetch_add(&race.resurrected, 1);
			if (after || seen_efault)
				break;
			if (fence >= 0) {
				if (fence_wait(fence, 10000) != 1)
					atomic_fetch_add(&race.unsignalled, 1);
				close(fence);
			}
		} else if (ret == -EFAULT) {
			atomic_fetch_add(&race.refused, 1);
			seen_efault = true;
			if (after)
				break;
		} else {
			atomic_fetch_add(&race.bad_errno, 1);
			atomic_store(&race.bad_value, -ret);
			break;
		}
	}
	return NULL;
}

static void test_race(long max_rounds, double max_seconds)
{
	enum { THREADS = 2, SIZE = 16 * PAGE };
	long base = virtgpu_pins(), rounds = 0, create_failed = 0;
	int create_errno = 0;
	double start = now();

	memset(&race, 0, sizeof(race));
	while (rounds < max_rounds && now() - start < max_seconds) {
		pthread_t t[THREADS];
		void *p = map_pages(SIZE);
		int i, ret;

		if (!p)
			break;
		ret = userptr(p, SIZE, VIRTGPU_BLOB_MEM_GUEST, 0, 0, NULL, 0, &race.bo, NULL);
		if (ret) {
			create_failed++;
			create_errno = -ret;
			munmap(p, SIZE);
			break;
		}
		atomic_store(&race.unmapped, false);
		for (i = 0; i < THREADS; i++)
			pthread_create(&t[i], NULL, submitter, NULL);
		/* Let the submitters get going, for a varying while. */
		usleep(rounds % 7 * 50);
		munmap(p, SIZE);
		atomic_store(&race.unmapped, true);
		for (i = 0; i < THREADS; i++)
			pthread_join(t[i], NULL);
		if (gem_close(race.bo))
			create_failed++;
		rounds++;
	}
	diag("race: %ld rounds in %.1f s, %ld submissions accepted, %ld refused with EFAULT",
	     rounds, now() - start, atomic_load(&race.submitted), atomic_load(&race.refused));
	result(!create_failed, "race: every round's userptr was created and closed (%ld rounds)%s%s",
	       rounds, create_failed ? ", failed: " : "",
	       create_failed ? strerror(create_errno) : "");
	result(rounds >= 1000, "race: at least 1000 rounds within %.0f s (%ld)", max_seconds, rounds);
	result(!atomic_load(&race.bad_errno),
	       "race: submissions either succeed or fail with EFAULT (%ld others, last %s)",
	       atomic_load(&race.bad_errno), strerror(atomic_load(&race.bad_value)));
	result(!atomic_load(&race.late) && !atomic_load(&race.resurrected),
	       "race: no submission accepted after munmap() returned or after an EFAULT (%ld, %ld)",
	       atomic_load(&race.late), atomic_load(&race.resurrected));
	result(!atomic_load(&race.unsignalled), "race: every out-fence signalled (%ld did not)",
	       atomic_load(&race.unsignalled));
	result(atomic_load(&race.submitted) > 0 && atomic_load(&race.refused) > 0,
	       "race: both outcomes happened (the race was run, not avoided)");
	bool pins_ok = pins_back(base, 20);
	result(pins_ok, "race: pins balanced afterwards (%ld pinned, %ld before)",
	       virtgpu_pins(), base);
}

/* ---- the rest ---- */

static void test_entries(void)
{
	const size_t npages = HOST_MAX_ENTRIES + 1024;
	long base = virtgpu_pins();
	uint32_t bo;
	long runs = -1;
	void *p = scattered(npages, &runs);
	int ret;

	if (!p) {
		result(false, "entries: could not build %zu scattered pages (%s)", npages, strerror(errno));
		return;
	}
	/* Fewer runs than the host's limit would test nothing. */
	if (runs <= HOST_MAX_ENTRIES) {
		result(false, "entries: %zu scattered pages are %ld physically contiguous runs, not more than %d",
		       npages, runs, HOST_MAX_ENTRIES);
		munmap(p, npages * PAGE);
		return;
	}
	ret = userptr(p, npages * PAGE, VIRTGPU_BLOB_MEM_GUEST, 0, 0, NULL, 0, &bo, NULL);
	if (stock) {
		result(ret == -EIO, "entries: %zu scattered pages (%ld runs > %d entries) refused by the stock host: %s",
		       npages, runs, HOST_MAX_ENTRIES, ret ? strerror(-ret) : "accepted");
	} else {
		result(!ret, "entries: %zu scattered pages (%ld runs > %d entries) accepted by the series host%s%s",
		       npages, runs, HOST_MAX_ENTRIES, ret ? ": " : "", ret ? strerror(-ret) : "");
	}
	if (!ret) {
		int fence = -1;

		if (!stock)
			result(!submit(fd, &bo, 1, true, &fence) && fence >= 0 && fence_wait(fence, 10000) == 1,
			       "entries: a submission lists the large userptr, its fence signals");
		if (fence >= 0)
			close(fence);
		gem_close(bo);
	}
	munmap(p, npages * PAGE);
	bool pins_ok = pins_back(base, 20);
	result(pins_ok, "entries: nothing left pinned (%ld pinned, %ld before)",
	       virtgpu_pins(), base);
}

static void test_rdonly(int mask)
{
	long base = virtgpu_pins();
	uint32_t bo;
	void *p;
	int ret;

	if (mask & VIRTGPU_BLOB_FLAG_USERPTR_RDONLY) {
		skip("read-only userptr refused by the guest", "the device offers read-only blobs here");
		return;
	}
	p = mmap(NULL, 4 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		result(false, "read-only userptr: mmap: %s", strerror(errno));
		return;
	}
	ret = userptr(p, 4 * PAGE, VIRTGPU_BLOB_MEM_GUEST, VIRTGPU_BLOB_FLAG_USERPTR_RDONLY,
		      0, NULL, 0, &bo, NULL);
	if (!ret)
		gem_close(bo);
	result(ret == -EINVAL, "read-only userptr refused by the guest without the device's feature: %s",
	       ret ? strerror(-ret) : "accepted");
	munmap(p, 4 * PAGE);
	result(pins_back(base, 10), "read-only userptr: nothing left pinned");
}

/* A userptr whose storage the host keeps itself too (a virgl pipe buffer). */
static void test_host3d_guest(void)
{
	uint32_t cmd[VIRGL_PIPE_RES_CREATE_SIZE + 1] = { 0 };
	const size_t size = 16 * PAGE;
	long base = virtgpu_pins();
	uint32_t bo, res;
	void *p = map_pages(size);
	int ret, fence = -1;

	if (!p) {
		result(false, "host3d-guest: mmap: %s", strerror(errno));
		return;
	}
	cmd[0] = VIRGL_CMD0(VIRGL_CCMD_PIPE_RESOURCE_CREATE, 0, VIRGL_PIPE_RES_CREATE_SIZE);
	cmd[1] = VIRGL_PIPE_BUFFER;
	cmd[2] = VIRGL_FORMAT_R8_UNORM;
	cmd[3] = VIRGL_BIND_VERTEX_BUFFER;
	cmd[4] = size;		/* width */
	cmd[5] = 1;		/* height */
	cmd[6] = 1;		/* depth */
	cmd[7] = 1;		/* array size */
	cmd[11] = 0x3d01;	/* blob id */
	ret = userptr(p, size, VIRTGPU_BLOB_MEM_HOST3D_GUEST, 0, 0x3d01, cmd, sizeof(cmd), &bo, &res);
	if (ret == -EIO) {
		skip("host3d-guest: userptr blob with host storage in the virgl context",
		     "virglrenderer refused the HOST3D_GUEST blob (host answered an error, guest %s)",
		     strerror(EIO));
	} else if (ret) {
		result(false, "host3d-guest: userptr HOST3D_GUEST blob in the virgl context: %s",
		       strerror(-ret));
	} else {
		result(true, "host3d-guest: userptr HOST3D_GUEST blob in the virgl context (resource %u)",
		       res);
		ret = submit(fd, &bo, 1, true, &fence);
		result(!ret && fence >= 0 && fence_wait(fence, 10000) == 1,
		       "host3d-guest: execbuffer lists it, its out-fence signals%s%s",
		       ret ? ": " : "", ret ? strerror(-ret) : "");
		if (fence >= 0)
			close(fence);
		result(!gem_close(bo), "host3d-guest: closed");
	}
	munmap(p, size);
	bool pins_ok = pins_back(base, 10);
	result(pins_ok, "host3d-guest: nothing left pinned (%ld pinned, %ld before)",
	       virtgpu_pins(), base);
}

int main(int argc, char **argv)
{
	long race_rounds = 2000, base;
	double race_seconds = 120;
	int i, v, mask = 0, caps = 0, fence = -1, ret;
	char path[64];
	bool ctx_ok;
	size_t size = 64 * PAGE;
	uint32_t bo, res;
	void *p;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--host") && i + 1 < argc)
			stock = !strcmp(argv[++i], "stock");
		else if (!strcmp(argv[i], "--race-rounds") && i + 1 < argc)
			race_rounds = atol(argv[++i]);
		else if (!strcmp(argv[i], "--race-seconds") && i + 1 < argc)
			race_seconds = atof(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--host series|stock] [--race-rounds N] [--race-seconds S]\n",
				argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	diag("userptr-3d on the %s host", stock ? "stock" : "series");

	fd = virtgpu_open(path, sizeof(path));
	if (fd < 0) {
		printf("1..1\nnot ok 1 - a virtio-gpu render node\n");
		return 1;
	}
	base = virtgpu_pins();

	/* The device: a 3D one, with blobs and context init. */
	result(!getparam(VIRTGPU_PARAM_3D_FEATURES, &v) && v, "device: 3D (virgl) features");
	result(!getparam(VIRTGPU_PARAM_CONTEXT_INIT, &v) && v, "device: context init");
	result(!getparam(VIRTGPU_PARAM_RESOURCE_BLOB, &v) && v, "device: blob resources");
	getparam(VIRTGPU_PARAM_SUPPORTED_CAPSET_IDs, &caps);
	diag("capability sets 0x%x", caps);
	ret = getparam(VIRTGPU_PARAM_RESOURCE_USERPTR, &mask);
	result(!ret && (mask & VIRTGPU_BLOB_FLAG_USE_USERPTR),
	       "getparam RESOURCE_USERPTR offers USE_USERPTR (mask 0x%x)", mask);
	if (stock)
		result(!(mask & VIRTGPU_BLOB_FLAG_USERPTR_RDONLY),
		       "stock host: RESOURCE_USERPTR lacks USERPTR_RDONLY (no read-only blobs)");

	/* A virgl context, made explicitly. */
	{
		struct drm_virtgpu_context_set_param params[] = {
			{ VIRTGPU_CONTEXT_PARAM_CAPSET_ID,
			  caps & (1 << CAPSET_VIRGL2) ? CAPSET_VIRGL2 : CAPSET_VIRGL },
		};
		struct drm_virtgpu_context_init init = {
			.num_params = 1,
			.ctx_set_params = (uintptr_t)params,
		};

		ctx_ok = !ioctl(fd, DRM_IOCTL_VIRTGPU_CONTEXT_INIT, &init);
		result(ctx_ok, "CONTEXT_INIT of a virgl context (capset %llu)%s%s",
		       (unsigned long long)params[0].value, ctx_ok ? "" : ": ",
		       ctx_ok ? "" : strerror(errno));
	}
	if (!ctx_ok) {
		printf("1..%d\n", nr_test);
		return 1;
	}

	/* A read-write userptr in that context, used by a submission. */
	p = map_pages(size);
	ret = p ? userptr(p, size, VIRTGPU_BLOB_MEM_GUEST, 0, 0, NULL, 0, &bo, &res) : -ENOMEM;
	result(!ret, "userptr GUEST blob in the virgl context (resource %u)%s%s",
	       ret ? 0 : res, ret ? ": " : "", ret ? strerror(-ret) : "");
	if (!ret) {
		result(virtgpu_pins() - base == (long)(size / PAGE),
		       "userptr: its %zu pages are pinned (%ld)", size / PAGE, virtgpu_pins() - base);
		ret = submit(fd, &bo, 1, true, &fence);
		result(!ret && fence >= 0, "execbuffer: a virgl NOP listing the userptr, with FENCE_FD_OUT%s%s",
		       ret ? ": " : "", ret ? strerror(-ret) : "");
		result(fence >= 0 && fence_wait(fence, 10000) == 1, "execbuffer: its out-fence signals");
		if (fence >= 0)
			close(fence);
		/* Revoke: unmap the range, wait until the pages are unpinned. */
		munmap(p, size);
		result(pins_back(base, 10), "munmap revokes the userptr: its pages are unpinned");
		ret = submit(fd, &bo, 1, true, &fence);
		result(ret == -EFAULT, "execbuffer on the revoked userptr fails with EFAULT (%s)",
		       ret ? strerror(-ret) : "accepted");
		if (!ret && fence >= 0)
			close(fence);
		result(!gem_close(bo), "the revoked handle closes");
	}

	test_host3d_guest();
	test_rdonly(mask);
	test_entries();
	/* The race is the guest's own; the stock host adds nothing to it. */
	if (stock)
		diag("race: run on the series host only");
	else
		test_race(race_rounds, race_seconds);

	close(fd);
	bool pins_ok = pins_back(base, 20);
	result(pins_ok, "at the end, pins balanced (%ld pinned, %ld at the start)",
	       virtgpu_pins(), base);
	printf("1..%d\n", nr_test);
	return nr_failed ? 1 : 0;
}
