/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsnnode's persisted set: round trips, generations, and every kind of
 * corruption refused as -EBADMSG.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "convert.h"
#include "store.h"

struct fixture {
	char dir[64];
	char path[128];
	char staged[128];
	struct vsn_store *store;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/vsn-store.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/" VSN_STORE_FILE, f->dir);
	snprintf(f->staged, sizeof(f->staged), "%s/" VSN_STORE_STAGED_FILE, f->dir);
	if (vsn_store_open(f->dir, &f->store))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	vsn_store_close(f->store);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

static void v4(struct vsn_addr *a, uint32_t host)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	for (int i = 0; i < 4; i++)
		a->bytes[i] = (uint8_t)(host >> (24 - 8 * i));
}

/* A small real set: two VIPs, one with client rules, two SLBs, one pool. */
static Vsn__PolicySet *make_msg(uint64_t generation)
{
	static struct vsn_dp_client clients[2];
	static struct vsn_dp_policy policies[2];
	static struct vsn_dp_slb slbs[2];
	static struct vsn_dp_pool_member members[2];
	static struct vsn_dp_pool pool;
	struct vsn_dp_set set;
	Vsn__PolicySet *msg;
	size_t bad = 0;

	v4(&clients[0].prefix, 0xc0a80000u);
	clients[0].plen = 16;
	clients[0].slb_id = 2;
	v4(&clients[1].prefix, 0xc0a80100u);
	clients[1].plen = 24;
	clients[1].pool_id = 1;
	v4(&policies[0].vip, 0x0a000001u);
	policies[0].proto = IPPROTO_TCP;
	policies[0].port = 80;
	policies[0].pool_id = 1;
	policies[0].n_clients = 2;
	policies[0].clients = clients;
	v4(&policies[1].vip, 0x0a000100u);
	policies[1].vip_plen = 24;
	policies[1].proto = IPPROTO_UDP;
	policies[1].port = 53;
	policies[1].slb_id = 1;
	for (uint32_t i = 0; i < 2; i++) {
		slbs[i].id = i + 1;
		v4(&slbs[i].addr, 0xc6336401u + i);
		slbs[i].forward = VSN_FORWARD_IPIP;
		members[i] = (struct vsn_dp_pool_member){.slb_id = i + 1, .weight = 10 + i};
	}
	pool = (struct vsn_dp_pool){.id = 1, .n_members = 2, .members = members};
	set = (struct vsn_dp_set){
		.generation = generation,
		.n_policies = 2,
		.policies = policies,
		.n_slbs = 2,
		.slbs = slbs,
		.n_pools = 1,
		.pools = &pool,
		.maglev_size = 251,
		.hash_seed = 7,
	};
	assert_int_equal(vsn_proto_set_to_msg(&set, &msg, &bad), 0);
	return msg;
}

static uint8_t *pack(const Vsn__PolicySet *msg, size_t *len)
{
	uint8_t *buf;

	*len = vsn__policy_set__get_packed_size(msg);
	buf = malloc(*len);
	assert_non_null(buf);
	vsn__policy_set__pack(msg, buf);
	return buf;
}

static void save_gen(struct fixture *f, uint64_t generation)
{
	Vsn__PolicySet *msg = make_msg(generation);

	assert_int_equal(vsn_store_save_msg(f->store, msg, 0), 0);
	vsn_proto_msg_free(msg);
}

static int load(struct fixture *f)
{
	uint64_t generation = 0;
	uint8_t *data = NULL;
	size_t len = 0;
	int err = vsn_store_load(f->store, &data, &len, &generation);

	free(data);
	return err;
}

/* Rewrite one byte of the file at path at off (from the end when negative). */
static void flip_file(const char *path, long off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	if (off < 0)
		off += lseek(fd, 0, SEEK_END);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x5a;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static void flip(struct fixture *f, long off)
{
	flip_file(f->path, off);
}

/* Stage the set of make_msg(generation); its bytes in *ret_data when wanted. */
static int stage_gen(struct fixture *f, uint64_t generation, uint8_t **ret_data, size_t *ret_len)
{
	Vsn__PolicySet *msg = make_msg(generation);
	size_t len;
	uint8_t *data = pack(msg, &len);
	int err = vsn_store_stage(f->store, data, len, generation);

	vsn_proto_msg_free(msg);
	if (ret_data) {
		*ret_data = data;
		*ret_len = len;
	} else {
		free(data);
	}
	return err;
}

/* The stored generation (and the stored bytes equal want, when given). */
static uint64_t stored_gen(struct fixture *f, const uint8_t *want, size_t want_len)
{
	uint64_t generation;
	uint8_t *data;
	size_t len;

	assert_int_equal(vsn_store_load(f->store, &data, &len, &generation), 0);
	if (want) {
		assert_int_equal(len, want_len);
		assert_memory_equal(data, want, len);
	}
	free(data);
	return generation;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	Vsn__PolicySet *msg = make_msg(42), *back;
	struct vsn_dp_set *set;
	uint64_t generation;
	size_t len, want_len, bad;
	uint8_t *data, *want = pack(msg, &want_len);
	struct stat st;

	assert_int_equal(vsn_store_save_msg(f->store, msg, 0), 0);
	assert_int_equal(vsn_store_load(f->store, &data, &len, &generation), 0);
	assert_int_equal(generation, 42);
	assert_int_equal(len, want_len);
	assert_memory_equal(data, want, len);

	back = vsn__policy_set__unpack(NULL, len, data);
	assert_non_null(back);
	assert_int_equal(vsn_proto_set_from_msg(back, &set, &bad), 0);
	assert_int_equal(set->generation, 42);
	assert_int_equal(set->n_policies, 2);
	assert_int_equal(set->policies[0].n_clients, 2);
	assert_int_equal(set->policies[0].clients[1].plen, 24);
	assert_int_equal(set->n_pools, 1);
	assert_int_equal(set->pools[0].members[1].weight, 11);
	vsn_proto_set_free(set);
	vsn__policy_set__free_unpacked(back, NULL);

	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, VSN_STORE_HEADER_LEN + want_len);
	free(data);
	free(want);
	vsn_proto_msg_free(msg);
}

static void test_nothing_stored(void **state)
{
	assert_int_equal(load(*state), -ENOENT);
}

static void test_newer_overwrites_stale_refused(void **state)
{
	struct fixture *f = *state;
	Vsn__PolicySet *msg = make_msg(5);
	uint64_t generation;
	uint8_t *data;
	size_t len;

	save_gen(f, 9);
	save_gen(f, 10);
	save_gen(f, 10); /* the same generation again is fine */
	assert_int_equal(vsn_store_save_msg(f->store, msg, 0), -ESTALE);
	assert_int_equal(vsn_store_load(f->store, &data, &len, &generation), 0);
	assert_int_equal(generation, 10);
	free(data);

	/* A new store on the same directory knows the stored generation from the file. */
	vsn_store_close(f->store);
	assert_int_equal(vsn_store_open(f->dir, &f->store), 0);
	assert_int_equal(vsn_store_save_msg(f->store, msg, 0), -ESTALE);
	assert_int_equal(vsn_store_save_msg(f->store, msg, VSN_STORE_FORCE), 0);
	assert_int_equal(vsn_store_load(f->store, &data, &len, &generation), 0);
	assert_int_equal(generation, 5);
	free(data);
	vsn_proto_msg_free(msg);
}

static void test_truncated(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	save_gen(f, 3);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(truncate(f->path, st.st_size - 1), 0);
	assert_int_equal(load(f), -EBADMSG);
	assert_int_equal(truncate(f->path, VSN_STORE_HEADER_LEN - 1), 0);
	assert_int_equal(load(f), -EBADMSG);
	assert_int_equal(truncate(f->path, 0), 0);
	assert_int_equal(load(f), -EBADMSG);
}

static void test_flipped_body(void **state)
{
	struct fixture *f = *state;

	save_gen(f, 3);
	flip(f, -1);
	assert_int_equal(load(f), -EBADMSG);
}

static void test_flipped_digest(void **state)
{
	struct fixture *f = *state;

	save_gen(f, 3);
	flip(f, 40);
	assert_int_equal(load(f), -EBADMSG);
}

static void test_flipped_generation(void **state)
{
	struct fixture *f = *state;

	save_gen(f, 3);
	flip(f, 23);
	assert_int_equal(load(f), -EBADMSG);
}

static void test_wrong_magic(void **state)
{
	struct fixture *f = *state;

	save_gen(f, 3);
	flip(f, 0);
	assert_int_equal(load(f), -EBADMSG);
}

static void test_corrupt_file_does_not_block_save(void **state)
{
	struct fixture *f = *state;

	save_gen(f, 8);
	flip(f, -1);
	vsn_store_close(f->store);
	assert_int_equal(vsn_store_open(f->dir, &f->store), 0);
	save_gen(f, 2);
	assert_int_equal(load(f), 0);
}

static void test_leftover_temp(void **state)
{
	struct fixture *f = *state;
	char tmp[160];
	uint64_t generation;
	uint8_t *data;
	size_t len;
	int fd;

	save_gen(f, 4);
	/* A crash between write and rename: a partial temp file beside the good one. */
	snprintf(tmp, sizeof(tmp), "%s/" VSN_STORE_TMP_PREFIX "%d", f->dir, 12345);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "VSNSET1\n\0\0", 10), 10);
	close(fd);
	assert_int_equal(vsn_store_load(f->store, &data, &len, &generation), 0);
	assert_int_equal(generation, 4);
	free(data);

	vsn_store_close(f->store);
	assert_int_equal(vsn_store_open(f->dir, &f->store), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(load(f), 0);
}

static void test_open_creates_dir(void **state)
{
	struct fixture *f = *state;
	struct vsn_store *s;
	char sub[128];
	struct stat st;

	snprintf(sub, sizeof(sub), "%s/state", f->dir);
	assert_int_equal(vsn_store_open(sub, &s), 0);
	assert_int_equal(stat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0077, 0);
	assert_int_equal(vsn_store_save(s, NULL, 0, 1, 0), 0);
	vsn_store_close(s);
	save_gen(f, 1);
	/* A file where the directory should be. */
	assert_int_equal(vsn_store_open(f->path, &s), -ENOTDIR);
}

static void test_commit_staged(void **state)
{
	struct fixture *f = *state;
	uint8_t *want;
	size_t want_len;
	struct stat st;

	save_gen(f, 3);
	assert_int_equal(stage_gen(f, 4, &want, &want_len), 0);
	/* Staged is not stored: a load, or a restart before the commit, gets the old set. */
	assert_int_equal(stored_gen(f, NULL, 0), 3);
	assert_int_equal(stat(f->staged, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, VSN_STORE_HEADER_LEN + want_len);

	assert_int_equal(vsn_store_commit_staged(f->store, 4), 0);
	/* The store knows the new generation without a load. */
	assert_int_equal(stage_gen(f, 3, NULL, NULL), -ESTALE);
	assert_int_equal(stored_gen(f, want, want_len), 4);
	assert_false(exists(f->staged));
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* Committed once only. */
	assert_int_equal(vsn_store_commit_staged(f->store, 4), -ENOENT);
	free(want);

	/* A reopened store loads the committed set. */
	vsn_store_close(f->store);
	assert_int_equal(vsn_store_open(f->dir, &f->store), 0);
	assert_int_equal(stored_gen(f, NULL, 0), 4);
}

static void test_commit_nothing_staged(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(vsn_store_commit_staged(f->store, 1), -ENOENT);
	save_gen(f, 2);
	assert_int_equal(vsn_store_commit_staged(f->store, 2), -ENOENT);
	assert_int_equal(stored_gen(f, NULL, 0), 2);
}

static void test_discard_staged(void **state)
{
	struct fixture *f = *state;
	Vsn__PolicySet *msg = make_msg(3);
	size_t want_len;
	uint8_t *want = pack(msg, &want_len);

	save_gen(f, 3);
	assert_int_equal(stage_gen(f, 4, NULL, NULL), 0);
	assert_true(exists(f->staged));
	assert_int_equal(vsn_store_discard_staged(f->store), 0);
	assert_false(exists(f->staged));
	assert_int_equal(stored_gen(f, want, want_len), 3);
	assert_int_equal(vsn_store_commit_staged(f->store, 4), -ENOENT);
	/* Nothing staged: discarding is still fine. */
	assert_int_equal(vsn_store_discard_staged(f->store), 0);
	assert_int_equal(stored_gen(f, want, want_len), 3);
	free(want);
	vsn_proto_msg_free(msg);
}

static void test_open_removes_staged(void **state)
{
	struct fixture *f = *state;

	save_gen(f, 3);
	assert_int_equal(stage_gen(f, 4, NULL, NULL), 0);
	/* A crash between prepare and commit; the restarted agent must not commit that set. */
	vsn_store_close(f->store);
	assert_true(exists(f->staged));
	assert_int_equal(vsn_store_open(f->dir, &f->store), 0);
	assert_false(exists(f->staged));
	assert_int_equal(vsn_store_commit_staged(f->store, 4), -ENOENT);
	assert_int_equal(stored_gen(f, NULL, 0), 3);
}

static void test_open_settles_staged_by_running_generation(void **state)
{
	struct fixture *f = *state;
	uint8_t *want;
	size_t want_len;

	save_gen(f, 3);
	assert_int_equal(stage_gen(f, 4, &want, &want_len), 0);
	/* A crash after a Commit's flip and Ack, before the rename: the forwarder runs 4. */
	vsn_store_close(f->store);
	assert_int_equal(vsn_store_open_running(f->dir, 4, &f->store), 0);
	assert_false(exists(f->staged));
	assert_int_equal(stored_gen(f, want, want_len), 4);
	free(want);
	/* A staged set the forwarder does not run was never committed: removed. */
	assert_int_equal(stage_gen(f, 5, NULL, NULL), 0);
	vsn_store_close(f->store);
	assert_int_equal(vsn_store_open_running(f->dir, 4, &f->store), 0);
	assert_false(exists(f->staged));
	assert_int_equal(stored_gen(f, NULL, 0), 4);
}

static void test_commit_generation_mismatch(void **state)
{
	struct fixture *f = *state;
	Vsn__PolicySet *msg = make_msg(3);
	size_t old_len;
	uint8_t *old = pack(msg, &old_len), *want;
	size_t want_len;

	save_gen(f, 3);
	assert_int_equal(stage_gen(f, 5, &want, &want_len), 0);
	assert_int_equal(vsn_store_commit_staged(f->store, 4), -ESTALE);
	assert_int_equal(vsn_store_commit_staged(f->store, 6), -ESTALE);
	/* Nothing changed: the old set stored, the staged one still staged. */
	assert_int_equal(stored_gen(f, old, old_len), 3);
	assert_true(exists(f->staged));
	assert_int_equal(vsn_store_commit_staged(f->store, 5), 0);
	assert_int_equal(stored_gen(f, want, want_len), 5);
	free(want);
	free(old);
	vsn_proto_msg_free(msg);
}

static void test_staged_generations_move_forward(void **state)
{
	struct fixture *f = *state;

	save_gen(f, 5);
	assert_int_equal(stage_gen(f, 4, NULL, NULL), -ESTALE);
	assert_false(exists(f->staged));
	assert_int_equal(stage_gen(f, 5, NULL, NULL), 0); /* the same generation again is fine */
	assert_int_equal(stage_gen(f, 6, NULL, NULL), 0); /* and replaces the staged set */
	assert_int_equal(vsn_store_commit_staged(f->store, 5), -ESTALE);
	/* A newer set saved after the stage: committing the staged one would go backwards. */
	save_gen(f, 7);
	assert_int_equal(vsn_store_commit_staged(f->store, 6), -ESTALE);
	assert_int_equal(stored_gen(f, NULL, 0), 7);

	/* Across a restart too: a new store reads the stored generation from the file. */
	vsn_store_close(f->store);
	assert_int_equal(vsn_store_open(f->dir, &f->store), 0);
	assert_int_equal(stage_gen(f, 6, NULL, NULL), -ESTALE);
	assert_int_equal(stage_gen(f, 8, NULL, NULL), 0);
	vsn_store_close(f->store);
	assert_int_equal(vsn_store_open(f->dir, &f->store), 0);
	assert_int_equal(stage_gen(f, 8, NULL, NULL), 0);
	assert_int_equal(vsn_store_commit_staged(f->store, 8), 0);
	assert_int_equal(stored_gen(f, NULL, 0), 8);
}

static void test_commit_corrupt_staged(void **state)
{
	struct fixture *f = *state;

	save_gen(f, 3);
	assert_int_equal(stage_gen(f, 4, NULL, NULL), 0);
	/* Commit checks the header (the digest is a load's job): a damaged magic. */
	flip_file(f->staged, 0);
	assert_int_equal(vsn_store_commit_staged(f->store, 4), -EBADMSG);
	assert_int_equal(stored_gen(f, NULL, 0), 3);
	assert_int_equal(vsn_store_discard_staged(f->store), 0);
	assert_false(exists(f->staged));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_stored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_overwrites_stale_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_digest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_generation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_magic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_file_does_not_block_save, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_leftover_temp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_creates_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_staged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_nothing_staged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard_staged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_removes_staged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_settles_staged_by_running_generation, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_commit_generation_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_staged_generations_move_forward, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_commit_corrupt_staged, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
