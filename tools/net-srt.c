/* SPDX-License-Identifier: MIT */
/*
 * dmapipe srt (net.h): one pipeline, dmapipesrc to srtsink in listener
 * mode, H.264 in MPEG-TS. srtsink accepts any number of callers and sends
 * each the same stream over its own SRT connection, with its own
 * retransmissions; its "stats" property has a structure per caller, which
 * this file samples twice a second (a caller that left keeps its last
 * sample) and reports with --json.
 *
 * Unlike the RTSP server, the stream is consumed while no caller is
 * connected: an SRT listener has no request that could start it, and a
 * contribution link is expected to be up.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib-unix.h>
#include <gst/video/video.h>

#include "net.h"

struct caller_rec {
	char address[80];
	bool connected;
	uint64_t frames_at_join, frames;
	GstStructure *last;       /* srtsink's last statistics for it, or NULL */
};

struct srt {
	bool interrupted; /* a signal ended it (not --duration) */
	const struct net_options *o;
	const struct net_encoder *enc;
	GMainLoop *loop;
	GstElement *pipeline, *sink;
	GMutex lock;              /* callers */
	GPtrArray *callers;
	struct net_flow flow;     /* encoded frames */
	struct net_source_totals source; /* dmapipesrc's, sampled */
	const char *access;
	char access_why[NET_WHY_LEN];
	uint64_t t0;
	int status;
	bool said;                /* an error was printed */
	char url[128];
};

static void caller_free(gpointer p)
{
	struct caller_rec *c = p;

	if (c->last)
		gst_structure_free(c->last);
	g_free(c);
}

static void address_string(GSocketAddress *addr, char *buf, size_t len)
{
	if (G_IS_INET_SOCKET_ADDRESS(addr)) {
		GInetSocketAddress *in = G_INET_SOCKET_ADDRESS(addr);
		gchar *ip = g_inet_address_to_string(g_inet_socket_address_get_address(in));

		snprintf(buf, len, "%s:%u", ip, g_inet_socket_address_get_port(in));
		g_free(ip);
	} else {
		snprintf(buf, len, "?");
	}
}

/* Called with the lock held. */
static struct caller_rec *find_caller(struct srt *s, const char *address, bool connected_only)
{
	for (guint i = s->callers->len; i-- > 0;) {
		struct caller_rec *c = g_ptr_array_index(s->callers, i);

		if (strcmp(c->address, address) == 0 && (c->connected || !connected_only))
			return c;
	}
	return NULL;
}

static void sample(struct srt *s)
{
	GstStructure *stats = NULL;
	const GValue *callers;
	struct net_flow f;

	g_object_get(s->sink, "stats", &stats, NULL);
	net_flow_read(&s->flow, &f);
	g_mutex_lock(&s->lock);
	for (guint i = 0; i < s->callers->len; i++) {
		struct caller_rec *c = g_ptr_array_index(s->callers, i);

		if (c->connected)
			c->frames = f.frames - c->frames_at_join;
	}
	callers = stats ? gst_structure_get_value(stats, "callers") : NULL;
	for (guint i = 0; callers; i++) {
		const GstStructure *cs = net_array_structure(callers, i);
		const GValue *addr;
		struct caller_rec *c;
		char a[80];

		if (!cs)
			break;
		addr = gst_structure_get_value(cs, "caller-address");
		if (!addr || !G_VALUE_HOLDS(addr, G_TYPE_SOCKET_ADDRESS))
			continue;
		address_string(g_value_get_object(addr), a, sizeof(a));
		c = find_caller(s, a, true);
		if (!c)
			continue;
		if (c->last)
			gst_structure_free(c->last);
		c->last = gst_structure_copy(cs);
	}
	g_mutex_unlock(&s->lock);
	if (stats)
		gst_structure_free(stats);
}

static gboolean on_sample(gpointer data)
{
	struct srt *s = data;

	sample(s);
	net_source_sample(&s->source, s->pipeline);
	s->access = net_access_now(s->pipeline, s->enc, s->access_why, sizeof(s->access_why));
	return G_SOURCE_CONTINUE;
}

static uint64_t stat_u64(const GstStructure *st, const char *field)
{
	const GValue *v = st ? gst_structure_get_value(st, field) : NULL;

	if (!v)
		return 0;
	if (G_VALUE_HOLDS_UINT64(v))
		return g_value_get_uint64(v);
	if (G_VALUE_HOLDS_INT64(v))
		return (uint64_t)MAX(g_value_get_int64(v), 0);
	if (G_VALUE_HOLDS_INT(v))
		return (uint64_t)MAX(g_value_get_int(v), 0);
	if (G_VALUE_HOLDS_UINT(v))
		return g_value_get_uint(v);
	return 0;
}

static double stat_double(const GstStructure *st, const char *field)
{
	gdouble d = 0;

	if (st)
		gst_structure_get_double(st, field, &d);
	return d;
}

static gboolean on_progress(gpointer data)
{
	struct srt *s = data;
	struct net_source_totals t = s->source;
	struct net_flow f;
	unsigned int now = 0;
	uint64_t retrans = 0;
	char rate[32];

	net_flow_read(&s->flow, &f);
	g_mutex_lock(&s->lock);
	for (guint i = 0; i < s->callers->len; i++) {
		struct caller_rec *c = g_ptr_array_index(s->callers, i);

		now += c->connected;
		retrans += stat_u64(c->last, "packets-retransmitted");
	}
	fprintf(stderr, "\rsrt: %u callers (%u in all), %llu frames encoded, %s, %llu packets "
		"retransmitted, dmapipe %llu frames, %llu dropped; %s %s   ", now, s->callers->len,
		(unsigned long long)f.frames, net_rate(f.bytes, now_ns() - s->t0, rate, sizeof(rate)),
		(unsigned long long)retrans, (unsigned long long)t.frames,
		(unsigned long long)t.drops, s->enc->element, s->access);
	g_mutex_unlock(&s->lock);
	return G_SOURCE_CONTINUE;
}

static void force_key_frame(struct srt *s)
{
	GstElement *enc = gst_bin_get_by_name(GST_BIN(s->pipeline), "enc");
	GstPad *pad = enc ? gst_element_get_static_pad(enc, "src") : NULL;

	if (pad) {
		gst_pad_send_event(pad, gst_video_event_new_upstream_force_key_unit(
					   GST_CLOCK_TIME_NONE, TRUE, 0));
		gst_object_unref(pad);
	}
	if (enc)
		gst_object_unref(enc);
}

static void on_caller_added(GstElement *sink, gint id, GSocketAddress *addr, gpointer data)
{
	struct srt *s = data;
	struct caller_rec *c = g_new0(struct caller_rec, 1);
	struct net_flow f;

	(void)sink;
	(void)id;
	address_string(addr, c->address, sizeof(c->address));
	net_flow_read(&s->flow, &f);
	c->frames_at_join = f.frames;
	c->connected = true;
	g_mutex_lock(&s->lock);
	g_ptr_array_add(s->callers, c);
	g_mutex_unlock(&s->lock);
	/* a caller decodes from a key frame: give it one now, not at the next GOP */
	force_key_frame(s);
}

static void on_caller_removed(GstElement *sink, gint id, GSocketAddress *addr, gpointer data)
{
	struct srt *s = data;
	struct caller_rec *c;
	char a[80];

	(void)sink;
	(void)id;
	address_string(addr, a, sizeof(a));
	g_mutex_lock(&s->lock);
	c = find_caller(s, a, true);
	if (c)
		c->connected = false;
	g_mutex_unlock(&s->lock);
}

static gboolean on_bus(GstBus *bus, GstMessage *msg, gpointer data)
{
	struct srt *s = data;

	(void)bus;
	if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
		GError *err = NULL;
		gchar *dbg = NULL;

		gst_message_parse_error(msg, &err, &dbg);
		if (s->said) {
			/* the first error says why; the rest are its echoes */
		} else if (GST_MESSAGE_SRC(msg) == GST_OBJECT(s->sink)) {
			/* srtsink's reason ("Cannot bind to ...") is the debug text's last line */
			const char *why = dbg ? strrchr(dbg, '\n') : NULL;

			why = why ? why + 1 : (err ? err->message : "error");
			if (!s->o->quiet)
				fputc('\n', stderr);
			tool_error(strstr(why, "bind") ? TOOL_ERR_BUSY : TOOL_ERR_INTERNAL, 0,
				   "cannot serve on %s: %s%s", s->url, why,
				   strstr(why, "bind") ? " (is the port in use?)" : "");
		} else {
			if (!s->o->quiet)
				fputc('\n', stderr);
			tool_error(TOOL_ERR_INTERNAL, 0, "%s: %s (%s)",
				   GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)), err ? err->message : "error",
				   dbg ? dbg : "");
		}
		g_clear_error(&err);
		g_free(dbg);
		s->said = true;
		s->status = 1;
		g_main_loop_quit(s->loop);
	} else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS) {
		g_main_loop_quit(s->loop);
	}
	return G_SOURCE_CONTINUE;
}

static gboolean on_stop(gpointer data)
{
	g_main_loop_quit(((struct srt *)data)->loop);
	return G_SOURCE_REMOVE;
}

static gboolean on_signal(gpointer data)
{
	((struct srt *)data)->interrupted = true;
	return on_stop(data);
}

static void report(struct srt *s)
{
	/* what a caller's statistics say, as srtsink names them */
	static const char *const u64_fields[] = {
		"packets-sent", "packets-sent-lost", "packets-retransmitted",
		"packets-sent-dropped", "packet-ack-received", "packet-nack-received",
		"bytes-sent", "bytes-retransmitted", "bytes-sent-dropped", "negotiated-latency-ms",
	};
	static const char *const double_fields[] = {
		"send-rate-mbps", "bandwidth-mbps", "rtt-ms",
	};
	struct net_source_totals t;
	struct net_flow f;
	uint64_t ns = now_ns() - s->t0;
	char rate[32];

	net_source_sample(&s->source, s->pipeline);
	t = s->source;
	t.connections = 1;
	net_flow_read(&s->flow, &f);
	g_mutex_lock(&s->lock);
	if (!s->o->quiet)
		fputc('\n', stderr);
	fprintf(stderr, "srt: %s: %u callers, %llu frames encoded (%s); dmapipe: %llu frames, "
		"%llu dropped by the producer, %llu copied; encoder %s: %s (%s)\n", s->url,
		s->callers->len, (unsigned long long)f.frames,
		net_rate(f.bytes, ns, rate, sizeof(rate)), (unsigned long long)t.frames,
		(unsigned long long)t.drops, (unsigned long long)t.copies, s->enc->element,
		s->access, s->access_why);
	for (guint i = 0; i < s->callers->len; i++) {
		struct caller_rec *c = g_ptr_array_index(s->callers, i);

		fprintf(stderr, "  caller %s: %llu frames, %llu packets sent, %llu retransmitted, "
			"%llu lost, rtt %.1f ms\n", c->address, (unsigned long long)c->frames,
			(unsigned long long)stat_u64(c->last, "packets-sent"),
			(unsigned long long)stat_u64(c->last, "packets-retransmitted"),
			(unsigned long long)stat_u64(c->last, "packets-sent-lost"),
			stat_double(c->last, "rtt-ms"));
	}
	if (s->o->json) {
		struct json j;

		json_begin_document(&j, s->interrupted);
		json_string(&j, "url", s->url);
		json_string(&j, "socket", s->o->socket);
		json_string(&j, "codec", "h264");
		json_string(&j, "encoder", s->enc->element);
		json_string(&j, "access", s->access);
		json_string(&j, "access_why", s->access_why);
		json_u64(&j, "latency_ms", s->o->latency_ms);
		json_bool(&j, "encrypted", s->o->passphrase != NULL);
		json_double(&j, "elapsed_s", (double)ns / 1e9);
		json_u64(&j, "frames_encoded", f.frames);
		json_u64(&j, "bytes_encoded", f.bytes);
		json_u64(&j, "callers_total", s->callers->len);
		net_json_source(&j, &t);
		json_begin_array(&j, "callers");
		for (guint i = 0; i < s->callers->len; i++) {
			struct caller_rec *c = g_ptr_array_index(s->callers, i);

			json_begin_object(&j, NULL);
			json_string(&j, "address", c->address);
			json_bool(&j, "connected_at_end", c->connected);
			json_u64(&j, "frames", c->frames);
			json_bool(&j, "have_stats", c->last != NULL);
			for (size_t k = 0; k < G_N_ELEMENTS(u64_fields); k++)
				json_u64(&j, u64_fields[k], stat_u64(c->last, u64_fields[k]));
			for (size_t k = 0; k < G_N_ELEMENTS(double_fields); k++)
				json_double(&j, double_fields[k], stat_double(c->last, double_fields[k]));
			json_end_object(&j);
		}
		json_end_array(&j);
		json_end_object(&j);
		json_finish(&j);
	}
	g_mutex_unlock(&s->lock);
}

int net_srt_run(const struct net_options *o, const struct net_encoder *enc)
{
	char launch[sizeof(enc->launch) + 600], crypt[240] = "";
	GError *err = NULL;
	GstElement *e;
	GstPad *pad;
	GstBus *bus;
	struct srt s;

	if (o->passphrase) {
		char q[200];

		/* a passphrase may hold quotes or backslashes */
		net_quote(q, sizeof(q), o->passphrase);
		snprintf(crypt, sizeof(crypt), " passphrase=\"%s\" pbkeylen=%u", q, o->pbkeylen);
	}
	memset(&s, 0, sizeof(s));
	snprintf(s.url, sizeof(s.url), "srt://%s:%u", o->host, o->port);
	snprintf(launch, sizeof(launch),
		 "%s ! h264parse config-interval=-1 ! mpegtsmux name=mux alignment=7 ! "
		 "srtsink name=sink uri=\"%s?mode=listener\" mode=listener latency=%u "
		 "wait-for-connection=false sync=false%s",
		 enc->launch, s.url, o->latency_ms, crypt);
	if (o->print_pipeline) {
		printf("%s\n", launch);
		return 0;
	}
	s.o = o;
	s.enc = enc;
	s.access = enc->access;
	snprintf(s.access_why, sizeof(s.access_why), "%s", enc->why);
	g_mutex_init(&s.lock);
	s.callers = g_ptr_array_new_with_free_func(caller_free);
	s.pipeline = gst_parse_launch(launch, &err);
	if (!s.pipeline || err) {
		tool_error(TOOL_ERR_INTERNAL, 0, "cannot build the pipeline: %s",
			   err ? err->message : "unknown error");
		g_clear_error(&err);
		if (s.pipeline)
			gst_object_unref(s.pipeline);
		g_ptr_array_free(s.callers, TRUE);
		return 1;
	}
	s.loop = g_main_loop_new(NULL, FALSE);
	s.sink = gst_bin_get_by_name(GST_BIN(s.pipeline), "sink");
	g_signal_connect(s.sink, "caller-added", G_CALLBACK(on_caller_added), &s);
	g_signal_connect(s.sink, "caller-removed", G_CALLBACK(on_caller_removed), &s);
	e = gst_bin_get_by_name(GST_BIN(s.pipeline), "enc");
	pad = e ? gst_element_get_static_pad(e, "src") : NULL;
	if (pad) {
		net_flow_watch(&s.flow, pad, false);
		gst_object_unref(pad);
	}
	if (e)
		gst_object_unref(e);
	bus = gst_element_get_bus(s.pipeline);
	gst_bus_add_watch(bus, on_bus, &s);
	gst_object_unref(bus);

	fprintf(stderr, "srt: listening on %s (latency %u ms%s), H.264 in MPEG-TS from %s; "
		"encoder: %s: %s (%s)\n", s.url, o->latency_ms, o->passphrase ? ", encrypted" : "",
		o->test_source ? "videotestsrc" : o->socket, enc->element, enc->access, enc->why);
	s.t0 = now_ns();
	if (gst_element_set_state(s.pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		/* the error message on the bus says why (a port in use) */
		s.status = 1;
		while (g_main_context_iteration(NULL, FALSE))
			;
		if (!s.said)
			tool_error(TOOL_ERR_INTERNAL, 0, "the pipeline did not start");
		goto out;
	}
	g_timeout_add(500, on_sample, &s);
	if (!o->quiet)
		g_timeout_add(1000, on_progress, &s);
	if (o->duration_s)
		g_timeout_add_seconds(o->duration_s, on_stop, &s);
	g_unix_signal_add(SIGINT, on_signal, &s);
	g_unix_signal_add(SIGTERM, on_signal, &s);
	g_main_loop_run(s.loop);
	on_sample(&s);
	report(&s);
out:
	gst_element_set_state(s.pipeline, GST_STATE_NULL);
	gst_object_unref(s.sink);
	gst_object_unref(s.pipeline);
	g_main_loop_unref(s.loop);
	g_ptr_array_free(s.callers, TRUE);
	g_mutex_clear(&s.lock);
	return s.status;
}
