/* SPDX-License-Identifier: MIT */
/*
 * dmapipe probe: what a recording holds, like ffprobe: its formats, size,
 * frame rate (measured from the timestamps, and the nominal rate its
 * writer was given), colorimetry, fields and pixel aspect ratio as its
 * writer was told them, duration, frame count, gaps in the sequence numbers,
 * damage, and whether it was closed cleanly or needs --repair.
 *
 * Only the index (or a scan's) is needed for all of it but damage: frames
 * that carry a payload checksum are read (O_DIRECT) and compared, unless
 * --headers-only. Nothing is written.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dmapipe-tool.h"

/* gaps listed one by one; the rest are counted */
#define MAX_GAPS 100
#define MAX_BAD 100

static const char *const probe_usage =
	"Usage: dmapipe probe FILE [OPTIONS]\n"
	"\n"
	"Shows what a recording (made by dmapipe record) holds: its formats and the\n"
	"frames of each, frame count, frame rate (measured from the timestamps, and\n"
	"the nominal rate recorded with it), colorimetry, chroma siting, fields and\n"
	"pixel aspect ratio as the producer told them, duration, gaps in the sequence\n"
	"numbers (frames the recorder never got) with where they are, damage (frames whose\n"
	"bytes fail their checksum, damaged frame headers, a file cut or damaged\n"
	"after it was closed), and whether it was closed cleanly or needs\n"
	"dmapipe record --repair. Frames that carry a checksum are read to compare\n"
	"it; nothing is written.\n"
	"\n"
	"Options:\n"
	"      --headers-only      do not read frames (checksums are not compared)\n"
	"      --json              one JSON document on stdout (docs/JSON.md), a failure too\n"
	"  -h, --help              this text\n"
	"\n"
	"Exit status: 0 the recording reads and nothing is damaged (it may still\n"
	"need --repair), 1 damaged or unreadable, 2 bad command line.\n";

enum {
	OPT_HEADERS_ONLY = 256,
	OPT_JSON,
};

struct gap {
	uint64_t frame;        /* the first frame after the gap */
	uint64_t after, next;  /* the sequence numbers around it */
};

struct format_run {
	struct dmapipe_format format;
	uint64_t frames, first;
};

struct probe {
	const char *file;
	bool headers_only, json;

	struct dmapipe_recording *rec;
	struct dmapipe_recording_info info;
	struct dmapipe_format_info format_info;
	/* distinct formats by layout number (a layout per size of a compressed frame shares its format) */
	struct format_run *formats;
	uint32_t n_formats;
	uint64_t format_changes;
	struct gap gaps[MAX_GAPS];
	uint64_t n_gaps, missing, restarts;
	uint64_t first_seq, last_seq, first_ts, last_ts;
	double interval_ns; /* median time per sequence step */
	uint64_t checksums, bad_frames[MAX_BAD], n_bad, read_errors;
};

static void parse_args(struct probe *p, int argc, char **argv)
{
	static const struct option options[] = {
		{ "headers-only", no_argument, NULL, OPT_HEADERS_ONLY },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		switch (c) {
		case OPT_HEADERS_ONLY:
			p->headers_only = true;
			break;
		case OPT_JSON:
			p->json = true;
			break;
		case 'h':
			fputs(probe_usage, stdout);
			exit(0);
		default:
			usage_getopt_error("probe", c, argv);
		}
	}
	if (optind < argc)
		p->file = argv[optind++];
	usage_no_operands("probe", argc, argv);
	if (!p->file)
		usage_error("probe", "the recording to probe (FILE) is required");
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The format @f belongs to: an entry of p->formats, added if new; NULL without memory. */
static struct format_run *format_of(struct probe *p, const struct dmapipe_recorded_frame *f,
				    uint64_t index)
{
	struct format_run *n;

	for (uint32_t i = 0; i < p->n_formats; i++)
		if (memcmp(&p->formats[i].format, &f->layout.format, sizeof(f->layout.format)) == 0)
			return &p->formats[i];
	n = realloc(p->formats, (p->n_formats + 1) * sizeof(*n));
	if (!n)
		return NULL;
	p->formats = n;
	n = &p->formats[p->n_formats++];
	n->format = f->layout.format;
	n->frames = 0;
	n->first = index;
	return n;
}

/* Walks the index: formats, sequence gaps, the rate. 0 or -ENOMEM. */
static int walk(struct probe *p)
{
	double *steps = NULL;
	uint64_t n_steps = 0;

	if (p->info.frames > 1) {
		steps = calloc((size_t)p->info.frames - 1, sizeof(*steps));
		if (!steps)
			return -ENOMEM;
	}
	for (uint64_t i = 0; i < p->info.frames; i++) {
		struct dmapipe_recorded_frame f;
		struct format_run *fr;

		dmapipe_recording_get_frame(p->rec, i, &f);
		fr = format_of(p, &f, i);
		if (!fr) {
			free(steps);
			return -ENOMEM;
		}
		fr->frames++;
		if (f.flags & DMAPIPE_RECORDED_FORMAT_CHANGE && i > 0)
			p->format_changes++;
		if (f.flags & DMAPIPE_RECORDED_CHECKSUM)
			p->checksums++;
		if (i == 0) {
			p->first_seq = f.meta.sequence;
			p->first_ts = f.meta.timestamp_ns;
		} else if (f.meta.sequence <= p->last_seq) {
			p->restarts++; /* a producer that started again */
		} else {
			uint64_t d = f.meta.sequence - p->last_seq;

			if (d > 1) {
				if (p->n_gaps < MAX_GAPS)
					p->gaps[p->n_gaps] = (struct gap){ i, p->last_seq,
									   f.meta.sequence };
				p->n_gaps++;
				p->missing += d - 1;
			}
			if (f.meta.timestamp_ns > p->last_ts)
				steps[n_steps++] = (double)(f.meta.timestamp_ns - p->last_ts) /
						   (double)d;
		}
		p->last_seq = f.meta.sequence;
		p->last_ts = f.meta.timestamp_ns;
	}
	/* the median frame period: robust to the pauses and bursts of a real source */
	if (n_steps) {
		qsort(steps, (size_t)n_steps, sizeof(*steps), cmp_double);
		p->interval_ns = steps[n_steps / 2];
	}
	free(steps);
	return 0;
}

/* Reads the frames that carry a checksum and compares it. 0 or -ENOMEM. */
static int verify(struct probe *p)
{
	uint8_t *mem = NULL;
	size_t mem_size = 0;

	for (uint64_t i = 0; i < p->info.frames; i++) {
		struct dmapipe_recorded_frame f;
		int ret;

		dmapipe_recording_get_frame(p->rec, i, &f);
		if (!(f.flags & DMAPIPE_RECORDED_CHECKSUM))
			continue;
		if (frame_memory_reserve(&mem, &mem_size, f.size) < 0)
			return -ENOMEM;
		ret = dmapipe_recording_read_frame(p->rec, i, mem, mem_size);
		if (ret == 0)
			ret = dmapipe_recording_check_payload(p->rec, i, mem, mem_size);
		if (ret == -EBADMSG) {
			if (p->n_bad < MAX_BAD)
				p->bad_frames[p->n_bad] = i;
			p->n_bad++;
		} else if (ret < 0) {
			p->read_errors++;
		}
	}
	free(mem);
	return 0;
}

/* What is wrong with the file as a whole, or NULL. */
static const char *file_damage(const struct dmapipe_recording_info *info)
{
	if (info->damage & DMAPIPE_RECORDING_TRUNCATED)
		return "cut after it was closed: the file ends before its index";
	if (info->damage & DMAPIPE_RECORDING_INDEX_DAMAGED)
		return "its index is damaged";
	if (info->damage & DMAPIPE_RECORDING_SUPERBLOCK_DAMAGED)
		return "its superblock is damaged";
	return NULL;
}

/* For a document: "closed", "damaged", "not-closed". */
static const char *state_name(const struct dmapipe_recording_info *info)
{
	return info->closed ? "closed" : info->damage ? "damaged" : "not-closed";
}

static const char *state(const struct dmapipe_recording_info *info)
{
	if (info->closed)
		return "closed cleanly";
	if (info->damage)
		return "damaged: dmapipe record --repair keeps the frames left";
	return "not closed by its writer: dmapipe record --repair writes its index";
}

static double duration_s(const struct probe *p)
{
	if (!p->info.frames)
		return 0;
	/* the last frame lasts a period too */
	return ((double)(p->last_ts - p->first_ts) + p->interval_ns) * 1e-9;
}

/* The names of enum dmapipe_color_matrix ... dmapipe_field_order, by value (docs/JSON.md). */
static const char *const matrix_names[] = {
	"unknown", "rgb", "fcc", "bt709", "bt601", "smpte240m", "bt2020",
};
static const char *const transfer_names[] = {
	"unknown", "linear", "srgb", "bt709", "bt601", "smpte240m", "bt2020-10", "bt2020-12",
	"smpte2084", "arib-std-b67",
};
static const char *const primaries_names[] = {
	"unknown", "bt709", "bt470m", "bt470bg", "smpte170m", "smpte240m", "bt2020",
	"smpterp431", "smpteeg432",
};
static const char *const range_names[] = { "unknown", "full", "limited" };
static const char *const chroma_site_names[] = { "unknown", "mpeg2", "jpeg", "cosited", "dv" };
static const char *const interlace_names[] = {
	"unknown", "progressive", "interleaved", "mixed", "alternate",
};
static const char *const field_order_names[] = { "unknown", "top-first", "bottom-first" };

/* The library reads a value it does not know as unknown: anything else is this table's gap. */
#define NAME_OF(names, v) ((v) < sizeof(names) / sizeof((names)[0]) ? (names)[v] : "unknown")

static void json_format_info(struct json *j, const struct dmapipe_format_info *fi)
{
	json_u64(j, "par_num", fi->par_num);
	json_u64(j, "par_den", fi->par_num ? fi->par_den : 0);
	json_string(j, "matrix", NAME_OF(matrix_names, fi->matrix));
	json_string(j, "transfer", NAME_OF(transfer_names, fi->transfer));
	json_string(j, "primaries", NAME_OF(primaries_names, fi->primaries));
	json_string(j, "range", NAME_OF(range_names, fi->range));
	json_string(j, "chroma_site", NAME_OF(chroma_site_names, fi->chroma_site));
	json_string(j, "interlace", NAME_OF(interlace_names, fi->interlace));
	json_string(j, "field_order", NAME_OF(field_order_names, fi->field_order));
}

static void print_json(const struct probe *p)
{
	char fourcc[16];
	struct json j;

	json_begin_document(&j, false);
	json_string(&j, "file", p->file);
	json_u64(&j, "version", p->info.version);
	json_bool(&j, "closed", p->info.closed);
	json_bool(&j, "needs_repair", !p->info.closed);
	json_string(&j, "state", state_name(&p->info));
	json_string(&j, "damage", file_damage(&p->info) ? recording_damage(&p->info) : NULL);
	json_u64(&j, "file_size", p->info.file_size);
	json_u64(&j, "block_size", p->info.block_size);
	json_u64(&j, "created_ns", p->info.created_ns);
	json_u64(&j, "frames", p->info.frames);
	json_u64(&j, "frames_expected", p->info.frames_expected);
	json_begin_array(&j, "formats");
	for (uint32_t i = 0; i < p->n_formats; i++) {
		json_begin_object(&j, NULL);
		json_string(&j, "fourcc", dmapipe_fourcc_to_string(p->formats[i].format.fourcc,
								    fourcc, sizeof(fourcc)));
		json_u64(&j, "width", p->formats[i].format.width);
		json_u64(&j, "height", p->formats[i].format.height);
		json_u64(&j, "modifier", p->formats[i].format.modifier);
		json_u64(&j, "frames", p->formats[i].frames);
		json_u64(&j, "first_frame", p->formats[i].first);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_u64(&j, "format_changes", p->format_changes);
	if (p->info.frames) {
		json_u64(&j, "sequence_first", p->first_seq);
		json_u64(&j, "sequence_last", p->last_seq);
	} else {
		json_null(&j, "sequence_first");
		json_null(&j, "sequence_last");
	}
	if (p->interval_ns > 0)
		json_double(&j, "fps", 1e9 / p->interval_ns);
	else
		json_null(&j, "fps");
	json_u64(&j, "fps_nominal_num", p->info.fps_num);
	json_u64(&j, "fps_nominal_den", p->info.fps_den);
	json_format_info(&j, &p->format_info);
	json_double(&j, "duration_s", duration_s(p));
	json_u64(&j, "gaps", p->n_gaps);
	json_u64(&j, "frames_missing", p->missing);
	json_u64(&j, "sequence_restarts", p->restarts);
	json_begin_array(&j, "gap_list");
	for (uint64_t i = 0; i < p->n_gaps && i < MAX_GAPS; i++) {
		json_begin_object(&j, NULL);
		json_u64(&j, "frame", p->gaps[i].frame);
		json_u64(&j, "after_sequence", p->gaps[i].after);
		json_u64(&j, "sequence", p->gaps[i].next);
		json_u64(&j, "missing", p->gaps[i].next - p->gaps[i].after - 1);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_u64(&j, "frames_with_checksum", p->checksums);
	json_bool(&j, "checksums_compared", !p->headers_only);
	json_u64(&j, "checksum_failures", p->n_bad);
	json_begin_array(&j, "damaged_frames");
	for (uint64_t i = 0; i < p->n_bad && i < MAX_BAD; i++)
		json_u64(&j, NULL, p->bad_frames[i]);
	json_end_array(&j);
	json_u64(&j, "read_errors", p->read_errors);
	json_u64(&j, "bad_headers", p->info.bad_headers);
	json_u64(&j, "unconfirmed", p->info.unconfirmed);
	json_end_object(&j);
	json_finish(&j);
}

static void print_human(const struct probe *p)
{
	const struct dmapipe_recording_info *info = &p->info;
	const struct dmapipe_format_info *fi = &p->format_info;
	const char *damage = file_damage(info);
	char fourcc[16], when[64] = "unknown";
	time_t t = (time_t)(info->created_ns / 1000000000ull);
	struct tm tm;

	if (info->created_ns && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	printf("probe: %s\n", p->file);
	printf("  recording   version %u, %s\n", info->version, state(info));
	printf("  file        %llu bytes, block %u, created %s\n",
	       (unsigned long long)info->file_size, info->block_size, when);
	printf("  frames      %llu", (unsigned long long)info->frames);
	if (info->frames)
		printf(" (sequence %llu..%llu)", (unsigned long long)p->first_seq,
		       (unsigned long long)p->last_seq);
	printf(", %llu format change%s\n", (unsigned long long)p->format_changes,
	       p->format_changes == 1 ? "" : "s");
	for (uint32_t i = 0; i < p->n_formats; i++)
		printf("  format      %s %ux%u%s: %llu frames from frame %llu\n",
		       dmapipe_fourcc_to_string(p->formats[i].format.fourcc, fourcc, sizeof(fourcc)),
		       p->formats[i].format.width, p->formats[i].format.height,
		       p->formats[i].format.modifier ? " (tiled)" : "",
		       (unsigned long long)p->formats[i].frames,
		       (unsigned long long)p->formats[i].first);
	printf("  rate        ");
	if (p->interval_ns > 0)
		printf("%.3f fps measured (median frame period %.3f ms)", 1e9 / p->interval_ns,
		       p->interval_ns / 1e6);
	else
		printf("unknown (fewer than two frames)");
	if (info->fps_num && info->fps_den)
		printf(", nominal %u/%u", info->fps_num, info->fps_den);
	printf("\n  colour      matrix %s, transfer %s, primaries %s, range %s, chroma siting %s\n",
	       NAME_OF(matrix_names, fi->matrix), NAME_OF(transfer_names, fi->transfer),
	       NAME_OF(primaries_names, fi->primaries), NAME_OF(range_names, fi->range),
	       NAME_OF(chroma_site_names, fi->chroma_site));
	printf("  fields      %s", NAME_OF(interlace_names, fi->interlace));
	if (fi->field_order)
		printf(", %s", NAME_OF(field_order_names, fi->field_order));
	if (fi->par_num)
		printf("; pixel aspect ratio %u:%u", fi->par_num, fi->par_den);
	else
		printf("; pixel aspect ratio unknown");
	printf("\n  duration    %.3f s\n", duration_s(p));
	printf("  gaps        %llu, %llu frames missing", (unsigned long long)p->n_gaps,
	       (unsigned long long)p->missing);
	if (p->restarts)
		printf(", %llu sequence restarts", (unsigned long long)p->restarts);
	printf("\n");
	for (uint64_t i = 0; i < p->n_gaps && i < 10; i++)
		printf("              before frame %llu: sequence %llu -> %llu (%llu missing)\n",
		       (unsigned long long)p->gaps[i].frame, (unsigned long long)p->gaps[i].after,
		       (unsigned long long)p->gaps[i].next,
		       (unsigned long long)(p->gaps[i].next - p->gaps[i].after - 1));
	if (p->n_gaps > 10)
		printf("              ... (--json lists %llu)\n",
		       (unsigned long long)(p->n_gaps < MAX_GAPS ? p->n_gaps : MAX_GAPS));
	printf("  checksums   %llu of %llu frames%s\n", (unsigned long long)p->checksums,
	       (unsigned long long)info->frames,
	       !p->checksums ? " (damaged pixels cannot be found: dmapipe record --checksum)" :
	       p->headers_only ? " (not compared: --headers-only)" : ", compared");
	printf("  damage      ");
	if (!damage && !p->n_bad && !p->read_errors && !info->bad_headers)
		printf("none found");
	if (damage)
		printf("%s (%llu of %llu frames left) ", damage, (unsigned long long)info->frames,
		       (unsigned long long)info->frames_expected);
	if (p->n_bad) {
		printf("%llu frames fail their checksum (frame", (unsigned long long)p->n_bad);
		for (uint64_t i = 0; i < p->n_bad && i < 5; i++)
			printf(" %llu", (unsigned long long)p->bad_frames[i]);
		printf("%s) ", p->n_bad > 5 ? " ..." : "");
	}
	if (p->read_errors)
		printf("%llu frames unreadable ", (unsigned long long)p->read_errors);
	if (info->bad_headers)
		printf("%llu damaged frame headers skipped by the scan",
		       (unsigned long long)info->bad_headers);
	printf("\n");
	if (info->unconfirmed)
		printf("  unconfirmed %llu frames written after the last data barrier "
		       "(docs/FORMAT.md)\n", (unsigned long long)info->unconfirmed);
}

int cmd_probe(int argc, char **argv)
{
	struct probe p;
	bool damaged;
	int ret;

	memset(&p, 0, sizeof(p));
	parse_args(&p, argc, argv);
	p.rec = open_recording(p.file, 0, "(if its first block was damaged, dmapipe record "
			       "--repair recovers it from its frame headers)");
	if (!p.rec)
		return 1;
	dmapipe_recording_get_info(p.rec, &p.info);
	dmapipe_recording_get_format_info(p.rec, &p.format_info);
	ret = walk(&p);
	if (ret == 0 && !p.headers_only)
		ret = verify(&p);
	if (ret < 0) {
		tool_error(TOOL_OK, ret, "cannot probe %s", p.file);
		free(p.formats);
		dmapipe_recording_close(p.rec);
		return 1;
	}
	damaged = file_damage(&p.info) || p.n_bad || p.read_errors;
	if (file_damage(&p.info))
		tool_error(TOOL_ERR_DAMAGED, 0, "%s is damaged: %s", p.file, file_damage(&p.info));
	else if (p.n_bad)
		tool_error(TOOL_ERR_DAMAGED, 0, "%s is damaged: %llu frames fail their checksum",
			   p.file, (unsigned long long)p.n_bad);
	else if (p.read_errors)
		tool_error(TOOL_ERR_IO, 0, "%s: %llu frames could not be read", p.file,
			   (unsigned long long)p.read_errors);
	if (p.json)
		print_json(&p);
	else
		print_human(&p);
	free(p.formats);
	dmapipe_recording_close(p.rec);
	return damaged ? 1 : 0;
}
