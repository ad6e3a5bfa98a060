/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where streams live: the default socket directory and how a bare name
 * becomes a path in it (each environment a process may run in), the
 * directory made ready for a producer (and refused when it is not ours),
 * and dmapipe_query_stream() naming the stream and its producer.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "private.h"
#include "testlib.h"

static char *dir;

/* Sets or (NULL) removes the three variables the default directory depends on. */
static void env(const char *xdg, const char *runtime_directory)
{
	if (xdg)
		setenv("XDG_RUNTIME_DIR", xdg, 1);
	else
		unsetenv("XDG_RUNTIME_DIR");
	if (runtime_directory)
		setenv("RUNTIME_DIRECTORY", runtime_directory, 1);
	else
		unsetenv("RUNTIME_DIRECTORY");
}

static void check_path(const char *name, const char *want)
{
	char buf[108];
	int ret = dmapipe_socket_default_path(name, buf, sizeof(buf));

	check_msg(ret == 0, "%s: %d", name ? name : "(null)", ret);
	check_msg(strcmp(buf, want) == 0, "%s: %s, want %s", name ? name : "(null)", buf, want);
}

static void test_default_dir(void)
{
	char buf[108], want[64];

	env("/run/user/1000", "/run/svc");
	check_int_eq(dmapipe_socket_default_dir(buf, sizeof(buf)), 0);
	check(strcmp(buf, "/run/user/1000/dmapipe") == 0);
	/* a relative XDG_RUNTIME_DIR is not one (the spec says absolute) */
	env("relative", "/run/svc:/run/other");
	check_int_eq(dmapipe_socket_default_dir(buf, sizeof(buf)), 0);
	check_msg(strcmp(buf, "/run/svc") == 0, "%s", buf);
	env(NULL, NULL);
	check_int_eq(dmapipe_socket_default_dir(buf, sizeof(buf)), 0);
	if (geteuid() == 0)
		snprintf(want, sizeof(want), "/run/dmapipe");
	else
		snprintf(want, sizeof(want), "/tmp/dmapipe-%u", (unsigned int)geteuid());
	check_msg(strcmp(buf, want) == 0, "%s, want %s", buf, want);
	check_int_eq(dmapipe_socket_default_dir(buf, 4), -ENAMETOOLONG);
	check_int_eq(dmapipe_socket_default_dir(NULL, 4), -EINVAL);
	test_pass("default directory");
}

static void test_default_path(void)
{
	char buf[108], big[200], longname[120];

	env("/run/user/1000", NULL);
	check_path("cam", "/run/user/1000/dmapipe/cam");
	check_path(NULL, "/run/user/1000/dmapipe/default");
	check_path("", "/run/user/1000/dmapipe/default");
	check_path("video0", "/run/user/1000/dmapipe/video0");
	check_path("cam.sock", "/run/user/1000/dmapipe/cam.sock");
	/* paths and abstract names are what they say */
	check_path("/run/dmapipe/video0", "/run/dmapipe/video0");
	check_path("./cam", "./cam");
	check_path("@cam", "@cam");
	check_int_eq(dmapipe_socket_default_path(".", buf, sizeof(buf)), -EINVAL);
	check_int_eq(dmapipe_socket_default_path("..", buf, sizeof(buf)), -EINVAL);
	check_int_eq(dmapipe_socket_default_path("a\nb", buf, sizeof(buf)), -EINVAL);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	check_int_eq(dmapipe_socket_default_path(longname, buf, sizeof(buf)), -ENAMETOOLONG);
	longname[90] = '\0'; /* fits a buffer, not with the directory in a socket address */
	check_int_eq(dmapipe_socket_default_path(longname, big, sizeof(big)), -ENAMETOOLONG);
	check_int_eq(dmapipe_socket_default_path("cam", buf, 8), -ENAMETOOLONG);
	test_pass("default path");
}

static void test_prepare_dir(void)
{
	char xdg[256], sockdir[300], path[108];
	struct stat st;
	mode_t old = umask(077);

	snprintf(xdg, sizeof(xdg), "%s/xdg", dir);
	check(mkdir(xdg, 0700) == 0);
	env(xdg, NULL);
	snprintf(sockdir, sizeof(sockdir), "%s/dmapipe", xdg);
	check_int_eq(dmapipe_socket_default_path("cam", path, sizeof(path)), 0);

	/* private by default, whatever the umask */
	check_int_eq(dmapipe_socket_prepare_dir(path, 0700), 0);
	check(stat(sockdir, &st) == 0 && S_ISDIR(st.st_mode));
	check_msg((st.st_mode & 0777) == 0700, "%o", (unsigned int)(st.st_mode & 0777));
	/* an existing one of ours gets the bits asked for, and keeps its own */
	check_int_eq(dmapipe_socket_prepare_dir(path, 0750), 0);
	check(stat(sockdir, &st) == 0 && (st.st_mode & 0777) == 0750);
	check_int_eq(dmapipe_socket_prepare_dir(path, 0700), 0);
	check(stat(sockdir, &st) == 0 && (st.st_mode & 0777) == 0750);
	/* a socket the user named elsewhere: nothing is made */
	check_int_eq(dmapipe_socket_prepare_dir("/nonexistent/dir/cam", 0700), 0);
	check_int_eq(dmapipe_socket_prepare_dir("@cam", 0700), 0);
	/* a file, or a link to a directory, where the directory should be */
	check(rmdir(sockdir) == 0);
	check(symlink(dir, sockdir) == 0);
	check_int_eq(dmapipe_socket_prepare_dir(path, 0700), -EPERM);
	check(unlink(sockdir) == 0);
	check(close(creat(sockdir, 0600)) == 0);
	check_int_eq(dmapipe_socket_prepare_dir(path, 0700), -EPERM);
	check(unlink(sockdir) == 0);
	/* the parent missing: the error says so */
	env("/nonexistent-xdg", NULL);
	check_int_eq(dmapipe_socket_default_path("cam", path, sizeof(path)), 0);
	check_int_eq(dmapipe_socket_prepare_dir(path, 0700), -ENOENT);
	umask(old);
	test_pass("prepare the directory");
}

struct serve_thread {
	struct dmapipe_server *server;
	volatile int stop;
};

static void *serve_thread(void *arg)
{
	struct serve_thread *t = arg;

	while (!t->stop)
		dmapipe_server_dispatch(t->server, 10);
	return NULL;
}

static void test_query_stream(void)
{
	struct dmapipe_server_options so;
	struct dmapipe_stream_info info;
	struct dmapipe_server_stats st;
	struct serve_thread t = { .stop = 0 };
	struct dmapipe_format fmt = { .width = 64, .height = 48, .modifier = DMAPIPE_MOD_LINEAR };
	char path[108], name[32];
	pthread_t th;
	int n;

	snprintf(path, sizeof(path), "%s/named.sock", dir);
	dmapipe_server_options_init(&so);
	so.path = path;
	/* a name a terminal must not get raw: the library hands it on as it came */
	snprintf(name, sizeof(name), "cam\x1b[2Jx");
	so.stream_name = name;
	t.server = dmapipe_server_new(&so);
	check(t.server);
	fmt.fourcc = dmapipe_fourcc_from_string("NV12");
	check_int_eq(dmapipe_server_alloc_buffers(t.server, NULL, &fmt, 2), 0);
	check(pthread_create(&th, NULL, serve_thread, &t) == 0);
	memset(&info, 0xa5, sizeof(info));
	n = dmapipe_query_stream(path, &info, &st, NULL, 0, 2000);
	t.stop = 1;
	pthread_join(th, NULL);
	check_msg(n == 0, "query_stream: %d", n);
	check(strcmp(info.name, name) == 0);
	check_int_eq(info.pid, getpid());
	check_int_eq(info.uid, geteuid());
	check_int_eq(info.gid, getegid());
	check_int_eq(info.reserved0, 0);
	for (size_t i = 0; i < ARRAY_SIZE(info.reserved); i++)
		check_int_eq(info.reserved[i], 0);
	check_int_eq(st.format.width, 64);
	/* no info wanted: as dmapipe_query_stats() */
	dmapipe_server_free(t.server);
	check_int_eq(dmapipe_query_stream(path, NULL, NULL, NULL, 0, 500), -ENOENT);
	test_pass("query the stream's name and producer");
}

int main(void)
{
	dir = test_make_dir("socket");
	test_default_dir();
	test_default_path();
	test_prepare_dir();
	test_query_stream();
	test_rmdir_all(dir);
	free(dir);
	return 0;
}
