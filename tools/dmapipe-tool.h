/* SPDX-License-Identifier: MIT */
/*
 * Shared parts of the dmapipe command: subcommand entry points, option
 * parsing helpers (dmapipe.c), the JSON writer (json.c), child processes
 * (child.c), small measurement helpers (measure.c, frame-crc.c). Those
 * and sockets.c are the tool_common library, which dmapipe-bench (bench/)
 * links too.
 *
 * Exit status of every subcommand: 0 success (also when interrupted by
 * SIGINT or SIGTERM), 1 failure at run time (including failed
 * verification), 2 bad command line, 3 the disk filled up. A failure is
 * one line on stderr, "dmapipe CMD: error: ...", and with --json one
 * document on stdout whose "result" is not "ok" (docs/JSON.md).
 */
#ifndef DMAPIPE_TOOL_H
#define DMAPIPE_TOOL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <dmapipe/dmapipe.h>

#define EXIT_USAGE 2
#define EXIT_DISK_FULL 3

/* ---- errors, library messages, the JSON document (dmapipe.c, json.c) ---- */

/*
 * Why a command failed: the "code" of its JSON document (docs/JSON.md
 * lists them). tool_error_name() gives the name, tool_result() the
 * "result" it leads to and tool_exit_status() the exit status.
 */
enum tool_error {
	TOOL_OK = 0,
	TOOL_ERR_USAGE,        /* "usage": bad command line (exit 2) */
	TOOL_ERR_NO_SOCKET,    /* "no-socket": nothing at the socket's path */
	TOOL_ERR_NOT_SOCKET,   /* "not-a-socket": something else is there */
	TOOL_ERR_NO_PRODUCER,  /* "no-producer": a socket nobody listens on */
	TOOL_ERR_PERMISSION,   /* "permission": modes, groups, peer policies */
	TOOL_ERR_TIMEOUT,      /* "timeout" */
	TOOL_ERR_DISCONNECTED, /* "disconnected": the peer went away */
	TOOL_ERR_PRODUCER,     /* "producer-error": the producer ended the stream with ERROR */
	TOOL_ERR_NOT_FOUND,    /* "not-found": a file or device */
	TOOL_ERR_EXISTS,       /* "exists": would replace something */
	TOOL_ERR_BUSY,         /* "busy": in use by another process */
	TOOL_ERR_UNSUPPORTED,  /* "unsupported": not a format, device or file this can take */
	TOOL_ERR_DEVICE,       /* "device": a device failed or went away */
	TOOL_ERR_IO,           /* "io": reading or writing failed */
	TOOL_ERR_DISK_FULL,    /* "disk-full" (exit 3) */
	TOOL_ERR_DAMAGED,      /* "damaged": a recording is damaged */
	TOOL_ERR_VERIFY,       /* "verify-failed": frames are not what they should be */
	TOOL_ERR_STRICT,       /* "strict": a copy was needed in strict mode */
	TOOL_ERR_NO_MEMORY,    /* "no-memory" */
	TOOL_ERR_NOT_INSTALLED, /* "not-installed": a helper, plugin or service is missing */
	TOOL_ERR_INTERNAL,     /* "internal": anything else */
	TOOL_ERR_COUNT
};

/* The running command: tool_start() sets it up. */
struct tool_state {
	const char *cmd;       /* "serve", or NULL before a command was chosen */
	bool json;             /* --json on the command line */
	bool document;         /* a JSON document went to stdout */
	bool json_lines;       /* documents are one line each (a stream of them) */
	enum tool_error error; /* of the first failure reported */
	char message[512];     /* its line, without the "dmapipe CMD: error: " */
};
extern struct tool_state tool;

/*
 * Starts command @cmd with its arguments (@argv[0] is the command): notes
 * --json, and installs the library's log handler. The handler holds the
 * library's warnings and errors back until the tool either reports the
 * failure they explain (tool_error() makes them its reason, so one line
 * says it) or goes on (tool_log_flush() prints them as warnings); info and
 * debug lines ($DMAPIPE_DEBUG) print at once. Every line is "dmapipe CMD:
 * LEVEL: ...", with bytes a terminal would act on escaped.
 */
void tool_start(const char *cmd, int argc, char **argv);

/*
 * Reports a failure: one line "dmapipe CMD: error: MESSAGE: REASON" on
 * stderr, where REASON is what the library logged meanwhile or, without
 * that, strerror(@err) (no REASON with neither). @code TOOL_OK: from @err.
 * The first failure is the one a JSON document reports. Call it once per
 * failure, where the command gives up or decides the run failed.
 */
__attribute__((format(printf, 3, 4), cold))
void tool_error(enum tool_error code, int err, const char *fmt, ...);

/* "dmapipe CMD: warning: ..." on stderr: a problem the command goes on after. */
__attribute__((format(printf, 1, 2)))
void tool_warn(const char *fmt, ...);

/* Prints the library messages held back, as warnings. Main loops call it each turn. */
void tool_log_flush(void);
/* Whether the library said something not printed yet; tool_log_discard() drops it. */
bool tool_log_held(void);
void tool_log_discard(void);

/* The failure @err stands for (ENOENT: not-found, ENOSPC: disk-full, ...). */
enum tool_error tool_error_from_errno(int err);
/* "no-socket", "disk-full", ...; "ok" for TOOL_OK. */
const char *tool_error_name(enum tool_error code);
/* "ok", "interrupted" (@interrupted and no failure), "failed", "disk-full" or "error". */
const char *tool_result(bool interrupted);
/* 0, 1, 2 (usage) or 3 (disk full), from the failure reported. */
int tool_exit_status(void);

/*
 * The end of a command that returned @status: prints what the library
 * still holds, and with --json, when the command wrote no document, the
 * failure document (or one with the result alone). Returns the exit
 * status: @status, or tool_exit_status() when a failure was reported.
 */
int tool_finish(int status);

/*
 * Copies @s into @buf (@len bytes, always terminated) as a terminal can
 * show it safely: control characters, C1 controls and bytes that are not
 * UTF-8 become \xNN, a backslash \\. For every string another process
 * chose (stream and consumer names) before it reaches stdout or stderr.
 */
const char *text_escape(const char *s, char *buf, size_t len);

/* ---- subcommands ------------------------------------------------------ */

int cmd_serve(int argc, char **argv);
int cmd_consume(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_play(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_encode(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_pipewire(int argc, char **argv);
int cmd_rtsp(int argc, char **argv);
int cmd_srt(int argc, char **argv);
int cmd_display(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_formats(int argc, char **argv);

/* ---- command line ------------------------------------------------------ */

/*
 * Prints "dmapipe CMD: message" and a hint to run --help to stderr and
 * exits with status 2.
 */
__attribute__((noreturn, format(printf, 2, 3)))
void usage_error(const char *cmd, const char *fmt, ...);

/*
 * Reports the getopt_long() error for the option just parsed (unknown
 * option, missing value) and exits 2. Call on '?' or ':' (the optstring
 * must start with ':').
 */
__attribute__((noreturn))
void usage_getopt_error(const char *cmd, int c, char **argv);

/* Exits 2 if arguments are left after the options. */
void usage_no_operands(const char *cmd, int argc, char **argv);

/*
 * Strict number parsers: decimal digits only (no sign, no spaces, no
 * suffix), range-checked. Return 0 or -EINVAL / -ERANGE.
 */
int parse_u64(const char *s, uint64_t *out);
int parse_u32(const char *s, uint32_t *out);

/* The parsers below print the problem and exit 2 on bad input. */
uint64_t opt_u64(const char *cmd, const char *opt, const char *s);
uint32_t opt_u32(const char *cmd, const char *opt, const char *s, uint32_t min, uint32_t max);
/* --buffer DURATION (record, encode): pipeline_parse_duration()'s syntax, in ms. */
uint32_t opt_buffer_duration(const char *cmd, const char *s);
/*
 * A frame rate option: N, N/M or N.NNN into *@num / *@den (reduced), from
 * 0 (only if @allow_zero) to @max fps; exits with a usage error otherwise.
 */
void opt_fps(const char *cmd, const char *opt, const char *s, bool allow_zero, uint32_t max,
	     uint32_t *num, uint32_t *den);
/* "WxH" (also "4k", "1080p", "720p") */
void opt_size(const char *cmd, const char *s, uint32_t *width, uint32_t *height);
/* A supported format by any of its names ("NV12", "XRGB8888", "XR24", "BGRx", "RGB3") */
uint32_t opt_format(const char *cmd, const char *s);
/*
 * For a size asked of a V4L2 device: exits 2, saying why, if a @width x
 * @height frame of @fourcc would cut its subsampled chroma (NV12 at
 * 641x480), which drivers silently round to another size; a format it
 * does not know passes. dmapipe's own buffers take such sizes (chroma
 * rounded up, as GStreamer and ffmpeg do), so synthetic sources do not
 * call it.
 */
void check_size(const char *cmd, uint32_t fourcc, uint32_t width, uint32_t height);
/* "latest", "queue:N", "block:N" */
void opt_policy(const char *cmd, const char *s, enum dmapipe_policy *policy, uint32_t *depth);
/* "same-uid", "any", "uid:N", "gid:N" */
void opt_peer(const char *cmd, const char *s, enum dmapipe_peer_policy *policy,
	      uid_t *uid, gid_t *gid);

/*
 * An ERROR code's name for messages: dmapipe_error_code_to_string()'s,
 * or "unknown error N" in @buf for a code this library does not know (a
 * newer peer's, docs/PROTOCOL.md section 7).
 */
const char *error_code_name(enum dmapipe_error_code code, char *buf, size_t len);

/* How consume and record --check check a frame against the test pattern. */
enum verify_mode {
	VERIFY_NONE,
	VERIFY_STAMP, /* the stamp names the frame (docs/PATTERN.md) */
	VERIFY_FULL,  /* every pixel */
	VERIFY_AUTO,  /* every pixel of frames flagged DMAPIPE_FRAME_PATTERN, no other */
};
/* "none", "stamp", "full", "auto", by enum verify_mode */
extern const char *const verify_names[4];
/* "auto", "full", "stamp" or "none" */
enum verify_mode opt_verify(const char *cmd, const char *s);
/* The check a frame with @frame_flags gets under @mode: NONE, STAMP or FULL. */
static inline enum verify_mode verify_frame_mode(enum verify_mode mode, uint32_t frame_flags)
{
	if (mode != VERIFY_AUTO)
		return mode;
	return frame_flags & DMAPIPE_FRAME_PATTERN ? VERIFY_FULL : VERIFY_NONE;
}

/*
 * dmapipe_recording_open(@path, @flags), or NULL after reporting why: the
 * library's reason, or "not a usable dmapipe recording" followed by @hint
 * (NULL: none) when the file is not one.
 */
struct dmapipe_recording *open_recording(const char *path, unsigned int flags, const char *hint);

/*
 * Makes *@mem (of *@size bytes, NULL and 0 at first; the caller frees it)
 * hold at least @need bytes, aligned for O_DIRECT reads of a recording's
 * frames: grown when smaller, kept otherwise. 0, or -ENOMEM with *@mem
 * NULL and *@size 0.
 */
int frame_memory_reserve(uint8_t **mem, size_t *size, uint64_t need);

/*
 * What is wrong with a recording as a whole, as the JSON documents name
 * it: "truncated", "index-damaged", "superblock-damaged", "frames-missing",
 * or NULL when nothing is.
 */
const char *recording_damage(const struct dmapipe_recording_info *info);

/* ---- signals ------------------------------------------------------------ */

/* Set by SIGINT / SIGTERM once install_stop_signals() was called. */
extern volatile sig_atomic_t stop_requested;
/* Installs handlers for SIGINT and SIGTERM that set stop_requested
 * (without SA_RESTART, so sleeps and polls return early). Ignores SIGPIPE. */
void install_stop_signals(void);

/* ---- sockets (sockets.c) -------------------------------------------------- */

/*
 * What the help of every command says of a socket it names, and of a
 * producer's socket: one text, so that every command says the same.
 */
#define HELP_SOCKET_NAME \
	"                          NAME: a stream in the default directory\n" \
	"                          ($XDG_RUNTIME_DIR/dmapipe, /run/dmapipe for root,\n" \
	"                          else /tmp/dmapipe-UID); a path (with a /); @NAME:\n" \
	"                          abstract\n"
#define HELP_SOCKET_ACCESS \
	"      --socket-mode MODE    permissions of the socket file (default 0660): who may\n" \
	"                            open it at all\n" \
	"      --socket-group GROUP  the socket file's group (default: this user's)\n" \
	"      --peer POLICY         whom the producer then serves (SO_PEERCRED):\n" \
	"                            same-uid (default: this user and root), any, uid:N,\n" \
	"                            gid:N. Another user needs both: e.g. --socket-mode\n" \
	"                            0666 --peer any, or --socket-group video --peer gid:N\n"

/* The socket @s names (a bare NAME: in the default directory; NULL: "default"). Exits 2 if bad. */
const char *opt_socket(const char *cmd, const char *s);

/*
 * Why connecting to @path failed with errno @err, in words, into @buf:
 * "no such socket", "not a socket: a regular file", "no producer is
 * listening (a stale socket ...)", "permission denied (...)". Returns the
 * failure's code.
 */
enum tool_error socket_diagnose(const char *path, int err, char *buf, size_t len);

/*
 * dmapipe_client_new(@opts) for the socket opts->path, retried every 20 ms
 * while that can help (no socket yet, a stale socket a producer may
 * replace), for up to @timeout_ms (0: until stopped); unless @quiet, says
 * at once that it waits. Returns the client, or NULL after reporting
 * (tool_error()) what is wrong with the socket, or when stopped by a
 * signal (nothing reported).
 */
struct dmapipe_client *connect_client_wait(const char *cmd,
					   const struct dmapipe_client_options *opts,
					   uint32_t timeout_ms, bool quiet);

/* The name a server with options @o gives its stream: stream_name, or the socket's base name. */
const char *stream_name_of(const struct dmapipe_server_options *o);

/*
 * Reports that the stream from @socket ended with an ERROR (acquiring a
 * frame failed with EPROTO): the code and reason, once.
 */
void report_stream_error(struct dmapipe_client *client, const char *socket) __attribute__((cold));

/* What a producer's --socket-mode and --socket-group ask for. */
struct socket_access {
	uint32_t mode;
	gid_t gid;
	bool set_mode, set_group;
};
/* "0666" (octal, must keep 0600); a group name or number. Exit 2 if bad. */
void opt_socket_mode(const char *cmd, const char *s, struct socket_access *a);
void opt_socket_group(const char *cmd, const char *s, struct socket_access *a);

/*
 * dmapipe_server_new(@o) on o->path with @a (NULL: the defaults): the
 * default directory made ready (private unless @a shares the socket), the
 * socket's mode and group set. NULL after reporting why.
 */
struct dmapipe_server *open_server(const char *cmd, struct dmapipe_server_options *o,
				   const struct socket_access *a);

/* ---- time and measurement (measure.c) ----------------------------------- */

uint64_t now_ns(void); /* CLOCK_MONOTONIC */
void sleep_ms(unsigned int ms);
uint64_t timeval_ns(const struct timeval *tv);
/* user and system CPU of this process so far (getrusage) */
void self_cpu_ns(uint64_t *user_ns, uint64_t *sys_ns);
/* all CPU of this process so far, nanosecond-precise (CLOCK_PROCESS_CPUTIME_ID) */
uint64_t self_cpu_total_ns(void);

/* A growable list of nanosecond samples with percentiles. */
struct samples {
	uint64_t *v;
	size_t n, cap;
	bool sorted;
};
void samples_add(struct samples *s, uint64_t value);
/* @pct in [0, 100]: nearest-rank percentile; 0 when empty. */
uint64_t samples_percentile(struct samples *s, double pct);
uint64_t samples_max(struct samples *s);
void samples_free(struct samples *s);

/* ---- child processes (child.c) ------------------------------------------- */

/* The path of this program (/proc/self/exe resolved), for re-executing it. */
const char *self_exe(void);

/*
 * Replaces this process with the helper program @name (dmapipe-bench,
 * dmapipe-net), found in this order: $@env_var (exactly that, or nothing),
 * <dir of this program>/@built_rel (where the build tree has it),
 * @libexecdir/@name (where meson installs it). argv[0] becomes the
 * helper's path, the other arguments pass unchanged, and DMAPIPE_TOOL is
 * set to this program. Returns only on failure: 1, after printing
 * "dmapipe CMD: ..." with @hint (how to get the helper built).
 */
int exec_helper(const char *cmd, const char *name, const char *env_var,
		const char *built_rel, const char *libexecdir, const char *hint, char **argv);

/*
 * Starts argv[0] (searched in PATH) with stdout and stderr redirected to
 * the given files (NULL: inherit; "/dev/null" works). Returns the pid or -1
 * with a message printed.
 */
pid_t spawn(char *const argv[], const char *stdout_path, const char *stderr_path);

/*
 * Waits up to @timeout_ms (-1: forever) for @pid. Returns 1 with *status
 * and *usage filled when it ended, 0 on timeout (the child still runs).
 */
int wait_child(pid_t pid, int timeout_ms, int *status, struct rusage *usage);

/* SIGTERM, then SIGKILL after @grace_ms; reaps the child. */
void kill_child(pid_t pid, int grace_ms, int *status, struct rusage *usage);

/* Describes a wait status: "exit 0", "exit 1", "killed by SIGKILL". */
const char *describe_status(int status, char *buf, size_t len);

/* A fresh private directory under ${TMPDIR:-/tmp}; malloc'ed path or NULL. */
char *make_private_dir(const char *tag);
/* Removes the files in @dir (one level) and @dir itself. */
void remove_private_dir(const char *dir);

/* Reads a whole file into a malloc'ed, NUL-terminated string, or NULL. */
char *read_file(const char *path);

/* (frame-crc.c) */
/*
 * CRC-32 (the zlib/IEEE one, as Python's zlib.crc32) of a frame's visible
 * bytes: each plane's rows without stride padding, planes in layout order
 * -- exactly a raw export's frame. Reads the mapping (no copy); for
 * comparing frames whose content is not the test pattern. 0 or -errno.
 */
int frame_crc32(struct dmapipe_buffer *buffer, uint32_t *crc);
/* The same over frame memory laid out as @layout (planes at @planes). */
int layout_crc32(const struct dmapipe_layout *layout, uint8_t *const planes[], uint32_t *crc);

/* ---- JSON (json.c) --------------------------------------------------------- */

/*
 * A streaming JSON writer: objects and arrays nest, keys are ignored inside
 * arrays and at the top level. Strings are escaped (quotes, backslash,
 * control characters as \uXXXX) and invalid UTF-8 becomes U+FFFD, so the
 * output always parses. Non-finite doubles are written as null.
 */
#define JSON_MAX_DEPTH 16

struct json {
	FILE *out;
	bool compact; /* one line per document (JSON Lines), set after json_init() */
	int depth;
	bool first[JSON_MAX_DEPTH];
	bool in_array[JSON_MAX_DEPTH];
};

void json_init(struct json *j, FILE *out);
void json_begin_object(struct json *j, const char *key);
void json_end_object(struct json *j);
void json_begin_array(struct json *j, const char *key);
void json_end_array(struct json *j);
void json_string(struct json *j, const char *key, const char *value); /* NULL: null */
void json_u64(struct json *j, const char *key, uint64_t value);
void json_i64(struct json *j, const char *key, int64_t value);
void json_double(struct json *j, const char *key, double value);
void json_bool(struct json *j, const char *key, bool value);
void json_null(struct json *j, const char *key);
/* Ends the document with a newline and flushes. */
void json_finish(struct json *j);

/* The version of the documents' keys (docs/JSON.md), their "schema". */
#define JSON_SCHEMA 1

/*
 * Starts the document of the command on stdout with the keys every
 * document has: "schema", "command", "result" (tool_result()) and "error"
 * ({"code", "message"} of the failure reported, or null). The command's
 * own keys follow; json_finish() ends it.
 */
void json_begin_document(struct json *j, bool interrupted);

/* Writes @s as a JSON string literal (with quotes). */
void json_write_escaped(FILE *out, const char *s);

/*
 * Looks up "key": value in JSON text this program wrote (keys of interest
 * are unique in those documents). Return 0 or -ENOENT.
 */
int json_lookup_u64(const char *text, const char *key, uint64_t *value);
int json_lookup_double(const char *text, const char *key, double *value);
/* Copies the string value (unescaped for the simple escapes) into @buf. */
int json_lookup_string(const char *text, const char *key, char *buf, size_t len);

#endif /* DMAPIPE_TOOL_H */
