/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtgpu.h: what the guest programs share: finding the virtio-gpu render
 * node, and counting the pages pinned in the whole guest.
 */
#ifndef USERPTR_VIRTGPU_H
#define USERPTR_VIRTGPU_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <drm/drm.h>

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

#endif
