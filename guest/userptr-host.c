// SPDX-License-Identifier: GPL-2.0
/*
 * userptr-host: guest tests of virtio-gpu userptrs checked against what the
 * device sees. They ask the device, through the harness's host channel (the
 * virtio-serial port org.virtio-gpu-userptr.host, relayed to QEMU's
 * x-virtio-gpu-resource-info and x-virtio-gpu-resource-write), for the
 * checksum of a resource as read through its own mapping, and to write a
 * pattern through it. Skips when the channel or userptr support is absent.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <drm/drm.h>
#include <drm/virtgpu_drm.h>

#include "kselftest_harness.h"
#include "hostchan.h"
#include "virtgpu.h"

#define PAGE 4096UL
#define MIB (1UL << 20)


static void fill(void *p, size_t len, uint64_t seed)
{
	uint64_t *w = p, x = seed | 1;
	size_t i;

	for (i = 0; i < len / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w[i] = x;
	}
}

static int create_userptr(int fd, void *p, size_t len, uint32_t flags,
			  uint32_t *handle, uint32_t *res)
{
	struct drm_virtgpu_resource_create_blob rc = {
		.blob_mem = VIRTGPU_BLOB_MEM_GUEST,
		.blob_flags = VIRTGPU_BLOB_FLAG_USE_USERPTR | flags,
		.size = len,
		.userptr = (uintptr_t)p,
	};

	*handle = 0;
	*res = 0;
	if (ioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, &rc))
		return -errno;
	*handle = rc.bo_handle;
	*res = rc.res_handle;
	return 0;
}

static int gem_close(int fd, uint32_t handle)
{
	struct drm_gem_close gc = { .handle = handle };

	return ioctl(fd, DRM_IOCTL_GEM_CLOSE, &gc) ? -errno : 0;
}

/* Wait until the device no longer has resource @res. */
static bool wait_gone(int chan, uint32_t res)
{
	struct device_view v;
	int i;

	for (i = 0; i < 1000; i++) {
		if (device_view(chan, res, &v) || !v.exists)
			return !v.exists;
		usleep(10000);
	}
	return false;
}

enum layout { ANON, SCATTERED, THP, SHMEM, HUGETLB };

/* A mapping of @len bytes laid out in physical memory as @layout asks. */
static char *map_layout(enum layout layout, size_t len, size_t *maplen)
{
	size_t align = 2 * MIB, i, n = len / PAGE;
	char *raw, *p;

	*maplen = len + align;
	switch (layout) {
	case SHMEM: {
		int mfd = memfd_create("userptr-host", 0);

		if (mfd < 0 || ftruncate(mfd, len))
			return NULL;
		*maplen = len;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
		close(mfd);
		return p == MAP_FAILED ? NULL : p;
	}
	case HUGETLB: {
		FILE *f = fopen("/proc/sys/vm/nr_hugepages", "w");

		if (f) {
			fprintf(f, "%zu\n", len / (2 * MIB) + 2);
			fclose(f);
		}
		*maplen = len;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		return p == MAP_FAILED ? NULL : p;
	}
	default:
		break;
	}
	raw = mmap(NULL, *maplen, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	p = (char *)(((uintptr_t)raw + align - 1) & ~(align - 1));
	if (layout == THP) {
		madvise(p, len, MADV_HUGEPAGE);
	} else if (layout == SCATTERED) {
		/* Fault pages in a shuffled order: physical runs stay short. */
		madvise(p, len, MADV_NOHUGEPAGE);
		for (i = 0; i < n; i++)
			p[((i * 7919) % n) * PAGE] = 1;
	}
	return p;
}

struct ctx {
	int fd;
	int chan;
	uint64_t supported;
};

/* NULL when ready, else why the test cannot run here. */
static const char *ctx_setup(struct ctx *h)
{
	char node[64];
	int v = 0;
	struct drm_virtgpu_getparam gp = {
		.param = VIRTGPU_PARAM_RESOURCE_USERPTR,
		.value = (uintptr_t)&v,
	};

	h->chan = -1;
	h->fd = virtgpu_open(node, sizeof(node));
	if (h->fd < 0)
		return "no virtio-gpu render node";
	if (ioctl(h->fd, DRM_IOCTL_VIRTGPU_GETPARAM, &gp) ||
	    !(v & VIRTGPU_BLOB_FLAG_USE_USERPTR))
		return "the driver or device offers no userptr blobs";
	h->supported = v;
	h->chan = open_channel();
	if (h->chan < 0)
		return "no host channel " CHANNEL_NAME " (the harness's QEMU provides it)";
	return NULL;
}

static void ctx_teardown(struct ctx *h)
{
	if (h->chan >= 0)
		close(h->chan);
	if (h->fd >= 0)
		close(h->fd);
}

/* Ranges of each size and physical layout. */
FIXTURE(layout) {
	struct ctx h;
};

FIXTURE_VARIANT(layout) {
	enum layout layout;
	size_t len;
};

FIXTURE_VARIANT_ADD(layout, one_page) { .layout = ANON, .len = PAGE };
FIXTURE_VARIANT_ADD(layout, pages_17) { .layout = ANON, .len = 17 * PAGE };
FIXTURE_VARIANT_ADD(layout, anon_1mib) { .layout = ANON, .len = MIB };
FIXTURE_VARIANT_ADD(layout, scattered_64mib) { .layout = SCATTERED, .len = 64 * MIB };
FIXTURE_VARIANT_ADD(layout, scattered_256mib) { .layout = SCATTERED, .len = 256 * MIB };
FIXTURE_VARIANT_ADD(layout, thp_64mib) { .layout = THP, .len = 64 * MIB };
FIXTURE_VARIANT_ADD(layout, thp_1gib) { .layout = THP, .len = 1024 * MIB };
FIXTURE_VARIANT_ADD(layout, shmem_16mib) { .layout = SHMEM, .len = 16 * MIB };
FIXTURE_VARIANT_ADD(layout, hugetlb_8mib) { .layout = HUGETLB, .len = 8 * MIB };

FIXTURE_SETUP(layout)
{
	const char *why = ctx_setup(&self->h);

	if (why)
		SKIP(return, "%s", why);
}

FIXTURE_TEARDOWN(layout)
{
	ctx_teardown(&self->h);
}

/* One range, for the other rules. */
FIXTURE(device) {
	struct ctx h;
};

FIXTURE_SETUP(device)
{
	const char *why = ctx_setup(&self->h);

	if (why)
		SKIP(return, "%s", why);
}

FIXTURE_TEARDOWN(device)
{
	ctx_teardown(&self->h);
}

/* The bytes the process wrote are the bytes the device reads, in order. */
TEST_F_TIMEOUT(layout, device_reads_what_the_process_wrote, 600)
{
	size_t len = variant->len, maplen;
	char *p = map_layout(variant->layout, len, &maplen);
	struct device_view v;
	uint32_t h, res;

	if (!p && variant->layout == HUGETLB)
		SKIP(return, "no 2 MiB huge pages");
	ASSERT_NE(NULL, p);
	fill(p, len, len);
	ASSERT_EQ(0, create_userptr(self->h.fd, p, len, 0, &h, &res));
	ASSERT_EQ(0, device_view(self->h.chan, res, &v));
	ASSERT_TRUE(v.exists) TH_LOG("%s", v.error);
	ASSERT_EQ(len, v.size);
	ASSERT_FALSE(v.read_only);
	ASSERT_EQ(fnv(p, len), v.checksum);
	TH_LOG("%zu bytes in %u memory entries", len, v.nr_entries);
	if (variant->layout == THP)
		ASSERT_GE(len / (2 * MIB), v.nr_entries);

	/* Zero copy: a later CPU write is what the device reads next. */
	p[len / 2] ^= 0x5a;
	ASSERT_EQ(0, device_view(self->h.chan, res, &v));
	ASSERT_EQ(fnv(p, len), v.checksum);
	ASSERT_EQ(0, gem_close(self->h.fd, h));
	ASSERT_TRUE(wait_gone(self->h.chan, res));
}

/* What the device writes shows up in the process, with no copy, no ioctl. */
TEST_F_TIMEOUT(layout, device_write_shows_up_in_the_process, 600)
{
	size_t len = variant->len, maplen, i;
	char *p = map_layout(variant->layout, len, &maplen);
	const uint64_t seed = 0x1234567890abcdefULL;
	uint64_t *w;
	uint32_t h, res;

	if (!p && variant->layout == HUGETLB)
		SKIP(return, "no 2 MiB huge pages");
	ASSERT_NE(NULL, p);
	memset(p, 0, len);
	ASSERT_EQ(0, create_userptr(self->h.fd, p, len, 0, &h, &res));
	ASSERT_EQ(0, device_write(self->h.chan, res, seed));
	w = (uint64_t *)p;
	for (i = 0; i < len / 8; i++)
		if (w[i] != seed + i * PATTERN_STEP)
			break;
	ASSERT_EQ(len / 8, i) TH_LOG("word %zu differs", i);
	ASSERT_EQ(0, gem_close(self->h.fd, h));
}

/* Unmapping revokes: the device no longer has the resource. */
TEST_F(device, revoked_resource_is_gone_from_the_device)
{
	size_t maplen;
	char *p = map_layout(ANON, 16 * PAGE, &maplen);
	struct device_view v;
	uint32_t h, res;

	ASSERT_EQ(0, create_userptr(self->h.fd, p, 16 * PAGE, 0, &h, &res));
	ASSERT_EQ(0, device_view(self->h.chan, res, &v));
	ASSERT_TRUE(v.exists);
	ASSERT_EQ(0, munmap(p, 16 * PAGE));
	ASSERT_TRUE(wait_gone(self->h.chan, res));
	ASSERT_EQ(0, gem_close(self->h.fd, h));
}

/* The device may not write a read-only userptr, and says so. */
TEST_F(device, read_only_userptr_is_not_written_by_the_device)
{
	size_t maplen;
	char *p = map_layout(ANON, 16 * PAGE, &maplen);
	struct device_view v;
	uint64_t sum;
	uint32_t h, res;

	if (!(self->h.supported & VIRTGPU_BLOB_FLAG_USERPTR_RDONLY))
		SKIP(return, "the device does not offer read-only blobs");
	fill(p, 16 * PAGE, 7);
	sum = fnv(p, 16 * PAGE);
	ASSERT_EQ(0, mprotect(p, 16 * PAGE, PROT_READ));
	ASSERT_EQ(0, create_userptr(self->h.fd, p, 16 * PAGE,
				    VIRTGPU_BLOB_FLAG_USERPTR_RDONLY, &h, &res));
	ASSERT_EQ(0, device_view(self->h.chan, res, &v));
	ASSERT_TRUE(v.exists);
	ASSERT_TRUE(v.read_only);
	ASSERT_EQ(sum, v.checksum);
	ASSERT_EQ(1, device_write(self->h.chan, res, 99));
	ASSERT_EQ(sum, fnv(p, 16 * PAGE));
	ASSERT_EQ(0, gem_close(self->h.fd, h));
}

/* The channel relays only the device's test commands. */
TEST_F(device, channel_refuses_other_commands)
{
	char line[512];

	ASSERT_EQ(0, ask(self->h.chan, line, sizeof(line), "{\"execute\": \"quit\"}"));
	ASSERT_NE(NULL, strstr(line, "\"error\""));
}

TEST_HARNESS_MAIN
