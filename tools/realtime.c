/* SPDX-License-Identifier: MIT */
/* --realtime, --mlock, --cpu: see realtime.h for what they are and when they apply. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "realtime.h"

void realtime_init(struct realtime *rt)
{
	memset(rt, 0, sizeof(*rt));
	rt->cpu = -1;
}

bool realtime_option(struct realtime *rt, const char *cmd, int ch, const char *arg)
{
	switch (ch) {
	case OPT_REALTIME:
		rt->priority = arg ? (int)opt_u32(cmd, "--realtime", arg, 1, 99) :
				     REALTIME_DEFAULT_PRIORITY;
		return true;
	case OPT_MLOCK:
		rt->mlock = true;
		return true;
	case OPT_CPU:
		rt->cpu = (int)opt_u32(cmd, "--cpu", arg, 0, CPU_SETSIZE - 1);
		return true;
	case OPT_REQUIRE_REALTIME:
		rt->require = true;
		return true;
	default:
		return false;
	}
}

bool realtime_wanted(const struct realtime *rt)
{
	return rt->priority || rt->mlock || rt->cpu >= 0;
}

/* "unlimited", or the number with @unit */
static void limit_string(rlim_t v, uint64_t scale, const char *unit, char *buf, size_t len)
{
	if (v == RLIM_INFINITY)
		snprintf(buf, len, "unlimited");
	else
		snprintf(buf, len, "%llu%s", (unsigned long long)(v / scale), unit);
}

/* Remembers the first refusal; a warning, or the error with --require-realtime. */
__attribute__((format(printf, 3, 4)))
static int refuse(struct realtime *rt, int err, const char *fmt, ...)
{
	char msg[sizeof(rt->refused)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!rt->refused[0])
		snprintf(rt->refused, sizeof(rt->refused), "%s", msg);
	if (rt->require) {
		/* not allowed; a CPU or priority this machine does not offer; else */
		tool_error(err == EPERM || err == ENOMEM ? TOOL_ERR_PERMISSION :
			   err == EINVAL ? TOOL_ERR_UNSUPPORTED : TOOL_ERR_INTERNAL, 0,
			   "%s (--require-realtime)", msg);
		return -1;
	}
	tool_warn("%s; going on without it", msg);
	return 0;
}

static int apply_cpu(struct realtime *rt)
{
	cpu_set_t allowed, set;
	int ret;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0 && !CPU_ISSET(rt->cpu, &allowed))
		return refuse(rt, EINVAL, "--cpu %d: not a CPU this process may run on "
			      "(it may use %d of the %ld configured; see taskset -p %d)",
			      rt->cpu, CPU_COUNT(&allowed), sysconf(_SC_NPROCESSORS_CONF),
			      (int)getpid());
	CPU_ZERO(&set);
	CPU_SET(rt->cpu, &set);
	ret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (ret)
		return refuse(rt, ret, "--cpu %d: cannot pin the capture thread: %s", rt->cpu,
			      strerror(ret));
	rt->pinned = true;
	return 0;
}

static int apply_fifo(struct realtime *rt)
{
	struct sched_param sp = { .sched_priority = rt->priority };
	struct rlimit rl;
	char lim[32] = "?";
	int ret;

	ret = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	if (ret == EPERM) {
		if (getrlimit(RLIMIT_RTPRIO, &rl) == 0)
			limit_string(rl.rlim_cur, 1, "", lim, sizeof(lim));
		return refuse(rt, ret, "--realtime=%d: SCHED_FIFO %d is not permitted: "
			      "RLIMIT_RTPRIO is %s and the process lacks CAP_SYS_NICE "
			      "(raise rtprio in /etc/security/limits.conf, or grant the capability)",
			      rt->priority, rt->priority, lim);
	}
	if (ret)
		return refuse(rt, ret, "--realtime=%d: cannot set SCHED_FIFO: %s", rt->priority,
			      strerror(ret));
	rt->fifo = true;
	return 0;
}

/* VmLck of /proc/self/status, in bytes; 0 if unknown */
static uint64_t locked_bytes(void)
{
	unsigned long long kb = 0;
	char line[128];
	FILE *f;

	f = fopen("/proc/self/status", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb * 1024;
}

static int apply_mlock(struct realtime *rt)
{
	struct rlimit rl;
	char lim[32] = "?";
	int err;

	/*
	 * MCL_FUTURE as well: buffers a new generation maps later are locked
	 * too, and count against the limit (a mapping beyond it fails then).
	 */
	if (mlockall(MCL_CURRENT | MCL_FUTURE) == 0) {
		rt->locked = true;
		rt->locked_bytes = locked_bytes();
		return 0;
	}
	err = errno;
	if (err == ENOMEM || err == EPERM) {
		if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0)
			limit_string(rl.rlim_cur, 1024, " KiB", lim, sizeof(lim));
		return refuse(rt, err, "--mlock: cannot lock the process's memory: "
			      "RLIMIT_MEMLOCK is %s and the process lacks CAP_IPC_LOCK "
			      "(raise memlock in /etc/security/limits.conf, or grant the capability)",
			      lim);
	}
	return refuse(rt, err, "--mlock: mlockall: %s", strerror(err));
}

/* CAP_IPC_LOCK in the effective set: mlock() then ignores RLIMIT_MEMLOCK */
static bool can_lock_any(void)
{
	char line[256];
	unsigned long long caps = 0;
	bool found = false;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "CapEff: %llx", &caps) == 1;
	fclose(f);
	return found && (caps >> 14) & 1; /* CAP_IPC_LOCK */
}

int realtime_check_lock(const struct realtime *rt, const char *what, uint64_t bytes)
{
	struct rlimit rl;
	char lim[32];

	if (!rt->mlock || getrlimit(RLIMIT_MEMLOCK, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    bytes <= rl.rlim_cur || can_lock_any())
		return 0;
	limit_string(rl.rlim_cur, 1024, " KiB", lim, sizeof(lim));
	tool_error(TOOL_ERR_PERMISSION, 0, "%s: %.1f MB cannot be locked in memory (--mlock): "
		   "RLIMIT_MEMLOCK is %s and the process lacks CAP_IPC_LOCK (a smaller buffer, "
		   "or raise memlock in /etc/security/limits.conf)", what, (double)bytes / 1e6, lim);
	return -1;
}

int realtime_apply(struct realtime *rt)
{
	rt->applied = true;
	/* the pin first: a FIFO thread should not start on a CPU it is about to leave */
	if (rt->cpu >= 0 && apply_cpu(rt) < 0)
		return -1;
	if (rt->mlock && apply_mlock(rt) < 0)
		return -1;
	if (rt->priority && apply_fifo(rt) < 0)
		return -1;
	return 0;
}

void realtime_json(const struct realtime *rt, struct json *j)
{
	json_begin_object(j, "realtime");
	if (rt->priority)
		json_u64(j, "priority", (uint64_t)rt->priority);
	else
		json_null(j, "priority");
	json_bool(j, "sched_fifo", rt->fifo);
	json_bool(j, "mlock", rt->locked);
	json_u64(j, "locked_bytes", rt->locked_bytes);
	if (rt->cpu >= 0)
		json_u64(j, "cpu", (uint64_t)rt->cpu);
	else
		json_null(j, "cpu");
	json_bool(j, "pinned", rt->pinned);
	json_string(j, "refused", rt->refused[0] ? rt->refused : NULL);
	json_end_object(j);
}

void realtime_describe(const struct realtime *rt, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	if (rt->priority)
		n += (size_t)snprintf(buf + n, len - n, "SCHED_FIFO %d%s", rt->priority,
				      rt->fifo ? "" : " refused");
	if (rt->cpu >= 0 && n < len)
		n += (size_t)snprintf(buf + n, len - n, "%sCPU %d%s", n ? ", " : "", rt->cpu,
				      rt->pinned ? "" : " refused");
	if (rt->mlock && n < len) {
		if (rt->locked)
			snprintf(buf + n, len - n, "%s%.1f MiB locked", n ? ", " : "",
				 (double)rt->locked_bytes / (1024.0 * 1024.0));
		else
			snprintf(buf + n, len - n, "%smemory lock refused", n ? ", " : "");
	}
}

int thread_attr_not_realtime(pthread_attr_t *attr)
{
	struct sched_param sp = { .sched_priority = 0 };
	int ret;

	ret = pthread_attr_init(attr);
	if (ret)
		return ret;
	pthread_attr_setinheritsched(attr, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(attr, SCHED_OTHER);
	pthread_attr_setschedparam(attr, &sp);
	return 0;
}
