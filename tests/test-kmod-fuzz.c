/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Hostile ioctls on /dev/dmapipe: every ioctl of the ABI (and its
 * neighbours: other numbers, directions, types and sizes) with random,
 * zero, all-ones ("huge") and overflowing arguments, from good, short,
 * unmapped, read-only, NULL and kernel pointers, naming good, foreign,
 * closed and racing fds: $DMAPIPE_FUZZ_CALLS calls (default 250000). The
 * module must answer each with a result or an errno: the VM
 * lane fails the test on any kernel warning, and the test checks that no
 * fd leaked and the counters end at zero.
 *
 * Limits are lowered for the run (max_buffer_mb 4) so that random sizes
 * that pass are cheap; they are restored afterwards.
 * $DMAPIPE_FUZZ_SEED repeats a run. Root in the VM lane only.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kmod-testlib.h"
#include "private.h"

#define ARG_MAX_SIZE 16384	/* _IOC_SIZE is 14 bits */
#define MAX_ERRNO 4096

static uint64_t rng_state;
static long page_size;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static const unsigned long cmds[] = {
	DMAPIPE_IOCTL_GET_INFO, DMAPIPE_IOCTL_ALLOC, DMAPIPE_IOCTL_SYNC_RANGE,
	DMAPIPE_IOCTL_BUF_INFO, DMAPIPE_IOCTL_WRITE_FILE, DMAPIPE_IOCTL_READ_FILE,
};

/* fds a field may name */
static int pool[16];
static int n_pool;
static int race_slot = -1;
static atomic_bool race_stop;

static int pick_fd(void)
{
	switch (rnd_below(8)) {
	case 0:
		return -1;
	case 1: {
		int fd = (int)rnd();

		/* never our stdio: a buffered write there would scribble on the log */
		return fd >= 0 && fd <= 2 ? -1 : fd;
	}
	case 2:
		return race_slot;
	default:
		return pool[rnd_below((uint64_t)n_pool)];
	}
}

static uint64_t interesting_u64(void)
{
	static const uint64_t values[] = {
		0, 1, 7, 8, 4095, 4096, 4097, 65536, 1 << 20, (4 << 20) - 1, 4 << 20,
		(4 << 20) + 1, 1ull << 31, 1ull << 32, (1ull << 32) - 1, INT64_MAX,
		(uint64_t)INT64_MAX + 1, UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 4095,
		UINT64_MAX - 4096, (uint64_t)-4096 + 1, 0x8000000000000000ull,
	};

	if (rnd_below(4) == 0)
		return rnd();
	return values[rnd_below(ARRAY_SIZE(values))];
}

static uint32_t interesting_u32(void)
{
	static const uint32_t values[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 0x10000, 0xffffffff,
					   0x80000000, 0x7fffffff };

	if (rnd_below(4) == 0)
		return (uint32_t)rnd();
	return values[rnd_below(ARRAY_SIZE(values))];
}

/* An argument that is mostly well-formed for @nr, with hostile values. */
static void fill_structured(uint8_t *arg, unsigned int nr)
{
	union {
		struct dmapipe_alloc alloc;
		struct dmapipe_sync_range sync;
		struct dmapipe_buf_info info;
		struct dmapipe_file_io io;
	} u;

	memset(&u, 0, sizeof(u));
	switch (nr) {
	case 1:
		/* a valid small size now and then, so allocations happen */
		u.alloc.size = rnd_below(16) == 0 ? 1 + rnd_below(64 << 10) : interesting_u64();
		u.alloc.flags = rnd_below(3) ? (uint32_t)rnd_below(8) : interesting_u32();
		break;
	case 2:
		u.sync.fd = pick_fd();
		u.sync.flags = rnd_below(3) ? (uint32_t)rnd_below(8) : interesting_u32();
		u.sync.offset = interesting_u64();
		u.sync.len = interesting_u64();
		break;
	case 3:
		u.info.fd = pick_fd();
		break;
	case 4:
	case 5:
		u.io.fd = pick_fd();
		u.io.file_fd = pick_fd();
		u.io.offset = interesting_u64();
		u.io.len = rnd_below(2) ? rnd_below(2 << 20) : interesting_u64();
		/* a small range: the tmpfs file must not eat the guest's memory */
		u.io.file_offset = rnd_below(2) ? rnd_below(1 << 14) * 512 : interesting_u64();
		u.io.flags = rnd_below(3) ? (uint32_t)rnd_below(2) : interesting_u32();
		u.io.pad = rnd_below(8) ? 0 : interesting_u32();
		break;
	default:
		break;
	}
	memcpy(arg, &u, sizeof(u));
}

static void fill_arg(uint8_t *arg, size_t size, unsigned int nr)
{
	switch (rnd_below(6)) {
	case 0: /* zero */
		memset(arg, 0, size);
		break;
	case 1: /* huge */
		memset(arg, 0xff, size);
		break;
	case 2: /* random */
		for (size_t i = 0; i < size; i += 8) {
			uint64_t r = rnd();

			memcpy(arg + i, &r, MIN(size - i, 8));
		}
		break;
	default: /* structured, with trailing bytes zero or not */
		memset(arg, 0, size);
		fill_structured(arg, nr);
		if (rnd_below(8) == 0 && size > 80)
			arg[80 + rnd_below(size - 80)] = (uint8_t)rnd();
		break;
	}
}

static unsigned long pick_cmd(void)
{
	unsigned long cmd = cmds[rnd_below(ARRAY_SIZE(cmds))];
	unsigned int size = _IOC_SIZE(cmd);

	switch (rnd_below(10)) {
	case 0: /* another size */
		size = (unsigned int)rnd_below(ARG_MAX_SIZE);
		break;
	case 1: /* a little shorter or longer */
		size = (unsigned int)((int)size + (int)rnd_below(33) - 16) & (ARG_MAX_SIZE - 1);
		break;
	case 2: /* another direction */
		return _IOC((unsigned int)rnd_below(4), DMAPIPE_IOC_MAGIC, _IOC_NR(cmd), size);
	case 3: /* another number */
		return _IOC(_IOC_DIR(cmd), DMAPIPE_IOC_MAGIC, (unsigned int)rnd_below(256), size);
	case 4: /* anything */
		return (unsigned long)(uint32_t)rnd();
	default:
		break;
	}
	return _IOC(_IOC_DIR(cmd), DMAPIPE_IOC_MAGIC, _IOC_NR(cmd), size);
}

static void *race_thread(void *data)
{
	int dev = *(int *)data;
	unsigned int n = 0;

	while (!atomic_load(&race_stop)) {
		int fd = kmod_alloc(dev, (uint64_t)page_size * (1 + n++ % 4), 0, NULL);

		if (fd >= 0) {
			dup2(fd, race_slot);
			close(fd);
		}
		usleep(50);
		close(race_slot);
		usleep(50);
	}
	return NULL;
}

int main(void)
{
	const char *seed_env = getenv("DMAPIPE_FUZZ_SEED");
	const char *calls_env = getenv("DMAPIPE_FUZZ_CALLS");
	uint64_t calls = calls_env ? strtoull(calls_env, NULL, 0) : 250000;
	unsigned int old_buffer_mb, old_total_mb, old_buffers;
	static uint64_t errors[MAX_ERRNO];
	uint64_t ok = 0, allocs = 0, start;
	uint8_t *area, *arg, *ro, *edge;
	const char *what;
	char path[256];
	pthread_t racer;
	int dev, fds, r = 0;

	dev = kmod_open();
	kmod_require_vm("changes the module's limits");
	kmod_check_idle();
	page_size = sysconf(_SC_PAGESIZE);
	rng_state = seed_env ? strtoull(seed_env, NULL, 0) : (uint64_t)time(NULL) * 2654435761u;
	if (!rng_state)
		rng_state = 1;
	printf("seed %" PRIu64 " (DMAPIPE_FUZZ_SEED repeats this run)\n", rng_state);

	old_buffer_mb = kmod_param_set("max_buffer_mb", 4);
	old_total_mb = kmod_param_set("max_total_mb", 64);
	old_buffers = kmod_param_set("max_buffers", 64);

	/* argument memory: a big buffer, a read-only page, a page before a hole */
	area = mmap(NULL, ARG_MAX_SIZE + 3 * page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check(area != MAP_FAILED);
	arg = area;
	ro = area + ARG_MAX_SIZE;
	edge = ro + page_size;
	check_int_eq(mprotect(ro, page_size, PROT_READ), 0);
	check_int_eq(munmap(edge + page_size, page_size), 0);

	pool[n_pool++] = dev;
	pool[n_pool++] = kmod_alloc(dev, 1 << 20, 0, NULL);
	pool[n_pool++] = kmod_alloc(dev, 1 << 20, DMAPIPE_ALLOC_PAGE_MMAP, NULL);
	pool[n_pool++] = kmod_alloc(dev, 64 << 10, DMAPIPE_ALLOC_COHERENT, NULL);
	snprintf(path, sizeof(path), "%s/dmapipe-fuzz-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	pool[n_pool] = mkstemp(path);
	check(pool[n_pool] >= 0);
	unlink(path);
	n_pool++;
	pool[n_pool++] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	check(pipe(pool + n_pool) == 0);
	n_pool += 2;
	pool[n_pool] = kmod_foreign_dmabuf(1 << 20, &what);
	if (pool[n_pool] >= 0) {
		printf("foreign dma-buf: %s\n", what);
		n_pool++;
	}
	for (int i = 0; i < n_pool; i++)
		check_msg(pool[i] > 2, "pool fd %d: %d", i, pool[i]);
	/* far above what anything else gets, so only the racer ever uses it */
	race_slot = 1000;
	check(fcntl(race_slot, F_GETFD) < 0);
	fds = test_count_fds();

	check_int_eq(pthread_create(&racer, NULL, race_thread, &dev), 0);
	start = test_now_ms();
	for (uint64_t i = 0; i < calls; i++) {
		unsigned long cmd = pick_cmd();
		unsigned int size = _IOC_SIZE(cmd);
		void *p;
		int ret;

		fill_arg(arg, MIN((size_t)size + 64, (size_t)ARG_MAX_SIZE), _IOC_NR(cmd));
		switch (rnd_below(16)) {
		case 0:
			p = NULL;
			break;
		case 1:
			p = ro;
			break;
		case 2: { /* the struct runs into the hole */
			size_t fit = rnd_below(MIN(size, (unsigned int)page_size) + 1);

			p = edge + page_size - fit;
			memcpy(p, arg, fit);
			break;
		}
		case 3:
			p = (void *)(uintptr_t)0xffffffff81000000ull;
			break;
		case 4: /* kernel or non-canonical: never our own memory */
			p = (void *)(uintptr_t)(rnd() | 0x8000000000000000ull);
			break;
		default:
			p = arg;
			break;
		}
		ret = ioctl(dev, cmd, p);
		if (ret == 0) {
			ok++;
			/* an ALLOC that worked: its fd is ours to close */
			if (_IOC_TYPE(cmd) == DMAPIPE_IOC_MAGIC && _IOC_NR(cmd) == 1 &&
			    _IOC_DIR(cmd) == (_IOC_READ | _IOC_WRITE)) {
				struct dmapipe_alloc a;

				memcpy(&a, p, sizeof(a));
				check_msg(a.fd > 2, "ALLOC returned fd %d", a.fd);
				close(a.fd);
				allocs++;
			}
		} else {
			check_msg(errno > 0 && errno < MAX_ERRNO, "ioctl 0x%lx: errno %d", cmd, errno);
			errors[errno]++;
		}
		if (i % 10000 == 9999) {
			/* between rounds: the limits again, at random */
			kmod_param_set("max_buffers", r++ % 3 ? 64 : 1);
		}
	}
	atomic_store(&race_stop, true);
	check_int_eq(pthread_join(racer, NULL), 0);
	close(race_slot);

	printf("%" PRIu64 " ioctls in %.1f s: %" PRIu64 " succeeded (%" PRIu64 " allocations)",
	       calls, (double)(test_now_ms() - start) / 1000.0, ok, allocs);
	for (int e = 1; e < MAX_ERRNO; e++)
		if (errors[e])
			printf(", %s %" PRIu64, strerrorname_np(e) ? strerrorname_np(e) : "?",
			       errors[e]);
	printf("\n");
	check(calls == 0 || ok > 0);
	check_int_eq(test_count_fds(), fds);

	for (int i = 1; i < n_pool; i++)
		close(pool[i]);
	munmap(area, ARG_MAX_SIZE + 3 * page_size);
	kmod_param_set("max_buffer_mb", old_buffer_mb);
	kmod_param_set("max_total_mb", old_total_mb);
	kmod_param_set("max_buffers", old_buffers);
	close(dev);
	kmod_check_idle();
	return 0;
}
