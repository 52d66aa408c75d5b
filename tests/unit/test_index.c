/*
 * lib/index.c: the compiled node index.  Every record kind written and
 * read back, lookups that find nothing, files that are truncated, random
 * or built by hand with a corrupt record (through tinycdb's own writer),
 * the owner and mode checks, the atomic replace, and an index of a
 * hundred thousand nodes.  Runs as root: a file is given to uid 1 to
 * test its owner.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cdb.h>
#include <cmocka.h>

#include "cfg.h"
#include "index.h"
#include "lp_util.h"

#define KEY_ED	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGNlU4CNQLQ7DYWEPJ" \
		"S/0kINslrXq8cx2LuuOVLVXexT"
#define KEY_ED2	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDtBsn9QMLpkGFXYF" \
		"hqQK2qFbWasf5TtUF0m0kkQR7w/"
#define KEY_EC	"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAA" \
		"AAIbmlzdHAyNTYAAABBBKx3"
#define BIG_COUNT	100000

struct fx {
	char		 dir[64];
	bool		 have_dir;
	char		 path[128];	/* dir/nodes.cdb */
	struct lp_cfg	*cfg;
	struct lp_index	*idx;
};

/* ------------------------------------------------------------ policy */

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	assert_non_null(p);
	return p;
}

static struct lp_cfg *
new_cfg(size_t nnodes)
{
	struct lp_cfg *cfg;

	cfg = calloc(1, sizeof(*cfg));
	assert_non_null(cfg);
	lp_cfg_defaults(cfg);
	cfg->nodes = calloc(nnodes ? nnodes : 1, sizeof(*cfg->nodes));
	assert_non_null(cfg->nodes);
	return cfg;
}

/*
 * Adds a node as lp_cfg_load() would leave it; keys and groups are
 * NULL-terminated lists of strings.
 */
static struct lp_node *
add_node(struct lp_cfg *cfg, const char *name, unsigned port, bool enabled,
    const char *const *keys, const char *const *groups)
{
	struct lp_node *n = &cfg->nodes[cfg->nnodes++];
	size_t i;

	(void)snprintf(n->name, sizeof(n->name), "%s", name);
	n->port = port;
	n->enabled = enabled;
	for (i = 0; keys[i] != NULL; i++)
		;
	n->keys = calloc(i ? i : 1, sizeof(*n->keys));
	assert_non_null(n->keys);
	for (n->nkeys = 0; n->nkeys < i; n->nkeys++)
		n->keys[n->nkeys] = xstrdup(keys[n->nkeys]);
	for (i = 0; groups != NULL && groups[i] != NULL; i++)
		;
	n->groups = calloc(i ? i : 1, sizeof(*n->groups));
	assert_non_null(n->groups);
	for (n->ngroups = 0; n->ngroups < i; n->ngroups++)
		n->groups[n->ngroups] = xstrdup(groups[n->ngroups]);
	return n;
}

/* Three nodes: two keys and two groups, one key and no group, disabled. */
static struct lp_cfg *
sample_cfg(void)
{
	static const char *const k1[] = { KEY_ED " gpu01-tunnel",
	    KEY_EC, NULL };
	static const char *const k2[] = { KEY_ED2 " gpu02 spare key", NULL };
	static const char *const k3[] = { "ssh-rsa AAAAB3NzaC1yc2EAAAAD"
	    " old-node", NULL };
	static const char *const g1[] = { "ml", "ops", NULL };
	static const char *const g3[] = { "ml", NULL };
	struct lp_cfg *cfg = new_cfg(3);

	add_node(cfg, "gpu01", 22001, true, k1, g1);
	add_node(cfg, "gpu02", 22002, true, k2, NULL);
	add_node(cfg, "old-3", 22003, false, k3, g3);
	return cfg;
}

/* ------------------------------------------------------------ fixture */

static int
setup(void **state)
{
	struct fx *fx;

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	*state = fx;
	(void)strcpy(fx->dir, "/tmp/lp-test-index.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	fx->have_dir = true;
	(void)snprintf(fx->path, sizeof(fx->path), "%s/nodes.cdb", fx->dir);
	(void)umask(022);
	return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	if (fx == NULL)
		return 0;
	lp_index_close(fx->idx);
	lp_cfg_free(fx->cfg);
	if (fx->have_dir)
		(void)nftw(fx->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* ------------------------------------------------------------ helpers */

static void
write_sample(struct fx *fx)
{
	fx->cfg = sample_cfg();
	assert_int_equal(lp_index_write(fx->cfg, fx->path), 0);
}

static void
open_index(struct fx *fx)
{
	assert_int_equal(lp_index_open(fx->path, &fx->idx), 0);
	assert_non_null(fx->idx);
}

static void
put_bytes(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd;

	(void)unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static char *
get_bytes(const char *path, size_t *ret_len)
{
	struct stat st;
	char *buf;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd != -1);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	(void)close(fd);
	*ret_len = (size_t)st.st_size;
	return buf;
}

/* True when dir holds no temporary file of the index. */
static bool
no_tmp_left(const struct fx *fx)
{
	char tmp[160];
	struct stat st;

	(void)snprintf(tmp, sizeof(tmp), "%s/.nodes.cdb.tmp", fx->dir);
	return lstat(tmp, &st) == -1 && errno == ENOENT;
}

/* Pairs of key and value, ended by a NULL key: a cdb made by hand. */
static void
put_cdb(const char *path, const char *const *kv)
{
	struct cdb_make cm;
	size_t i;
	int fd;

	(void)unlink(path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd != -1);
	assert_int_equal(cdb_make_start(&cm, fd), 0);
	for (i = 0; kv[i] != NULL; i += 2)
		assert_int_equal(cdb_make_add(&cm, kv[i],
		    (unsigned)strlen(kv[i]), kv[i + 1],
		    (unsigned)strlen(kv[i + 1])), 0);
	assert_int_equal(cdb_make_finish(&cm), 0);
	assert_int_equal(fchmod(fd, 0644), 0);
	assert_int_equal(close(fd), 0);
}

/* A good header followed by the records given, for one-record damage. */
static void
put_cdb_with(const char *path, const char *const *extra)
{
	const char *kv[64] = {
		"@version", LP_INDEX_VERSION, "@count", "1",
		"@tunnel_user", "lp-tunnel", "@listen", "127.0.0.1",
	};
	size_t i, n = 8;

	for (i = 0; extra[i] != NULL; i++) {
		assert_true(n < LP_ARRAY_SIZE(kv) - 1);
		kv[n++] = extra[i];
	}
	kv[n] = NULL;
	put_cdb(path, kv);
}

/*
 * Runs every kind of lookup on idx; each must answer 0, -ENOENT or
 * -EPROTO.  Returns how many answered -EPROTO.
 */
static int
probe_all(struct lp_index *idx)
{
	static const char *const names[] = { "gpu01", "gpu02", "old-3" };
	static const char *const keys[] = { KEY_ED, KEY_ED2, KEY_EC };
	struct lp_index_node n;
	const char *k;
	size_t i, len;
	int bad = 0, r;

#define PROBE(call) do {						\
	r = (call);							\
	assert_true(r == 0 || r == -ENOENT || r == -EPROTO);		\
	bad += r == -EPROTO;						\
} while (0)
	for (i = 0; i < 3; i++) {
		PROBE(lp_index_node(idx, names[i], &n));
		PROBE(lp_index_node_by_port(idx, 22001 + (unsigned)i, &n));
		PROBE(lp_index_node_at(idx, i, &n));
		PROBE(lp_index_node_by_key(idx, keys[i], &n));
		PROBE(lp_index_keys(idx, names[i], &k, &len));
	}
#undef PROBE
	(void)lp_index_count(idx);
	(void)strlen(lp_index_tunnel_user(idx));
	(void)strlen(lp_index_listen(idx));
	return bad;
}

/* Opens path: either refused as corrupt, or every lookup is safe. */
static void
assert_refused_or_safe(const char *path, bool must_refuse)
{
	struct lp_index *idx = NULL;
	int r;

	r = lp_index_open(path, &idx);
	if (must_refuse)
		assert_int_equal(r, -EPROTO);
	assert_true(r == 0 || r == -EPROTO);
	if (r == 0) {
		(void)probe_all(idx);
		lp_index_close(idx);
	} else
		assert_null(idx);
}

/* -------------------------------------------------- write and read */

static void
test_index_reads_back_nodes_by_name(void **state)
{
	struct fx *fx = *state;
	struct lp_index_node n;

	write_sample(fx);
	open_index(fx);
	assert_int_equal(lp_index_count(fx->idx), 3);

	assert_int_equal(lp_index_node(fx->idx, "gpu01", &n), 0);
	assert_string_equal(n.name, "gpu01");
	assert_int_equal(n.port, 22001);
	assert_true(n.enabled);
	assert_int_equal(n.groups_len, strlen("ml,ops"));
	assert_memory_equal(n.groups, "ml,ops", n.groups_len);

	assert_int_equal(lp_index_node(fx->idx, "gpu02", &n), 0);
	assert_int_equal(n.port, 22002);
	assert_true(n.enabled);
	assert_int_equal(n.groups_len, 0);
}

static void
test_index_reads_back_disabled_node(void **state)
{
	struct fx *fx = *state;
	struct lp_index_node n;

	write_sample(fx);
	open_index(fx);
	assert_int_equal(lp_index_node(fx->idx, "old-3", &n), 0);
	assert_false(n.enabled);
	assert_int_equal(n.port, 22003);
	assert_int_equal(lp_index_node_by_port(fx->idx, 22003, &n), 0);
	assert_string_equal(n.name, "old-3");
	assert_false(n.enabled);
}

static void
test_index_finds_node_by_port(void **state)
{
	struct fx *fx = *state;
	struct lp_index_node n;

	write_sample(fx);
	open_index(fx);
	assert_int_equal(lp_index_node_by_port(fx->idx, 22002, &n), 0);
	assert_string_equal(n.name, "gpu02");
	assert_int_equal(n.port, 22002);
	assert_int_equal(lp_index_node_by_port(fx->idx, 22001, &n), 0);
	assert_string_equal(n.name, "gpu01");
}

static void
test_index_lists_nodes_by_position_in_policy_order(void **state)
{
	static const char *const want[] = { "gpu01", "gpu02", "old-3" };
	struct fx *fx = *state;
	struct lp_index_node n;
	size_t i;

	write_sample(fx);
	open_index(fx);
	for (i = 0; i < LP_ARRAY_SIZE(want); i++) {
		assert_int_equal(lp_index_node_at(fx->idx, i, &n), 0);
		assert_string_equal(n.name, want[i]);
	}
	assert_int_equal(lp_index_node_at(fx->idx, 3, &n), -ENOENT);
	assert_int_equal(lp_index_node_at(fx->idx, (size_t)-1, &n), -ENOENT);
}

static void
test_index_finds_node_by_key_without_comment(void **state)
{
	struct fx *fx = *state;
	struct lp_index_node n;

	write_sample(fx);
	open_index(fx);
	assert_int_equal(lp_index_node_by_key(fx->idx, KEY_ED, &n), 0);
	assert_string_equal(n.name, "gpu01");
	assert_int_equal(lp_index_node_by_key(fx->idx, KEY_EC, &n), 0);
	assert_string_equal(n.name, "gpu01");
	assert_int_equal(lp_index_node_by_key(fx->idx, KEY_ED2, &n), 0);
	assert_string_equal(n.name, "gpu02");
	/* The comment is not part of a key's identity. */
	assert_int_equal(lp_index_node_by_key(fx->idx, KEY_ED " gpu01-tunnel",
	    &n), -ENOENT);
}

static void
test_index_returns_key_lines_as_written(void **state)
{
	struct fx *fx = *state;
	const char *keys;
	size_t len;

	write_sample(fx);
	open_index(fx);
	assert_int_equal(lp_index_keys(fx->idx, "gpu01", &keys, &len), 0);
	assert_int_equal(len, strlen(KEY_ED " gpu01-tunnel\n" KEY_EC "\n"));
	assert_memory_equal(keys, KEY_ED " gpu01-tunnel\n" KEY_EC "\n", len);
	assert_int_equal(lp_index_keys(fx->idx, "gpu02", &keys, &len), 0);
	assert_int_equal(len, strlen(KEY_ED2 " gpu02 spare key\n"));
	assert_memory_equal(keys, KEY_ED2 " gpu02 spare key\n", len);
	assert_int_equal(lp_index_keys(fx->idx, "gpu09", &keys, &len),
	    -ENOENT);
}

static void
test_index_node_has_group_matches_whole_names_only(void **state)
{
	struct fx *fx = *state;
	struct lp_index_node n;

	write_sample(fx);
	open_index(fx);
	assert_int_equal(lp_index_node(fx->idx, "gpu01", &n), 0);
	assert_int_equal(lp_index_node_has_group(&n, "ml"), 1);
	assert_int_equal(lp_index_node_has_group(&n, "ops"), 1);
	assert_int_equal(lp_index_node_has_group(&n, "m"), 0);
	assert_int_equal(lp_index_node_has_group(&n, "op"), 0);
	assert_int_equal(lp_index_node_has_group(&n, "ml,ops"), 0);
	assert_int_equal(lp_index_node_has_group(&n, ""), 0);
	assert_int_equal(lp_index_node(fx->idx, "gpu02", &n), 0);
	assert_int_equal(lp_index_node_has_group(&n, "ml"), 0);
	assert_int_equal(lp_index_node_has_group(&n, "-"), 0);
}

static void
test_index_reads_back_tunnel_user_and_listen_address(void **state)
{
	struct fx *fx = *state;

	fx->cfg = sample_cfg();
	(void)strcpy(fx->cfg->tunnel.user, "node-tunnels");
	(void)strcpy(fx->cfg->tunnel.listen_address, "::1");
	assert_int_equal(lp_index_write(fx->cfg, fx->path), 0);
	open_index(fx);
	assert_string_equal(lp_index_tunnel_user(fx->idx), "node-tunnels");
	assert_string_equal(lp_index_listen(fx->idx), "::1");
}

static void
test_index_of_default_policy_names_default_tunnel(void **state)
{
	struct fx *fx = *state;

	write_sample(fx);
	open_index(fx);
	assert_string_equal(lp_index_tunnel_user(fx->idx), "lp-tunnel");
	assert_string_equal(lp_index_listen(fx->idx), "127.0.0.1");
}

static void
test_index_with_zero_nodes_opens_and_finds_nothing(void **state)
{
	struct fx *fx = *state;
	struct lp_index_node n;

	fx->cfg = new_cfg(0);
	assert_int_equal(lp_index_write(fx->cfg, fx->path), 0);
	open_index(fx);
	assert_int_equal(lp_index_count(fx->idx), 0);
	assert_int_equal(lp_index_node_at(fx->idx, 0, &n), -ENOENT);
	assert_int_equal(lp_index_node(fx->idx, "gpu01", &n), -ENOENT);
	assert_string_equal(lp_index_tunnel_user(fx->idx), "lp-tunnel");
}

/* ------------------------------------------------ lookups that miss */

static void
test_index_unknown_name_port_and_key_are_enoent(void **state)
{
	struct fx *fx = *state;
	struct lp_index_node n;

	write_sample(fx);
	open_index(fx);
	assert_int_equal(lp_index_node(fx->idx, "gpu09", &n), -ENOENT);
	assert_int_equal(lp_index_node(fx->idx, "GPU01", &n), -ENOENT);
	assert_int_equal(lp_index_node(fx->idx, NULL, &n), -ENOENT);
	assert_int_equal(lp_index_node_by_port(fx->idx, 22009, &n), -ENOENT);
	assert_int_equal(lp_index_node_by_port(fx->idx, 0, &n), -ENOENT);
	assert_int_equal(lp_index_node_by_port(fx->idx, 65536, &n), -ENOENT);
	assert_int_equal(lp_index_node_by_key(fx->idx,
	    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAA", &n), -ENOENT);
	assert_int_equal(lp_index_node_by_key(fx->idx, "", &n), -ENOENT);
	assert_int_equal(lp_index_node_by_key(fx->idx, NULL, &n), -ENOENT);
}

static void
test_index_names_empty_or_over_63_bytes_are_enoent(void **state)
{
	struct fx *fx = *state;
	struct lp_index_node n;
	const char *keys;
	char name[200];
	size_t len;

	write_sample(fx);
	open_index(fx);
	assert_int_equal(lp_index_node(fx->idx, "", &n), -ENOENT);
	assert_int_equal(lp_index_keys(fx->idx, "", &keys, &len), -ENOENT);
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(lp_index_node(fx->idx, name, &n), -ENOENT);
	assert_int_equal(lp_index_keys(fx->idx, name, &keys, &len), -ENOENT);
	name[64] = '\0';
	assert_int_equal(lp_index_node(fx->idx, name, &n), -ENOENT);
	/* "gpu01" followed by more: a prefix must not match. */
	(void)snprintf(name, sizeof(name), "gpu01%058d", 0);
	assert_int_equal(strlen(name), 63);
	assert_int_equal(lp_index_node(fx->idx, name, &n), -ENOENT);
}

static void
test_index_names_that_are_not_labels_are_enoent(void **state)
{
	struct fx *fx = *state;
	struct lp_index_node n;

	write_sample(fx);
	open_index(fx);
	assert_int_equal(lp_index_node(fx->idx, "../gpu01", &n), -ENOENT);
	assert_int_equal(lp_index_node(fx->idx, "gpu01\n", &n), -ENOENT);
	assert_int_equal(lp_index_node(fx->idx, "-gpu01", &n), -ENOENT);
	assert_int_equal(lp_index_node(fx->idx, "gpu 01", &n), -ENOENT);
}

static void
test_index_node_name_check_takes_lower_case_dns_labels_only(void **state)
{
	static const char *const good[] = {
		"gpu01", "a", "9", "old-3", "a-b-c",
		"abcdefghijklmnopqrstuvwxyz0123456789"
		    "abcdefghijklmnopqrstuvwxyz0",
	};
	static const char *const bad[] = {
		"", "-gpu", "gpu-", "GPU01", "gpu_01", "gpu.01", "..", ".",
		".gpu01", "gpu/01", "../x", "gpu 01", "gpu01\n", "\xc3\xa9",
		"abcdefghijklmnopqrstuvwxyz0123456789"
		    "abcdefghijklmnopqrstuvwxyz01",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(lp_index_node_name_check(good[i],
		    strlen(good[i])), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(lp_index_node_name_check(bad[i],
		    strlen(bad[i])), -EINVAL);
	/* The length decides, not a terminator. */
	assert_int_equal(lp_index_node_name_check("gpu01-", 5), 0);
	assert_int_equal(lp_index_node_name_check("gpu\0001", 5), -EINVAL);
	assert_int_equal(lp_index_node_name_check(NULL, 0), -EINVAL);
}

/* ------------------------------------------------ hostile files */

static void
test_index_open_refuses_zero_byte_file(void **state)
{
	struct fx *fx = *state;

	put_bytes(fx->path, "", 0, 0644);
	assert_int_equal(lp_index_open(fx->path, &fx->idx), -EPROTO);
	assert_null(fx->idx);
}

static void
test_index_truncated_at_any_offset_is_refused(void **state)
{
	struct fx *fx = *state;
	size_t cuts[16], i, len, ncut = 0;
	char *buf;

	write_sample(fx);
	buf = get_bytes(fx->path, &len);
	assert_true(len > 2048 + 64);
	cuts[ncut++] = 1;
	cuts[ncut++] = 100;
	cuts[ncut++] = 1024;
	cuts[ncut++] = 2047;
	cuts[ncut++] = 2048;
	cuts[ncut++] = 2049;
	cuts[ncut++] = 2048 + (len - 2048) / 4;
	cuts[ncut++] = 2048 + (len - 2048) / 2;
	cuts[ncut++] = len - 64;
	cuts[ncut++] = len - 9;
	cuts[ncut++] = len - 1;
	for (i = 0; i < ncut; i++) {
		put_bytes(fx->path, buf, cuts[i], 0644);
		assert_refused_or_safe(fx->path, true);
	}
	free(buf);
}

/*
 * Every proper prefix of a whole index, as a crash during a copy or a
 * full disk under a tool other than lp-nodes could leave it: each is
 * refused as corrupt when opened, never read as an index of fewer nodes.
 */
static void
test_index_truncated_at_every_byte_is_refused(void **state)
{
	struct fx *fx = *state;
	size_t i, len;
	char *buf;

	write_sample(fx);
	buf = get_bytes(fx->path, &len);
	for (i = 0; i < len; i++) {
		put_bytes(fx->path, buf, i, 0644);
		assert_refused_or_safe(fx->path, true);
	}
	put_bytes(fx->path, buf, len, 0644);
	open_index(fx);
	assert_int_equal(lp_index_count(fx->idx), 3);
	free(buf);
}

static void
test_index_with_bytes_appended_is_refused(void **state)
{
	struct fx *fx = *state;
	size_t len;
	char *buf;

	write_sample(fx);
	buf = get_bytes(fx->path, &len);
	buf[len] = '\n';
	put_bytes(fx->path, buf, len + 1, 0644);
	assert_int_equal(lp_index_open(fx->path, &fx->idx), -EPROTO);
	assert_null(fx->idx);
	free(buf);
}

static void
test_index_lookups_on_damaged_tables_stay_safe(void **state)
{
	struct fx *fx = *state;
	size_t len, i;
	char *buf;

	write_sample(fx);
	buf = get_bytes(fx->path, &len);
	/*
	 * Bit flips inside the hash tables keep the file's shape: it opens
	 * when the header keys survive, and every lookup must stay safe.
	 */
	for (i = len - 1; i > len - 400 && i > 2048; i -= 7) {
		buf[i] ^= 0x5a;
		put_bytes(fx->path, buf, len, 0644);
		assert_refused_or_safe(fx->path, false);
		buf[i] ^= 0x5a;
	}
	free(buf);
}

static void
test_index_of_random_bytes_is_refused(void **state)
{
	struct fx *fx = *state;
	unsigned char buf[8192];
	unsigned seed;
	size_t i;

	for (seed = 1; seed <= 20; seed++) {
		srandom(seed);
		for (i = 0; i < sizeof(buf); i++)
			buf[i] = (unsigned char)random();
		put_bytes(fx->path, buf, 2048 + seed * 256, 0644);
		assert_refused_or_safe(fx->path, true);
	}
}

static void
test_index_with_table_pointing_past_end_is_refused(void **state)
{
	struct fx *fx = *state;
	unsigned char buf[4096];
	size_t i;

	/* Every slot claims a huge table far beyond the file. */
	for (i = 0; i < 2048; i += 8) {
		cdb_pack(0xfffffff0u, buf + i);
		cdb_pack(0x10000000u, buf + i + 4);
	}
	memset(buf + 2048, 'x', sizeof(buf) - 2048);
	put_bytes(fx->path, buf, sizeof(buf), 0644);
	assert_refused_or_safe(fx->path, true);
}

static void
test_index_of_another_version_is_refused(void **state)
{
	struct fx *fx = *state;
	static const char *const kv[] = {
		"@version", "lp-nodes-index 2", "@count", "0",
		"@tunnel_user", "lp-tunnel", "@listen", "127.0.0.1", NULL,
	};

	put_cdb(fx->path, kv);
	assert_int_equal(lp_index_open(fx->path, &fx->idx), -EPROTO);
	assert_null(fx->idx);
}

static void
test_index_without_version_is_refused(void **state)
{
	struct fx *fx = *state;
	static const char *const kv[] = {
		"@count", "0", "@tunnel_user", "lp-tunnel",
		"@listen", "127.0.0.1", NULL,
	};

	put_cdb(fx->path, kv);
	assert_int_equal(lp_index_open(fx->path, &fx->idx), -EPROTO);
}

static void
test_index_with_bad_header_values_is_refused(void **state)
{
	static const char *const bad[][2] = {
		{ "@count", "" }, { "@count", "-1" }, { "@count", "01" },
		{ "@count", "4294967296" }, { "@count", "1x" },
		{ "@tunnel_user", "" }, { "@tunnel_user", "../etc" },
		{ "@tunnel_user", "lp tunnel" },
		{ "@tunnel_user", "a-name-far-too-long-for-an-account-x" },
		{ "@listen", "" }, { "@listen", "localhost" },
		{ "@listen", "127.0.0.1\",command=\"/bin/sh" },
		{ "@listen", "::1]:1" },
	};
	struct fx *fx = *state;
	const char *kv[9];
	size_t i, j;

	for (i = 0; i < LP_ARRAY_SIZE(bad); i++) {
		const char *good[] = { "@version", LP_INDEX_VERSION,
		    "@count", "0", "@tunnel_user", "lp-tunnel",
		    "@listen", "127.0.0.1" };

		for (j = 0; j < 8; j += 2) {
			kv[j] = good[j];
			kv[j + 1] = strcmp(good[j], bad[i][0]) == 0 ?
			    bad[i][1] : good[j + 1];
		}
		kv[8] = NULL;
		put_cdb(fx->path, kv);
		assert_int_equal(lp_index_open(fx->path, &fx->idx), -EPROTO);
		assert_null(fx->idx);
	}
}

static void
test_index_node_with_corrupt_record_is_eproto(void **state)
{
	static const char *const bad[] = {
		"", "22001", "22001 1", "22001 1 ", "0 1 -", "65536 1 -",
		"022001 1 -", "22001 2 -", "22001 1x-", "22001 1 a b",
		"22001 1 ml\tops", "22001 1 ml\001", "x22001 1 -",
		"99999999999 1 -",
	};
	struct fx *fx = *state;
	struct lp_index_node n;
	size_t i;

	for (i = 0; i < LP_ARRAY_SIZE(bad); i++) {
		const char *const extra[] = { "n:gpu01", bad[i], NULL };

		put_cdb_with(fx->path, extra);
		open_index(fx);
		assert_int_equal(lp_index_node(fx->idx, "gpu01", &n),
		    -EPROTO);
		lp_index_close(fx->idx);
		fx->idx = NULL;
	}
}

static void
test_index_port_record_naming_other_port_is_eproto(void **state)
{
	static const char *const extra[] = {
		"n:gpu01", "22001 1 -", "n:gpu02", "22002 1 -",
		"p:22001", "gpu02", "p:22005", "nosuch",
		"p:22006", "../../etc/passwd", "p:22007", "",
		NULL,
	};
	struct fx *fx = *state;
	struct lp_index_node n;

	put_cdb_with(fx->path, extra);
	open_index(fx);
	assert_int_equal(lp_index_node_by_port(fx->idx, 22001, &n), -EPROTO);
	assert_int_equal(lp_index_node_by_port(fx->idx, 22005, &n), -EPROTO);
	assert_int_equal(lp_index_node_by_port(fx->idx, 22006, &n), -EPROTO);
	assert_int_equal(lp_index_node_by_port(fx->idx, 22007, &n), -EPROTO);
}

static void
test_index_position_record_missing_or_bad_is_eproto(void **state)
{
	static const char *const kv[] = {
		"@version", LP_INDEX_VERSION, "@count", "3",
		"@tunnel_user", "lp-tunnel", "@listen", "127.0.0.1",
		"n:gpu01", "22001 1 -", "#0", "gpu01Z", "#1", "nosuch",
		NULL,
	};
	struct fx *fx = *state;
	struct lp_index_node n;

	put_cdb(fx->path, kv);
	open_index(fx);
	assert_int_equal(lp_index_count(fx->idx), 3);
	assert_int_equal(lp_index_node_at(fx->idx, 0, &n), -EPROTO);
	assert_int_equal(lp_index_node_at(fx->idx, 1, &n), -EPROTO);
	/* Missing though @count promised it. */
	assert_int_equal(lp_index_node_at(fx->idx, 2, &n), -EPROTO);
	assert_int_equal(lp_index_node_at(fx->idx, 3, &n), -ENOENT);
}

static void
test_index_key_record_naming_unknown_node_is_eproto(void **state)
{
	static const char *const extra[] = {
		"k:" KEY_ED, "gpu07", "k:" KEY_ED2, "", NULL,
	};
	struct fx *fx = *state;
	struct lp_index_node n;

	put_cdb_with(fx->path, extra);
	open_index(fx);
	assert_int_equal(lp_index_node_by_key(fx->idx, KEY_ED, &n), -EPROTO);
	assert_int_equal(lp_index_node_by_key(fx->idx, KEY_ED2, &n), -EPROTO);
}

static void
test_index_key_lines_with_control_characters_are_eproto(void **state)
{
	static const char *const bad[] = {
		"", "\n", KEY_ED, KEY_ED "\n\n", KEY_ED " a\rb\n",
		KEY_ED " a\001b\n", KEY_ED " caf\xc3\xa9\n",
		KEY_ED "\n" KEY_ED2 " x\033[2J\n", KEY_ED " a\177\n",
	};
	struct fx *fx = *state;
	const char *keys;
	size_t i, len;

	for (i = 0; i < LP_ARRAY_SIZE(bad); i++) {
		const char *const extra[] = { "K:gpu01", bad[i], NULL };

		put_cdb_with(fx->path, extra);
		open_index(fx);
		assert_int_equal(lp_index_keys(fx->idx, "gpu01", &keys, &len),
		    -EPROTO);
		lp_index_close(fx->idx);
		fx->idx = NULL;
	}
}

/* ------------------------------------------------ owner and mode */

static void
test_index_open_refuses_group_or_world_writable_file(void **state)
{
	struct fx *fx = *state;

	write_sample(fx);
	assert_int_equal(chmod(fx->path, 0664), 0);
	assert_int_equal(lp_index_open(fx->path, &fx->idx), -EPERM);
	assert_int_equal(chmod(fx->path, 0646), 0);
	assert_int_equal(lp_index_open(fx->path, &fx->idx), -EPERM);
	assert_null(fx->idx);
	assert_int_equal(chmod(fx->path, 0444), 0);
	open_index(fx);
}

static void
test_index_open_refuses_file_not_owned_by_root(void **state)
{
	struct fx *fx = *state;

	write_sample(fx);
	assert_int_equal(chown(fx->path, 1, 0), 0);
	assert_int_equal(lp_index_open(fx->path, &fx->idx), -EPERM);
	assert_null(fx->idx);
}

static void
test_index_open_refuses_symlink_to_good_index(void **state)
{
	struct fx *fx = *state;
	char link[160];

	write_sample(fx);
	(void)snprintf(link, sizeof(link), "%s/link.cdb", fx->dir);
	assert_int_equal(symlink(fx->path, link), 0);
	assert_int_equal(lp_index_open(link, &fx->idx), -ELOOP);
	assert_null(fx->idx);
}

static void
test_index_open_refuses_hard_linked_file_and_directory(void **state)
{
	struct fx *fx = *state;
	char other[160];

	write_sample(fx);
	(void)snprintf(other, sizeof(other), "%s/other.cdb", fx->dir);
	assert_int_equal(link(fx->path, other), 0);
	assert_int_equal(lp_index_open(fx->path, &fx->idx), -EINVAL);
	assert_int_equal(lp_index_open(fx->dir, &fx->idx), -EINVAL);
	assert_null(fx->idx);
}

static void
test_index_open_of_missing_file_is_enoent(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(lp_index_open(fx->path, &fx->idx), -ENOENT);
	assert_null(fx->idx);
}

static void
test_index_open_refuses_file_over_size_cap(void **state)
{
	struct fx *fx = *state;
	int fd;

	write_sample(fx);
	fd = open(fx->path, O_WRONLY | O_CLOEXEC);
	assert_true(fd != -1);
	/* Sparse: no disk is used. */
	assert_int_equal(ftruncate(fd, (off_t)LP_INDEX_SIZE_MAX + 1), 0);
	(void)close(fd);
	assert_int_equal(lp_index_open(fx->path, &fx->idx), -EFBIG);
}

/* ------------------------------------------------ writing */

static void
test_index_write_makes_0644_root_file_whatever_the_umask(void **state)
{
	struct fx *fx = *state;
	struct stat st;
	mode_t old;
	int r;

	fx->cfg = sample_cfg();
	old = umask(077);
	r = lp_index_write(fx->cfg, fx->path);
	(void)umask(old);
	assert_int_equal(r, 0);
	assert_int_equal(lstat(fx->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_uid, 0);
	assert_true(no_tmp_left(fx));
}

static void
test_index_write_replaces_old_index(void **state)
{
	static const char *const k[] = { KEY_ED2, NULL };
	struct fx *fx = *state;
	struct lp_index_node n;
	struct lp_cfg *cfg;

	write_sample(fx);
	cfg = new_cfg(1);
	add_node(cfg, "solo", 30000, true, k, NULL);
	assert_int_equal(lp_index_write(cfg, fx->path), 0);
	lp_cfg_free(cfg);
	open_index(fx);
	assert_int_equal(lp_index_count(fx->idx), 1);
	assert_int_equal(lp_index_node(fx->idx, "gpu01", &n), -ENOENT);
	assert_int_equal(lp_index_node_by_key(fx->idx, KEY_ED2, &n), 0);
	assert_string_equal(n.name, "solo");
	assert_true(no_tmp_left(fx));
}

static void
test_index_open_handle_keeps_old_nodes_after_replace(void **state)
{
	static const char *const k[] = { KEY_ED2, NULL };
	struct fx *fx = *state;
	struct lp_index_node n;
	struct lp_cfg *cfg;

	write_sample(fx);
	open_index(fx);
	cfg = new_cfg(1);
	add_node(cfg, "solo", 30000, true, k, NULL);
	assert_int_equal(lp_index_write(cfg, fx->path), 0);
	lp_cfg_free(cfg);
	/* A reader that opened before the rename sees a whole old index. */
	assert_int_equal(lp_index_count(fx->idx), 3);
	assert_int_equal(lp_index_node(fx->idx, "gpu01", &n), 0);
	assert_int_equal(lp_index_node(fx->idx, "solo", &n), -ENOENT);
}

/* Asserts that path still holds exactly old (len bytes). */
static void
assert_unchanged(const char *path, const char *old, size_t len)
{
	size_t now_len;
	char *now;

	now = get_bytes(path, &now_len);
	assert_int_equal(now_len, len);
	assert_memory_equal(now, old, len);
	free(now);
}

static void
test_index_write_refuses_node_it_could_not_read_back(void **state)
{
	static const char *const good[] = { KEY_ED, NULL };
	static const char *const ctl[] = { KEY_ED " a\nb", NULL };
	static const char *const empty[] = { NULL };
	struct fx *fx = *state;
	struct lp_cfg *cfg;
	size_t len, i;
	char *old;

	write_sample(fx);
	old = get_bytes(fx->path, &len);
	for (i = 0; i < 5; i++) {
		cfg = new_cfg(2);
		add_node(cfg, "fine", 30000, true, good, NULL);
		if (i == 0)
			add_node(cfg, "Upper", 30001, true, good, NULL);
		else if (i == 1)
			add_node(cfg, "nokeys", 30001, true, empty, NULL);
		else if (i == 2)
			add_node(cfg, "ctl", 30001, true, ctl, NULL);
		else if (i == 3)
			add_node(cfg, "port", 0, true, good, NULL);
		else
			(void)strcpy(cfg->tunnel.listen_address, "nowhere");
		assert_int_equal(lp_index_write(cfg, fx->path), -EINVAL);
		lp_cfg_free(cfg);
		assert_unchanged(fx->path, old, len);
		assert_true(no_tmp_left(fx));
	}
	free(old);
}

static void
test_index_write_refuses_group_writable_directory(void **state)
{
	struct fx *fx = *state;
	struct stat st;

	fx->cfg = sample_cfg();
	assert_int_equal(chmod(fx->dir, 0775), 0);
	assert_int_equal(lp_index_write(fx->cfg, fx->path), -EPERM);
	assert_int_equal(lstat(fx->path, &st), -1);
	assert_true(no_tmp_left(fx));
}

static void
test_index_write_refuses_directory_not_owned_by_root(void **state)
{
	struct fx *fx = *state;
	size_t len;
	char *old;

	write_sample(fx);
	old = get_bytes(fx->path, &len);
	assert_int_equal(chown(fx->dir, 1, 1), 0);
	assert_int_equal(lp_index_write(fx->cfg, fx->path), -EPERM);
	assert_int_equal(chown(fx->dir, 0, 0), 0);
	assert_unchanged(fx->path, old, len);
	free(old);
}

static void
test_index_write_to_missing_directory_fails(void **state)
{
	struct fx *fx = *state;
	char path[160];

	fx->cfg = sample_cfg();
	(void)snprintf(path, sizeof(path), "%s/none/nodes.cdb", fx->dir);
	assert_int_equal(lp_index_write(fx->cfg, path), -ENOENT);
	(void)snprintf(path, sizeof(path), "%s/", fx->dir);
	assert_int_equal(lp_index_write(fx->cfg, path), -EINVAL);
}

static void
test_index_write_keeps_old_index_when_disk_write_fails(void **state)
{
	struct fx *fx = *state;
	struct lp_cfg *big;
	size_t len, i;
	char *old, name[16], key[64];
	const char *keys[2] = { key, NULL };
	pid_t pid;
	int status;

	write_sample(fx);
	old = get_bytes(fx->path, &len);
	big = new_cfg(2000);
	for (i = 0; i < 2000; i++) {
		(void)snprintf(name, sizeof(name), "n%zu", i);
		(void)snprintf(key, sizeof(key), "ssh-ed25519 AAAA%zu", i);
		add_node(big, name, 20000 + (unsigned)i, true, keys, NULL);
	}
	/*
	 * A file size limit makes write(2) fail with EFBIG partway through,
	 * as a full disk would; in a child, so the limit stays there.
	 */
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		struct rlimit rl = { 16384, 16384 };
		int r = -1;

		(void)signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) == 0)
			r = lp_index_write(big, fx->path);
		/* Freed here too, so that a leak checker's verdict is ours. */
		lp_cfg_free(big);
		free(old);
		_exit(r == -EFBIG ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_unchanged(fx->path, old, len);
	assert_true(no_tmp_left(fx));
	open_index(fx);
	assert_int_equal(lp_index_count(fx->idx), 3);
	lp_cfg_free(big);
	free(old);
}

static void
test_index_write_is_not_fooled_by_stale_tmp_symlink(void **state)
{
	struct fx *fx = *state;
	char tmp[160], victim[160];
	size_t len;
	char *v;

	(void)snprintf(victim, sizeof(victim), "%s/victim", fx->dir);
	(void)snprintf(tmp, sizeof(tmp), "%s/.nodes.cdb.tmp", fx->dir);
	put_bytes(victim, "keep me\n", 8, 0644);
	assert_int_equal(symlink(victim, tmp), 0);
	write_sample(fx);
	v = get_bytes(victim, &len);
	assert_int_equal(len, 8);
	assert_memory_equal(v, "keep me\n", 8);
	free(v);
	assert_true(no_tmp_left(fx));
	open_index(fx);
}

static void
test_index_write_removes_stale_tmp_file(void **state)
{
	struct fx *fx = *state;
	char tmp[160];

	(void)snprintf(tmp, sizeof(tmp), "%s/.nodes.cdb.tmp", fx->dir);
	put_bytes(tmp, "half-written", 12, 0600);
	write_sample(fx);
	assert_true(no_tmp_left(fx));
	open_index(fx);
	assert_int_equal(lp_index_count(fx->idx), 3);
}

static void
test_index_open_during_replacements_always_finds_an_index(void **state)
{
	struct fx *fx = *state;
	struct lp_index *idx;
	struct lp_index_node n;
	unsigned long opens = 0, failures = 0;
	time_t end;
	pid_t pid, done = 0;
	int status = 0, i, r;

	write_sample(fx);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		/* Each replace renames a new file over the one being read. */
		for (i = 0, r = 0; i < 100 && r == 0; i++)
			r = lp_index_write(fx->cfg, fx->path);
		_exit(r == 0 ? 0 : 1);
	}
	end = time(NULL) + 20;
	while (done == 0 && time(NULL) < end) {
		r = lp_index_open(fx->path, &idx);
		if (r == 0) {
			r = lp_index_node(idx, "gpu01", &n);
			lp_index_close(idx);
		}
		opens++;
		failures += r != 0;
		done = waitpid(pid, &status, WNOHANG);
	}
	if (done == 0) {
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, &status, 0);
		fail_msg("the writer did not finish in time");
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(opens > 100);
	assert_int_equal(failures, 0);
}

/* ------------------------------------------------ scale */

static void
test_index_of_100000_nodes_finds_the_last_one(void **state)
{
	struct fx *fx = *state;
	struct lp_index_node n;
	char name[16], key[64], last_key[64];
	const char *keys[2] = { key, NULL };
	const char *kl;
	unsigned port;
	size_t i, len;

	fx->cfg = new_cfg(BIG_COUNT);
	for (i = 0; i < BIG_COUNT; i++) {
		(void)snprintf(name, sizeof(name), "node%zu", i);
		(void)snprintf(key, sizeof(key), "ssh-ed25519 AAAAC3Nz%08zu "
		    "c%zu", i, i);
		/*
		 * Ports run out at 64512 nodes per listen address; the rest
		 * share them, which only the port lookup would notice.
		 */
		port = 1024 + (unsigned)(i % 64512);
		add_node(fx->cfg, name, port, i % 2 == 0, keys, NULL);
	}
	assert_int_equal(lp_index_write(fx->cfg, fx->path), 0);
	open_index(fx);
	assert_int_equal(lp_index_count(fx->idx), BIG_COUNT);

	(void)snprintf(name, sizeof(name), "node%d", BIG_COUNT - 1);
	assert_int_equal(lp_index_node(fx->idx, name, &n), 0);
	assert_int_equal(n.port, 1024 + (BIG_COUNT - 1) % 64512);
	assert_false(n.enabled);
	assert_int_equal(lp_index_node_at(fx->idx, BIG_COUNT - 1, &n), 0);
	assert_string_equal(n.name, name);
	(void)snprintf(last_key, sizeof(last_key), "ssh-ed25519 AAAAC3Nz%08d",
	    BIG_COUNT - 1);
	assert_int_equal(lp_index_node_by_key(fx->idx, last_key, &n), 0);
	assert_string_equal(n.name, name);
	assert_int_equal(lp_index_keys(fx->idx, name, &kl, &len), 0);
	assert_int_equal(len, strlen(last_key) + strlen(" c99999\n"));
	assert_int_equal(lp_index_node_by_port(fx->idx, 65535, &n), 0);
	assert_string_equal(n.name, "node64511");
	assert_true(no_tmp_left(fx));
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_index_reads_back_nodes_by_name),
		T(test_index_reads_back_disabled_node),
		T(test_index_finds_node_by_port),
		T(test_index_lists_nodes_by_position_in_policy_order),
		T(test_index_finds_node_by_key_without_comment),
		T(test_index_returns_key_lines_as_written),
		T(test_index_node_has_group_matches_whole_names_only),
		T(test_index_reads_back_tunnel_user_and_listen_address),
		T(test_index_of_default_policy_names_default_tunnel),
		T(test_index_with_zero_nodes_opens_and_finds_nothing),
		T(test_index_unknown_name_port_and_key_are_enoent),
		T(test_index_names_empty_or_over_63_bytes_are_enoent),
		T(test_index_names_that_are_not_labels_are_enoent),
		T(test_index_node_name_check_takes_lower_case_dns_labels_only),
		T(test_index_open_refuses_zero_byte_file),
		T(test_index_truncated_at_any_offset_is_refused),
		T(test_index_truncated_at_every_byte_is_refused),
		T(test_index_with_bytes_appended_is_refused),
		T(test_index_lookups_on_damaged_tables_stay_safe),
		T(test_index_of_random_bytes_is_refused),
		T(test_index_with_table_pointing_past_end_is_refused),
		T(test_index_of_another_version_is_refused),
		T(test_index_without_version_is_refused),
		T(test_index_with_bad_header_values_is_refused),
		T(test_index_node_with_corrupt_record_is_eproto),
		T(test_index_port_record_naming_other_port_is_eproto),
		T(test_index_position_record_missing_or_bad_is_eproto),
		T(test_index_key_record_naming_unknown_node_is_eproto),
		T(test_index_key_lines_with_control_characters_are_eproto),
		T(test_index_open_refuses_group_or_world_writable_file),
		T(test_index_open_refuses_file_not_owned_by_root),
		T(test_index_open_refuses_symlink_to_good_index),
		T(test_index_open_refuses_hard_linked_file_and_directory),
		T(test_index_open_of_missing_file_is_enoent),
		T(test_index_open_refuses_file_over_size_cap),
		T(test_index_write_makes_0644_root_file_whatever_the_umask),
		T(test_index_write_replaces_old_index),
		T(test_index_open_handle_keeps_old_nodes_after_replace),
		T(test_index_write_refuses_node_it_could_not_read_back),
		T(test_index_write_refuses_group_writable_directory),
		T(test_index_write_refuses_directory_not_owned_by_root),
		T(test_index_write_to_missing_directory_fails),
		T(test_index_write_keeps_old_index_when_disk_write_fails),
		T(test_index_write_is_not_fooled_by_stale_tmp_symlink),
		T(test_index_write_removes_stale_tmp_file),
		T(test_index_open_during_replacements_always_finds_an_index),
		T(test_index_of_100000_nodes_finds_the_last_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
