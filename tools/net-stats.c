/* SPDX-License-Identifier: MIT */
/* dmapipe-net: the counters `dmapipe rtsp` and `dmapipe srt` report (net.h). */
#include <gst/rtp/rtp.h>

#include "net.h"

void net_source_sample(struct net_source_totals *t, GstElement *bin)
{
	GstElement *src = gst_bin_get_by_name(GST_BIN(bin), "src");
	guint64 frames = 0, drops = 0, copies = 0, reconnects = 0;

	if (!src)
		return;
	/* videotestsrc, the benchmark's baseline, has none of these */
	if (g_object_class_find_property(G_OBJECT_GET_CLASS(src), "drops"))
		g_object_get(src, "frames", &frames, "drops", &drops, "copies", &copies,
			     "reconnects", &reconnects, NULL);
	t->frames = MAX(t->frames, frames);
	t->drops = MAX(t->drops, drops);
	t->copies = MAX(t->copies, copies);
	t->reconnects = MAX(t->reconnects, reconnects);
	gst_object_unref(src);
}

void net_source_totals_add(struct net_source_totals *a, const struct net_source_totals *b)
{
	a->frames += b->frames;
	a->drops += b->drops;
	a->copies += b->copies;
	a->reconnects += b->reconnects;
	a->connections += b->connections;
}

static void count_buffer(struct net_flow *flow, GstBuffer *buf, bool rtp)
{
	GstRTPBuffer r = GST_RTP_BUFFER_INIT;
	bool end = !rtp;

	if (rtp && gst_rtp_buffer_map(buf, GST_MAP_READ, &r)) {
		end = gst_rtp_buffer_get_marker(&r);
		gst_rtp_buffer_unmap(&r);
	}
	__atomic_add_fetch(&flow->bytes, gst_buffer_get_size(buf), __ATOMIC_RELAXED);
	__atomic_add_fetch(&flow->packets, 1, __ATOMIC_RELAXED);
	if (end)
		__atomic_add_fetch(&flow->frames, 1, __ATOMIC_RELAXED);
}

static gboolean count_in_list(GstBuffer **buf, guint idx, gpointer data)
{
	struct net_flow *flow = data;

	(void)idx;
	count_buffer(flow, *buf, true);
	return TRUE;
}

struct probe_data {
	struct net_flow *flow;
	bool rtp;
};

static GstPadProbeReturn on_flow(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	struct probe_data *pd = data;

	(void)pad;
	if (info->type & GST_PAD_PROBE_TYPE_BUFFER)
		count_buffer(pd->flow, GST_PAD_PROBE_INFO_BUFFER(info), pd->rtp);
	else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
		gst_buffer_list_foreach(GST_PAD_PROBE_INFO_BUFFER_LIST(info), count_in_list, pd->flow);
	return GST_PAD_PROBE_OK;
}

void net_flow_watch(struct net_flow *flow, GstPad *pad, bool rtp)
{
	struct probe_data *pd = g_new0(struct probe_data, 1);

	pd->flow = flow;
	pd->rtp = rtp;
	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, on_flow,
			  pd, g_free);
}

void net_flow_read(const struct net_flow *flow, struct net_flow *out)
{
	out->frames = __atomic_load_n(&flow->frames, __ATOMIC_RELAXED);
	out->bytes = __atomic_load_n(&flow->bytes, __ATOMIC_RELAXED);
	out->packets = __atomic_load_n(&flow->packets, __ATOMIC_RELAXED);
}

const GstStructure *net_array_structure(const GValue *array, guint i)
{
	const GstStructure *out = NULL;

	/* GStreamer 1.22's statistics are GValueArrays, deprecated in GLib */
	G_GNUC_BEGIN_IGNORE_DEPRECATIONS
	if (array && G_VALUE_TYPE(array) == g_value_array_get_type()) {
		GValueArray *a = g_value_get_boxed(array);

		if (a && i < a->n_values) {
			const GValue *v = g_value_array_get_nth(a, i);

			if (GST_VALUE_HOLDS_STRUCTURE(v))
				out = gst_value_get_structure(v);
		}
	}
	G_GNUC_END_IGNORE_DEPRECATIONS
	return out;
}

void net_json_source(struct json *j, const struct net_source_totals *t)
{
	json_begin_object(j, "dmapipe");
	json_u64(j, "connections", t->connections);
	json_u64(j, "frames", t->frames);
	json_u64(j, "drops", t->drops);
	json_u64(j, "copies", t->copies);
	json_u64(j, "reconnects", t->reconnects);
	json_end_object(j);
}

const char *net_rate(uint64_t bytes, uint64_t ns, char *buf, size_t len)
{
	double mbit = ns ? (double)bytes * 8 / ((double)ns / 1e9) / 1e6 : 0;

	snprintf(buf, len, "%.2f Mbit/s", mbit);
	return buf;
}
