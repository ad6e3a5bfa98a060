/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A real capture device's buffers cross processes: vivid's MMAP buffers are
 * exported with VIDIOC_EXPBUF, registered with a dmapipe server once, and a
 * consumer in another process receives them over the protocol. The
 * producer hashes each frame through its own mapping of the dma-buf and
 * tells the consumer through a pipe; the consumer hashes its mapping of the
 * fd it received. Equal hashes for frames that change from one to the next
 * prove the consumer sees the capture buffer itself, with no copy.
 *
 * Needs a vivid capture node (modprobe vivid): skips (77) without one.
 * Raw ioctls on purpose: this tests the kernel path and the protocol, not a
 * V4L2 wrapper.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/videodev2.h>

#include "private.h"
#include "testlib.h"

#define N_BUFS 4
#define N_FRAMES 30

struct report {
	uint64_t sequence;
	uint64_t hash;
};

static int xioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret < 0 && errno == EINTR);
	return ret;
}

/* FNV-1a over the payload: cheap, and any difference changes it */
static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static int open_vivid_capture(char *name, size_t len)
{
	struct dirent *e;
	DIR *d = opendir("/dev");

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		struct v4l2_capability cap;
		char path[300];
		int fd;

		if (strncmp(e->d_name, "video", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/%s", e->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		memset(&cap, 0, sizeof(cap));
		if (xioctl(fd, VIDIOC_QUERYCAP, &cap) == 0 &&
		    strcmp((const char *)cap.driver, "vivid") == 0 &&
		    (cap.device_caps & V4L2_CAP_VIDEO_CAPTURE) &&
		    (cap.device_caps & V4L2_CAP_STREAMING)) {
			snprintf(name, len, "%s", path);
			closedir(d);
			return fd;
		}
		close(fd);
	}
	closedir(d);
	return -1;
}

struct source {
	int fd;
	struct dmapipe_buffer *bufs[N_BUFS];
	unsigned int requeued;
};

static void requeue(struct dmapipe_server *server, struct dmapipe_buffer *b, void *data)
{
	struct source *src = data;
	struct v4l2_buffer vb;

	(void)server;
	for (unsigned int i = 0; i < N_BUFS; i++) {
		if (src->bufs[i] != b)
			continue;
		memset(&vb, 0, sizeof(vb));
		vb.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		vb.memory = V4L2_MEMORY_MMAP;
		vb.index = i;
		check_msg(xioctl(src->fd, VIDIOC_QBUF, &vb) == 0, "QBUF %u: %s", i, strerror(errno));
		src->requeued++;
	}
}

static int consumer(const char *path, int report_fd)
{
	struct dmapipe_client_options o;
	struct dmapipe_client *c;
	unsigned int verified = 0, distinct = 0;
	uint64_t last_hash = 0;

	dmapipe_client_options_init(&o);
	o.path = path;
	o.policy = DMAPIPE_POLICY_QUEUE;
	o.queue_depth = 4;
	o.map_buffers = true;
	o.dmabuf_only = true; /* a capture device's buffers are dma-bufs, nothing else */
	o.name = "expbuf-consumer";
	c = dmapipe_client_new(&o);
	if (!c) {
		fprintf(stderr, "consumer: connect: %s\n", strerror(errno));
		return 2;
	}
	while (verified < N_FRAMES) {
		struct dmapipe_frame *f = dmapipe_client_wait_frame(c, 10000);
		const struct dmapipe_layout *l;
		struct report r;
		uint8_t *p;
		uint64_t h;

		if (!f) {
			fprintf(stderr, "consumer: after %u frames: %s\n", verified, strerror(errno));
			return 3;
		}
		if (read(report_fd, &r, sizeof(r)) != sizeof(r))
			return 4;
		l = dmapipe_buffer_get_layout(f->buffer);
		if (dmapipe_buffer_get_mem_kind(f->buffer) != DMAPIPE_MEM_DMABUF) {
			fprintf(stderr, "consumer: received buffer is not a dma-buf\n");
			return 5;
		}
		p = dmapipe_buffer_map_plane(f->buffer, 0);
		if (!p)
			return 6;
		dmapipe_buffer_begin_cpu_access(f->buffer, DMAPIPE_ACCESS_READ);
		h = hash_bytes(p, (size_t)f->meta.bytes_used[0]);
		dmapipe_buffer_end_cpu_access(f->buffer, DMAPIPE_ACCESS_READ);
		if (r.sequence != f->meta.sequence || r.hash != h) {
			fprintf(stderr, "consumer: frame %llu: hash %016llx, producer saw %llu/%016llx\n",
				(unsigned long long)f->meta.sequence, (unsigned long long)h,
				(unsigned long long)r.sequence, (unsigned long long)r.hash);
			return 7;
		}
		if (h != last_hash)
			distinct++;
		last_hash = h;
		(void)l;
		verified++;
		dmapipe_client_release_frame(c, f, -1);
	}
	dmapipe_client_free(c);
	printf("consumer: %u frames verified, %u distinct\n", verified, distinct);
	fflush(stdout);
	return distinct >= 2 ? 0 : 8;
}

int main(void)
{
	struct dmapipe_server_options so;
	struct v4l2_requestbuffers req;
	struct v4l2_format fmt;
	struct dmapipe_copy_stats copies;
	struct source src = { .fd = -1 };
	struct dmapipe_server *server;
	enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	char dev[300], *dir, *path;
	int pipefd[2], status;
	unsigned int sent = 0;
	pid_t pid;

	src.fd = open_vivid_capture(dev, sizeof(dev));
	if (src.fd < 0)
		test_skip("no vivid capture node in /dev (modprobe vivid)");
	printf("device: %s\n", dev);

	memset(&fmt, 0, sizeof(fmt));
	fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	fmt.fmt.pix.width = 640;
	fmt.fmt.pix.height = 360;
	fmt.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
	fmt.fmt.pix.field = V4L2_FIELD_NONE;
	check_msg(xioctl(src.fd, VIDIOC_S_FMT, &fmt) == 0, "S_FMT: %s", strerror(errno));
	check_int_eq(fmt.fmt.pix.pixelformat, V4L2_PIX_FMT_YUYV);
	printf("format: YUYV %ux%u stride %u size %u\n", fmt.fmt.pix.width, fmt.fmt.pix.height,
	       fmt.fmt.pix.bytesperline, fmt.fmt.pix.sizeimage);

	/* 10 fps: at vivid's default 30 fps an emulated (TCG) guest falls so
	 * far behind that vivid's frame thread computes a negative timeout,
	 * and the kernel's stack trace for that would fail the lane */
	{
		struct v4l2_streamparm parm;

		memset(&parm, 0, sizeof(parm));
		parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		parm.parm.capture.timeperframe.numerator = 1;
		parm.parm.capture.timeperframe.denominator = 10;
		if (xioctl(src.fd, VIDIOC_S_PARM, &parm) < 0)
			printf("S_PARM 10 fps: %s (keeping the default rate)\n", strerror(errno));
	}

	memset(&req, 0, sizeof(req));
	req.count = N_BUFS;
	req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	req.memory = V4L2_MEMORY_MMAP;
	check_msg(xioctl(src.fd, VIDIOC_REQBUFS, &req) == 0, "REQBUFS: %s", strerror(errno));
	check(req.count == N_BUFS);

	dir = test_make_dir("expbuf");
	check(asprintf(&path, "%s/vivid", dir) > 0);
	dmapipe_server_options_init(&so);
	so.path = path;
	so.lease_timeout_ms = 10000;
	so.producer_name = "vivid";
	server = dmapipe_server_new(&so);
	check(server);
	dmapipe_server_set_idle_callback(server, requeue, &src);

	for (unsigned int i = 0; i < N_BUFS; i++) {
		struct v4l2_exportbuffer exp;
		struct dmapipe_layout l;

		memset(&exp, 0, sizeof(exp));
		exp.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		exp.index = i;
		exp.flags = O_CLOEXEC | O_RDWR;
		check_msg(xioctl(src.fd, VIDIOC_EXPBUF, &exp) == 0, "EXPBUF %u: %s", i, strerror(errno));
		memset(&l, 0, sizeof(l));
		l.format.fourcc = dmapipe_fourcc_from_string("YUYV");
		l.format.width = fmt.fmt.pix.width;
		l.format.height = fmt.fmt.pix.height;
		l.format.modifier = DMAPIPE_MOD_LINEAR;
		l.n_objects = 1;
		l.objects[0].fd = exp.fd;
		l.objects[0].size = 0; /* taken from the dma-buf itself */
		l.n_planes = 1;
		l.planes[0].stride = fmt.fmt.pix.bytesperline;
		/* takes the exported fd; checks it really is a dma-buf */
		src.bufs[i] = dmapipe_buffer_new_from_fds(&l);
		check_msg(src.bufs[i], "buffer from EXPBUF fd: %s", strerror(errno));
		check_int_eq(dmapipe_buffer_get_mem_kind(src.bufs[i]), DMAPIPE_MEM_DMABUF);
		check_int_eq(dmapipe_server_add_buffer(server, src.bufs[i]), (int)i);
	}

	check(pipe(pipefd) == 0);
	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		close(pipefd[1]);
		_exit(consumer(path, pipefd[0]));
	}
	close(pipefd[0]);

	/* wait for the consumer, then start capturing */
	for (uint64_t t0 = test_now_ms();;) {
		struct dmapipe_server_stats st;

		dmapipe_server_dispatch(server, 20);
		dmapipe_server_get_stats(server, &st);
		if (st.consumers == 1)
			break;
		check_msg(test_now_ms() - t0 < 10000, "consumer never connected");
	}
	for (unsigned int i = 0; i < N_BUFS; i++)
		requeue(server, src.bufs[i], &src);
	check_msg(xioctl(src.fd, VIDIOC_STREAMON, &type) == 0, "STREAMON: %s", strerror(errno));

	while (sent < N_FRAMES) {
		struct pollfd pfd[2] = {
			{ .fd = src.fd, .events = POLLIN },
			{ .fd = dmapipe_server_get_fd(server), .events = POLLIN },
		};
		struct dmapipe_frame_meta meta;
		struct v4l2_buffer vb;
		struct report r;
		uint8_t *p;

		check(poll(pfd, 2, 5000) > 0);
		if (pfd[1].revents)
			dmapipe_server_dispatch(server, 0);
		if (!(pfd[0].revents & POLLIN))
			continue;
		memset(&vb, 0, sizeof(vb));
		vb.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		vb.memory = V4L2_MEMORY_MMAP;
		if (xioctl(src.fd, VIDIOC_DQBUF, &vb) < 0) {
			check_msg(errno == EAGAIN, "DQBUF: %s", strerror(errno));
			continue;
		}
		p = dmapipe_buffer_map_plane(src.bufs[vb.index], 0);
		check(p);
		dmapipe_buffer_begin_cpu_access(src.bufs[vb.index], DMAPIPE_ACCESS_READ);
		r.hash = hash_bytes(p, vb.bytesused);
		dmapipe_buffer_end_cpu_access(src.bufs[vb.index], DMAPIPE_ACCESS_READ);
		r.sequence = vb.sequence;
		check(write(pipefd[1], &r, sizeof(r)) == sizeof(r));

		dmapipe_frame_meta_init(&meta);
		meta.sequence = vb.sequence;
		meta.timestamp_ns = (uint64_t)vb.timestamp.tv_sec * 1000000000ull +
				    (uint64_t)vb.timestamp.tv_usec * 1000ull;
		meta.bytes_used[0] = vb.bytesused;
		check_int_eq(dmapipe_server_queue(server, dmapipe_buffer_ref(src.bufs[vb.index]), &meta), 1);
		sent++;
	}

	/* let the consumer finish and go */
	for (uint64_t t0 = test_now_ms(); waitpid(pid, &status, WNOHANG) == 0;) {
		dmapipe_server_dispatch(server, 20);
		if (test_now_ms() - t0 > 30000) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
	}
	xioctl(src.fd, VIDIOC_STREAMOFF, &type);
	dmapipe_get_copy_stats(&copies);
	printf("producer: %u frames sent, %u requeues, %llu bytes copied\n", sent, src.requeued,
	       (unsigned long long)copies.bytes);
	check_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "consumer failed: status %d",
		  WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	check_int_eq(copies.bytes, 0);

	dmapipe_server_free(server);
	for (unsigned int i = 0; i < N_BUFS; i++)
		dmapipe_buffer_unref(src.bufs[i]);
	close(src.fd);
	close(pipefd[1]);
	test_rmdir_all(dir);
	free(path);
	free(dir);
	test_pass("vivid EXPBUF buffers crossed processes through dmapipe and verified, 0 bytes copied");
	return 0;
}
