/* SPDX-License-Identifier: MIT */
/*
 * dmapipe record --check and --repair: they read a recording someone
 * wrote (its checksums, the test pattern, its index) instead of writing
 * one, and share nothing with the recording loop but the command line.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

/* What the help of --check says of a recording whose first block is gone. */
#define REPAIR_HINT "(if its first block was damaged, dmapipe record --repair recovers it " \
	"from its frame headers)"

static int check_frame(const struct dmapipe_recorded_frame *f, uint8_t *mem, enum verify_mode mode)
{
	uint8_t *planes[DMAPIPE_MAX_PLANES] = { NULL };
	uint64_t stamp;
	int ret;

	for (unsigned int p = 0; p < f->layout.n_planes; p++)
		planes[p] = mem + f->object_offset[f->layout.planes[p].object] +
			    f->layout.planes[p].offset;
	if (mode == VERIFY_FULL)
		return dmapipe_pattern_check(&f->layout, planes, f->meta.sequence, NULL, NULL);
	ret = dmapipe_pattern_read_stamp(&f->layout, planes, &stamp);
	if (ret == 0 && stamp != f->meta.sequence)
		ret = -EILSEQ;
	return ret;
}

/* What is wrong with a recording as a whole, for a person; NULL when nothing. */
static const char *damage_text(const struct dmapipe_recording_info *info)
{
	if (info->damage & DMAPIPE_RECORDING_TRUNCATED)
		return "closed by its writer, but the file ends before its index: it was cut "
		       "after it was closed";
	if (info->damage & DMAPIPE_RECORDING_INDEX_DAMAGED)
		return "closed by its writer, but its index is damaged";
	if (info->damage & DMAPIPE_RECORDING_SUPERBLOCK_DAMAGED)
		return "its superblock is damaged (rebuilt from the frame headers)";
	if (info->frames < info->frames_expected)
		return "frames its writer recorded are missing";
	return NULL;
}

static void print_info_json(struct json *j, const struct dmapipe_recording_info *info)
{
	json_u64(j, "frames", info->frames);
	json_u64(j, "frames_expected", info->frames_expected);
	json_bool(j, "closed", info->closed);
	json_bool(j, "scanned", info->scanned);
	json_bool(j, "repaired", info->repaired);
	json_string(j, "damage", recording_damage(info));
	json_u64(j, "unconfirmed", info->unconfirmed);
	json_u64(j, "bad_headers", info->bad_headers);
	json_u64(j, "layouts", info->layouts);
	json_u64(j, "version", info->version);
	json_u64(j, "block_size", info->block_size);
	json_u64(j, "file_size", info->file_size);
	json_u64(j, "data_end", info->data_end);
	json_bool(j, "direct", info->direct);
}

/* What --check found. */
struct check {
	uint64_t by_checksum, by_pattern; /* frames that passed each kind of check */
	uint64_t verified, failed, unchecked, read_errors, gaps, changes;
	uint64_t failed_checksum; /* of the failed: their bytes differ from their checksum */
	uint64_t first_seq, last_seq;
};

/*
 * Frame @i read into @mem: its checksum when it has one, the pattern when
 * @mode (after auto) asks for it. Returns false if a check failed.
 */
static bool check_one(struct record *r, struct check *c, struct dmapipe_recording *rc, uint64_t i,
		      const struct dmapipe_recorded_frame *f, uint8_t *mem, size_t len)
{
	enum verify_mode mode = verify_frame_mode(r->verify, f->meta.flags);
	int sum = dmapipe_recording_check_payload(rc, i, mem, len);
	const char *why = NULL;
	int ret;

	if (sum == 0) {
		c->by_checksum++;
	} else if (sum == -EBADMSG) {
		why = "its bytes differ from the checksum recorded with them: the file is damaged";
		c->failed_checksum++;
	}
	if (!why && mode != VERIFY_NONE) {
		ret = check_frame(f, mem, mode);
		if (ret == 0)
			c->by_pattern++;
		else
			why = ret == -EILSEQ ? "pixel data differs from the pattern" :
			      "no pattern for this format";
	}
	if (why) {
		c->failed++;
		if (!r->quiet && c->failed <= 5)
			fprintf(stderr, "record: frame %llu (sequence %llu) FAILED: %s\n",
				(unsigned long long)i, (unsigned long long)f->meta.sequence, why);
		return false;
	}
	if (sum == 0 || mode != VERIFY_NONE)
		c->verified++;
	else
		c->unchecked++; /* no checksum, not the pattern: nothing to compare with */
	return true;
}

int record_check(struct record *r)
{
	struct dmapipe_recording *rc = open_recording(r->check, 0, REPAIR_HINT);
	struct dmapipe_recording_info info;
	struct check c = { 0 };
	uint64_t t0 = now_ns();
	uint8_t *mem = NULL;
	size_t mem_size = 0;
	const char *damage;
	double elapsed;
	bool ok;

	if (!rc)
		return 1;
	dmapipe_recording_get_info(rc, &info);
	for (uint64_t i = 0; i < info.frames; i++) {
		struct dmapipe_recorded_frame f;
		int ret;

		dmapipe_recording_get_frame(rc, i, &f);
		if (i == 0)
			c.first_seq = f.meta.sequence;
		else if (f.meta.sequence > c.last_seq + 1)
			c.gaps += f.meta.sequence - c.last_seq - 1;
		c.last_seq = f.meta.sequence;
		if (f.flags & DMAPIPE_RECORDED_FORMAT_CHANGE)
			c.changes++;
		if (r->verify == VERIFY_NONE)
			continue;
		if (frame_memory_reserve(&mem, &mem_size, f.size) < 0) {
			tool_error(TOOL_ERR_NO_MEMORY, 0, "no memory for a frame of %llu bytes",
				   (unsigned long long)f.size);
			dmapipe_recording_close(rc);
			return 1;
		}
		ret = dmapipe_recording_read_frame(rc, i, mem, mem_size);
		if (ret == -EBADMSG) {
			/* a grouped packet is checked as it is read: damage, not a read error */
			c.failed++;
			c.failed_checksum++;
			if (!r->quiet && c.failed <= 5)
				fprintf(stderr, "record: frame %llu (sequence %llu) FAILED: its bytes "
					"differ from the checksum recorded with them: the file is "
					"damaged\n", (unsigned long long)i,
					(unsigned long long)f.meta.sequence);
			continue;
		}
		if (ret < 0) {
			c.read_errors++;
			if (!r->quiet)
				fprintf(stderr, "record: frame %llu (sequence %llu): read failed: %s\n",
					(unsigned long long)i, (unsigned long long)f.meta.sequence,
					strerror(-ret));
			continue;
		}
		check_one(r, &c, rc, i, &f, mem, mem_size);
	}
	free(mem);
	elapsed = (double)(now_ns() - t0) * 1e-9;
	damage = damage_text(&info);
	ok = c.failed == 0 && c.read_errors == 0 && !damage;
	if (damage)
		tool_error(TOOL_ERR_DAMAGED, 0, "%s is damaged: %s", r->check, damage);
	else if (c.failed)
		tool_error(c.failed_checksum ? TOOL_ERR_DAMAGED : TOOL_ERR_VERIFY, 0,
			   "%s: %llu frames failed the check (%llu against their checksum)",
			   r->check, (unsigned long long)c.failed,
			   (unsigned long long)c.failed_checksum);
	else if (c.read_errors)
		tool_error(TOOL_ERR_IO, 0, "%s: %llu frames could not be read", r->check,
			   (unsigned long long)c.read_errors);

	if (r->json) {
		struct json j;

		json_begin_document(&j, false);
		json_string(&j, "mode", "check");
		json_string(&j, "file", r->check);
		print_info_json(&j, &info);
		json_string(&j, "verify", verify_names[r->verify]);
		json_u64(&j, "frames_verified", c.verified);
		json_u64(&j, "frames_verified_checksum", c.by_checksum);
		json_u64(&j, "frames_verified_pattern", c.by_pattern);
		json_u64(&j, "frames_failed", c.failed);
		json_u64(&j, "frames_not_checked", c.unchecked);
		json_u64(&j, "read_errors", c.read_errors);
		json_u64(&j, "format_changes", c.changes);
		json_u64(&j, "sequence_gaps", c.gaps);
		if (info.frames) {
			json_u64(&j, "sequence_first", c.first_seq);
			json_u64(&j, "sequence_last", c.last_seq);
		} else {
			json_null(&j, "sequence_first");
			json_null(&j, "sequence_last");
		}
		json_double(&j, "elapsed_s", elapsed);
		json_end_object(&j);
		json_finish(&j);
	} else {
		printf("record --check: %s: %s\n", r->check, ok ? "ok" : "FAILED");
		if (damage)
			printf("  DAMAGED     %s: %llu of the %llu frames it recorded are left "
			       "(--repair keeps them)\n", damage, (unsigned long long)info.frames,
			       (unsigned long long)info.frames_expected);
		printf("  state       %s%s%s\n", info.closed ? "closed" : "not closed by its writer",
		       info.scanned ? ", scanned" : "",
		       info.scanned && info.unconfirmed ?
		       " (some frames after the last barrier: see docs/FORMAT.md)" : "");
		printf("  frames      %llu (sequence %llu..%llu, %llu missing), %llu format changes\n",
		       (unsigned long long)info.frames, (unsigned long long)c.first_seq,
		       (unsigned long long)c.last_seq, (unsigned long long)c.gaps,
		       (unsigned long long)c.changes);
		printf("  verified    %llu (%llu by their checksum, %llu as the test pattern; "
		       "--verify %s), %llu failed, %llu read errors\n",
		       (unsigned long long)c.verified, (unsigned long long)c.by_checksum,
		       (unsigned long long)c.by_pattern, verify_names[r->verify],
		       (unsigned long long)c.failed, (unsigned long long)c.read_errors);
		if (c.unchecked)
			printf("  not checked %llu frames: no checksum and not the test pattern, so "
			       "damaged pixels cannot be found (dmapipe record --checksum records "
			       "checksums)\n", (unsigned long long)c.unchecked);
		if (info.scanned)
			printf("  scan        %llu unconfirmed, %llu damaged headers\n",
			       (unsigned long long)info.unconfirmed,
			       (unsigned long long)info.bad_headers);
		printf("  read        %.2f s, %s\n", elapsed, info.direct ? "O_DIRECT" : "buffered");
	}
	dmapipe_recording_close(rc);
	return ok ? 0 : 1;
}

int record_repair(struct record *r)
{
	struct dmapipe_recording *rc = open_recording(r->repair, DMAPIPE_RECORDING_REPAIR,
						      "(no superblock and no frame header found)");
	struct dmapipe_recording_info info;

	if (!rc)
		return 1;
	dmapipe_recording_get_info(rc, &info);
	if (r->json) {
		struct json j;

		json_begin_document(&j, false);
		json_string(&j, "mode", "repair");
		json_string(&j, "file", r->repair);
		print_info_json(&j, &info);
		json_end_object(&j);
		json_finish(&j);
	} else if (info.repaired) {
		printf("record --repair: %s: %llu frames recovered and indexed (%llu unconfirmed, "
		       "%llu damaged headers)\n", r->repair, (unsigned long long)info.frames,
		       (unsigned long long)info.unconfirmed, (unsigned long long)info.bad_headers);
		if (info.damage & DMAPIPE_RECORDING_SUPERBLOCK_DAMAGED)
			printf("  the superblock was damaged: rebuilt from the frame headers\n");
		if (info.frames < info.frames_expected)
			printf("  its writer recorded %llu frames: %llu were lost with the part of the "
			       "file that is missing or damaged\n",
			       (unsigned long long)info.frames_expected,
			       (unsigned long long)(info.frames_expected - info.frames));
	} else {
		printf("record --repair: %s: closed cleanly, %llu frames: nothing to repair\n",
		       r->repair, (unsigned long long)info.frames);
	}
	dmapipe_recording_close(rc);
	return 0;
}
