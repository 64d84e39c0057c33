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
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <drm/drm.h>
#include <drm/virtgpu_drm.h>
#include <linux/virtio_gpu.h>

#include "kselftest_harness.h"
#include "hostchan.h"
#include "virtgpu.h"

#define PAGE 4096UL
#define MIB (1UL << 20)

static int create_userptr(int fd, void *p, size_t len, uint32_t flags,
			  uint32_t *handle, uint32_t *res)
{
	return virtgpu_userptr(fd, VIRTGPU_BLOB_MEM_GUEST, flags, p, len, handle, res);
}

/* Wait until the device no longer has resource @res. */
static bool wait_gone(int chan, uint32_t res)
{
	struct hostchan_view v;
	int i;

	for (i = 0; i < 1000; i++) {
		if (hostchan_view(chan, res, &v) || !v.exists)
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

		/*
		 * Room for twice the range: the previous test's pages may still
		 * be pinned for a moment (they go after the host's answer).
		 */
		if (f) {
			fprintf(f, "%zu\n", 2 * (len / (2 * MIB)) + 2);
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
	h->chan = hostchan_open();
	if (h->chan < 0)
		return "no host channel " HOSTCHAN_NAME " (the harness's QEMU provides it)";
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
	struct hostchan_view v;
	uint32_t h, res;

	if (!p && variant->layout == HUGETLB)
		SKIP(return, "no 2 MiB huge pages");
	ASSERT_NE(NULL, p);
	virtgpu_fill(p, len, len);
	ASSERT_EQ(0, create_userptr(self->h.fd, p, len, 0, &h, &res));
	ASSERT_EQ(0, hostchan_view(self->h.chan, res, &v));
	ASSERT_TRUE(v.exists) TH_LOG("%s", v.error);
	ASSERT_EQ(len, v.size);
	ASSERT_FALSE(v.read_only);
	ASSERT_EQ(fnv(p, len), v.checksum);
	TH_LOG("%zu bytes in %u memory entries", len, v.nr_entries);
	if (variant->layout == THP)
		ASSERT_GE(len / (2 * MIB), v.nr_entries);

	/* Zero copy: a later CPU write is what the device reads next. */
	p[len / 2] ^= 0x5a;
	ASSERT_EQ(0, hostchan_view(self->h.chan, res, &v));
	ASSERT_EQ(fnv(p, len), v.checksum);
	ASSERT_EQ(0, virtgpu_gem_close(self->h.fd, h));
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
	ASSERT_EQ(0, hostchan_write(self->h.chan, res, seed));
	w = (uint64_t *)p;
	for (i = 0; i < len / 8; i++)
		if (w[i] != seed + i * HOSTCHAN_PATTERN_STEP)
			break;
	ASSERT_EQ(len / 8, i) TH_LOG("word %zu differs", i);
	ASSERT_EQ(0, virtgpu_gem_close(self->h.fd, h));
}

/* Unmapping revokes: the device no longer has the resource. */
TEST_F(device, revoked_resource_is_gone_from_the_device)
{
	size_t maplen;
	char *p = map_layout(ANON, 16 * PAGE, &maplen);
	struct hostchan_view v;
	uint32_t h, res;

	ASSERT_EQ(0, create_userptr(self->h.fd, p, 16 * PAGE, 0, &h, &res));
	ASSERT_EQ(0, hostchan_view(self->h.chan, res, &v));
	ASSERT_TRUE(v.exists);
	ASSERT_EQ(0, munmap(p, 16 * PAGE));
	ASSERT_TRUE(wait_gone(self->h.chan, res));
	ASSERT_EQ(0, virtgpu_gem_close(self->h.fd, h));
}

/*
 * Memory given back without munmap (free() in a thread arena, malloc_trim):
 * the device must not go on reading pages the process no longer has.
 */
TEST_F(device, madv_dontneed_takes_the_resource_from_the_device)
{
	size_t maplen;
	char *p = map_layout(ANON, 16 * PAGE, &maplen);
	struct hostchan_view v;
	uint32_t h, res;

	virtgpu_fill(p, 16 * PAGE, 3);
	ASSERT_EQ(0, create_userptr(self->h.fd, p, 16 * PAGE, 0, &h, &res));
	ASSERT_EQ(0, hostchan_view(self->h.chan, res, &v));
	ASSERT_TRUE(v.exists);
	ASSERT_EQ(fnv(p, 16 * PAGE), v.checksum);
	ASSERT_EQ(0, madvise(p + 5 * PAGE, PAGE, MADV_DONTNEED));
	ASSERT_TRUE(wait_gone(self->h.chan, res));
	ASSERT_EQ(0, virtgpu_gem_close(self->h.fd, h));
	munmap(p, 16 * PAGE);
}

/* The device may not write a read-only userptr, and says so. */
TEST_F(device, read_only_userptr_is_not_written_by_the_device)
{
	size_t maplen;
	char *p = map_layout(ANON, 16 * PAGE, &maplen);
	struct hostchan_view v;
	uint64_t sum;
	uint32_t h, res;

	if (!(self->h.supported & VIRTGPU_BLOB_FLAG_USERPTR_RDONLY))
		SKIP(return, "the device does not offer read-only blobs");
	virtgpu_fill(p, 16 * PAGE, 7);
	sum = fnv(p, 16 * PAGE);
	ASSERT_EQ(0, mprotect(p, 16 * PAGE, PROT_READ));
	ASSERT_EQ(0, create_userptr(self->h.fd, p, 16 * PAGE,
				    VIRTGPU_BLOB_FLAG_USERPTR_RDONLY, &h, &res));
	ASSERT_EQ(0, hostchan_view(self->h.chan, res, &v));
	ASSERT_TRUE(v.exists);
	ASSERT_TRUE(v.read_only);
	ASSERT_EQ(sum, v.checksum);
	ASSERT_EQ(1, hostchan_write(self->h.chan, res, 99));
	ASSERT_EQ(sum, fnv(p, 16 * PAGE));
	ASSERT_EQ(0, virtgpu_gem_close(self->h.fd, h));
}

/* --- a host that stops answering (the control queue stalled) ------------ */

/* Wait for pins outstanding to reach @want; the last count. */
static long wait_pins(long want)
{
	long n = virtgpu_pins();
	int i;

	for (i = 0; i < 3000 && n != want; i++) {
		usleep(10000);
		n = virtgpu_pins();
	}
	return n;
}

/* waitpid() for at most @secs seconds: the pid, 0 on timeout, -1 on error. */
static pid_t wait_child(pid_t pid, int *status, int secs)
{
	int i;

	for (i = 0; i < secs * 20; i++) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r)
			return r;
		usleep(50000);
	}
	return 0;
}

/* A child that registers @pages pages and reports how it went on @out. */
static pid_t spawn_creator(int pages, int out)
{
	pid_t pid = fork();

	if (!pid) {
		char node[64];
		int fd = virtgpu_open(node, sizeof(node)), ret;
		char *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		uint32_t h, res;

		if (fd < 0 || p == MAP_FAILED)
			_exit(2);
		ret = create_userptr(fd, p, pages * PAGE, 0, &h, &res);
		if (write(out, &ret, sizeof(ret)) != sizeof(ret))
			_exit(3);
		_exit(0);
	}
	return pid;
}

/*
 * A creator waiting for a host that never answers can be killed; its pages
 * go once the host answers the RESOURCE_UNREF that follows the creation.
 */
TEST_F_TIMEOUT(device, killed_creator_on_a_stalled_host_returns, 120)
{
	long before = wait_pins(virtgpu_pins());
	int status, pipefd[2];
	pid_t pid, r;

	ASSERT_EQ(0, pipe(pipefd));
	ASSERT_EQ(0, hostchan_ctrlq_stall(self->h.chan, 1));
	pid = spawn_creator(16, pipefd[1]);
	ASSERT_LT(0, pid);
	/* It has pinned its pages and waits for the host now. */
	ASSERT_EQ(16, wait_pins(before + 16) - before);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	r = wait_child(pid, &status, 10);
	ASSERT_EQ(0, hostchan_ctrlq_stall(self->h.chan, 0));
	if (!r)
		waitpid(pid, &status, 0);
	ASSERT_EQ(pid, r) TH_LOG("the creator did not die while the host was stalled");
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(SIGKILL, WTERMSIG(status));
	/* Unstalled: the creation, then the UNREF, are answered. */
	ASSERT_EQ(before, wait_pins(before));
	close(pipefd[0]);
	close(pipefd[1]);
}

/* Make the device answer the next @command with an error, not carry it out. */
static int inject_error(int chan, unsigned int command)
{
	char line[1024];
	int ret = hostchan_ask(chan, line, sizeof(line),
		      "{\"execute\": \"x-virtio-gpu-inject-error\", \"arguments\": {\"command\": %u}}",
		      command);

	if (ret)
		return ret;
	return strstr(line, "\"error\"") ? 1 : 0;
}

/*
 * A host that refuses the resource: the creation fails with -EIO and keeps
 * nothing pinned. A host that answers the UNREF with an error no longer
 * uses the pages either (it says it has no such resource): they go.
 */
TEST_F(device, host_refusal_is_eio_and_pins_nothing)
{
	long before = wait_pins(virtgpu_pins());
	size_t maplen;
	char *p = map_layout(ANON, 8 * PAGE, &maplen);
	uint32_t h, res;

	ASSERT_EQ(0, inject_error(self->h.chan, VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB));
	ASSERT_EQ(-EIO, create_userptr(self->h.fd, p, 8 * PAGE, 0, &h, &res));
	ASSERT_EQ(before, wait_pins(before));

	ASSERT_EQ(0, create_userptr(self->h.fd, p, 8 * PAGE, 0, &h, &res));
	ASSERT_EQ(0, inject_error(self->h.chan, VIRTIO_GPU_CMD_RESOURCE_UNREF));
	ASSERT_EQ(0, virtgpu_gem_close(self->h.fd, h));
	ASSERT_EQ(before, wait_pins(before));
	munmap(p, 8 * PAGE);
}

/* The virtio device the virtio_gpu driver is bound to ("virtioN"). */
static int virtio_gpu_device(char *name, size_t len)
{
	DIR *d = opendir("/sys/bus/virtio/drivers/virtio_gpu");
	struct dirent *e;
	int ret = -1;

	while (d && (e = readdir(d))) {
		if (!strncmp(e->d_name, "virtio", 6)) {
			snprintf(name, len, "%s", e->d_name);
			ret = 0;
			break;
		}
	}
	if (d)
		closedir(d);
	return ret;
}

static int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Unbinding the driver while the host answers nothing, with a creation
 * waiting and a revocation waiting: the device is reset, both end, every
 * pin is released, and the driver binds again to a working device.
 */
TEST_F_TIMEOUT(device, unbind_on_a_stalled_host_releases_everything, 300)
{
	long before = wait_pins(virtgpu_pins());
	char dev[256], node[64];
	char *q = map_layout(ANON, 8 * PAGE, &(size_t){ 0 });
	int status, ret = 1, fd, pipefd[2];
	uint32_t h, res;
	pid_t pid, unbinder, r;

	ASSERT_EQ(0, virtio_gpu_device(dev, sizeof(dev)));
	ASSERT_EQ(0, pipe(pipefd));
	/* A live userptr, revoked while the host is stalled. */
	ASSERT_EQ(0, create_userptr(self->h.fd, q, 8 * PAGE, 0, &h, &res));
	ASSERT_EQ(0, hostchan_ctrlq_stall(self->h.chan, 1));
	ASSERT_EQ(0, munmap(q, 8 * PAGE));
	/* A creation waiting for the host. */
	pid = spawn_creator(16, pipefd[1]);
	ASSERT_LT(0, pid);
	ASSERT_EQ(16 + 8, wait_pins(before + 16 + 8) - before);

	close(self->h.fd);
	self->h.fd = -1;
	unbinder = fork();
	ASSERT_LE(0, unbinder);
	if (!unbinder)
		_exit(sysfs_write("/sys/bus/virtio/drivers/virtio_gpu/unbind", dev) ? 1 : 0);
	r = wait_child(unbinder, &status, 60);
	if (!r)
		hostchan_ctrlq_stall(self->h.chan, 0); /* let it finish */
	ASSERT_EQ(unbinder, r)
		TH_LOG("unbind did not complete with the host stalled");
	ASSERT_EQ(0, WEXITSTATUS(status));
	/* The creator got an error (the device is gone) and exited. */
	ASSERT_EQ(pid, wait_child(pid, &status, 30));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ((ssize_t)sizeof(ret), read(pipefd[0], &ret, sizeof(ret)));
	ASSERT_EQ(-ENODEV, ret);
	ASSERT_EQ(before, wait_pins(before));

	/* The host answers again, and the driver binds to a working device. */
	ASSERT_EQ(0, hostchan_ctrlq_stall(self->h.chan, 0));
	ASSERT_EQ(0, sysfs_write("/sys/bus/virtio/drivers/virtio_gpu/bind", dev));
	for (fd = -1, ret = 0; fd < 0 && ret < 100; ret++) {
		fd = virtgpu_open(node, sizeof(node));
		if (fd < 0)
			usleep(50000);
	}
	ASSERT_LE(0, fd);
	q = map_layout(ANON, 8 * PAGE, &(size_t){ 0 });
	ASSERT_EQ(0, create_userptr(fd, q, 8 * PAGE, 0, &h, &res));
	ASSERT_EQ(0, virtgpu_gem_close(fd, h));
	close(fd);
	munmap(q, 8 * PAGE);
	close(pipefd[0]);
	close(pipefd[1]);
	ASSERT_EQ(before, wait_pins(before));
}

/* The channel relays only the device's test commands. */
TEST_F(device, channel_refuses_other_commands)
{
	char line[512];

	ASSERT_EQ(0, hostchan_ask(self->h.chan, line, sizeof(line), "{\"execute\": \"quit\"}"));
	ASSERT_NE(NULL, strstr(line, "\"error\""));
}

TEST_HARNESS_MAIN
