// SPDX-License-Identifier: GPL-2.0
/*
 * smoke: proves the guest path the userptr tests stand on. The virtio-gpu
 * driver is bound, its render node opens, and DRM_IOCTL_VIRTGPU_GETPARAM
 * answers. Prints TAP; fails loudly when any of it is missing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <drm/drm.h>
#include <drm/virtgpu_drm.h>

#include "virtgpu.h"

static int failed;

static void result(int ok, const char *what)
{
	static int n;

	printf("%sok %d %s\n", ok ? "" : "not ", ++n, what);
	if (!ok)
		failed = 1;
}

static int driver_bound(void)
{
	DIR *d = opendir("/sys/bus/virtio/drivers/virtio_gpu");
	struct dirent *e;
	int bound = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "virtio", 6))
			bound = 1;
	closedir(d);
	return bound;
}

/* The virtio_gpu render node, with its driver's version printed, or -1. */
static int open_virtgpu_render_node(void)
{
	char path[64], name[32] = "";
	struct drm_version v = { .name = name, .name_len = sizeof(name) - 1 };
	int fd = virtgpu_open(path, sizeof(path));

	if (fd >= 0 && !ioctl(fd, DRM_IOCTL_VERSION, &v))
		printf("# %s: driver %s %d.%d.%d\n", path, name,
		       v.version_major, v.version_minor, v.version_patchlevel);
	return fd;
}

int main(void)
{
	static const struct { int param; const char *name; } params[] = {
		{ VIRTGPU_PARAM_3D_FEATURES, "3D_FEATURES" },
		{ VIRTGPU_PARAM_CAPSET_QUERY_FIX, "CAPSET_QUERY_FIX" },
		{ VIRTGPU_PARAM_RESOURCE_BLOB, "RESOURCE_BLOB" },
		{ VIRTGPU_PARAM_HOST_VISIBLE, "HOST_VISIBLE" },
		{ VIRTGPU_PARAM_CROSS_DEVICE, "CROSS_DEVICE" },
		{ VIRTGPU_PARAM_CONTEXT_INIT, "CONTEXT_INIT" },
		{ VIRTGPU_PARAM_SUPPORTED_CAPSET_IDs, "SUPPORTED_CAPSET_IDs" },
		{ VIRTGPU_PARAM_EXPLICIT_DEBUG_NAME, "EXPLICIT_DEBUG_NAME" },
		{ VIRTGPU_PARAM_BLOB_ALIGNMENT, "BLOB_ALIGNMENT" },
	};
	unsigned int i;
	int fd;

	printf("TAP version 13\n1..3\n");
	result(driver_bound(), "virtio_gpu driver is bound to a virtio device");
	fd = open_virtgpu_render_node();
	result(fd >= 0, "a virtio_gpu render node opens");
	if (fd >= 0) {
		int answered = 1;

		for (i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
			__u64 value = 0;
			struct drm_virtgpu_getparam gp = {
				.param = params[i].param,
				.value = (__u64)(unsigned long)&value,
			};

			if (ioctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, &gp)) {
				/* A parameter the device does not offer. */
				if (errno == ENOENT &&
				    params[i].param == VIRTGPU_PARAM_BLOB_ALIGNMENT) {
					printf("# GETPARAM %s: not offered\n",
					       params[i].name);
					continue;
				}
				printf("# GETPARAM %s: %s\n", params[i].name, strerror(errno));
				answered = 0;
			} else {
				printf("# GETPARAM %s = %llu\n", params[i].name,
				       (unsigned long long)value);
			}
		}
		result(answered, "DRM_IOCTL_VIRTGPU_GETPARAM answers");
		close(fd);
	} else {
		result(0, "DRM_IOCTL_VIRTGPU_GETPARAM answers (no render node)");
	}
	if (failed)
		fprintf(stderr, "smoke: FAILED: the virtio-gpu guest path is broken\n");
	return failed;
}
