/*
 * libFuzzer target for the node index reader, lib/index.c on tinycdb.
 * Each input is written to a file (root, 0644, as lp-nodes writes it),
 * since the reader maps a file it has checked, and then every kind of
 * lookup runs on it: fixed names, ports and keys, and every node the
 * file itself lists, followed by name, port and key.  Any input must end
 * in a refusal or in answers that keep the reader's promises: only 0,
 * -ENOENT or -EPROTO, and on 0 a node that is what was asked for.
 *
 * The reader is driven through a file rather than from memory: tinycdb
 * only maps descriptors, and faking its private fields would test
 * something other than what lp-nodes, nss_lp and pam_lp_tunnel run.
 * Runs as root, like the programs that read the index.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index.h"

#define NODES_FOLLOWED	64	/* nodes of one input followed */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	dir[] = "/tmp/lp-fuzz-index.XXXXXX";
static char	path[sizeof(dir) + 16];

static void
remove_dir(void)
{
	(void)unlink(path);
	(void)rmdir(dir);
}

static int
put_input(const uint8_t *data, size_t size)
{
	size_t off = 0;
	ssize_t n;
	int fd;

	if (path[0] == '\0') {
		if (mkdtemp(dir) == NULL)
			__builtin_trap();
		(void)snprintf(path, sizeof(path), "%s/nodes.cdb", dir);
		(void)atexit(remove_dir);
	}
	(void)unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd == -1 || fchmod(fd, 0644) != 0)
		__builtin_trap();
	while (off < size) {
		n = write(fd, data + off, size - off);
		if (n <= 0)
			__builtin_trap();
		off += (size_t)n;
	}
	return close(fd);
}

static void
check_code(int r)
{
	if (r != 0 && r != -ENOENT && r != -EPROTO)
		__builtin_trap();
}

/* A node handed back on success must be one the index could hold. */
static void
check_node(const struct lp_index_node *n)
{
	size_t len = strnlen(n->name, sizeof(n->name));

	if (len == 0 || len >= sizeof(n->name) || n->port == 0 ||
	    n->port > 65535)
		__builtin_trap();
	if (n->groups_len > 0 && n->groups == NULL)
		__builtin_trap();
	(void)lp_index_node_has_group(n, "ml");
	(void)lp_index_node_has_group(n, "");
}

/* Looks up each key line of name by its "TYPE BASE64" part. */
static void
follow_keys(struct lp_index *idx, const char *name)
{
	struct lp_index_node n;
	const char *keys, *p, *end, *nl, *sp;
	char key[8192];
	size_t len, klen;
	int r;

	r = lp_index_keys(idx, name, &keys, &len);
	check_code(r);
	if (r != 0)
		return;
	if (len == 0 || keys[len - 1] != '\n')
		__builtin_trap();
	for (p = keys, end = keys + len; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		sp = memchr(p, ' ', (size_t)(nl - p));
		sp = sp != NULL ? memchr(sp + 1, ' ', (size_t)(nl - sp - 1)) :
		    NULL;
		klen = (size_t)((sp != NULL ? sp : nl) - p);
		if (klen >= sizeof(key))
			continue;
		memcpy(key, p, klen);
		key[klen] = '\0';
		r = lp_index_node_by_key(idx, key, &n);
		check_code(r);
		if (r == 0)
			check_node(&n);
	}
}

static void
follow_node(struct lp_index *idx, size_t pos)
{
	struct lp_index_node n, m;
	int r;

	r = lp_index_node_at(idx, pos, &n);
	check_code(r);
	if (r != 0)
		return;
	check_node(&n);
	r = lp_index_node(idx, n.name, &m);
	if (r != 0 || strcmp(m.name, n.name) != 0 || m.port != n.port)
		__builtin_trap();
	r = lp_index_node_by_port(idx, n.port, &m);
	check_code(r);
	if (r == 0 && m.port != n.port)
		__builtin_trap();
	follow_keys(idx, n.name);
}

static void
probe_fixed(struct lp_index *idx)
{
	static const char *const names[] = { "gpu01", "gpu02", "a", "" };
	static const unsigned ports[] = { 22001, 22002, 1024, 65535, 0 };
	struct lp_index_node n;
	const char *keys;
	size_t i, len;
	int r;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		r = lp_index_node(idx, names[i], &n);
		check_code(r);
		if (r == 0 && strcmp(n.name, names[i]) != 0)
			__builtin_trap();
		check_code(lp_index_keys(idx, names[i], &keys, &len));
	}
	for (i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		r = lp_index_node_by_port(idx, ports[i], &n);
		check_code(r);
		if (r == 0 && n.port != ports[i])
			__builtin_trap();
	}
	check_code(lp_index_node_by_key(idx, "ssh-ed25519 AAAA", &n));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lp_index *idx = NULL;
	size_t i, count;
	int r;

	if (put_input(data, size) != 0)
		__builtin_trap();
	r = lp_index_open(path, &idx);
	if (r != 0) {
		if (r != -EPROTO || idx != NULL)
			__builtin_trap();
		return 0;
	}
	if (strlen(lp_index_tunnel_user(idx)) == 0 ||
	    strlen(lp_index_listen(idx)) == 0)
		__builtin_trap();
	probe_fixed(idx);
	count = lp_index_count(idx);
	for (i = 0; i < count && i < NODES_FOLLOWED; i++)
		follow_node(idx, i);
	check_code(lp_index_node_at(idx, count, &(struct lp_index_node){ 0 }));
	lp_index_close(idx);
	return 0;
}
