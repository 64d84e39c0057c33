/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hostchan.h: the guest side of the harness's host channel. Guest programs
 * ask the device what it sees of a resource by writing a QMP command to the
 * virtio-serial port org.virtio-gpu-userptr.host; scripts/host-relay.py
 * forwards x-virtio-gpu-* commands to QEMU and writes the answer back.
 */
#ifndef USERPTR_HOSTCHAN_H
#define USERPTR_HOSTCHAN_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOSTCHAN_NAME "org.virtio-gpu-userptr.host"
/* The device's checksum: FNV-1a over little-endian 64-bit words. */
#define HOSTCHAN_FNV_BASIS 0xcbf29ce484222325ULL
#define HOSTCHAN_FNV_PRIME 0x100000001b3ULL
/* x-virtio-gpu-resource-write: word i becomes seed + i * HOSTCHAN_PATTERN_STEP. */
#define HOSTCHAN_PATTERN_STEP 0x9e3779b97f4a7c15ULL

/* The host channel's device node, opened, or -1. */
static inline int hostchan_open(void)
{
	char path[300], name[64];
	struct dirent *e;
	int fd = -1;
	DIR *d = opendir("/sys/class/virtio-ports");

	while (d && fd < 0 && (e = readdir(d))) {
		FILE *f;

		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f) && !strncmp(name, HOSTCHAN_NAME, strlen(HOSTCHAN_NAME))) {
			snprintf(path, sizeof(path), "/dev/%s", e->d_name);
			fd = open(path, O_RDWR | O_CLOEXEC);
		}
		fclose(f);
	}
	if (d)
		closedir(d);
	return fd;
}

/* Send one QMP command line, read one answer line into @out. */
static inline int hostchan_ask(int chan, char *out, size_t len, const char *fmt, ...)
{
	char cmd[512];
	size_t got = 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);
	va_end(ap);
	cmd[n++] = '\n';
	if (write(chan, cmd, n) != n)
		return -errno;
	while (got < len - 1) {
		ssize_t r = read(chan, out + got, 1);

		if (r <= 0)
			return -EIO;
		if (out[got] == '\n')
			break;
		got++;
	}
	out[got] = 0;
	return 0;
}

struct hostchan_view {
	bool exists;
	bool read_only;
	uint64_t size;
	uint64_t checksum;
	unsigned int nr_entries;
	char error[1024];
};

static inline uint64_t field(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(json, pat);
	return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

static inline int hostchan_view(int chan, uint32_t res, struct hostchan_view *v)
{
	char line[1024];
	int ret;

	memset(v, 0, sizeof(*v));
	ret = hostchan_ask(chan, line, sizeof(line),
		  "{\"execute\": \"x-virtio-gpu-resource-info\", \"arguments\": {\"resource-id\": %u}}",
		  res);
	if (ret)
		return ret;
	if (strstr(line, "\"error\"")) {
		snprintf(v->error, sizeof(v->error), "%s", line);
		return 0;
	}
	v->exists = true;
	v->size = field(line, "size");
	v->checksum = field(line, "checksum");
	v->nr_entries = field(line, "nr-entries");
	v->read_only = strstr(line, "\"read-only\": true") != NULL;
	return 0;
}

/* 0 when the device wrote the pattern, 1 when it refused, <0 on error. */
static inline int hostchan_write(int chan, uint32_t res, uint64_t seed)
{
	char line[1024];
	int ret = hostchan_ask(chan, line, sizeof(line),
		      "{\"execute\": \"x-virtio-gpu-resource-write\", \"arguments\": {\"resource-id\": %u, \"seed\": %" PRIu64 "}}",
		      res, seed);

	if (ret)
		return ret;
	return strstr(line, "\"error\"") ? 1 : 0;
}

static inline uint64_t fnv(const void *p, size_t len)
{
	const uint64_t *w = p;
	uint64_t h = HOSTCHAN_FNV_BASIS;
	size_t i;

	for (i = 0; i < len / 8; i++)
		h = (h ^ w[i]) * HOSTCHAN_FNV_PRIME;
	return h;
}

/*
 * x-virtio-gpu-ctrlq-stall: with @stall, the device takes no command off its
 * control queue (commands stay in the ring, unanswered) until called again
 * with !@stall. 0 when the device did it, 1 when it refused, <0 on error.
 */
static inline int hostchan_ctrlq_stall(int chan, int stall)
{
	char line[1024];
	int ret = hostchan_ask(chan, line, sizeof(line),
		      "{\"execute\": \"x-virtio-gpu-ctrlq-stall\", \"arguments\": {\"stall\": %s}}",
		      stall ? "true" : "false");

	if (ret)
		return ret;
	return strstr(line, "\"error\"") ? 1 : 0;
}

#endif
