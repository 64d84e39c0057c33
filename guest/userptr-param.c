// SPDX-License-Identifier: GPL-2.0
/*
 * userptr-param: print VIRTGPU_PARAM_RESOURCE_USERPTR of the virtio-gpu
 * render node; with an argument, exit 0 only if the value equals it.
 * The harness boots the guest with forced bounce buffering and expects 0:
 * the host would see bounce pages, not the process's memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include <drm/drm.h>
#include <drm/virtgpu_drm.h>

#include "virtgpu.h"

int main(int argc, char **argv)
{
	char node[64];
	int v = -1, fd = virtgpu_open(node, sizeof(node));
	struct drm_virtgpu_getparam gp = {
		.param = VIRTGPU_PARAM_RESOURCE_USERPTR,
		.value = (unsigned long)&v,
	};

	if (fd < 0) {
		printf("no virtio-gpu render node\n");
		return 2;
	}
	if (ioctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, &gp)) {
		perror("VIRTGPU_PARAM_RESOURCE_USERPTR");
		return 3;
	}
	printf("VIRTGPU_PARAM_RESOURCE_USERPTR = 0x%x\n", v);
	if (argc > 1 && v != (int)strtol(argv[1], NULL, 0))
		return 1;
	return 0;
}
