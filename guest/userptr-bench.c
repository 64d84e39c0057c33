// SPDX-License-Identifier: GPL-2.0
/*
 * userptr-bench: what a virtio-gpu userptr costs, measured in the guest
 * against the kernel's own long-term pinning (io_uring fixed buffers, the
 * same FOLL_LONGTERM pin with no device) and against copying into a guest
 * blob. Every figure is the median of REPS runs, with min and max; every
 * ratio compares two things measured in this same boot. Prints one JSON
 * document on stdout, for scripts/bench.sh to tabulate and plot.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <drm/drm.h>
#include <drm/virtgpu_drm.h>

#include "virtgpu.h"

#define PAGE 4096UL
#define MIB (1UL << 20)
#define REPS 7
#define MAX_LIVE 10000

static int gpu;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct stat3 {
	double median, min, max;
};

static struct stat3 stats(double *v, int n)
{
	struct stat3 s;

	qsort(v, n, sizeof(*v), cmp_double);
	s.median = v[n / 2];
	s.min = v[0];
	s.max = v[n - 1];
	return s;
}

static void die(const char *what)
{
	fprintf(stderr, "userptr-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}




static void wait_pins(long want)
{
	while (virtgpu_pins() != want)
		;
}

static uint32_t userptr_create(void *p, size_t len, uint32_t *res)
{
	struct drm_virtgpu_resource_create_blob rc = {
		.blob_mem = VIRTGPU_BLOB_MEM_GUEST,
		.blob_flags = VIRTGPU_BLOB_FLAG_USE_USERPTR,
		.size = len,
		.userptr = (uintptr_t)p,
	};

	if (ioctl(gpu, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, &rc))
		die("userptr create");
	if (res)
		*res = rc.res_handle;
	return rc.bo_handle;
}

static void gem_close(uint32_t handle)
{
	struct drm_gem_close gc = { .handle = handle };

	if (ioctl(gpu, DRM_IOCTL_GEM_CLOSE, &gc))
		die("gem close");
}

static void set_thp(const char *mode)
{
	int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_WRONLY);

	if (fd < 0 || write(fd, mode, strlen(mode)) < 0)
		die("transparent_hugepage/enabled");
	close(fd);
}

/* A populated, 2 MiB aligned buffer; THP as /sys says. */
static char *buffer(size_t len, char **raw)
{
	size_t align = 2 * MIB;
	char *p;

	*raw = mmap(NULL, len + align, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*raw == MAP_FAILED)
		die("mmap");
	p = (char *)(((uintptr_t)*raw + align - 1) & ~(align - 1));
	memset(p, 1, len);
	return p;
}

/* io_uring fixed buffers: the same FOLL_LONGTERM pin, no device. */
static double io_uring_register_release(int ring, void *p, size_t len)
{
	struct iovec iov = { .iov_base = p, .iov_len = len };
	double t0 = now_us();

	if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1))
		die("IORING_REGISTER_BUFFERS");
	if (syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS, NULL, 0))
		die("IORING_UNREGISTER_BUFFERS");
	return now_us() - t0;
}

/* Register, release, and wait until the pins are gone again. */
static double userptr_register_release(void *p, size_t len, long base)
{
	double t0 = now_us();

	gem_close(userptr_create(p, len, NULL));
	wait_pins(base);
	return now_us() - t0;
}

/* Without userptr: a mappable guest blob, filled with memcpy. */
static double copy_path(void *src, size_t len)
{
	struct drm_virtgpu_resource_create_blob rc = {
		.blob_mem = VIRTGPU_BLOB_MEM_GUEST,
		.blob_flags = VIRTGPU_BLOB_FLAG_USE_MAPPABLE,
		.size = len,
	};
	struct drm_virtgpu_map map = { 0 };
	double t0 = now_us();
	void *dst;

	if (ioctl(gpu, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, &rc))
		die("blob create");
	map.handle = rc.bo_handle;
	if (ioctl(gpu, DRM_IOCTL_VIRTGPU_MAP, &map))
		die("blob map");
	dst = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, gpu, map.offset);
	if (dst == MAP_FAILED)
		die("blob mmap");
	memcpy(dst, src, len);
	munmap(dst, len);
	gem_close(rc.bo_handle);
	return now_us() - t0;
}

/* The memory entries the driver sent for resource @res (debugfs). */
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
		if (strtoul(line, NULL, 10) == res && line[0] != 'r')
			sscanf(line, "%*u %*d %*s %*u %ld", &entries);
	if (f)
		fclose(f);
	return entries;
}

/* Physically contiguous runs of [p, p + len), from /proc/self/pagemap. */
static long contiguous_runs(void *p, size_t len)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t prev = 0, e;
	long runs = 0;
	size_t i;

	if (fd < 0)
		return -1;
	for (i = 0; i < len / PAGE; i++) {
		off_t off = ((uintptr_t)p / PAGE + i) * sizeof(e);
		uint64_t pfn;

		if (pread(fd, &e, sizeof(e), off) != sizeof(e))
			break;
		pfn = e & ((1ULL << 55) - 1);
		if (!i || pfn != prev + 1)
			runs++;
		prev = pfn;
	}
	close(fd);
	return runs;
}

static void print_stat(const char *name, struct stat3 s, int comma)
{
	printf("    \"%s\": {\"median_us\": %.1f, \"min_us\": %.1f, \"max_us\": %.1f}%s\n",
	       name, s.median, s.min, s.max, comma ? "," : "");
}

int main(void)
{
	static const size_t sizes[] = {
		4096, 64 * 1024, MIB, 16 * MIB, 64 * MIB, 256 * MIB,
	};
	static const int live_counts[] = { 1, 100, MAX_LIVE };
	static uint32_t live[MAX_LIVE];
	struct io_uring_params params = { 0 };
	double v[REPS], live_cost[3] = { 0 };
	struct stat3 reg64 = { 0 }, ring64 = { 0 }, up64 = { 0 }, copy64 = { 0 };
	struct stat3 revoke, close_st;
	long base, entries_thp = -1, runs_thp = -1, entries_sc = -1, runs_sc = -1;
	int ring, t, i, r, l;
	char *raw, *p;
	uint32_t res;
	char node[64];

	gpu = virtgpu_open(node, sizeof(node));
	if (gpu < 0)
		die("no virtio-gpu render node");
	ring = syscall(__NR_io_uring_setup, 4, &params);
	if (ring < 0)
		die("io_uring_setup");
	base = virtgpu_pins();

	printf("{\n  \"reps\": %d,\n  \"register\": [\n", REPS);
	for (t = 0; t < 2; t++) {
		set_thp(t ? "always" : "never");
		for (i = 0; i < (int)(sizeof(sizes) / sizeof(sizes[0])); i++) {
			struct stat3 su, si;

			p = buffer(sizes[i], &raw);
			for (r = 0; r < REPS; r++)
				v[r] = userptr_register_release(p, sizes[i], base);
			su = stats(v, REPS);
			for (r = 0; r < REPS; r++)
				v[r] = io_uring_register_release(ring, p, sizes[i]);
			si = stats(v, REPS);
			printf("    {\"thp\": %s, \"bytes\": %zu, \"userptr\": {\"median_us\": %.1f, \"min_us\": %.1f, \"max_us\": %.1f}, \"io_uring\": {\"median_us\": %.1f, \"min_us\": %.1f, \"max_us\": %.1f}}%s\n",
			       t ? "true" : "false", sizes[i], su.median, su.min, su.max,
			       si.median, si.min, si.max,
			       t == 1 && i == (int)(sizeof(sizes) / sizeof(sizes[0])) - 1 ? "" : ",");
			if (sizes[i] == 64 * MIB && t == 1) {
				reg64 = su;
				ring64 = si;
			}
			munmap(raw, sizes[i] + 2 * MIB);
		}
	}
	printf("  ],\n");

	/* Copy path against userptr, 64 MiB, THP on. */
	p = buffer(64 * MIB, &raw);
	for (r = 0; r < REPS; r++)
		v[r] = userptr_register_release(p, 64 * MIB, base);
	up64 = stats(v, REPS);
	for (r = 0; r < REPS; r++)
		v[r] = copy_path(p, 64 * MIB);
	copy64 = stats(v, REPS);
	munmap(raw, 66 * MIB);

	/* Revocation by munmap against explicit close, 16 MiB. */
	for (r = 0; r < REPS; r++) {
		double t0;
		uint32_t h;

		p = buffer(16 * MIB, &raw);
		h = userptr_create(p, 16 * MIB, NULL);
		t0 = now_us();
		munmap(raw, 18 * MIB);
		wait_pins(base);
		v[r] = now_us() - t0;
		gem_close(h);
	}
	revoke = stats(v, REPS);
	p = buffer(16 * MIB, &raw);
	for (r = 0; r < REPS; r++) {
		uint32_t h = userptr_create(p, 16 * MIB, NULL);
		double t0 = now_us();

		gem_close(h);
		wait_pins(base);
		v[r] = now_us() - t0;
	}
	close_st = stats(v, REPS);
	munmap(raw, 18 * MIB);

	/* Memory entries: THP-backed 1 GiB, and scattered 64 MiB. */
	set_thp("always");
	p = buffer(1024 * MIB, &raw);
	userptr_create(p, 1024 * MIB, &res);
	entries_thp = driver_entries(res);
	runs_thp = contiguous_runs(p, 1024 * MIB);
	munmap(raw, 1026 * MIB);
	wait_pins(base);
	set_thp("never");
	raw = mmap(NULL, 64 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		die("mmap");
	for (i = 0; i < (int)(64 * MIB / PAGE); i++)
		raw[(((size_t)i * 7919) % (64 * MIB / PAGE)) * PAGE] = 1;
	userptr_create(raw, 64 * MIB, &res);
	entries_sc = driver_entries(res);
	runs_sc = contiguous_runs(raw, 64 * MIB);
	munmap(raw, 64 * MIB);
	wait_pins(base);
	set_thp("always");

	/* Per-operation cost with 1, 100 and 10000 live registrations. */
	raw = mmap(NULL, (MAX_LIVE + 1) * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (raw == MAP_FAILED)
		die("mmap");
	for (l = 0; l < 3; l++) {
		int n = live_counts[l];

		for (i = 0; i < n; i++)
			live[i] = userptr_create(raw + (size_t)i * PAGE, PAGE, NULL);
		for (r = 0; r < REPS; r++) {
			double t0 = now_us();

			gem_close(userptr_create(raw + (size_t)MAX_LIVE * PAGE, PAGE, NULL));
			v[r] = now_us() - t0;
		}
		live_cost[l] = stats(v, REPS).median;
		for (i = 0; i < n; i++)
			gem_close(live[i]);
		wait_pins(base);
	}
	munmap(raw, (MAX_LIVE + 1) * PAGE);

	printf("  \"at_64MiB\": {\n");
	print_stat("userptr_register_release", reg64, 1);
	print_stat("io_uring_register_release", ring64, 1);
	print_stat("userptr", up64, 1);
	print_stat("copy_path", copy64, 0);
	printf("  },\n  \"revocation_16MiB\": {\n");
	print_stat("munmap", revoke, 1);
	print_stat("close", close_st, 0);
	printf("  },\n");
	printf("  \"live\": {\"1\": %.1f, \"100\": %.1f, \"10000\": %.1f},\n",
	       live_cost[0], live_cost[1], live_cost[2]);
	printf("  \"entries\": {\"thp_1GiB\": %ld, \"runs_thp_1GiB\": %ld, \"scattered_64MiB\": %ld, \"runs_scattered_64MiB\": %ld},\n",
	       entries_thp, runs_thp, entries_sc, runs_sc);
	printf("  \"ratios\": {\"register_vs_io_uring_64MiB\": %.3f, \"userptr_vs_copy_64MiB\": %.3f, \"revoke_vs_close\": %.3f, \"live10k_vs_live1\": %.3f}\n}\n",
	       reg64.median / ring64.median, copy64.median / up64.median,
	       revoke.median / close_st.median, live_cost[2] / live_cost[0]);
	return 0;
}
