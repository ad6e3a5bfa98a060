/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The policy names (lib/stream/policy.c): every spelling the command line
 * takes is read as it was before the parser moved into the library, every
 * other one is refused without touching the outputs, and the printer
 * names what the parser reads.
 */
#include <errno.h>

#include "private.h"
#include "testlib.h"

static void expect_policy(const char *s, enum dmapipe_policy want, uint32_t want_depth)
{
	enum dmapipe_policy p = 0;
	uint32_t depth = 99;

	check_msg(dmapipe_policy_from_string(s, &p, &depth) == 0, "'%s' refused", s);
	check_msg(p == want && depth == want_depth, "'%s': policy %d depth %u", s, p, depth);
	/* the printer names what was read: the string up to its depth */
	check(strncmp(s, dmapipe_policy_to_string(p), strlen(dmapipe_policy_to_string(p))) == 0);
}

static void expect_refused(const char *s, int err)
{
	enum dmapipe_policy p = 77;
	uint32_t depth = 99;

	check_msg(dmapipe_policy_from_string(s, &p, &depth) == err, "'%s' not refused with %d", s,
		  err);
	check_msg(p == 77 && depth == 99, "'%s' refused but wrote its outputs", s);
}

static void test_policy(void)
{
	/* latest keeps one frame: the depth is not its business */
	expect_policy("latest", DMAPIPE_POLICY_LATEST, 99);
	expect_policy("queue", DMAPIPE_POLICY_QUEUE, 4);
	expect_policy("block", DMAPIPE_POLICY_BLOCK, 4);
	expect_policy("queue:1", DMAPIPE_POLICY_QUEUE, 1);
	expect_policy("block:64", DMAPIPE_POLICY_BLOCK, 64);
	expect_policy("queue:08", DMAPIPE_POLICY_QUEUE, 8);

	expect_refused("sometimes", -EINVAL);
	expect_refused("", -EINVAL);
	expect_refused("latest:2", -EINVAL);
	expect_refused("Latest", -EINVAL);
	expect_refused("queues:2", -EINVAL);
	expect_refused("que:2", -EINVAL);
	expect_refused("queue:0", -ERANGE);
	expect_refused("queue:65", -ERANGE);
	expect_refused("block:", -ERANGE);
	expect_refused("block:-1", -ERANGE);
	expect_refused("block:+4", -ERANGE);
	expect_refused("block:4 ", -ERANGE);
	expect_refused("block:4:4", -ERANGE);
	expect_refused("queue:99999999999999999999", -ERANGE);
	check_int_eq(dmapipe_policy_from_string(NULL, &(enum dmapipe_policy){ 0 }, &(uint32_t){ 0 }),
		     -EINVAL);

	check(strcmp(dmapipe_policy_to_string(DMAPIPE_POLICY_LATEST), "latest") == 0);
	check(strcmp(dmapipe_policy_to_string(DMAPIPE_POLICY_QUEUE), "queue") == 0);
	check(strcmp(dmapipe_policy_to_string(DMAPIPE_POLICY_BLOCK), "block") == 0);
	check(strcmp(dmapipe_policy_to_string(0), "unknown") == 0);
	check(strcmp(dmapipe_policy_to_string(4), "unknown") == 0);
	test_pass("policy names: latest, queue[:N], block[:N]; everything else refused");
}

static void test_peer_policy(void)
{
	enum dmapipe_peer_policy p;
	uid_t uid = 7;
	gid_t gid = 8;

	check_int_eq(dmapipe_peer_policy_from_string("same-uid", &p, &uid, &gid), 0);
	check(p == DMAPIPE_PEER_SAME_UID && uid == 7 && gid == 8);
	check_int_eq(dmapipe_peer_policy_from_string("any", &p, &uid, &gid), 0);
	check(p == DMAPIPE_PEER_ANY && uid == 7 && gid == 8);
	check_int_eq(dmapipe_peer_policy_from_string("uid:1000", &p, &uid, &gid), 0);
	check(p == DMAPIPE_PEER_UID && uid == 1000 && gid == 8);
	check_int_eq(dmapipe_peer_policy_from_string("gid:0", &p, &uid, &gid), 0);
	check(p == DMAPIPE_PEER_GID && uid == 1000 && gid == 0);
	check_int_eq(dmapipe_peer_policy_from_string("uid:4294967295", &p, &uid, &gid), 0);
	check(uid == (uid_t)4294967295u);

	p = DMAPIPE_PEER_ANY;
	uid = 7;
	gid = 8;
	for (const char *const *s = (const char *const[]){ "uid:abc", "uid:", "gid:-1", "uid:4294967296",
							    "same", "ANY", "uid", "user:5", "",
							    NULL }; *s; s++) {
		check_msg(dmapipe_peer_policy_from_string(*s, &p, &uid, &gid) == -EINVAL,
			  "'%s' not refused", *s);
		check_msg(p == DMAPIPE_PEER_ANY && uid == 7 && gid == 8, "'%s' wrote its outputs", *s);
	}
	check_int_eq(dmapipe_peer_policy_from_string(NULL, &p, &uid, &gid), -EINVAL);
	test_pass("peer policy names: same-uid, any, uid:N, gid:N; everything else refused");
}

int main(void)
{
	test_policy();
	test_peer_policy();
	return 0;
}
