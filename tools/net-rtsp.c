/* SPDX-License-Identifier: MIT */
/*
 * dmapipe rtsp (net.h): gst-rtsp-server serving one mount point whose
 * media is shared, so every client gets the output of one encoder.
 *
 * When the last client leaves, gst-rtsp-server unprepares the shared
 * media: its pipeline stops and dmapipesrc disconnects from the producer;
 * the next client prepares a new one. That is on purpose: an encoder kept
 * running for nobody costs a core at 1080p, and the producer's consumer
 * list then says whether anybody watches. A client that arrives waits for
 * dmapipesrc to connect and for the first encoded frame, a few frame times.
 *
 * Per-client counters: frames are the frames the payloader sent while the
 * client was playing; bytes and packets come from where they leave, the
 * kernel's TCP_INFO (bytes the client acknowledged) for a client that
 * takes RTP inside its RTSP connection, multiudpsink's per-destination
 * statistics for UDP; packets the client lost come from its RTCP receiver
 * reports (UDP clients). They are sampled twice a second and when a client
 * tears down.
 */
#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <glib-unix.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <gst/video/video.h>

#include "net.h"

struct client_rec {
	unsigned int id;
	GstRTSPClient *client;    /* a reference while connected, NULL once closed */
	char address[64];
	bool tcp;                 /* RTP interleaved in the RTSP connection */
	char dest[64];            /* UDP: where RTP and RTCP go */
	int rtp_port, rtcp_port;
	uint64_t t_connect, t_close;
	bool playing;
	uint64_t frames_at_play;  /* the payloader's frames when it started playing */
	uint64_t frames, bytes, packets;
	int64_t lost;             /* packets it reported lost, -1: no report */
	bool at_end;              /* still connected when the server stopped */
};

struct rtsp {
	const struct net_options *o;
	const struct net_encoder *enc;
	GMainLoop *loop;
	GstRTSPServer *server;
	GstRTSPMountPoints *mounts;
	GMutex lock;              /* everything below; signals come from several threads */
	GPtrArray *clients;
	unsigned int next_id;
	GstRTSPMedia *media;      /* the shared media while it exists, a reference */
	GstElement *pipeline;     /* its pipeline, a reference */
	struct net_flow flow;     /* what the payloaders sent, over every media */
	struct net_source_totals totals; /* medias that ended */
	struct net_source_totals cur;    /* the current media's, sampled */
	uint64_t not_found;
	GPtrArray *unknown_paths; /* logged once each */
	char access_why[NET_WHY_LEN];
	const char *access;
	uint64_t t0;
	char url[128];
	bool interrupted; /* a signal ended it (not --duration) */
};

/* ---- counters ------------------------------------------------------------- */

static struct client_rec *find_client(struct rtsp *r, GstRTSPClient *client)
{
	for (guint i = 0; i < r->clients->len; i++) {
		struct client_rec *c = g_ptr_array_index(r->clients, i);

		if (c->client == client)
			return c;
	}
	return NULL;
}

/* The first element made by @factory_name in @bin, a reference, or NULL. */
static GList *elements_of(GstElement *bin, const char *factory_name)
{
	GstIterator *it = gst_bin_iterate_recurse(GST_BIN(bin));
	GValue v = G_VALUE_INIT;
	GList *out = NULL;

	while (gst_iterator_next(it, &v) == GST_ITERATOR_OK) {
		GstElement *e = g_value_get_object(&v);
		GstElementFactory *f = gst_element_get_factory(e);

		if (f && strcmp(GST_OBJECT_NAME(f), factory_name) == 0)
			out = g_list_prepend(out, gst_object_ref(e));
		g_value_reset(&v);
	}
	g_value_unset(&v);
	gst_iterator_free(it);
	return out;
}

static void sample_tcp(struct client_rec *c)
{
	GstRTSPConnection *conn = gst_rtsp_client_get_connection(c->client);
	GSocket *sock = conn ? gst_rtsp_connection_get_write_socket(conn) : NULL;
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (!sock)
		return;
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(g_socket_get_fd(sock), IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return;
	c->bytes = ti.tcpi_bytes_acked;
	c->packets = ti.tcpi_segs_out;
}

static void sample_udp(struct rtsp *r, struct client_rec *c)
{
	GList *sinks = elements_of(r->pipeline, "multiudpsink"), *l;
	GList *bins = elements_of(r->pipeline, "rtpbin");
	guint64 bytes = 0, packets = 0;

	for (l = sinks; l; l = l->next) {
		GstStructure *s = NULL;
		guint64 b = 0, p = 0;

		g_signal_emit_by_name(l->data, "get-stats", c->dest, c->rtp_port, &s);
		if (!s)
			continue;
		gst_structure_get_uint64(s, "bytes-sent", &b);
		gst_structure_get_uint64(s, "packets-sent", &p);
		bytes += b;
		packets += p;
		gst_structure_free(s);
	}
	/* a transport already removed reports nothing: keep what it had */
	if (bytes) {
		c->bytes = bytes;
		c->packets = packets;
	}
	for (l = bins; l; l = l->next) {
		GObject *session = NULL;
		GstStructure *stats = NULL;
		const GValue *arr;
		char from[96];

		g_signal_emit_by_name(l->data, "get-internal-session", 0u, &session);
		if (!session)
			continue;
		g_object_get(session, "stats", &stats, NULL);
		g_object_unref(session);
		if (!stats)
			continue;
		snprintf(from, sizeof(from), "%s:%d", c->dest, c->rtcp_port);
		arr = gst_structure_get_value(stats, "source-stats");
		const GstStructure *ss;

		for (guint i = 0; (ss = net_array_structure(arr, i)); i++) {
			const char *rf = gst_structure_get_string(ss, "rtcp-from");
			gboolean have_rb = FALSE;
			gint lost = 0;

			if (!rf || strcmp(rf, from) != 0)
				continue;
			if (gst_structure_get_boolean(ss, "have-rb", &have_rb) && have_rb &&
			    gst_structure_get_int(ss, "rb-packetslost", &lost))
				c->lost = lost < 0 ? 0 : lost;
		}
		gst_structure_free(stats);
	}
	g_list_free_full(sinks, gst_object_unref);
	g_list_free_full(bins, gst_object_unref);
}

/* Called with the lock held. */
static void sample_client(struct rtsp *r, struct client_rec *c)
{
	struct net_flow f;

	net_flow_read(&r->flow, &f);
	if (c->playing)
		c->frames = f.frames - c->frames_at_play;
	if (!c->client || !c->playing)
		return;
	if (c->tcp)
		sample_tcp(c);
	else if (r->pipeline)
		sample_udp(r, c);
}

static gboolean on_sample(gpointer data)
{
	struct rtsp *r = data;

	g_mutex_lock(&r->lock);
	for (guint i = 0; i < r->clients->len; i++) {
		struct client_rec *c = g_ptr_array_index(r->clients, i);

		if (c->client)
			sample_client(r, c);
	}
	if (r->media) {
		GstElement *bin = gst_rtsp_media_get_element(r->media);

		r->access = net_access_now(bin, r->enc, r->access_why, sizeof(r->access_why));
		net_source_sample(&r->cur, bin);
		gst_object_unref(bin);
	}
	g_mutex_unlock(&r->lock);
	return G_SOURCE_CONTINUE;
}

/* Called with the lock held. */
static void current_source(struct rtsp *r, struct net_source_totals *t)
{
	if (r->media) {
		GstElement *bin = gst_rtsp_media_get_element(r->media);

		net_source_sample(&r->cur, bin);
		gst_object_unref(bin);
	}
	*t = r->totals;
	net_source_totals_add(t, &r->cur);
}

static gboolean on_progress(gpointer data)
{
	struct rtsp *r = data;
	struct net_source_totals t;
	struct net_flow f;
	unsigned int now = 0;
	uint64_t ns = now_ns() - r->t0;
	char rate[32];

	g_mutex_lock(&r->lock);
	for (guint i = 0; i < r->clients->len; i++)
		now += ((struct client_rec *)g_ptr_array_index(r->clients, i))->client != NULL;
	current_source(r, &t);
	net_flow_read(&r->flow, &f);
	fprintf(stderr, "\rrtsp: %u clients (%u in all), %llu frames sent, %s, "
		"dmapipe %llu frames, %llu dropped; %s %s   ", now, r->clients->len,
		(unsigned long long)f.frames, net_rate(f.bytes, ns, rate, sizeof(rate)),
		(unsigned long long)t.frames, (unsigned long long)t.drops,
		r->enc->element ? r->enc->element : "rtpvrawpay", r->access);
	g_mutex_unlock(&r->lock);
	return G_SOURCE_CONTINUE;
}

/* ---- media ------------------------------------------------------------------ */

static void on_unprepared(GstRTSPMedia *media, gpointer data)
{
	struct rtsp *r = data;
	GstElement *bin = gst_rtsp_media_get_element(media);

	g_mutex_lock(&r->lock);
	if (r->media == media) {
		net_source_sample(&r->cur, bin);
		net_source_totals_add(&r->totals, &r->cur);
		memset(&r->cur, 0, sizeof(r->cur));
		/* the last client left: the counters of UDP clients are final */
		for (guint i = 0; i < r->clients->len; i++) {
			struct client_rec *c = g_ptr_array_index(r->clients, i);

			if (c->client && c->playing)
				sample_client(r, c);
		}
		g_object_unref(r->media);
		gst_object_unref(r->pipeline);
		r->media = NULL;
		r->pipeline = NULL;
	}
	g_mutex_unlock(&r->lock);
	gst_object_unref(bin);
}

/*
 * gst-rtsp-server 1.22 feeds its TCP clients from a tee through a queue of
 * one buffer into an appsink that it stops pulling while no TCP client can
 * take more: one client that stops reading then blocks the tee, and with
 * it every other client, UDP ones included, and the encoder. The queues it
 * puts after the tee get room for a second of packets (a key frame is a
 * burst of them) and drop the oldest beyond that, so that such a client
 * loses packets (and resumes at the next key frame) instead of stopping
 * everybody.
 */
static void on_element_added(GstBin *pipeline, GstBin *bin, GstElement *e, gpointer data)
{
	GstElementFactory *f = gst_element_get_factory(e);
	GstElement *ours = data;

	(void)pipeline;
	/* the queues of the pipeline given on the command line are left alone */
	if (bin == GST_BIN(ours) || !f || strcmp(GST_OBJECT_NAME(f), "queue") != 0)
		return;
	g_object_set(e, "max-size-buffers", 0, "max-size-bytes", 8u << 20,
		     "max-size-time", (guint64)GST_SECOND,
		     "leaky", 2 /* downstream: drop the oldest */, NULL);
}

static void on_media_configure(GstRTSPMediaFactory *factory, GstRTSPMedia *media, gpointer data)
{
	struct rtsp *r = data;
	GstElement *bin = gst_rtsp_media_get_element(media);
	GstElement *pay = gst_bin_get_by_name(GST_BIN(bin), "pay0");
	GstPad *pad = pay ? gst_element_get_static_pad(pay, "src") : NULL;

	(void)factory;
	if (pad)
		net_flow_watch(&r->flow, pad, true);
	g_signal_connect(media, "unprepared", G_CALLBACK(on_unprepared), r);
	g_mutex_lock(&r->lock);
	if (r->media) {
		/* the media before it did not say it ended: count what it had */
		net_source_totals_add(&r->totals, &r->cur);
		g_object_unref(r->media);
		gst_object_unref(r->pipeline);
	}
	memset(&r->cur, 0, sizeof(r->cur));
	r->cur.connections = 1;
	r->media = g_object_ref(media);
	r->pipeline = GST_ELEMENT(gst_object_get_parent(GST_OBJECT(bin)));
	if (!r->pipeline)
		r->pipeline = gst_object_ref(bin);
	g_signal_connect(r->pipeline, "deep-element-added", G_CALLBACK(on_element_added), bin);
	g_mutex_unlock(&r->lock);
	if (pad)
		gst_object_unref(pad);
	if (pay)
		gst_object_unref(pay);
	gst_object_unref(bin);
}

/* A client that starts playing gets a key frame now, not at the next GOP. */
static void force_key_frame(struct rtsp *r)
{
	GstElement *bin, *enc;
	GstPad *pad;

	g_mutex_lock(&r->lock);
	bin = r->media ? gst_rtsp_media_get_element(r->media) : NULL;
	g_mutex_unlock(&r->lock);
	enc = bin ? gst_bin_get_by_name(GST_BIN(bin), "enc") : NULL;
	pad = enc ? gst_element_get_static_pad(enc, "src") : NULL;
	if (pad)
		gst_pad_send_event(pad, gst_video_event_new_upstream_force_key_unit(
						GST_CLOCK_TIME_NONE, TRUE, 0));
	if (pad)
		gst_object_unref(pad);
	if (enc)
		gst_object_unref(enc);
	if (bin)
		gst_object_unref(bin);
}

/* ---- clients ------------------------------------------------------------- */

static GstRTSPStatusCode on_pre_describe(GstRTSPClient *client, GstRTSPContext *ctx, gpointer data)
{
	struct rtsp *r = data;
	const char *path = ctx->uri && ctx->uri->abspath ? ctx->uri->abspath : "";
	GstRTSPMediaFactory *f = gst_rtsp_mount_points_match(r->mounts, path, NULL);
	bool first = true;

	(void)client;
	if (f) {
		g_object_unref(f);
		return GST_RTSP_STS_OK;
	}
	/* gst-rtsp-server answers 404; say so once per path, not per retry */
	g_mutex_lock(&r->lock);
	r->not_found++;
	for (guint i = 0; i < r->unknown_paths->len; i++)
		if (strcmp(g_ptr_array_index(r->unknown_paths, i), path) == 0)
			first = false;
	if (first && r->unknown_paths->len < 64)
		g_ptr_array_add(r->unknown_paths, g_strdup(path));
	g_mutex_unlock(&r->lock);
	if (first)
		tool_warn("a client asked for %s: 404 not found (this server has %s)", path,
			  r->o->path);
	return GST_RTSP_STS_OK;
}

static void on_play(GstRTSPClient *client, GstRTSPContext *ctx, gpointer data)
{
	struct rtsp *r = data;
	GstRTSPStreamTransport *st = ctx->sessmedia ?
		gst_rtsp_session_media_get_transport(ctx->sessmedia, 0) : NULL;
	const GstRTSPTransport *tr = st ? gst_rtsp_stream_transport_get_transport(st) : NULL;
	struct client_rec *c;
	struct net_flow f;

	g_mutex_lock(&r->lock);
	c = find_client(r, client);
	if (c && !c->playing) {
		net_flow_read(&r->flow, &f);
		c->playing = true;
		c->frames_at_play = f.frames;
		if (tr) {
			c->tcp = tr->lower_transport == GST_RTSP_LOWER_TRANS_TCP;
			snprintf(c->dest, sizeof(c->dest), "%s",
				 tr->destination ? tr->destination : c->address);
			c->rtp_port = tr->client_port.min;
			c->rtcp_port = tr->client_port.max;
		}
	}
	g_mutex_unlock(&r->lock);
	force_key_frame(r);
}

static GstRTSPStatusCode on_pre_teardown(GstRTSPClient *client, GstRTSPContext *ctx, gpointer data)
{
	struct rtsp *r = data;
	struct client_rec *c;

	(void)ctx;
	g_mutex_lock(&r->lock);
	c = find_client(r, client);
	if (c)
		sample_client(r, c);
	g_mutex_unlock(&r->lock);
	return GST_RTSP_STS_OK;
}

static void on_closed(GstRTSPClient *client, gpointer data)
{
	struct rtsp *r = data;
	struct client_rec *c;

	g_mutex_lock(&r->lock);
	c = find_client(r, client);
	if (c) {
		/* the connection lives until the client object goes: read it last */
		sample_client(r, c);
		c->client = NULL;
		c->t_close = now_ns();
	}
	g_mutex_unlock(&r->lock);
	if (c)
		g_object_unref(client);
}

static void on_client_connected(GstRTSPServer *server, GstRTSPClient *client, gpointer data)
{
	struct rtsp *r = data;
	struct client_rec *c = g_new0(struct client_rec, 1);
	GstRTSPConnection *conn = gst_rtsp_client_get_connection(client);
	const char *ip = conn ? gst_rtsp_connection_get_ip(conn) : NULL;

	(void)server;
	c->client = g_object_ref(client);
	snprintf(c->address, sizeof(c->address), "%s", ip ? ip : "?");
	c->t_connect = now_ns();
	c->lost = -1;
	g_mutex_lock(&r->lock);
	c->id = ++r->next_id;
	g_ptr_array_add(r->clients, c);
	g_mutex_unlock(&r->lock);
	g_signal_connect(client, "pre-describe-request", G_CALLBACK(on_pre_describe), r);
	g_signal_connect(client, "play-request", G_CALLBACK(on_play), r);
	g_signal_connect(client, "pre-teardown-request", G_CALLBACK(on_pre_teardown), r);
	g_signal_connect(client, "closed", G_CALLBACK(on_closed), r);
}

/* ---- lifecycle ------------------------------------------------------------- */

static gboolean on_stop(gpointer data)
{
	g_main_loop_quit(((struct rtsp *)data)->loop);
	return G_SOURCE_REMOVE;
}

static gboolean on_signal(gpointer data)
{
	((struct rtsp *)data)->interrupted = true;
	return on_stop(data);
}

static GstRTSPFilterResult close_client(GstRTSPServer *server, GstRTSPClient *client,
					gpointer data)
{
	(void)server;
	(void)data;
	gst_rtsp_client_close(client);
	return GST_RTSP_FILTER_REMOVE;
}

static GstRTSPFilterResult remove_session(GstRTSPSessionPool *pool, GstRTSPSession *session,
					  gpointer data)
{
	(void)pool;
	(void)session;
	(void)data;
	return GST_RTSP_FILTER_REMOVE;
}

/*
 * Ends every client and session, so that the shared media unprepares and
 * dmapipesrc leaves the producer cleanly; waits for that up to 2 s.
 */
static void shut_down(struct rtsp *r)
{
	GstRTSPSessionPool *pool = gst_rtsp_server_get_session_pool(r->server);
	bool alive = true;

	g_mutex_lock(&r->lock);
	for (guint i = 0; i < r->clients->len; i++) {
		struct client_rec *c = g_ptr_array_index(r->clients, i);

		c->at_end = c->client != NULL;
	}
	g_mutex_unlock(&r->lock);
	gst_rtsp_server_client_filter(r->server, close_client, NULL);
	gst_rtsp_session_pool_filter(pool, remove_session, NULL);
	g_object_unref(pool);
	for (int i = 0; i < 200 && alive; i++) {
		while (g_main_context_iteration(NULL, FALSE))
			;
		g_mutex_lock(&r->lock);
		alive = r->media != NULL;
		g_mutex_unlock(&r->lock);
		if (alive)
			g_usleep(10000);
	}
}

static void report(struct rtsp *r)
{
	struct net_source_totals t;
	struct net_flow f;
	uint64_t end = now_ns(), ns = end - r->t0;
	unsigned int i;
	char rate[32];

	g_mutex_lock(&r->lock);
	current_source(r, &t);
	net_flow_read(&r->flow, &f);
	if (!r->o->quiet)
		fputc('\n', stderr);
	fprintf(stderr, "rtsp: %s: %u clients, %llu frames sent (%s), %llu requests for "
		"unknown paths; dmapipe: %llu frames in %llu connections, %llu dropped by the "
		"producer, %llu copied; encoder %s: %s (%s)\n", r->url, r->clients->len,
		(unsigned long long)f.frames, net_rate(f.bytes, ns, rate, sizeof(rate)),
		(unsigned long long)r->not_found, (unsigned long long)t.frames,
		(unsigned long long)t.connections, (unsigned long long)t.drops,
		(unsigned long long)t.copies, r->enc->element ? r->enc->element : "none (raw)",
		r->access, r->access_why);
	for (i = 0; i < r->clients->len; i++) {
		struct client_rec *c = g_ptr_array_index(r->clients, i);

		fprintf(stderr, "  client %u %s (%s): %llu frames, %llu bytes, %llu packets, lost %lld%s\n",
			c->id, c->address, c->playing ? (c->tcp ? "tcp" : "udp") : "did not play",
			(unsigned long long)c->frames, (unsigned long long)c->bytes,
			(unsigned long long)c->packets, (long long)c->lost,
			c->lost < 0 ? " (no receiver report)" : "");
	}
	if (r->o->json) {
		struct json j;

		json_begin_document(&j, r->interrupted);
		json_string(&j, "url", r->url);
		json_string(&j, "socket", r->o->socket);
		json_string(&j, "codec", r->o->codec == NET_CODEC_RAW ? "raw" : "h264");
		json_string(&j, "encoder", r->enc->element);
		json_string(&j, "access", r->access);
		json_string(&j, "access_why", r->access_why);
		json_double(&j, "elapsed_s", (double)ns / 1e9);
		json_u64(&j, "frames_sent", f.frames);
		json_u64(&j, "bytes_sent", f.bytes);
		json_u64(&j, "packets_sent", f.packets);
		json_u64(&j, "clients_total", r->clients->len);
		json_u64(&j, "not_found", r->not_found);
		net_json_source(&j, &t);
		json_begin_array(&j, "clients");
		for (i = 0; i < r->clients->len; i++) {
			struct client_rec *c = g_ptr_array_index(r->clients, i);

			json_begin_object(&j, NULL);
			json_u64(&j, "id", c->id);
			json_string(&j, "address", c->address);
			json_string(&j, "transport", c->playing ? (c->tcp ? "tcp" : "udp") : NULL);
			json_bool(&j, "connected_at_end", c->at_end);
			json_double(&j, "connected_s",
				    (double)((c->t_close ? c->t_close : end) - c->t_connect) / 1e9);
			json_u64(&j, "frames", c->frames);
			json_u64(&j, "bytes", c->bytes);
			json_u64(&j, "packets", c->packets);
			if (c->lost >= 0)
				json_u64(&j, "packets_lost", (uint64_t)c->lost);
			else
				json_null(&j, "packets_lost");
			json_end_object(&j);
		}
		json_end_array(&j);
		json_end_object(&j);
		json_finish(&j);
	}
	g_mutex_unlock(&r->lock);
}

int net_rtsp_run(const struct net_options *o, const struct net_encoder *enc)
{
	char launch[sizeof(enc->launch) + 128], port[16];
	const char *pay = o->codec == NET_CODEC_RAW ? "rtpvrawpay name=pay0 pt=96" :
		"rtph264pay name=pay0 pt=96 config-interval=-1";
	GstRTSPMediaFactory *factory;
	GstRTSPLowerTrans protocols = 0;
	GError *err = NULL;
	GSource *source;
	struct rtsp r;
	int status = 0;

	snprintf(launch, sizeof(launch), "( %s ! %s )", enc->launch, pay);
	if (o->print_pipeline) {
		printf("%s\n", launch);
		return 0;
	}
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.enc = enc;
	r.access = enc->access;
	snprintf(r.access_why, sizeof(r.access_why), "%s", enc->why);
	g_mutex_init(&r.lock);
	r.clients = g_ptr_array_new_with_free_func(g_free);
	r.unknown_paths = g_ptr_array_new_with_free_func(g_free);
	r.loop = g_main_loop_new(NULL, FALSE);
	r.server = gst_rtsp_server_new();
	gst_rtsp_server_set_address(r.server, o->host[0] ? o->host : "0.0.0.0");
	snprintf(port, sizeof(port), "%u", o->port);
	gst_rtsp_server_set_service(r.server, port);

	factory = gst_rtsp_media_factory_new();
	gst_rtsp_media_factory_set_launch(factory, launch);
	gst_rtsp_media_factory_set_shared(factory, TRUE);
	if (strstr(o->protocols, "udp"))
		protocols |= GST_RTSP_LOWER_TRANS_UDP;
	if (strstr(o->protocols, "tcp"))
		protocols |= GST_RTSP_LOWER_TRANS_TCP;
	gst_rtsp_media_factory_set_protocols(factory, protocols);
	g_signal_connect(factory, "media-configure", G_CALLBACK(on_media_configure), &r);
	r.mounts = gst_rtsp_server_get_mount_points(r.server);
	gst_rtsp_mount_points_add_factory(r.mounts, o->path, factory);
	g_signal_connect(r.server, "client-connected", G_CALLBACK(on_client_connected), &r);

	source = gst_rtsp_server_create_source(r.server, NULL, &err);
	if (!source) {
		tool_error(TOOL_ERR_BUSY, 0, "cannot listen on %s:%u: %s",
			   o->host[0] ? o->host : "*", o->port, err ? err->message : "unknown error");
		g_clear_error(&err);
		status = 1;
		goto out;
	}
	g_source_attach(source, NULL);
	snprintf(r.url, sizeof(r.url), "rtsp://%s:%d%s", o->host[0] ? o->host : "HOST",
		 gst_rtsp_server_get_bound_port(r.server), o->path);
	fprintf(stderr, "rtsp: serving %s (%s), %s from %s; encoder: %s: %s (%s)\n",
		r.url, o->protocols, o->codec == NET_CODEC_RAW ? "raw video" : "H.264",
		o->test_source ? "videotestsrc" : o->socket,
		enc->element ? enc->element : "none", enc->access, enc->why);

	r.t0 = now_ns();
	g_timeout_add(500, on_sample, &r);
	if (!o->quiet)
		g_timeout_add(1000, on_progress, &r);
	if (o->duration_s)
		g_timeout_add_seconds(o->duration_s, on_stop, &r);
	g_unix_signal_add(SIGINT, on_signal, &r);
	g_unix_signal_add(SIGTERM, on_signal, &r);
	g_main_loop_run(r.loop);

	on_sample(&r);
	g_source_destroy(source);
	g_source_unref(source);
	shut_down(&r);
	report(&r);
out:
	g_mutex_lock(&r.lock);
	for (guint i = 0; i < r.clients->len; i++) {
		struct client_rec *c = g_ptr_array_index(r.clients, i);

		if (c->client) {
			g_signal_handlers_disconnect_by_data(c->client, &r);
			g_object_unref(c->client);
		}
		c->client = NULL;
	}
	if (r.media) {
		g_signal_handlers_disconnect_by_data(r.media, &r);
		g_object_unref(r.media);
		gst_object_unref(r.pipeline);
	}
	r.media = NULL;
	g_mutex_unlock(&r.lock);
	g_object_unref(r.mounts);
	g_object_unref(r.server);
	g_main_loop_unref(r.loop);
	g_ptr_array_free(r.clients, TRUE);
	g_ptr_array_free(r.unknown_paths, TRUE);
	g_mutex_clear(&r.lock);
	return status;
}
