// SPDX-License-Identifier: GPL-2.0
/*
 * io-uring-variance: how much io_uring's own register+unregister of 64 MiB
 * (THP off) moves within one boot, the baseline of the bench's registration
 * goal. A diagnostic for whoever reads a registration outlier, not part of
 * the harness (build-guest.sh builds only the programs in guest/).
 *
 *   buffers  each of N fresh 64 MiB buffers (a filler of varying size mapped
 *            before it moves where it lands), on each vCPU in turn: 3
 *            warm-up rounds, then 15 samples; prints p50, min and max, and
 *            the buffer's physically contiguous runs (pagemap; root)
 *   pairs    P samples of io_uring and of a userptr register+release of one
 *            buffer, alternating which goes first; prints each pair and its
 *            ratio (caller-visible, as the bench's goal row), and the
 *            buffer's runs: once in the fresh boot, before the buffers
 *            above, and once after them, when guest memory is fragmented
 *            (each run is a memory entry the host takes and maps)
 *
 * Build and run (from the top of the repo, after `make kernel-release`):
 *   gcc -Wall -O2 -static -I guest -isystem build/linux-release/usr/include \
 *       -o /tmp/io-uring-variance scripts/dev/io-uring-variance.c
 *   scripts/boot.sh --kernel release --name iov --timeout 600 \
 *       --file /tmp/io-uring-variance --run '/opt/bin/io-uring-variance'
 * With USERPTR_CMDLINE=maxcpus=1 the guest runs on one vCPU. With each
 * userptr creation split into pinning, the entries and the host's part
 * (kprobes and the command tracepoints):
 *   scripts/boot.sh --kernel release --name iov --timeout 900 \
 *       --file /tmp/io-uring-variance \
 *       --run "$(cat scripts/dev/io-uring-variance-trace.sh)"
 *   python3 scripts/dev/io-uring-variance-trace.py build/results/iov/output.log
 *
 * Usage: io-uring-variance [-b BUFFERS] [-p PAIRS]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/io_uring.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "virtgpu.h"

#define LEN	(64UL << 20)
#define SAMPLES	15

static int ring = -1, gpu = -1;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static double now_us(void)
{
	return virtgpu_now() * 1e6;
}

static double io_uring_cycle(void *p)
{
	double us = virtgpu_io_uring_cycle(ring, p, LEN);

	if (us < 0)
		die("io_uring register+unregister");
	return us;
}

static double userptr_cycle(void *p)
{
	double t0 = now_us();
	uint32_t bo;

	if (virtgpu_userptr(gpu, VIRTGPU_BLOB_MEM_GUEST, 0, p, LEN, &bo, NULL))
		die("userptr create");
	if (virtgpu_gem_close(gpu, bo))
		die("gem close");
	return now_us() - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A pre-faulted anonymous mapping without THP. */
static void *buffer(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	if (madvise(p, len, MADV_NOHUGEPAGE))
		die("madvise");
	memset(p, 1, len);
	return p;
}

/* Physically contiguous runs of @p, or -1 without pagemap's PFNs. */
static long runs(const void *p)
{
	size_t i, n = LEN / 4096;
	uint64_t *e = calloc(n, sizeof(*e)), pfn, prev = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);
	long r = 0;

	if (!e || fd < 0 ||
	    pread(fd, e, n * sizeof(*e), (uintptr_t)p / 4096 * sizeof(*e)) !=
	    (ssize_t)(n * sizeof(*e)))
		r = -1;
	for (i = 0; r >= 0 && i < n; i++) {
		pfn = e[i] & ((1ULL << 55) - 1);
		if (!pfn) {
			r = -1;
			break;
		}
		if (!i || pfn != prev + 1)
			r++;
		prev = pfn;
	}
	if (fd >= 0)
		close(fd);
	free(e);
	return r;
}

static void buffers(int n)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	double s[SAMPLES];
	int b, c, i;

	for (b = 0; b < n; b++) {
		size_t fill = (size_t)(b * 7 % 13) << 20;
		void *f = fill ? buffer(fill) : NULL;
		void *p = buffer(LEN);
		long r = runs(p);

		for (c = 0; c < ncpu; c++) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(c, &set);
			if (sched_setaffinity(0, sizeof(set), &set))
				die("sched_setaffinity");
			for (i = 0; i < 3; i++)
				io_uring_cycle(p);
			for (i = 0; i < SAMPLES; i++)
				s[i] = io_uring_cycle(p);
			qsort(s, SAMPLES, sizeof(s[0]), cmp_double);
			printf("buffer %d cpu %d runs %ld: io_uring p50 %.0f us, min %.0f, max %.0f\n",
			       b, sched_getcpu(), r, s[SAMPLES / 2], s[0], s[SAMPLES - 1]);
			fflush(stdout);
		}
		munmap(p, LEN);
		if (f)
			munmap(f, fill);
	}
}

static void pairs(const char *when, int n)
{
	void *p = buffer(LEN);
	double io, up;
	int i;

	printf("pairs %s: %ld runs\n", when, runs(p));

	for (i = 0; i < 3; i++) {
		io_uring_cycle(p);
		userptr_cycle(p);
		usleep(20000);
	}
	for (i = 0; i < n; i++) {
		if (i & 1) {
			io = io_uring_cycle(p);
			up = userptr_cycle(p);
		} else {
			up = userptr_cycle(p);
			io = io_uring_cycle(p);
		}
		printf("pair %s %d: io_uring %.0f us, userptr %.0f us, ratio %.2f\n",
		       when, i, io, up, up / io);
		fflush(stdout);
		/* The release unpins after the close returns: let it finish. */
		usleep(20000);
	}
	munmap(p, LEN);
}

int main(int argc, char **argv)
{
	struct io_uring_params params = { 0 };
	int opt, nbuf = 10, npairs = 40;
	char path[64];

	while ((opt = getopt(argc, argv, "b:p:")) != -1) {
		if (opt == 'b')
			nbuf = atoi(optarg);
		else if (opt == 'p')
			npairs = atoi(optarg);
		else
			return fprintf(stderr, "usage: %s [-b BUFFERS] [-p PAIRS]\n", argv[0]), 2;
	}
	ring = syscall(__NR_io_uring_setup, 4, &params);
	if (ring < 0)
		die("io_uring_setup");
	gpu = virtgpu_open(path, sizeof(path));
	if (gpu < 0)
		printf("pairs: SKIP, no virtio-gpu render node\n");
	else
		pairs("fresh", npairs);
	buffers(nbuf);
	if (gpu >= 0)
		pairs("fragmented", npairs);
	return 0;
}
