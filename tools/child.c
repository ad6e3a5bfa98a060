/* SPDX-License-Identifier: MIT */
/*
 * Other programs the tool and dmapipe-bench run: this program again, a
 * helper it execs (dmapipe-bench, dmapipe-net), children started with
 * their output in files, waited for and killed, and the private
 * directories and files those outputs go to. Part of tool_common
 * (dmapipe-tool.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dmapipe-tool.h"

const char *self_exe(void)
{
	static char path[PATH_MAX];
	ssize_t n;

	if (path[0])
		return path;
	n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n <= 0)
		strcpy(path, "/proc/self/exe");
	else
		path[n] = '\0';
	return path;
}

int exec_helper(const char *cmd, const char *name, const char *env_var,
		const char *built_rel, const char *libexecdir, const char *hint, char **argv)
{
	const char *env = getenv(env_var);
	char built[PATH_MAX], installed[PATH_MAX], *slash;
	const char *candidates[2];
	unsigned int n = 0;

	if (env && *env) {
		/* an explicit choice is not second-guessed by the other places */
		candidates[n++] = env;
	} else {
		snprintf(built, sizeof(built), "%s", self_exe());
		slash = strrchr(built, '/');
		if (slash && (size_t)(slash - built) + strlen(built_rel) + 2 <= sizeof(built)) {
			sprintf(slash, "/%s", built_rel);
			candidates[n++] = built;
		}
		snprintf(installed, sizeof(installed), "%s/%s", libexecdir, name);
		candidates[n++] = installed;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (access(candidates[i], X_OK) != 0)
			continue;
		if (setenv("DMAPIPE_TOOL", self_exe(), 1) < 0) {
			tool_error(TOOL_OK, errno, "cannot set DMAPIPE_TOOL");
			return 1;
		}
		/* argv[0] was the subcommand; the options follow unchanged */
		argv[0] = (char *)candidates[i];
		/* the helper writes the output and the document from here on */
		fflush(stdout);
		fflush(stderr);
		execv(candidates[i], argv);
		tool_error(TOOL_OK, errno, "cannot run %s", candidates[i]);
		return 1;
	}
	(void)cmd;
	tool_error(TOOL_ERR_NOT_INSTALLED, 0, "%s not found (%s%s%s%s); %s", name,
		   env && *env ? "" : "looked for ", env && *env ? env_var : candidates[0],
		   env && *env ? "=" : (n > 1 ? " and " : ""),
		   env && *env ? env : (n > 1 ? candidates[1] : ""), hint);
	return 1;
}

static int redirect(int target, const char *path)
{
	int fd;

	if (!path)
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (dup2(fd, target) < 0)
		return -1;
	close(fd);
	return 0;
}

pid_t spawn(char *const argv[], const char *stdout_path, const char *stderr_path)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		tool_error(TOOL_OK, errno, "cannot start %s", argv[0]);
		return -1;
	}
	if (pid == 0) {
		if (redirect(STDOUT_FILENO, stdout_path) < 0)
			_exit(127);
		/* one file for both: share the file offset */
		if (stdout_path && stderr_path && strcmp(stdout_path, stderr_path) == 0) {
			if (dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
				_exit(127);
		} else if (redirect(STDERR_FILENO, stderr_path) < 0) {
			_exit(127);
		}
		execvp(argv[0], argv);
		tool_error(TOOL_OK, errno, "cannot run %s", argv[0]);
		_exit(127);
	}
	return pid;
}

int wait_child(pid_t pid, int timeout_ms, int *status, struct rusage *usage)
{
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX :
			    now_ns() + (uint64_t)timeout_ms * 1000000ull;
	struct rusage ru;
	int st = 0;

	for (;;) {
		pid_t r = wait4(pid, &st, timeout_ms < 0 ? 0 : WNOHANG, &ru);

		if (r == pid) {
			if (status)
				*status = st;
			if (usage)
				*usage = ru;
			return 1;
		}
		if (r < 0 && errno != EINTR) {
			/* not our child (any more): report it as gone */
			if (status)
				*status = 0x7f00; /* exit 127 */
			if (usage)
				memset(usage, 0, sizeof(*usage));
			return 1;
		}
		if (now_ns() >= deadline)
			return 0;
		if (r == 0)
			sleep_ms(5);
	}
}

void kill_child(pid_t pid, int grace_ms, int *status, struct rusage *usage)
{
	kill(pid, SIGTERM);
	if (wait_child(pid, grace_ms, status, usage))
		return;
	kill(pid, SIGKILL);
	wait_child(pid, -1, status, usage);
}

const char *describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by %s", strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status 0x%x", (unsigned int)status);
	return buf;
}

char *make_private_dir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&path, "%s/dmapipe-%s-XXXXXX", base, tag) < 0)
		return NULL;
	if (!mkdtemp(path)) {
		tool_error(TOOL_OK, errno, "cannot create a directory in %s", base);
		free(path);
		return NULL;
	}
	return path;
}

void remove_private_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d) {
		while ((e = readdir(d))) {
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(dirfd(d), e->d_name, 0);
		}
		closedir(d);
	}
	rmdir(dir);
}

char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (cap - len < 4096) {
			char *b = realloc(buf, cap + 65536);

			if (!b) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = b;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return buf;
}
