/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The persisted set. File layout (integers big-endian), docs/node.md:
 *
 *   0  magic "VSNSET1\n"    8  format version (u32)   12 flags (u32, 0)
 *   16 generation (u64)     24 body length (u64)
 *   32 SHA-256 of bytes 0..31 followed by the body
 *   64 body: the serialized PolicySet
 *
 * The digest covers the header's fields too, so a flipped generation or
 * length is caught like a flipped body byte. A staged set (two-phase apply)
 * is a second file of the same format, renamed over the first on commit.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "chunk.h"
#include "store.h"

struct vsn_store {
	int dirfd;
	/* The stored generation, once known (after a load or a save). */
	bool known;
	uint64_t generation;
};

_Static_assert(sizeof(VSN_STORE_MAGIC) - 1 == 8, "magic is 8 bytes");
_Static_assert(32 + VSN_SHA256_LEN == VSN_STORE_HEADER_LEN, "header layout");

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* SHA-256 of the header's first 32 bytes, then the body, into hdr[32..63]. */
static int digest(const uint8_t *hdr, const uint8_t *body, size_t len, uint8_t out[VSN_SHA256_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int err = -EIO;

	if (!md)
		return -ENOMEM;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(md, hdr, 32) == 1 &&
	    EVP_DigestUpdate(md, body, len) == 1 && EVP_DigestFinal_ex(md, out, NULL) == 1)
		err = 0;
	EVP_MD_CTX_free(md);
	return err;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read exactly len bytes; a file that ends first is -EBADMSG (truncated). */
static int read_all(int fd, uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EBADMSG;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int remove_temps(int dirfd)
{
	int fd = dup(dirfd);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, VSN_STORE_TMP_PREFIX, strlen(VSN_STORE_TMP_PREFIX)))
			unlinkat(dirfd, de->d_name, 0);
	closedir(d);
	return 0;
}

static int remove_staged(int dirfd)
{
	if (unlinkat(dirfd, VSN_STORE_STAGED_FILE, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int read_file(struct vsn_store *store, const char *name, uint8_t **ret_data, size_t *ret_len,
		     uint64_t *ret_generation);
static int sync_dir(struct vsn_store *store);

/*
 * A staged set a crash left behind: the one the forwarder runs was committed and acknowledged
 * before it was renamed (the agent answers Commit first), so it becomes the stored set; any
 * other was prepared and never committed, so nothing may ever commit it.
 */
static int settle_staged(struct vsn_store *s, uint64_t running)
{
	uint64_t staged;
	size_t len;

	if (running && !read_file(s, VSN_STORE_STAGED_FILE, NULL, &len, &staged) &&
	    staged == running) {
		if (renameat(s->dirfd, VSN_STORE_STAGED_FILE, s->dirfd, VSN_STORE_FILE) < 0)
			return -errno;
		return sync_dir(s);
	}
	return remove_staged(s->dirfd);
}

int vsn_store_open(const char *state_dir, struct vsn_store **ret_store)
{
	return vsn_store_open_running(state_dir, 0, ret_store);
}

int vsn_store_open_running(const char *state_dir, uint64_t running_generation,
			   struct vsn_store **ret_store)
{
	struct vsn_store *s;
	int err;

	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		err = -errno;
		goto out;
	}
	err = remove_temps(s->dirfd);
	if (!err)
		err = settle_staged(s, running_generation);
	if (err)
		goto out;
	*ret_store = s;
	return 0;
out:
	vsn_store_close(s);
	return err;
}

void vsn_store_close(struct vsn_store *store)
{
	if (!store)
		return;
	if (store->dirfd >= 0)
		close(store->dirfd);
	free(store);
}

/*
 * Read and verify the file called name in the state directory, as vsn_store_load(). With
 * ret_data NULL, only its header and size: enough for a file this process wrote and synced.
 */
static int read_file(struct vsn_store *store, const char *name, uint8_t **ret_data, size_t *ret_len,
		     uint64_t *ret_generation)
{
	uint8_t hdr[VSN_STORE_HEADER_LEN], sum[VSN_SHA256_LEN];
	uint8_t *body = NULL;
	uint64_t len, generation;
	struct stat st;
	int fd, err;

	fd = openat(store->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	err = -EBADMSG;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < VSN_STORE_HEADER_LEN)
		goto out;
	err = read_all(fd, hdr, sizeof(hdr));
	if (err)
		goto out;
	len = get_be(hdr + 24, 8);
	generation = get_be(hdr + 16, 8);
	err = -EBADMSG;
	/* The length must account for the whole file: truncation or a tail is corruption. */
	if (memcmp(hdr, VSN_STORE_MAGIC, 8) || get_be(hdr + 8, 4) != VSN_STORE_VERSION ||
	    get_be(hdr + 12, 4) != 0 || len != (uint64_t)st.st_size - VSN_STORE_HEADER_LEN)
		goto out;
	if (!ret_data) {
		*ret_generation = generation;
		err = 0;
		goto out;
	}
	if (len > SIZE_MAX - 1) {
		err = -ENOMEM;
		goto out;
	}
	body = malloc(len ? len : 1);
	if (!body) {
		err = -ENOMEM;
		goto out;
	}
	err = read_all(fd, body, len);
	if (err)
		goto out;
	err = digest(hdr, body, len, sum);
	if (err)
		goto out;
	if (CRYPTO_memcmp(sum, hdr + 32, VSN_SHA256_LEN)) {
		err = -EBADMSG;
		goto out;
	}
	*ret_data = body;
	*ret_len = len;
	*ret_generation = generation;
	body = NULL;
out:
	free(body);
	close(fd);
	return err;
}

int vsn_store_load(struct vsn_store *store, uint8_t **ret_data, size_t *ret_len,
		   uint64_t *ret_generation)
{
	int err = read_file(store, VSN_STORE_FILE, ret_data, ret_len, ret_generation);

	if (!err) {
		store->known = true;
		store->generation = *ret_generation;
	}
	return err;
}

/* The stored generation, verifying the file once; false when none verifies. */
static bool stored_generation(struct vsn_store *store, uint64_t *ret)
{
	uint64_t generation;
	uint8_t *data;
	size_t len;

	if (!store->known && vsn_store_load(store, &data, &len, &generation) == 0)
		free(data);
	if (store->known)
		*ret = store->generation;
	return store->known;
}

/*
 * Write header and body to a temp file, make it durable and rename it to
 * name: a reader of name finds the previous file or this one, whole. The
 * rename is durable once the caller has synced the directory (sync_dir()).
 */
static int write_file(struct vsn_store *store, const char *name, const uint8_t *data, size_t len,
		      uint64_t generation)
{
	uint8_t hdr[VSN_STORE_HEADER_LEN] = {0};
	char tmp[sizeof(VSN_STORE_TMP_PREFIX) + 16];
	int fd, err;

	memcpy(hdr, VSN_STORE_MAGIC, 8);
	put_be(hdr + 8, VSN_STORE_VERSION, 4);
	put_be(hdr + 16, generation, 8);
	put_be(hdr + 24, len, 8);
	err = digest(hdr, data, len, hdr + 32);
	if (err)
		return err;

	/* One writer per process: a temp file of this pid is a leftover of ours. */
	snprintf(tmp, sizeof(tmp), VSN_STORE_TMP_PREFIX "%ld", (long)getpid());
	unlinkat(store->dirfd, tmp, 0);
	fd = openat(store->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* The umask may only have narrowed 0600; the mode is exact either way. */
	if (fchmod(fd, 0600) < 0) {
		err = -errno;
		goto out;
	}
	err = write_all(fd, hdr, sizeof(hdr));
	if (!err)
		err = write_all(fd, data, len);
	if (err)
		goto out;
	if (fsync(fd) < 0) {
		err = -errno;
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		err = -errno;
		goto out;
	}
	fd = -1;
	if (renameat(store->dirfd, tmp, store->dirfd, name) < 0) {
		err = -errno;
		goto out;
	}
	return 0;
out:
	if (fd >= 0)
		close(fd);
	unlinkat(store->dirfd, tmp, 0);
	return err;
}

/* A rename is durable only once the directory is. */
static int sync_dir(struct vsn_store *store)
{
	return fsync(store->dirfd) < 0 ? -errno : 0;
}

int vsn_store_save(struct vsn_store *store, const uint8_t *data, size_t len, uint64_t generation,
		   unsigned int flags)
{
	uint64_t stored;
	int err;

	if (!(flags & VSN_STORE_FORCE) && stored_generation(store, &stored) && generation < stored)
		return -ESTALE;
	err = write_file(store, VSN_STORE_FILE, data, len, generation);
	if (err)
		return err;
	store->known = true;
	store->generation = generation;
	return sync_dir(store);
}

int vsn_store_stage(struct vsn_store *store, const uint8_t *data, size_t len, uint64_t generation)
{
	uint64_t stored;
	int err;

	if (stored_generation(store, &stored) && generation < stored)
		return -ESTALE;
	err = write_file(store, VSN_STORE_STAGED_FILE, data, len, generation);
	return err ? err : sync_dir(store);
}

int vsn_store_commit_staged(struct vsn_store *store, uint64_t generation)
{
	uint64_t staged, stored;
	size_t len;
	int err;

	/*
	 * The header and the size only: this process wrote and synced the file moments ago,
	 * and a commit must be quick whatever the set's size (nodes switch together). A
	 * file damaged later is caught by its digest when it is loaded.
	 */
	err = read_file(store, VSN_STORE_STAGED_FILE, NULL, &len, &staged);
	if (err)
		return err;
	if (staged != generation || (stored_generation(store, &stored) && staged < stored))
		return -ESTALE;
	if (renameat(store->dirfd, VSN_STORE_STAGED_FILE, store->dirfd, VSN_STORE_FILE) < 0)
		return -errno;
	store->known = true;
	store->generation = staged;
	return sync_dir(store);
}

int vsn_store_discard_staged(struct vsn_store *store)
{
	return remove_staged(store->dirfd);
}

int vsn_store_save_msg(struct vsn_store *store, const Vsn__PolicySet *msg, unsigned int flags)
{
	size_t len = vsn__policy_set__get_packed_size(msg);
	uint8_t *buf = malloc(len ? len : 1);
	int err;

	if (!buf)
		return -ENOMEM;
	vsn__policy_set__pack(msg, buf);
	err = vsn_store_save(store, buf, len, msg->generation, flags);
	free(buf);
	return err;
}
