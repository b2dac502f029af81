/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's persisted set: the last PolicySet it accepted, in
 * STATE_DIR/policyset.pb, so that a node restarted with nothing running and
 * no controller reachable forwards at once (docs/node.md, "Persisted set").
 *
 * The file is replaced atomically (temp file in the same directory, fsync,
 * rename, fsync of the directory): a reader sees the old set or the new one,
 * never a part of either. A header with a SHA-256 makes any corruption a
 * clean -EBADMSG rather than a wrong set.
 */
#ifndef VSN_NODE_STORE_H
#define VSN_NODE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "vsn.pb-c.h"

#define VSN_STORE_FILE "policyset.pb"
/* A set staged by vsn_store_stage(), same format; vsn_store_open() removes it. */
#define VSN_STORE_STAGED_FILE "policyset.pb.prepared"
/* Temp files are VSN_STORE_TMP_PREFIX + pid; vsn_store_open() removes any left over. */
#define VSN_STORE_TMP_PREFIX "policyset.pb.tmp."
#define VSN_STORE_MAGIC "VSNSET1\n"
#define VSN_STORE_VERSION 1u
#define VSN_STORE_HEADER_LEN 64u

/* vsn_store_save() flags. */
enum {
	/* Save even a generation lower than the stored one (the agent restoring). */
	VSN_STORE_FORCE = 1u << 0,
};

struct vsn_store;

/*
 * Open the store in state_dir, creating that directory (one level, mode 0700)
 * when missing, and remove temp files and a staged set a crash left behind
 * (that set's two-phase apply was aborted). -ENOTDIR, -ENOMEM, or the errno
 * of mkdir/open/unlink.
 */
int vsn_store_open(const char *state_dir, struct vsn_store **ret_store);
/*
 * vsn_store_open() for the agent, which knows the generation its forwarder runs: a staged set
 * of exactly that generation was committed (the forwarder runs it; the agent acknowledges a
 * Commit before the rename) and becomes the stored set; any other staged set is removed.
 */
int vsn_store_open_running(const char *state_dir, uint64_t running_generation,
			   struct vsn_store **ret_store);
void vsn_store_close(struct vsn_store *store);

/*
 * Replace the stored set by len serialized PolicySet bytes of this
 * generation, durably, mode 0600. Unless flags has VSN_STORE_FORCE, a
 * generation lower than the stored one is -ESTALE (an equal one is saved
 * again); a stored file that does not verify does not block the save.
 * On failure the previous file stays as it was. -ENOMEM, -EIO or the errno
 * of the failed call.
 */
int vsn_store_save(struct vsn_store *store, const uint8_t *data, size_t len, uint64_t generation,
		   unsigned int flags);

/* Serialize msg and save it with its own generation, as vsn_store_save(). */
int vsn_store_save_msg(struct vsn_store *store, const Vsn__PolicySet *msg, unsigned int flags);

/*
 * Two-phase apply. Stage: write len serialized PolicySet bytes of this
 * generation to STATE_DIR/VSN_STORE_STAGED_FILE, replacing any staged set,
 * with the format and durability of vsn_store_save(); the stored set is not
 * touched. A generation lower than the stored one is -ESTALE. Errors as
 * vsn_store_save().
 */
int vsn_store_stage(struct vsn_store *store, const uint8_t *data, size_t len, uint64_t generation);

/*
 * Make the staged set the stored one: check its header and size (not its
 * digest: this is the quick step of a two-phase apply, and a load checks the
 * digest), rename it over VSN_STORE_FILE atomically and sync the directory.
 * -ENOENT: nothing staged. -ESTALE: the staged set is not of this
 * generation, or is of one lower than the stored one. -EBADMSG: the staged
 * file's header or size is wrong (discard it).
 * On any of these nothing changes, and the staged set stays staged.
 */
int vsn_store_commit_staged(struct vsn_store *store, uint64_t generation);

/* Remove the staged set, if any (0 when there is none); the stored set stays. */
int vsn_store_discard_staged(struct vsn_store *store);

/*
 * Read and verify the stored set: the serialized PolicySet in *ret_data
 * (malloc'd, free() it; never NULL, even for 0 bytes), its length and
 * generation. -ENOENT: nothing stored. -EBADMSG: the file is corrupt (short,
 * too long, wrong magic or version, digest mismatch); the caller starts
 * empty. -ENOMEM, -EIO or the errno of open/read. Outputs untouched on failure.
 */
int vsn_store_load(struct vsn_store *store, uint8_t **ret_data, size_t *ret_len,
		   uint64_t *ret_generation);

#endif /* VSN_NODE_STORE_H */
