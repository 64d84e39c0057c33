/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtgpu.h: what the guest programs share: finding the virtio-gpu render
 * node, creating a userptr blob and closing a GEM handle, counting the
 * pages pinned in the whole guest, and io_uring's fixed-buffer registration,
 * the baseline the benchmarks compare a userptr's pinning with.
 */
#ifndef USERPTR_VIRTGPU_H
#define USERPTR_VIRTGPU_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <drm/drm.h>
#include <linux/io_uring.h>
#include <drm/virtgpu_drm.h>

/* The render node whose driver is virtio_gpu, opened, or -1; @path gets its name. */
static inline int virtgpu_open(char *path, size_t len)
{
	char name[32];
	int i, fd;

	for (i = 128; i < 192; i++) {
		struct drm_version v = { .name = name, .name_len = sizeof(name) - 1 };

		snprintf(path, len, "/dev/dri/renderD%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(name, 0, sizeof(name));
		if (!ioctl(fd, DRM_IOCTL_VERSION, &v) && !strcmp(name, "virtio_gpu"))
			return fd;
		close(fd);
	}
	return -1;
}

/*
 * Create a userptr blob of @len bytes at @p (VIRTGPU_BLOB_FLAG_USE_USERPTR
 * plus @flags), in context terms @blob_id and the optional command @cmd of
 * @cmd_size bytes. Returns 0 or -errno; the GEM handle in *@bo and the
 * resource in *@res (either may be NULL), both 0 on failure.
 */
static inline int virtgpu_userptr_cmd(int fd, uint32_t blob_mem, uint32_t flags,
				      const void *p, size_t len, uint64_t blob_id,
				      const void *cmd, uint32_t cmd_size,
				      uint32_t *bo, uint32_t *res)
{
	struct drm_virtgpu_resource_create_blob rc = {
		.blob_mem = blob_mem,
		.blob_flags = VIRTGPU_BLOB_FLAG_USE_USERPTR | flags,
		.size = len,
		.userptr = (uintptr_t)p,
		.blob_id = blob_id,
		.cmd = (uintptr_t)cmd,
		.cmd_size = cmd_size,
	};
	int ret = 0;

	if (ioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, &rc)) {
		ret = -errno;
		rc.bo_handle = rc.res_handle = 0;
	}
	if (bo)
		*bo = rc.bo_handle;
	if (res)
		*res = rc.res_handle;
	return ret;
}

/* The same without a context command: the common case. */
static inline int virtgpu_userptr(int fd, uint32_t blob_mem, uint32_t flags,
				  const void *p, size_t len, uint32_t *bo, uint32_t *res)
{
	return virtgpu_userptr_cmd(fd, blob_mem, flags, p, len, 0, NULL, 0, bo, res);
}

/* Close a GEM handle: 0 or -errno. */
static inline int virtgpu_gem_close(int fd, uint32_t bo)
{
	struct drm_gem_close gc = { .handle = bo };

	return ioctl(fd, DRM_IOCTL_GEM_CLOSE, &gc) ? -errno : 0;
}

/* Seconds on the monotonic clock. */
static inline double virtgpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * io_uring's IORING_REGISTER_BUFFERS then IORING_UNREGISTER_BUFFERS of @len
 * bytes at @p on @ring (the same FOLL_LONGTERM pin, no device; it unpins
 * before returning): microseconds, or -1 with errno set.
 */
static inline double virtgpu_io_uring_cycle(int ring, void *p, size_t len)
{
	struct iovec iov = { .iov_base = p, .iov_len = len };
	double t0 = virtgpu_now();

	if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1) ||
	    syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS, NULL, 0))
		return -1;
	return (virtgpu_now() - t0) * 1e6;
}

/* RESOURCE_INFO on @bo: 0 live, -EFAULT revoked, -ENOENT no such handle. */
static inline int virtgpu_info(int fd, uint32_t bo)
{
	struct drm_virtgpu_resource_info ri = { .bo_handle = bo };

	return ioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_INFO, &ri) ? -errno : 0;
}

/* The caller's VmPin (pinned memory charged to it) in KiB, or -1. */
static inline long virtgpu_vmpin_kib(void)
{
	char line[128];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmPin:", 6))
			kib = atol(line + 6);
	if (f)
		fclose(f);
	return kib;
}

/*
 * Fault in the @len bytes at @p (4 KiB pages, THP off) one page at a time in
 * a permuted order (a prime stride), so that neighbouring pages end up
 * physically apart: a fully scattered range.
 */
static inline void virtgpu_touch_scattered(char *p, size_t len)
{
	size_t i, n = len / 4096, stride = n % 7919 ? 7919 : 7907;

	for (i = 0; i < n; i++)
		p[((i * stride) % n) * 4096] = 1;
}

/*
 * Physically contiguous runs of the 4 KiB pages at [@p, @p + @len), from
 * /proc/self/pagemap (root sees the page frames), or -1.
 */
static inline long virtgpu_contiguous_runs(void *p, size_t len)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t prev = 0, e;
	long runs = 0;
	size_t i;

	if (fd < 0)
		return -1;
	for (i = 0; i < len / 4096; i++) {
		off_t off = ((uintptr_t)p / 4096 + i) * sizeof(e);
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

static inline long virtgpu_vmstat(const char *key)
{
	char line[128];
	size_t n = strlen(key);
	long value = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ' ')
			value = atol(line + n + 1);
	fclose(f);
	return value;
}

/*
 * Pages pinned and not yet released in the guest; exact for root, whose
 * write to stat_refresh folds the per-CPU counters first.
 */
static inline long virtgpu_pins(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "1", 1) < 0)
			perror("stat_refresh");
		close(fd);
	}
	return virtgpu_vmstat("nr_foll_pin_acquired") -
	       virtgpu_vmstat("nr_foll_pin_released");
}

/* Wait up to @secs for the guest's outstanding pins to be @want; the count. */
static inline long virtgpu_wait_pins(long want, double secs)
{
	double end = virtgpu_now() + secs;
	long n = virtgpu_pins();

	while (n != want && virtgpu_now() < end) {
		usleep(2000);
		n = virtgpu_pins();
	}
	return n;
}


#endif
