/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The library's only way to say anything: a replaceable log handler.
 *
 * The default handler writes "dmapipe: <level>: message" lines to stderr,
 * up to the priority named by $DMAPIPE_DEBUG (error, warning, info, debug;
 * default warning). Applications install their own handler to route
 * messages into their logging (GStreamer debug categories, syslog, ...).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "private.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int log_priority = DMAPIPE_LOG_WARNING;
static dmapipe_log_func log_func; /* NULL: the default handler */
static void *log_user_data;

static const char *priority_name(enum dmapipe_log_priority priority)
{
	switch (priority) {
	case DMAPIPE_LOG_ERROR:
		return "error";
	case DMAPIPE_LOG_WARNING:
		return "warning";
	case DMAPIPE_LOG_INFO:
		return "info";
	case DMAPIPE_LOG_DEBUG:
		return "debug";
	}
	return "log";
}

static int parse_priority(const char *s)
{
	static const struct {
		const char *name;
		enum dmapipe_log_priority priority;
	} names[] = {
		{ "error", DMAPIPE_LOG_ERROR },	{ "warning", DMAPIPE_LOG_WARNING },
		{ "warn", DMAPIPE_LOG_WARNING }, { "info", DMAPIPE_LOG_INFO },
		{ "debug", DMAPIPE_LOG_DEBUG },	{ "1", DMAPIPE_LOG_ERROR },
		{ "2", DMAPIPE_LOG_WARNING },	{ "3", DMAPIPE_LOG_INFO },
		{ "4", DMAPIPE_LOG_DEBUG },
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcasecmp(s, names[i].name) == 0)
			return names[i].priority;
	return -1;
}

static void log_init(void)
{
	const char *env = getenv("DMAPIPE_DEBUG");
	int priority;

	if (!env || !*env)
		return;
	priority = parse_priority(env);
	if (priority > 0)
		atomic_store(&log_priority, priority);
}

__attribute__((format(printf, 2, 0)))
static void default_handler(enum dmapipe_log_priority priority, const char *fmt, va_list args,
			    void *user_data)
{
	char line[1024];
	int prefix, n;
	size_t len;

	(void)user_data;
	prefix = snprintf(line, sizeof(line), "dmapipe: %s: ", priority_name(priority));
	if (prefix < 0)
		return;
	n = vsnprintf(line + prefix, sizeof(line) - (size_t)prefix, fmt, args);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - (size_t)prefix)
		memcpy(line + sizeof(line) - 4, "...", 4); /* truncated: say so */
	len = strlen(line);
	if (len > 0 && line[len - 1] == '\n')
		line[--len] = '\0';
	/* one write per message so lines of several threads do not mix */
	fprintf(stderr, "%s\n", line);
}

DMAPIPE_EXPORT void dmapipe_log_set_handler(dmapipe_log_func func, void *user_data)
{
	pthread_once(&log_once, log_init);
	pthread_mutex_lock(&log_lock);
	log_func = func;
	log_user_data = func ? user_data : NULL;
	pthread_mutex_unlock(&log_lock);
}

DMAPIPE_EXPORT void dmapipe_log_set_priority(enum dmapipe_log_priority priority)
{
	pthread_once(&log_once, log_init);
	if (priority < DMAPIPE_LOG_ERROR)
		priority = DMAPIPE_LOG_ERROR;
	if (priority > DMAPIPE_LOG_DEBUG)
		priority = DMAPIPE_LOG_DEBUG;
	atomic_store(&log_priority, priority);
}

DMAPIPE_EXPORT enum dmapipe_log_priority dmapipe_log_get_priority(void)
{
	pthread_once(&log_once, log_init);
	return (enum dmapipe_log_priority)atomic_load(&log_priority);
}

void dmapipe_log_internal(enum dmapipe_log_priority priority, const char *fmt, ...)
{
	dmapipe_log_func func;
	void *user_data;
	va_list args;

	pthread_once(&log_once, log_init);
	if ((int)priority > atomic_load(&log_priority))
		return;

	pthread_mutex_lock(&log_lock);
	func = log_func;
	user_data = log_user_data;
	pthread_mutex_unlock(&log_lock);

	va_start(args, fmt);
	if (func)
		func(priority, fmt, args, user_data);
	else
		default_handler(priority, fmt, args, NULL);
	va_end(args);
}

DMAPIPE_EXPORT const char *dmapipe_version(void)
{
	return STR(DMAPIPE_VERSION_MAJOR) "." STR(DMAPIPE_VERSION_MINOR) "."
		STR(DMAPIPE_VERSION_MICRO);
}
