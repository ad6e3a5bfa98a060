/* SPDX-License-Identifier: MIT */
/*
 * --realtime, --mlock, --cpu and --require-realtime of the capturing
 * commands (serve, record, encode, run): what keeps the scheduler and the
 * pager from delaying the capture loop (docs/REALTIME.md). Each is asked
 * for on the command line and applied by the capture thread just before
 * its loop, after the threads that must not share its priority (the
 * writer, the library's closer) exist. What cannot be had is one warning
 * naming the limit, and the run goes on, unless --require-realtime made
 * it an error.
 */
#ifndef DMAPIPE_TOOL_REALTIME_H
#define DMAPIPE_TOOL_REALTIME_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "dmapipe-tool.h"

/* Below the kernel's threaded interrupt handlers (50), which deliver the frames. */
#define REALTIME_DEFAULT_PRIORITY 40

/* getopt values, far from every command's own */
enum {
	OPT_REALTIME = 0x1000,
	OPT_MLOCK,
	OPT_CPU,
	OPT_REQUIRE_REALTIME,
};

#define REALTIME_OPTIONS \
	{ "realtime", optional_argument, NULL, OPT_REALTIME }, \
	{ "mlock", no_argument, NULL, OPT_MLOCK }, \
	{ "cpu", required_argument, NULL, OPT_CPU }, \
	{ "require-realtime", no_argument, NULL, OPT_REQUIRE_REALTIME }

/*
 * The options' help; @P pads the description column past 26 (serve's is
 * at 30: "    ").
 */
#define HELP_REALTIME(P) \
	"      --realtime[=PRIO]   " P "the capture thread runs SCHED_FIFO at PRIO (1-99,\n" \
	"                          " P "default 40: below the kernel's interrupt threads)\n" \
	"      --mlock             " P "lock the process's memory, frame buffers included\n" \
	"      --cpu N             " P "pin the capture thread to CPU N\n" \
	"      --require-realtime  " P "fail when one of those is refused (default: one\n" \
	"                          " P "warning naming the limit, and go on without it)\n"

struct realtime {
	/* asked for */
	int priority;      /* SCHED_FIFO priority; 0: not asked */
	bool mlock;
	int cpu;           /* -1: not asked */
	bool require;
	/* had, once realtime_apply() ran */
	bool applied;
	bool fifo, locked, pinned;
	uint64_t locked_bytes; /* VmLck after mlockall() */
	char refused[256];     /* the first refusal, "" when none */
};

/* Nothing asked for. */
void realtime_init(struct realtime *rt);

/*
 * Takes getopt's @ch (with @arg) when it is one of REALTIME_OPTIONS and
 * returns true; exits with a usage error for a bad value. @cmd names the
 * command in messages.
 */
bool realtime_option(struct realtime *rt, const char *cmd, int ch, const char *arg);

/* Whether anything was asked for. */
bool realtime_wanted(const struct realtime *rt);

/*
 * With --mlock: whether @bytes of buffer (@what names it in the message)
 * can be locked under RLIMIT_MEMLOCK, checked before anything is opened.
 * 0, or -1 after one error (tool_error(), "permission") when the limit is
 * lower and the process lacks CAP_IPC_LOCK. Without --mlock: 0.
 */
int realtime_check_lock(const struct realtime *rt, const char *what, uint64_t bytes);

/*
 * Applies what was asked for to the calling thread (priority, CPU) and to
 * the process (memory lock). A refusal is a warning naming the limit, or
 * with --require-realtime an error reported with tool_error(): then it
 * returns -1 and the command fails. 0 otherwise.
 */
int realtime_apply(struct realtime *rt);

/* The JSON object "realtime": what was asked for and what was had. */
void realtime_json(const struct realtime *rt, struct json *j);

/*
 * What was asked for and had, for a human summary: "SCHED_FIFO 40, CPU 1,
 * 34.0 MiB locked", "SCHED_FIFO 40 refused"; "" when nothing was asked for.
 */
void realtime_describe(const struct realtime *rt, char *buf, size_t len);

/*
 * Initialises @attr for a helper thread started while the capture thread
 * may already be SCHED_FIFO: SCHED_OTHER, not inherited. 0 or an errno.
 */
int thread_attr_not_realtime(pthread_attr_t *attr);

#endif /* DMAPIPE_TOOL_REALTIME_H */
