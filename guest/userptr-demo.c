// SPDX-License-Identifier: GPL-2.0
/*
 * userptr-demo: what a GPU compute runtime (ROCm's hsakmt, an OpenCL
 * runtime) does with virtio-gpu userptrs, step by step, in plain words.
 *
 * It finds the virtio-gpu render node with libdrm, registers a buffer it
 * allocated with the C library, shows that the device reads the same bytes
 * (asking the device through the harness's host channel), lets the device
 * write into the buffer, then frees the buffer without deregistering it, as
 * hsakmt does, and shows the driver revoking the registration and unpinning
 * the pages. Exits 0 when every step behaved as described.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <xf86drm.h>
#include <drm/virtgpu_drm.h>

#include "drm/virtio_gpu/hostchan.h"
#include "virtgpu.h"

#define BUF_SIZE (8UL << 20)

static int step_no;

static void step(const char *fmt, ...)
{
	va_list ap;

	printf("\n%d. ", ++step_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void say(const char *fmt, ...)
{
	va_list ap;

	printf("   ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static int fail(const char *what)
{
	printf("\nFAILED: %s\n", what);
	return 1;
}



/* The first render node whose kernel driver is virtio_gpu, as runtimes find it. */
static int open_render_node(char *path, size_t len)
{
	drmDevicePtr devs[16];
	int n, i, fd = -1;

	n = drmGetDevices2(0, devs, 16);
	for (i = 0; i < n && fd < 0; i++) {
		drmVersionPtr v;

		if (!(devs[i]->available_nodes & (1 << DRM_NODE_RENDER)))
			continue;
		fd = open(devs[i]->nodes[DRM_NODE_RENDER], O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		v = drmGetVersion(fd);
		if (v && !strcmp(v->name, "virtio_gpu")) {
			snprintf(path, len, "%s", devs[i]->nodes[DRM_NODE_RENDER]);
		} else {
			close(fd);
			fd = -1;
		}
		drmFreeVersion(v);
	}
	if (n > 0)
		drmFreeDevices(devs, n);
	return fd;
}

int main(void)
{
	struct drm_virtgpu_resource_create_blob rc = { 0 };
	struct drm_virtgpu_resource_info ri = { 0 };
	struct drm_gem_close gc = { 0 };
	struct hostchan_view view;
	char node[64] = "";
	int fd, chan, supported = 0, i;
	struct drm_virtgpu_getparam gp = {
		.param = VIRTGPU_PARAM_RESOURCE_USERPTR,
		.value = (uintptr_t)&supported,
	};
	long pins_before, pins_after;
	uint64_t *words, sum;
	char *buf;

	printf("virtio-gpu userptr demo: a compute runtime hands its own memory to the GPU\n");

	step("Find the GPU the way a runtime does (libdrm: drmGetDevices2, drmGetVersion).");
	fd = open_render_node(node, sizeof(node));
	if (fd < 0)
		return fail("no render node driven by virtio_gpu");
	say("%s is driven by virtio_gpu.", node);
	if (drmIoctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, &gp) ||
	    !(supported & VIRTGPU_BLOB_FLAG_USE_USERPTR))
		return fail("the driver or device offers no userptr blobs");
	say("The driver offers userptrs%s.",
	    supported & VIRTGPU_BLOB_FLAG_USERPTR_RDONLY ? ", read-write and read-only" : "");
	chan = hostchan_open();
	if (chan < 0)
		return fail("no host channel: run the demo in the harness's VM (make run)");

	step("Allocate an 8 MiB buffer with the C library and fill it with data.");
	buf = aligned_alloc(4096, BUF_SIZE);
	if (!buf)
		return fail("out of memory");
	words = (uint64_t *)buf;
	for (i = 0; i < (int)(BUF_SIZE / 8); i++)
		words[i] = 0x0123456789abcdefULL * (i + 1);
	sum = hostchan_fnv(buf, BUF_SIZE);
	say("Buffer at %p; its checksum, computed by the process: %016" PRIx64 ".",
	    (void *)buf, sum);

	step("Register the buffer with the GPU: one ioctl, no copy.");
	pins_before = virtgpu_pins();
	rc.blob_mem = VIRTGPU_BLOB_MEM_GUEST;
	rc.blob_flags = VIRTGPU_BLOB_FLAG_USE_USERPTR;
	rc.size = BUF_SIZE;
	rc.userptr = (uintptr_t)buf;
	if (drmIoctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, &rc))
		return fail(strerror(errno));
	pins_after = virtgpu_pins();
	say("Registered as GEM handle %u, device resource %u.", rc.bo_handle, rc.res_handle);
	say("The driver pinned %ld pages of the buffer for the device.", pins_after - pins_before);
	if (pins_after - pins_before != (long)(BUF_SIZE / 4096))
		return fail("the driver did not pin every page");

	step("Ask the device what it reads from the resource, through its own mapping.");
	if (hostchan_view(chan, rc.res_handle, &view) || !view.exists)
		return fail(view.error[0] ? view.error : "no answer from the host channel");
	say("The device maps %" PRIu64 " bytes in %u memory entries; its checksum: %016" PRIx64 ".",
	    view.size, view.nr_entries, view.checksum);
	if (view.checksum != sum)
		return fail("the device reads other bytes than the process wrote");
	say("Same bytes as the process wrote: the device uses the process's own pages.");

	step("Let the device write into the resource, as a GPU kernel would.");
	if (hostchan_write(chan, rc.res_handle, 42))
		return fail("the device could not write the resource");
	for (i = 0; i < (int)(BUF_SIZE / 8); i++)
		if (words[i] != 42 + (uint64_t)i * HOSTCHAN_PATTERN_STEP)
			break;
	say("The process reads the device's data in its buffer: word 0 = %016" PRIx64
	    ", word 1 = %016" PRIx64 ", with no copy and no ioctl.", words[0], words[1]);
	if (i != (int)(BUF_SIZE / 8))
		return fail("the process does not see what the device wrote");

	step("free() the buffer without deregistering it, as hsakmt does.");
	free(buf);
	errno = 0;
	ri.bo_handle = rc.bo_handle;
	if (!drmIoctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_INFO, &ri) || errno != EFAULT)
		return fail("the registration outlived the memory");
	say("The driver noticed: the handle now answers EFAULT (revoked).");
	for (i = 0; i < 1000; i++) {
		if (hostchan_view(chan, rc.res_handle, &view) || !view.exists)
			break;
		usleep(10000);
	}
	if (view.exists)
		return fail("the device still has the resource");
	say("The device no longer has resource %u: the driver told the host to release it.",
	    rc.res_handle);
	for (i = 0; i < 1000 && virtgpu_pins() != pins_before; i++)
		usleep(10000);
	if (virtgpu_pins() != pins_before)
		return fail("the pages stayed pinned");
	say("The pages are unpinned again (%ld pinned, as before): the driver unpins only",
	    virtgpu_pins() - pins_before);
	say("after the host has answered that it released the resource.");

	step("Close the handle: always succeeds, even after revocation.");
	gc.handle = rc.bo_handle;
	if (drmIoctl(fd, DRM_IOCTL_GEM_CLOSE, &gc))
		return fail(strerror(errno));
	say("Closed.");
	close(chan);
	close(fd);
	printf("\nDemo complete: registration, zero-copy reads and writes, and release on free() all worked.\n");
	return 0;
}
