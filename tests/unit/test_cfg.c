/*
 * lib/cfg.c and lib/yaml.c: the policy file.  Every field at its bounds
 * and past them, wrong types, unknown and repeated keys, the node
 * registry's uniqueness rules, what the YAML reader refuses, and the
 * checks lp_cfg_load() makes on the file.  Messages are compared whole,
 * with their line and column.  Runs as root: a file is given to uid 1
 * to test its owner.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfg.h"
#include "lp_util.h"

#define DATA_DIR	LP_TEST_SRCDIR "/data/"

/* The public keys of tests/data/cfg-*.pub, read by setup. */
enum { K_GPU01, K_GPU02, K_GPU03, K_ECDSA, K_RSA, K_COUNT };

static const char *const key_files[K_COUNT] = {
	"cfg-gpu01.pub", "cfg-gpu02.pub", "cfg-gpu03.pub", "cfg-ecdsa.pub",
	"cfg-rsa.pub",
};

struct fx {
	char		 dir[64];
	int		 have_dir;
	char		*key[K_COUNT];
	struct lp_diag	 diag;
	struct lp_cfg	*cfg;
};

static char *
read_text(const char *path)
{
	char *buf;
	FILE *fp;
	long len;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0 ||
	    (buf = calloc(1, (size_t)len + 1)) == NULL) {
		(void)fclose(fp);
		return NULL;
	}
	if (fread(buf, 1, (size_t)len, fp) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	(void)fclose(fp);
	return buf;
}

static int
setup(void **state)
{
	struct fx *fx;
	size_t i;

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	*state = fx;
	(void)strcpy(fx->dir, "/tmp/lp-test-cfg.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	fx->have_dir = 1;
	for (i = 0; i < K_COUNT; i++) {
		char path[512];

		(void)snprintf(path, sizeof(path), "%s%s", DATA_DIR,
		    key_files[i]);
		if ((fx->key[i] = read_text(path)) == NULL)
			return -1;
		fx->key[i][strcspn(fx->key[i], "\n")] = '\0';
	}
	(void)umask(022);
	return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	size_t i;

	if (fx == NULL)
		return 0;
	if (fx->have_dir)
		(void)nftw(fx->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	for (i = 0; i < K_COUNT; i++)
		free(fx->key[i]);
	lp_cfg_free(fx->cfg);
	lp_diag_clear(&fx->diag);
	free(fx);
	return 0;
}

/* ------------------------------------------------------------ helpers */

static int
parse_len(struct fx *fx, const char *text, size_t len)
{
	lp_cfg_free(fx->cfg);
	fx->cfg = NULL;
	lp_diag_clear(&fx->diag);
	return lp_cfg_parse("lp.yaml", text, len, &fx->cfg, &fx->diag);
}

static int
parse(struct fx *fx, const char *text)
{
	return parse_len(fx, text, strlen(text));
}

static int parsef(struct fx *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static int
parsef(struct fx *fx, const char *fmt, ...)
{
	va_list ap;
	char *text;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&text, fmt, ap);
	va_end(ap);
	assert_true(r >= 0);
	r = parse(fx, text);
	free(text);
	return r;
}

static void
dump_diag(const struct fx *fx)
{
	size_t i;

	for (i = 0; i < fx->diag.n; i++)
		print_message("  diag: %s\n", fx->diag.msgs[i]);
}

static void
assert_has_msg(const struct fx *fx, const char *msg)
{
	size_t i;

	for (i = 0; i < fx->diag.n; i++)
		if (strcmp(fx->diag.msgs[i], msg) == 0)
			return;
	dump_diag(fx);
	fail_msg("no message \"%s\"", msg);
}

/* Parsing text fails with exactly one message, msg. */
static void
assert_refused(struct fx *fx, const char *text, const char *msg)
{
	int r = parse(fx, text);

	if (r != -EINVAL || fx->diag.n != 1) {
		print_message("  text: %s", text);
		dump_diag(fx);
	}
	assert_int_equal(r, -EINVAL);
	assert_null(fx->cfg);
	assert_int_equal(fx->diag.n, 1);
	assert_string_equal(fx->diag.msgs[0], msg);
}

static void
assert_parses(struct fx *fx, const char *text)
{
	int r = parse(fx, text);

	if (r != 0) {
		print_message("  text: %s", text);
		dump_diag(fx);
	}
	assert_int_equal(r, 0);
	assert_non_null(fx->cfg);
	assert_int_equal(fx->diag.n, 0);
}

/* A one-node registry around a key line, as a flow sequence item. */
static void
parse_node_key(struct fx *fx, const char *key)
{
	(void)parsef(fx, "nodes:\n  gpu01:\n    port: 22001\n"
	    "    keys:\n      - \"%s\"\n", key);
}

static char *
file_path(const struct fx *fx, const char *name)
{
	char *path;

	assert_true(asprintf(&path, "%s/%s", fx->dir, name) > 0);
	return path;
}

static char *
write_file(const struct fx *fx, const char *name, const char *text,
    mode_t mode)
{
	char *path = file_path(fx, name);
	size_t len = strlen(text);
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
	return path;
}

/* Loads path and expects err with the single message "PATH: text". */
static void
assert_load_refused(struct fx *fx, const char *path, int err,
    const char *text)
{
	char *msg;
	int r;

	r = lp_cfg_load(path, &fx->cfg, &fx->diag);
	if (r != err)
		dump_diag(fx);
	assert_int_equal(r, err);
	assert_null(fx->cfg);
	assert_int_equal(fx->diag.n, 1);
	assert_true(asprintf(&msg, "%s: %s", path, text) > 0);
	assert_string_equal(fx->diag.msgs[0], msg);
	free(msg);
}

/* ----------------------------------------------------------- defaults */

static void
test_cfg_defaults_fill_totp_and_tunnel(void **state)
{
	struct lp_cfg cfg;

	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	lp_cfg_defaults(&cfg);
	assert_string_equal(cfg.totp.issuer, "LocalPrompt");
	assert_int_equal(cfg.totp.digits, 6);
	assert_int_equal(cfg.totp.period, 30);
	assert_int_equal(cfg.totp.algo, LP_TOTP_SHA1);
	assert_int_equal(cfg.totp.window, 1);
	assert_int_equal(cfg.totp.max_failures, 5);
	assert_int_equal(cfg.totp.lockout, 300);
	assert_string_equal(cfg.tunnel.user, "lp-tunnel");
	assert_string_equal(cfg.tunnel.listen_address, "127.0.0.1");
}

static void
test_cfg_parse_applies_defaults_to_absent_and_empty_sections(void **state)
{
	struct fx *fx = *state;
	static const char *const texts[] = {
		"totp: {}\n",
		"totp:\ntunnel:\nnodes:\n",
		"tunnel: ~\nnodes: {}\n",
		"# comment\ntotp: null\n",
	};
	size_t i;

	for (i = 0; i < LP_ARRAY_SIZE(texts); i++) {
		assert_parses(fx, texts[i]);
		assert_string_equal(fx->cfg->path, "lp.yaml");
		assert_string_equal(fx->cfg->totp.issuer, "LocalPrompt");
		assert_int_equal(fx->cfg->totp.digits, 6);
		assert_int_equal(fx->cfg->totp.period, 30);
		assert_int_equal(fx->cfg->totp.algo, LP_TOTP_SHA1);
		assert_int_equal(fx->cfg->totp.window, 1);
		assert_int_equal(fx->cfg->totp.max_failures, 5);
		assert_int_equal(fx->cfg->totp.lockout, 300);
		assert_string_equal(fx->cfg->tunnel.user, "lp-tunnel");
		assert_string_equal(fx->cfg->tunnel.listen_address,
		    "127.0.0.1");
		assert_int_equal(fx->cfg->nnodes, 0);
	}
}

static void
test_cfg_parse_reads_every_field_of_a_full_policy(void **state)
{
	struct fx *fx = *state;
	const struct lp_node *n;
	char *text;

	text = read_text(DATA_DIR "cfg-full.yaml");
	assert_non_null(text);
	assert_parses(fx, text);
	free(text);

	assert_string_equal(fx->cfg->totp.issuer, "Example GPU Lab");
	assert_int_equal(fx->cfg->totp.digits, 8);
	assert_int_equal(fx->cfg->totp.period, 60);
	assert_int_equal(fx->cfg->totp.algo, LP_TOTP_SHA512);
	assert_int_equal(fx->cfg->totp.window, 2);
	assert_int_equal(fx->cfg->totp.max_failures, 10);
	assert_int_equal(fx->cfg->totp.lockout, 900);
	assert_string_equal(fx->cfg->tunnel.user, "gpu-tunnel");
	assert_string_equal(fx->cfg->tunnel.listen_address, "::1");
	assert_int_equal(fx->cfg->nnodes, 3);

	n = &fx->cfg->nodes[0];
	assert_string_equal(n->name, "gpu01");
	assert_int_equal(n->port, 22001);
	assert_int_equal(n->line, 14);
	assert_true(n->enabled);
	assert_int_equal(n->nkeys, 2);
	assert_string_equal(n->keys[0], fx->key[K_GPU01]);
	assert_string_equal(n->keys[1], fx->key[K_ECDSA]);
	assert_int_equal(n->ngroups, 2);
	assert_string_equal(n->groups[0], "ml");
	assert_string_equal(n->groups[1], "vision");

	n = &fx->cfg->nodes[1];
	assert_string_equal(n->name, "gpu02");
	assert_int_equal(n->port, 22002);
	assert_false(n->enabled);
	assert_int_equal(n->nkeys, 1);
	assert_string_equal(n->keys[0], fx->key[K_RSA]);
	assert_int_equal(n->ngroups, 0);

	n = &fx->cfg->nodes[2];
	assert_string_equal(n->name, "gpu03");
	assert_int_equal(n->port, 65535);
	assert_true(n->enabled);
	assert_int_equal(n->ngroups, 0);
	assert_int_equal(n->nkeys, 1);
	assert_string_equal(n->keys[0], fx->key[K_GPU03]);
}

static void
test_cfg_parse_accepts_the_example_policy(void **state)
{
	struct fx *fx = *state;
	char *text = read_text(LP_TEST_SRCDIR "/../etc/lp.yaml");

	assert_non_null(text);
	assert_parses(fx, text);
	free(text);
	assert_string_equal(fx->cfg->totp.issuer, "LocalPrompt");
	assert_int_equal(fx->cfg->nnodes, 0);
}

/* The example node, commented out in etc/lp.yaml, is valid once enabled. */
static void
test_cfg_parse_accepts_the_example_node_uncommented(void **state)
{
	struct fx *fx = *state;
	char *text = read_text(LP_TEST_SRCDIR "/../etc/lp.yaml");
	char *p, *q;

	assert_non_null(text);
	p = strstr(text, "nodes: {}\n");
	assert_non_null(p);
	memmove(p + 6, p + 9, strlen(p + 9) + 1);
	for (q = p; (q = strstr(q, "\n#  ")) != NULL; q++)
		memmove(q + 1, q + 2, strlen(q + 2) + 1);
	assert_parses(fx, text);
	free(text);
	assert_int_equal(fx->cfg->nnodes, 1);
	assert_string_equal(fx->cfg->nodes[0].name, "gpu01");
	assert_int_equal(fx->cfg->nodes[0].port, 22001);
	assert_int_equal(fx->cfg->nodes[0].nkeys, 1);
	assert_non_null(strstr(fx->cfg->nodes[0].keys[0], " gpu01-tunnel"));
}

/* --------------------------------------------------------------- totp: */

struct bound_case {
	const char	*text;
	size_t		 off;	/* of an unsigned in lp_totp_cfg */
	unsigned	 want;
};

static void
test_cfg_parse_accepts_each_totp_number_at_its_bounds(void **state)
{
	struct fx *fx = *state;
	static const struct bound_case cases[] = {
#define B(t, f, v)	{ t, offsetof(struct lp_totp_cfg, f), v }
		B("totp: {digits: 6}\n", digits, 6),
		B("totp: {digits: 8}\n", digits, 8),
		B("totp: {period: 10}\n", period, 10),
		B("totp: {period: 300}\n", period, 300),
		B("totp: {window: 0}\n", window, 0),
		B("totp: {window: 10}\n", window, 10),
		B("totp: {max_failures: 1}\n", max_failures, 1),
		B("totp: {max_failures: 1000}\n", max_failures, 1000),
		B("totp: {lockout: 1}\n", lockout, 1),
		B("totp: {lockout: 86400}\n", lockout, 86400),
#undef B
	};
	size_t i;
	unsigned v;

	for (i = 0; i < LP_ARRAY_SIZE(cases); i++) {
		assert_parses(fx, cases[i].text);
		memcpy(&v, (const char *)&fx->cfg->totp + cases[i].off,
		    sizeof(v));
		assert_int_equal(v, cases[i].want);
	}
}

struct refuse_case {
	const char	*text;
	const char	*msg;
};

static void
run_refuse_cases(struct fx *fx, const struct refuse_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		assert_refused(fx, cases[i].text, cases[i].msg);
}

static void
test_cfg_parse_refuses_each_totp_number_past_its_bounds(void **state)
{
	static const struct refuse_case cases[] = {
		{ "totp: {digits: 5}\n",
		    "lp.yaml:1:16: totp.digits: must be 6 or 8" },
		{ "totp: {digits: 7}\n",
		    "lp.yaml:1:16: totp.digits: must be 6 or 8" },
		{ "totp: {digits: 9}\n",
		    "lp.yaml:1:16: totp.digits: must be 6 or 8" },
		{ "totp: {period: 9}\n",
		    "lp.yaml:1:16: totp.period: must be between 10 and 300" },
		{ "totp: {period: 301}\n",
		    "lp.yaml:1:16: totp.period: must be between 10 and 300" },
		{ "totp: {window: 11}\n",
		    "lp.yaml:1:16: totp.window: must be between 0 and 10" },
		{ "totp: {max_failures: 0}\n",
		    "lp.yaml:1:22: totp.max_failures: must be between 1 and "
		    "1000" },
		{ "totp: {max_failures: 1001}\n",
		    "lp.yaml:1:22: totp.max_failures: must be between 1 and "
		    "1000" },
		{ "totp: {lockout: 0}\n",
		    "lp.yaml:1:17: totp.lockout: must be between 1 and 86400" },
		{ "totp: {lockout: 86401}\n",
		    "lp.yaml:1:17: totp.lockout: must be between 1 and 86400" },
		{ "totp: {lockout: 99999999999999999999999}\n",
		    "lp.yaml:1:17: totp.lockout: must be between 1 and 86400" },
	};

	run_refuse_cases(*state, cases, LP_ARRAY_SIZE(cases));
}

static void
test_cfg_parse_refuses_numbers_that_are_not_plain_decimal(void **state)
{
	static const struct refuse_case cases[] = {
		{ "totp:\n  period: \"30\"\n", "lp.yaml:2:11: totp.period: "
		    "must be an integer without quotes, found '30'" },
		{ "totp:\n  period: '30'\n", "lp.yaml:2:11: totp.period: "
		    "must be an integer without quotes, found '30'" },
		{ "totp:\n  period: -30\n", "lp.yaml:2:11: totp.period: "
		    "must be a decimal integer, found '-30'" },
		{ "totp:\n  period: +30\n", "lp.yaml:2:11: totp.period: "
		    "must be a decimal integer, found '+30'" },
		{ "totp:\n  period: 0x1e\n", "lp.yaml:2:11: totp.period: "
		    "must be a decimal integer, found '0x1e'" },
		{ "totp:\n  period: 30.0\n", "lp.yaml:2:11: totp.period: "
		    "must be a decimal integer, found '30.0'" },
		{ "totp:\n  period: 3e1\n", "lp.yaml:2:11: totp.period: "
		    "must be a decimal integer, found '3e1'" },
		{ "totp:\n  period: 036\n", "lp.yaml:2:11: totp.period: "
		    "must be written without leading zeros, found '036'" },
		{ "totp:\n  period:\n", "lp.yaml:2:10: totp.period: "
		    "must be a decimal integer, found ''" },
	};

	run_refuse_cases(*state, cases, LP_ARRAY_SIZE(cases));
}

static void
test_cfg_parse_refuses_values_of_the_wrong_type(void **state)
{
	static const struct refuse_case cases[] = {
		{ "totp:\n  digits: [6]\n", "lp.yaml:2:11: totp.digits: "
		    "must be an integer, not a sequence" },
		{ "totp:\n  digits: six\n", "lp.yaml:2:11: totp.digits: "
		    "must be a decimal integer, found 'six'" },
		{ "totp:\n  window: {a: 1}\n", "lp.yaml:2:11: totp.window: "
		    "must be an integer, not a mapping" },
		{ "totp:\n  issuer: [a]\n", "lp.yaml:2:11: totp.issuer: "
		    "must be a string, not a sequence" },
		{ "totp:\n  algorithm: {}\n", "lp.yaml:2:14: totp.algorithm: "
		    "must be sha1, sha256 or sha512, not a mapping" },
		{ "tunnel:\n  user: [a]\n", "lp.yaml:2:9: tunnel.user: "
		    "must be a string, not a sequence" },
		{ "tunnel:\n  listen_address: {}\n", "lp.yaml:2:19: "
		    "tunnel.listen_address: must be a string, not a mapping" },
		{ "totp: 6\n", "lp.yaml:1:7: totp: must be a mapping, not a "
		    "scalar" },
		{ "tunnel: [a]\n", "lp.yaml:1:9: tunnel: must be a mapping, "
		    "not a sequence" },
		{ "nodes: [a]\n", "lp.yaml:1:8: nodes: must be a mapping of "
		    "node names to nodes, not a sequence" },
	};

	run_refuse_cases(*state, cases, LP_ARRAY_SIZE(cases));
}

static void
test_cfg_parse_accepts_each_algorithm(void **state)
{
	struct fx *fx = *state;

	assert_parses(fx, "totp: {algorithm: sha1}\n");
	assert_int_equal(fx->cfg->totp.algo, LP_TOTP_SHA1);
	assert_parses(fx, "totp: {algorithm: sha256}\n");
	assert_int_equal(fx->cfg->totp.algo, LP_TOTP_SHA256);
	assert_parses(fx, "totp: {algorithm: sha512}\n");
	assert_int_equal(fx->cfg->totp.algo, LP_TOTP_SHA512);
	assert_string_equal(lp_totp_algo_name(LP_TOTP_SHA1), "sha1");
	assert_string_equal(lp_totp_algo_name(LP_TOTP_SHA256), "sha256");
	assert_string_equal(lp_totp_algo_name(LP_TOTP_SHA512), "sha512");
}

static void
test_cfg_parse_refuses_unknown_algorithms(void **state)
{
	static const struct refuse_case cases[] = {
		{ "totp: {algorithm: md5}\n", "lp.yaml:1:19: totp.algorithm: "
		    "must be sha1, sha256 or sha512, found 'md5'" },
		{ "totp: {algorithm: SHA1}\n", "lp.yaml:1:19: totp.algorithm: "
		    "must be sha1, sha256 or sha512, found 'SHA1'" },
		{ "totp: {algorithm: sha-256}\n", "lp.yaml:1:19: "
		    "totp.algorithm: must be sha1, sha256 or sha512, found "
		    "'sha-256'" },
	};

	run_refuse_cases(*state, cases, LP_ARRAY_SIZE(cases));
}

static void
test_cfg_parse_accepts_issuer_of_1_and_64_characters(void **state)
{
	struct fx *fx = *state;
	char long64[LP_ISSUER_MAX + 1];

	assert_parses(fx, "totp: {issuer: X}\n");
	assert_string_equal(fx->cfg->totp.issuer, "X");
	memset(long64, 'i', LP_ISSUER_MAX);
	long64[LP_ISSUER_MAX] = '\0';
	assert_int_equal(parsef(fx, "totp: {issuer: %s}\n", long64), 0);
	assert_string_equal(fx->cfg->totp.issuer, long64);
	assert_parses(fx, "totp: {issuer: \"Example Corp (GPU) #2\"}\n");
	assert_string_equal(fx->cfg->totp.issuer, "Example Corp (GPU) #2");
}

static void
test_cfg_parse_refuses_bad_issuers(void **state)
{
	struct fx *fx = *state;
	static const struct refuse_case cases[] = {
		{ "totp: {issuer: \"\"}\n", "lp.yaml:1:16: totp.issuer: must "
		    "be 1 to 64 characters long" },
		{ "totp: {issuer: \"Corp:GPU\"}\n", "lp.yaml:1:16: "
		    "totp.issuer: must not contain ':', which ends the issuer "
		    "in an otpauth label" },
		{ "totp: {issuer: \"Soci\\u00e9t\\u00e9\"}\n", "lp.yaml:1:16: "
		    "totp.issuer: must hold printable ASCII characters only" },
		{ "totp: {issuer: \"a\\tb\"}\n", "lp.yaml:1:16: totp.issuer: "
		    "must hold printable ASCII characters only" },
	};
	char long65[LP_ISSUER_MAX + 2];

	run_refuse_cases(fx, cases, LP_ARRAY_SIZE(cases));
	memset(long65, 'i', LP_ISSUER_MAX + 1);
	long65[LP_ISSUER_MAX + 1] = '\0';
	assert_int_equal(parsef(fx, "totp: {issuer: %s}\n", long65), -EINVAL);
	assert_int_equal(fx->diag.n, 1);
	assert_string_equal(fx->diag.msgs[0], "lp.yaml:1:16: totp.issuer: "
	    "must be 1 to 64 characters long");
}

/* ------------------------------------------------------------- tunnel: */

static void
test_cfg_parse_accepts_tunnel_user_and_addresses(void **state)
{
	struct fx *fx = *state;
	char user32[33];

	assert_parses(fx, "tunnel:\n  user: tun.nel_1@lab\n"
	    "  listen_address: 10.1.2.3\n");
	assert_string_equal(fx->cfg->tunnel.user, "tun.nel_1@lab");
	assert_string_equal(fx->cfg->tunnel.listen_address, "10.1.2.3");
	assert_parses(fx, "tunnel: {listen_address: \"fd00:1::42\"}\n");
	assert_string_equal(fx->cfg->tunnel.listen_address, "fd00:1::42");
	assert_parses(fx, "tunnel: {listen_address: "
	    "\"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255\"}\n");
	assert_string_equal(fx->cfg->tunnel.listen_address,
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");

	memset(user32, 'u', 32);
	user32[32] = '\0';
	assert_int_equal(parsef(fx, "tunnel: {user: %s}\n", user32), 0);
	assert_string_equal(fx->cfg->tunnel.user, user32);
}

static void
test_cfg_parse_refuses_bad_tunnel_user_and_addresses(void **state)
{
	static const struct refuse_case cases[] = {
		{ "tunnel: {user: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n",
		    "lp.yaml:1:16: tunnel.user: user name must be at most 32 "
		    "characters long" },
		{ "tunnel: {user: -tunnel}\n", "lp.yaml:1:16: tunnel.user: "
		    "not a valid user name: '-tunnel'" },
		{ "tunnel: {user: \"lp/tunnel\"}\n", "lp.yaml:1:16: "
		    "tunnel.user: not a valid user name: 'lp/tunnel'" },
		{ "tunnel: {user: \"\"}\n", "lp.yaml:1:16: tunnel.user: "
		    "not a valid user name: ''" },
		{ "tunnel: {listen_address: localhost}\n", "lp.yaml:1:26: "
		    "tunnel.listen_address: must be an IPv4 or IPv6 address, "
		    "found 'localhost'" },
		{ "tunnel: {listen_address: 127.0.0.256}\n", "lp.yaml:1:26: "
		    "tunnel.listen_address: must be an IPv4 or IPv6 address, "
		    "found '127.0.0.256'" },
		{ "tunnel: {listen_address: \"fe80::1%lo\"}\n", "lp.yaml:1:26: "
		    "tunnel.listen_address: must be an IPv4 or IPv6 address, "
		    "found 'fe80::1%lo'" },
		{ "tunnel: {listen_address: 127.1}\n", "lp.yaml:1:26: "
		    "tunnel.listen_address: must be an IPv4 or IPv6 address, "
		    "found '127.1'" },
	};

	run_refuse_cases(*state, cases, LP_ARRAY_SIZE(cases));
}

/* ---------------------------------------------------------- structure */

static void
test_cfg_parse_refuses_unknown_keys_at_every_level(void **state)
{
	struct fx *fx = *state;
	static const struct refuse_case cases[] = {
		{ "node:\n  gpu01: {}\n", "lp.yaml:1:1: unknown key 'node'" },
		{ "totp:\n  digit: 6\n", "lp.yaml:2:3: totp: unknown key "
		    "'digit'" },
		{ "tunnel:\n  address: ::1\n", "lp.yaml:2:3: tunnel: unknown "
		    "key 'address'" },
	};

	run_refuse_cases(fx, cases, LP_ARRAY_SIZE(cases));
	(void)parsef(fx, "nodes:\n  gpu01:\n    port: 22001\n"
	    "    keys: [\"%s\"]\n    group: [ml]\n", fx->key[K_GPU01]);
	assert_null(fx->cfg);
	assert_int_equal(fx->diag.n, 1);
	assert_string_equal(fx->diag.msgs[0], "lp.yaml:5:5: nodes.gpu01: "
	    "unknown key 'group'");
}

static void
test_cfg_parse_reports_duplicate_keys_with_both_lines(void **state)
{
	static const struct refuse_case cases[] = {
		{ "totp:\n  digits: 6\n  period: 30\n  digits: 8\n",
		    "lp.yaml:4:3: totp: duplicate key 'digits', first at "
		    "line 2" },
		{ "totp: {}\ntunnel: {}\ntotp: {}\n", "lp.yaml:3:1: "
		    "duplicate key 'totp', first at line 1" },
		{ "tunnel:\n  user: a\n  \"user\": b\n", "lp.yaml:3:3: "
		    "tunnel: duplicate key 'user', first at line 2" },
	};

	run_refuse_cases(*state, cases, LP_ARRAY_SIZE(cases));
}

static void
test_cfg_parse_reports_duplicate_node_names_with_both_lines(void **state)
{
	struct fx *fx = *state;

	(void)parsef(fx, "nodes:\n  gpu01:\n    port: 22001\n"
	    "    keys: [\"%s\"]\n  gpu01:\n    port: 22002\n"
	    "    keys: [\"%s\"]\n", fx->key[K_GPU01], fx->key[K_GPU02]);
	assert_null(fx->cfg);
	assert_int_equal(fx->diag.n, 1);
	assert_string_equal(fx->diag.msgs[0], "lp.yaml:5:3: nodes: "
	    "duplicate node name 'gpu01', first at line 2");
}

static void
test_cfg_parse_refuses_empty_or_non_mapping_files(void **state)
{
	static const struct refuse_case cases[] = {
		{ "", "lp.yaml:1:1: the policy file is empty" },
		{ "\n\n", "lp.yaml:1:1: the policy file is empty" },
		{ "# only a comment\n", "lp.yaml:1:1: the policy file is "
		    "empty" },
		{ "---\n", "lp.yaml:1:1: the policy file is empty" },
		{ "totp\n", "lp.yaml:1:1: the top level must be a mapping "
		    "of sections, not a scalar" },
		{ "- totp\n", "lp.yaml:1:1: the top level must be a mapping "
		    "of sections, not a sequence" },
		{ "? [totp]\n: 1\n", "lp.yaml:1:3: a key must be a scalar, "
		    "not a sequence" },
	};

	run_refuse_cases(*state, cases, LP_ARRAY_SIZE(cases));
}

/* -------------------------------------------------------------- nodes: */

static void
test_cfg_parse_accepts_node_ports_at_their_bounds(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(parsef(fx, "nodes:\n  a: {port: 1024, keys: [\"%s\"]}"
	    "\n  b: {port: 65535, keys: [\"%s\"]}\n", fx->key[K_GPU01],
	    fx->key[K_GPU02]), 0);
	assert_int_equal(fx->cfg->nnodes, 2);
	assert_int_equal(fx->cfg->nodes[0].port, 1024);
	assert_int_equal(fx->cfg->nodes[1].port, 65535);
}

static void
test_cfg_parse_refuses_node_ports_past_their_bounds(void **state)
{
	struct fx *fx = *state;

	(void)parsef(fx, "nodes:\n  a: {port: 1023, keys: [\"%s\"]}\n"
	    "  b: {port: 65536, keys: [\"%s\"]}\n"
	    "  c: {port: \"22001\", keys: [\"%s\"]}\n", fx->key[K_GPU01],
	    fx->key[K_GPU02], fx->key[K_GPU03]);
	assert_null(fx->cfg);
	assert_int_equal(fx->diag.n, 3);
	assert_string_equal(fx->diag.msgs[0], "lp.yaml:2:13: nodes.a.port: "
	    "must be between 1024 and 65535");
	assert_string_equal(fx->diag.msgs[1], "lp.yaml:3:13: nodes.b.port: "
	    "must be between 1024 and 65535");
	assert_string_equal(fx->diag.msgs[2], "lp.yaml:4:13: nodes.c.port: "
	    "must be an integer without quotes, found '22001'");
}

static void
test_cfg_parse_refuses_a_port_used_by_two_nodes(void **state)
{
	struct fx *fx = *state;

	(void)parsef(fx, "nodes:\n  gpu01:\n    port: 22001\n"
	    "    keys: [\"%s\"]\n  gpu02:\n    port: 22001\n"
	    "    keys: [\"%s\"]\n", fx->key[K_GPU01], fx->key[K_GPU02]);
	assert_null(fx->cfg);
	assert_int_equal(fx->diag.n, 1);
	assert_string_equal(fx->diag.msgs[0], "lp.yaml:6:11: "
	    "nodes.gpu02.port: port 22001 already belongs to node 'gpu01' "
	    "at line 3");
}

static void
test_cfg_parse_refuses_a_key_given_to_two_nodes(void **state)
{
	struct fx *fx = *state;
	char *other;

	/* The comment does not make it another key. */
	assert_true(asprintf(&other, "%.*s other-comment",
	    (int)(strrchr(fx->key[K_GPU01], ' ') - fx->key[K_GPU01]),
	    fx->key[K_GPU01]) > 0);
	(void)parsef(fx, "nodes:\n  gpu01:\n    port: 22001\n"
	    "    keys:\n      - %s\n  gpu02:\n    port: 22002\n"
	    "    keys:\n      - %s\n      - %s\n", fx->key[K_GPU01],
	    fx->key[K_GPU02], other);
	free(other);
	assert_null(fx->cfg);
	assert_int_equal(fx->diag.n, 1);
	assert_string_equal(fx->diag.msgs[0], "lp.yaml:10:9: "
	    "nodes.gpu02.keys[1]: key already belongs to node 'gpu01' at "
	    "line 5");
}

static void
test_cfg_parse_refuses_a_key_listed_twice_in_one_node(void **state)
{
	struct fx *fx = *state;

	(void)parsef(fx, "nodes:\n  gpu01:\n    port: 22001\n"
	    "    keys:\n      - %s\n      - %s\n      - %s\n",
	    fx->key[K_GPU01], fx->key[K_GPU02], fx->key[K_GPU01]);
	assert_null(fx->cfg);
	assert_int_equal(fx->diag.n, 1);
	assert_string_equal(fx->diag.msgs[0], "lp.yaml:7:9: "
	    "nodes.gpu01.keys[2]: key is listed twice, first at line 5");
}

static void
test_cfg_parse_normalises_spaces_in_key_lines(void **state)
{
	struct fx *fx = *state;
	char *spaced, *want;
	const char *k = fx->key[K_GPU01];
	int tlen = (int)strcspn(k, " ");

	/* "ssh-ed25519   BASE64   gpu01-tunnel  " */
	assert_true(asprintf(&spaced, "%.*s   %s  ", tlen, k,
	    k + tlen + 1) > 0);
	parse_node_key(fx, spaced);
	assert_non_null(fx->cfg);
	assert_string_equal(fx->cfg->nodes[0].keys[0], k);
	free(spaced);

	/* A key without a comment is kept without one. */
	assert_true(asprintf(&want, "%.*s", (int)(strrchr(k, ' ') - k),
	    k) > 0);
	parse_node_key(fx, want);
	assert_non_null(fx->cfg);
	assert_string_equal(fx->cfg->nodes[0].keys[0], want);
	free(want);
}

static void
test_cfg_parse_accepts_every_listed_key_type(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(parsef(fx, "nodes:\n  gpu01:\n    port: 22001\n"
	    "    keys:\n      - %s\n      - %s\n      - %s\n",
	    fx->key[K_GPU01], fx->key[K_ECDSA], fx->key[K_RSA]), 0);
	assert_int_equal(fx->cfg->nodes[0].nkeys, 3);
	assert_string_equal(fx->cfg->nodes[0].keys[2], fx->key[K_RSA]);
}

/* "TYPE" followed by the base64 of the SSH string "INNER". */
static char *
fake_key(const char *type, const char *inner)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char blob[128];
	size_t len = strlen(inner), n = 4 + len + 32, i, o;
	char *out;

	assert_true(n <= sizeof(blob));
	memset(blob, 0x42, sizeof(blob));
	blob[0] = 0;
	blob[1] = 0;
	blob[2] = 0;
	blob[3] = (unsigned char)len;
	memcpy(blob + 4, inner, len);
	out = calloc(1, strlen(type) + 2 + (n + 2) / 3 * 4 + 1);
	assert_non_null(out);
	o = (size_t)sprintf(out, "%s ", type);
	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned)blob[i] << 16 |
		    (i + 1 < n ? (unsigned)blob[i + 1] << 8 : 0) |
		    (i + 2 < n ? blob[i + 2] : 0);

		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	return out;
}

static void
test_cfg_parse_accepts_security_key_types(void **state)
{
	struct fx *fx = *state;
	char *a = fake_key("sk-ssh-ed25519@openssh.com",
	    "sk-ssh-ed25519@openssh.com");
	char *b = fake_key("sk-ecdsa-sha2-nistp256@openssh.com",
	    "sk-ecdsa-sha2-nistp256@openssh.com");
	char *c = fake_key("ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384");
	char *d = fake_key("ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521");

	assert_int_equal(parsef(fx, "nodes:\n  gpu01:\n    port: 22001\n"
	    "    keys: [\"%s\", \"%s\", \"%s\", \"%s\"]\n", a, b, c, d), 0);
	assert_int_equal(fx->cfg->nodes[0].nkeys, 4);
	assert_string_equal(fx->cfg->nodes[0].keys[0], a);
	free(a);
	free(b);
	free(c);
	free(d);
}

static void
test_cfg_parse_refuses_keys_of_unknown_type(void **state)
{
	struct fx *fx = *state;
	char *dss = fake_key("ssh-dss", "ssh-dss");

	parse_node_key(fx, dss);
	free(dss);
	assert_null(fx->cfg);
	assert_int_equal(fx->diag.n, 1);
	assert_string_equal(fx->diag.msgs[0], "lp.yaml:5:9: "
	    "nodes.gpu01.keys[0]: unknown key type 'ssh-dss'");

	/* Key options belong to lp-nodes, not to the policy. */
	(void)parsef(fx, "nodes:\n  gpu01:\n    port: 22001\n"
	    "    keys:\n      - restrict %s\n", fx->key[K_GPU01]);
	assert_null(fx->cfg);
	assert_int_equal(fx->diag.n, 1);
	assert_string_equal(fx->diag.msgs[0], "lp.yaml:5:9: "
	    "nodes.gpu01.keys[0]: unknown key type 'restrict'");
}

static void
test_cfg_parse_refuses_a_key_whose_blob_has_another_type(void **state)
{
	struct fx *fx = *state;
	char *key;

	/* An ed25519 key's data under the ssh-rsa name. */
	assert_true(asprintf(&key, "ssh-rsa %s",
	    strchr(fx->key[K_GPU01], ' ') + 1) > 0);
	parse_node_key(fx, key);
	free(key);
	assert_null(fx->cfg);
	assert_int_equal(fx->diag.n, 1);
	assert_string_equal(fx->diag.msgs[0], "lp.yaml:5:9: "
	    "nodes.gpu01.keys[0]: key data is of type 'ssh-ed25519', not "
	    "'ssh-rsa'");

	key = fake_key("ssh-ed25519", "ssh-ed25518");
	parse_node_key(fx, key);
	free(key);
	assert_int_equal(fx->diag.n, 1);
	assert_string_equal(fx->diag.msgs[0], "lp.yaml:5:9: "
	    "nodes.gpu01.keys[0]: key data is of type 'ssh-ed25518', not "
	    "'ssh-ed25519'");
}

static void
test_cfg_parse_refuses_malformed_key_data(void **state)
{
	struct fx *fx = *state;
	static const struct refuse_case cases[] = {
		{ "ssh-ed25519", "has no key data after its type" },
		{ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5A", "key data is not "
		    "valid base64" },
		{ "ssh-ed25519 AAAA*3NzaC1lZDI1NTE5AAAA", "key data is not "
		    "valid base64" },
		{ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AA=A", "key data is not "
		    "valid base64" },
		{ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AB==", "key data is not "
		    "valid base64" },
		{ "ssh-ed25519 AAAA", "key data is too short" },
		{ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "key data holds "
		    "nothing after its type" },
		{ "ssh-ed25519 /////////w==", "key data does not start with "
		    "its type" },
		{ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE1", "key data is of type "
		    "'ssh-ed25515', not 'ssh-ed25519'" },
		{ "ssh-ed25519 AAAAQHNzaC1lZDI1NTE5", "key data does not "
		    "start with its type" },
		{ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA\\ncomment",
		    "must be one line of printable ASCII, at most 8192 "
		    "characters" },
	};
	char msg[256];
	size_t i;

	for (i = 0; i < LP_ARRAY_SIZE(cases); i++) {
		parse_node_key(fx, cases[i].text);
		if (fx->diag.n != 1)
			dump_diag(fx);
		assert_null(fx->cfg);
		assert_int_equal(fx->diag.n, 1);
		(void)snprintf(msg, sizeof(msg), "lp.yaml:5:9: "
		    "nodes.gpu01.keys[0]: %s", cases[i].msg);
		assert_string_equal(fx->diag.msgs[0], msg);
	}
}

static void
test_cfg_parse_refuses_a_node_without_port_or_keys(void **state)
{
	struct fx *fx = *state;

	(void)parse(fx, "nodes:\n  gpu01:\n    groups: [ml]\n"
	    "  gpu02:\n    port: 22002\n    keys: []\n"
	    "  gpu03:\n");
	assert_null(fx->cfg);
	assert_int_equal(fx->diag.n, 4);
	assert_string_equal(fx->diag.msgs[0], "lp.yaml:2:3: nodes.gpu01: "
	    "missing required key 'port'");
	assert_string_equal(fx->diag.msgs[1], "lp.yaml:2:3: nodes.gpu01: "
	    "missing required key 'keys'");
	assert_string_equal(fx->diag.msgs[2], "lp.yaml:6:11: "
	    "nodes.gpu02.keys: must be a list of one public key or more, "
	    "not an empty one");
	assert_string_equal(fx->diag.msgs[3], "lp.yaml:7:9: nodes.gpu03: "
	    "must be a mapping with port and keys, not a scalar");
}

static void
test_cfg_parse_checks_node_names_as_dns_labels(void **state)
{
	struct fx *fx = *state;
	static const struct refuse_case cases[] = {
		{ "GPU01", "nodes.GPU01: node name must be lower case" },
		{ "Gpu01", "nodes.Gpu01: node name must be lower case" },
		{ "-gpu01", "nodes.-gpu01: node name must not start or end "
		    "with '-'" },
		{ "gpu01-", "nodes.gpu01-: node name must not start or end "
		    "with '-'" },
		{ "gpu_01", "nodes.gpu_01: node name may hold only a-z, 0-9 "
		    "and '-'" },
		{ "gpu.lab", "nodes.gpu.lab: node name may hold only a-z, 0-9 "
		    "and '-'" },
		{ "\"\"", "nodes: node name must not be empty" },
		{ "\"1234\"", "nodes.1234: node name must not read as an IPv4 "
		    "address" },
		{ "0x7f", "nodes.0x7f: node name must not read as an IPv4 "
		    "address" },
	};
	char msg[256], long64[65];
	size_t i;

	for (i = 0; i < LP_ARRAY_SIZE(cases); i++) {
		(void)parsef(fx, "nodes:\n  %s: {port: 22001, keys: "
		    "[\"%s\"]}\n", cases[i].text, fx->key[K_GPU01]);
		assert_null(fx->cfg);
		assert_int_equal(fx->diag.n, 1);
		(void)snprintf(msg, sizeof(msg), "lp.yaml:2:3: %s",
		    cases[i].msg);
		assert_string_equal(fx->diag.msgs[0], msg);
	}

	memset(long64, 'n', 64);
	long64[64] = '\0';
	(void)parsef(fx, "nodes:\n  %s: {port: 22001, keys: [\"%s\"]}\n",
	    long64, fx->key[K_GPU01]);
	assert_int_equal(fx->diag.n, 1);
	(void)snprintf(msg, sizeof(msg), "lp.yaml:2:3: nodes.%s: node name "
	    "must be at most 63 characters long", long64);
	assert_string_equal(fx->diag.msgs[0], msg);

	long64[63] = '\0';
	assert_int_equal(parsef(fx, "nodes:\n  %s: {port: 22001, keys: "
	    "[\"%s\"]}\n  a: {port: 22002, keys: [\"%s\"]}\n  9-gpu: "
	    "{port: 22003, keys: [\"%s\"]}\n", long64, fx->key[K_GPU01],
	    fx->key[K_GPU02], fx->key[K_GPU03]), 0);
	assert_string_equal(fx->cfg->nodes[0].name, long64);
	assert_string_equal(fx->cfg->nodes[1].name, "a");
	assert_string_equal(fx->cfg->nodes[2].name, "9-gpu");
}

static void
test_cfg_parse_checks_groups(void **state)
{
	struct fx *fx = *state;
	char group32[33];

	memset(group32, 'g', 32);
	group32[32] = '\0';
	assert_int_equal(parsef(fx, "nodes:\n  gpu01:\n    port: 22001\n"
	    "    keys: [\"%s\"]\n    groups: [ml, first.last, %s]\n",
	    fx->key[K_GPU01], group32), 0);
	assert_int_equal(fx->cfg->nodes[0].ngroups, 3);
	assert_string_equal(fx->cfg->nodes[0].groups[1], "first.last");

	(void)parsef(fx, "nodes:\n  gpu01:\n    port: 22001\n"
	    "    keys: [\"%s\"]\n    groups: [ml, ml, \"a b\", %sg]\n",
	    fx->key[K_GPU01], group32);
	assert_null(fx->cfg);
	assert_int_equal(fx->diag.n, 3);
	assert_string_equal(fx->diag.msgs[0], "lp.yaml:5:22: "
	    "nodes.gpu01.groups[2]: not a valid group name: 'a?b'");
	assert_string_equal(fx->diag.msgs[1], "lp.yaml:5:29: "
	    "nodes.gpu01.groups[3]: group name must be at most 32 "
	    "characters long");
	assert_string_equal(fx->diag.msgs[2], "lp.yaml:5:18: "
	    "nodes.gpu01.groups: group 'ml' is listed twice, first at "
	    "line 5");

	(void)parsef(fx, "nodes:\n  gpu01:\n    port: 22001\n"
	    "    keys: [\"%s\"]\n    groups: ml\n", fx->key[K_GPU01]);
	assert_int_equal(fx->diag.n, 1);
	assert_string_equal(fx->diag.msgs[0], "lp.yaml:5:13: "
	    "nodes.gpu01.groups: must be a list of group names, not a "
	    "scalar");
}

static void
test_cfg_parse_takes_only_true_or_false_for_enabled(void **state)
{
	struct fx *fx = *state;
	static const struct refuse_case bad[] = {
		{ "yes", ", found 'yes'" },
		{ "no", ", found 'no'" },
		{ "on", ", found 'on'" },
		{ "True", ", found 'True'" },
		{ "1", ", found '1'" },
		{ "\"true\"", " without quotes, found 'true'" },
		{ "[true]", ", not a sequence" },
	};
	char msg[128];
	size_t i;

	assert_int_equal(parsef(fx, "nodes:\n  a: {port: 22001, keys: "
	    "[\"%s\"], enabled: false}\n  b: {port: 22002, keys: [\"%s\"], "
	    "enabled: true}\n", fx->key[K_GPU01], fx->key[K_GPU02]), 0);
	assert_false(fx->cfg->nodes[0].enabled);
	assert_true(fx->cfg->nodes[1].enabled);

	for (i = 0; i < LP_ARRAY_SIZE(bad); i++) {
		(void)parsef(fx, "nodes:\n  a:\n    port: 22001\n"
		    "    keys: [\"%s\"]\n    enabled: %s\n", fx->key[K_GPU01],
		    bad[i].text);
		assert_null(fx->cfg);
		assert_int_equal(fx->diag.n, 1);
		(void)snprintf(msg, sizeof(msg), "lp.yaml:5:14: "
		    "nodes.a.enabled: must be true or false%s", bad[i].msg);
		assert_string_equal(fx->diag.msgs[0], msg);
	}
}

static void
test_cfg_node_finds_nodes_by_name(void **state)
{
	struct fx *fx = *state;
	char *text = read_text(DATA_DIR "cfg-full.yaml");
	const struct lp_node *n;

	assert_non_null(text);
	assert_parses(fx, text);
	free(text);
	n = lp_cfg_node(fx->cfg, "gpu02");
	assert_non_null(n);
	assert_ptr_equal(n, &fx->cfg->nodes[1]);
	assert_int_equal(n->port, 22002);
	assert_non_null(lp_cfg_node(fx->cfg, "gpu01"));
	assert_non_null(lp_cfg_node(fx->cfg, "gpu03"));
	assert_null(lp_cfg_node(fx->cfg, "gpu04"));
	assert_null(lp_cfg_node(fx->cfg, "GPU01"));
	assert_null(lp_cfg_node(fx->cfg, "gpu0"));
	assert_null(lp_cfg_node(fx->cfg, ""));
	assert_null(lp_cfg_node(fx->cfg, NULL));
	assert_null(lp_cfg_node(NULL, "gpu01"));
}

/* ---------------------------------------------------------------- YAML */

static void
test_cfg_parse_refuses_anchors_and_aliases(void **state)
{
	static const struct refuse_case cases[] = {
		{ "totp:\n  digits: &d 6\n  period: *d\n", "lp.yaml:2:11: "
		    "anchors and aliases are not allowed" },
		{ "totp: &t {}\n", "lp.yaml:1:7: anchors and aliases are not "
		    "allowed" },
		{ "base: &b {digits: 6}\ntotp:\n  <<: *b\n", "lp.yaml:1:7: "
		    "anchors and aliases are not allowed" },
		{ "totp: *nothing\n", "lp.yaml:1:7: anchors and aliases are "
		    "not allowed" },
	};

	run_refuse_cases(*state, cases, LP_ARRAY_SIZE(cases));
}

static void
test_cfg_parse_refuses_explicit_tags(void **state)
{
	static const struct refuse_case cases[] = {
		{ "totp:\n  digits: !!int 6\n", "lp.yaml:2:11: tags are not "
		    "allowed, found tag:yaml.org,2002:int" },
		{ "totp: !!map {}\n", "lp.yaml:1:7: tags are not allowed, "
		    "found tag:yaml.org,2002:map" },
		{ "totp: {issuer: !local x}\n", "lp.yaml:1:16: tags are not "
		    "allowed, found !local" },
	};

	run_refuse_cases(*state, cases, LP_ARRAY_SIZE(cases));
}

static void
test_cfg_parse_refuses_a_tab_in_the_indentation(void **state)
{
	static const struct refuse_case cases[] = {
		{ "totp:\n\tdigits: 6\n", "lp.yaml:2:1: tab character in "
		    "indentation; YAML indents with spaces only" },
		{ "totp:\n  digits: 6\n \tperiod: 30\n", "lp.yaml:3:2: tab "
		    "character in indentation; YAML indents with spaces only" },
	};

	run_refuse_cases(*state, cases, LP_ARRAY_SIZE(cases));
}

static void
test_cfg_parse_refuses_text_that_is_not_utf8(void **state)
{
	static const struct refuse_case cases[] = {
		{ "totp:\n  issuer: caf\xe9 x\n", "lp.yaml:2:15: invalid "
		    "trailing UTF-8 octet (#x20)" },
		{ "totp:\n  issuer: caf\xe9\n", "lp.yaml:2:14: incomplete "
		    "UTF-8 octet sequence" },
		{ "totp:\n  issuer: \xff\n", "lp.yaml:2:11: invalid leading "
		    "UTF-8 octet (#xFF)" },
		{ "\xfe\xff\x00t\x00o\x00t\x00p", "lp.yaml:1:1: invalid "
		    "leading UTF-8 octet (#xFE)" },
		{ "totp:\n  issuer: a\x01z\n", "lp.yaml:2:12: control "
		    "characters are not allowed (#x1)" },
	};

	run_refuse_cases(*state, cases, LP_ARRAY_SIZE(cases));
}

static void
test_cfg_parse_refuses_nul_bytes(void **state)
{
	struct fx *fx = *state;
	static const char text[] = "totp:\n  issuer: a\0b\n";

	assert_int_equal(parse_len(fx, text, sizeof(text) - 1), -EINVAL);
	assert_int_equal(fx->diag.n, 1);
	assert_string_equal(fx->diag.msgs[0], "lp.yaml:2:12: control "
	    "characters are not allowed (#x0)");
	assert_refused(fx, "totp:\n  issuer: \"a\\0b\"\n", "lp.yaml:2:11: "
	    "a NUL character is not allowed in a value");
}

static void
test_cfg_parse_reports_yaml_syntax_errors_with_their_place(void **state)
{
	static const struct refuse_case cases[] = {
		{ "totp:\n  digits: 6\n period: 30\n", "lp.yaml:3:2: did not "
		    "find expected key (while parsing a block mapping at line "
		    "1)" },
		{ "totp: {digits: 6\n", "lp.yaml:2:1: did not find expected "
		    "',' or '}' (while parsing a flow mapping at line 1)" },
		{ "totp:\n  issuer: \"abc\n", "lp.yaml:3:1: found unexpected "
		    "end of stream (while scanning a quoted scalar at line "
		    "2)" },
		{ "totp: {}\n---\ntunnel: {}\n", "lp.yaml:2:1: only one "
		    "document is allowed" },
	};

	run_refuse_cases(*state, cases, LP_ARRAY_SIZE(cases));
}

static void
test_cfg_parse_bounds_nesting_and_node_count(void **state)
{
	struct fx *fx = *state;
	char *text;
	size_t i, n;

	/* 32 levels are read (and refused by the schema), 33 are not. */
	text = calloc(1, 200);
	assert_non_null(text);
	memcpy(text, "nodes: ", 7);
	for (i = 0; i < 31; i++)
		text[7 + i] = '[';
	for (i = 0; i < 31; i++)
		text[38 + i] = ']';
	(void)parse(fx, text);
	assert_int_equal(fx->diag.n, 1);
	assert_string_equal(fx->diag.msgs[0], "lp.yaml:1:8: nodes: must be "
	    "a mapping of node names to nodes, not a sequence");
	memmove(text + 8, text + 7, strlen(text + 7) + 1);
	text[7] = '[';
	strcat(text, "]");
	assert_refused(fx, text, "lp.yaml:1:39: nesting is deeper than 32 "
	    "levels");
	free(text);

	/* 100000 nodes: the mapping, its key and a sequence of 99997. */
	n = 99997;
	text = malloc(8 + 2 * n + 3);
	assert_non_null(text);
	memcpy(text, "nodes: [", 8);
	for (i = 0; i < n; i++)
		memcpy(text + 8 + 2 * i, i + 1 < n ? "1," : "1]", 2);
	text[8 + 2 * n] = '\0';
	(void)parse(fx, text);
	assert_int_equal(fx->diag.n, 1);
	assert_string_equal(fx->diag.msgs[0], "lp.yaml:1:8: nodes: must be "
	    "a mapping of node names to nodes, not a sequence");
	memcpy(text + 8 + 2 * n - 1, ",1]", 4);
	assert_refused(fx, text, "lp.yaml:1:200003: too many nodes, the "
	    "limit is 100000");
	free(text);
}

/* ------------------------------------------------------------- at once */

static void
test_cfg_parse_reports_every_problem_at_once(void **state)
{
	struct fx *fx = *state;
	int r;

	r = parsef(fx,
	    "totp:\n"				/* 1 */
	    "  digits: 7\n"			/* 2 */
	    "  period: thirty\n"		/* 3 */
	    "  algorithm: md5\n"		/* 4 */
	    "  colour: blue\n"			/* 5 */
	    "tunnel:\n"				/* 6 */
	    "  listen_address: 999.0.0.1\n"	/* 7 */
	    "nodes:\n"				/* 8 */
	    "  GPU01:\n"			/* 9 */
	    "    port: 80\n"			/* 10 */
	    "    keys: [\"%s\"]\n"		/* 11 */
	    "  gpu02:\n"			/* 12 */
	    "    port: 22002\n"			/* 13 */
	    "    keys: [\"%s\"]\n"		/* 14 */
	    "  gpu03:\n"			/* 15 */
	    "    port: 22002\n"			/* 16 */
	    "    keys: [\"%s\"]\n",		/* 17 */
	    fx->key[K_GPU01], fx->key[K_GPU02], fx->key[K_GPU01]);
	assert_int_equal(r, -EINVAL);
	assert_null(fx->cfg);
	assert_int_equal(fx->diag.n, 9);
	assert_has_msg(fx, "lp.yaml:2:11: totp.digits: must be 6 or 8");
	assert_has_msg(fx, "lp.yaml:3:11: totp.period: must be a decimal "
	    "integer, found 'thirty'");
	assert_has_msg(fx, "lp.yaml:4:14: totp.algorithm: must be sha1, "
	    "sha256 or sha512, found 'md5'");
	assert_has_msg(fx, "lp.yaml:5:3: totp: unknown key 'colour'");
	assert_has_msg(fx, "lp.yaml:7:19: tunnel.listen_address: must be an "
	    "IPv4 or IPv6 address, found '999.0.0.1'");
	assert_has_msg(fx, "lp.yaml:9:3: nodes.GPU01: node name must be "
	    "lower case");
	assert_has_msg(fx, "lp.yaml:10:11: nodes.GPU01.port: must be between "
	    "1024 and 65535");
	assert_has_msg(fx, "lp.yaml:16:11: nodes.gpu03.port: port 22002 "
	    "already belongs to node 'gpu02' at line 13");
	assert_has_msg(fx, "lp.yaml:17:12: nodes.gpu03.keys[0]: key already "
	    "belongs to node 'GPU01' at line 11");
}

static void
test_cfg_parse_works_without_a_diag(void **state)
{
	struct lp_cfg *cfg = NULL;

	(void)state;
	assert_int_equal(lp_cfg_parse("x", "totp: {digits: 7}\n", 18, &cfg,
	    NULL), -EINVAL);
	assert_null(cfg);
	assert_int_equal(lp_cfg_parse("x", "totp: [\n", 8, &cfg, NULL),
	    -EINVAL);
	assert_null(cfg);
	assert_int_equal(lp_cfg_parse("x", "totp: {digits: 8}\n", 18, &cfg,
	    NULL), 0);
	assert_int_equal(cfg->totp.digits, 8);
	lp_cfg_free(cfg);
	lp_cfg_free(NULL);
}

/* ---------------------------------------------------------------- load */

static void
test_cfg_load_reads_a_root_owned_file(void **state)
{
	struct fx *fx = *state;
	char *text = read_text(DATA_DIR "cfg-full.yaml");
	char *path;

	assert_non_null(text);
	path = write_file(fx, "lp.yaml", text, 0644);
	free(text);
	assert_int_equal(lp_cfg_load(path, &fx->cfg, &fx->diag), 0);
	assert_int_equal(fx->diag.n, 0);
	assert_string_equal(fx->cfg->path, path);
	assert_int_equal(fx->cfg->totp.digits, 8);
	assert_int_equal(fx->cfg->nnodes, 3);
	free(path);

	/* Read-only for everyone is fine too. */
	path = write_file(fx, "ro.yaml", "totp: {window: 0}\n", 0400);
	lp_cfg_free(fx->cfg);
	fx->cfg = NULL;
	assert_int_equal(lp_cfg_load(path, &fx->cfg, &fx->diag), 0);
	assert_int_equal(fx->cfg->totp.window, 0);
	free(path);
}

static void
test_cfg_load_names_the_file_in_parse_errors(void **state)
{
	struct fx *fx = *state;
	char *path, *msg;

	path = write_file(fx, "lp.yaml", "totp:\n  lockout: 0\n", 0644);
	assert_int_equal(lp_cfg_load(path, &fx->cfg, &fx->diag), -EINVAL);
	assert_null(fx->cfg);
	assert_int_equal(fx->diag.n, 1);
	assert_true(asprintf(&msg, "%s:2:12: totp.lockout: must be between "
	    "1 and 86400", path) > 0);
	assert_string_equal(fx->diag.msgs[0], msg);
	free(msg);
	free(path);
}

static void
test_cfg_load_refuses_a_missing_file(void **state)
{
	struct fx *fx = *state;
	char *path = file_path(fx, "absent.yaml");

	assert_load_refused(fx, path, -ENOENT, "no such file");
	free(path);
}

static void
test_cfg_load_refuses_a_symbolic_link(void **state)
{
	struct fx *fx = *state;
	char *target = write_file(fx, "real.yaml", "totp: {}\n", 0644);
	char *path = file_path(fx, "lp.yaml");

	assert_int_equal(symlink(target, path), 0);
	assert_load_refused(fx, path, -ELOOP, "is a symbolic link; the "
	    "policy must be a regular file");
	free(target);
	free(path);
}

static void
test_cfg_load_refuses_group_writable_file(void **state)
{
	struct fx *fx = *state;
	char *path = write_file(fx, "lp.yaml", "totp: {}\n", 0664);

	assert_load_refused(fx, path, -EPERM, "is writable by group or "
	    "others (mode 0664)");
	free(path);
}

static void
test_cfg_load_refuses_world_writable_file(void **state)
{
	struct fx *fx = *state;
	char *path = write_file(fx, "lp.yaml", "totp: {}\n", 0646);

	assert_load_refused(fx, path, -EPERM, "is writable by group or "
	    "others (mode 0646)");
	free(path);
}

static void
test_cfg_load_refuses_a_file_not_owned_by_root(void **state)
{
	struct fx *fx = *state;
	char *path = write_file(fx, "lp.yaml", "totp: {}\n", 0644);

	assert_int_equal(chown(path, 1, 0), 0);
	assert_load_refused(fx, path, -EPERM, "is owned by uid 1, not by "
	    "root");
	free(path);
}

static void
test_cfg_load_refuses_a_fifo(void **state)
{
	struct fx *fx = *state;
	char *path = file_path(fx, "lp.yaml");

	assert_int_equal(mkfifo(path, 0644), 0);
	assert_load_refused(fx, path, -EINVAL, "is not a regular file");
	free(path);
}

static void
test_cfg_load_refuses_a_directory(void **state)
{
	struct fx *fx = *state;
	char *path = file_path(fx, "lp.yaml");

	assert_int_equal(mkdir(path, 0755), 0);
	assert_load_refused(fx, path, -EINVAL, "is not a regular file");
	free(path);
}

static void
test_cfg_load_refuses_a_hard_linked_file(void **state)
{
	struct fx *fx = *state;
	char *path = write_file(fx, "lp.yaml", "totp: {}\n", 0644);
	char *other = file_path(fx, "other.yaml");

	assert_int_equal(link(path, other), 0);
	assert_load_refused(fx, path, -EINVAL, "has more than one hard link");
	free(path);
	free(other);
}

static void
test_cfg_load_refuses_a_too_large_file(void **state)
{
	struct fx *fx = *state;
	char *path = write_file(fx, "lp.yaml", "totp: {}\n", 0644);
	char *msg;

	assert_int_equal(truncate(path, (off_t)LP_CFG_SIZE_MAX + 1), 0);
	assert_true(asprintf(&msg, "is larger than %u bytes",
	    LP_CFG_SIZE_MAX) > 0);
	assert_load_refused(fx, path, -EFBIG, msg);
	free(msg);
	free(path);
}

static void
test_cfg_load_reads_a_file_of_exactly_the_size_limit(void **state)
{
	struct fx *fx = *state;
	static const char head[] = "totp: {digits: 8}\n#";
	char *text, *path;

	/* The policy, then one comment line up to the limit. */
	text = malloc(LP_CFG_SIZE_MAX + 1);
	assert_non_null(text);
	memset(text, 'c', LP_CFG_SIZE_MAX);
	memcpy(text, head, sizeof(head) - 1);
	text[LP_CFG_SIZE_MAX - 1] = '\n';
	text[LP_CFG_SIZE_MAX] = '\0';
	path = write_file(fx, "lp.yaml", text, 0644);
	free(text);
	assert_int_equal(lp_cfg_load(path, &fx->cfg, &fx->diag), 0);
	assert_int_equal(fx->cfg->totp.digits, 8);
	free(path);
}

/* ------------------------------------------------------ hostile input */

static void
test_cfg_parse_refuses_node_ports_0_and_70000(void **state)
{
	struct fx *fx = *state;

	(void)parsef(fx, "nodes:\n  a: {port: 0, keys: [\"%s\"]}\n"
	    "  b: {port: 70000, keys: [\"%s\"]}\n", fx->key[K_GPU01],
	    fx->key[K_GPU02]);
	assert_null(fx->cfg);
	assert_int_equal(fx->diag.n, 2);
	assert_string_equal(fx->diag.msgs[0], "lp.yaml:2:13: nodes.a.port: "
	    "must be between 1024 and 65535");
	assert_string_equal(fx->diag.msgs[1], "lp.yaml:3:13: nodes.b.port: "
	    "must be between 1024 and 65535");
}

/*
 * The "billion laughs": nine levels of nine aliases, which a reader that
 * expanded aliases would turn into 9^9 strings.  Refused at the first
 * anchor, at once.
 */
static void
test_cfg_parse_refuses_an_alias_bomb_at_its_first_anchor(void **state)
{
	struct fx *fx = *state;
	char *text, *p;
	size_t i, j;

	text = calloc(1, 4096);
	assert_non_null(text);
	p = text;
	p += sprintf(p, "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, "
	    "lol]\n");
	for (i = 1; i <= 9; i++) {
		p += sprintf(p, "a%zu: &a%zu [", i, i);
		for (j = 0; j < 9; j++)
			p += sprintf(p, "*a%zu%s", i - 1, j < 8 ? ", " : "]\n");
	}
	p += sprintf(p, "totp: *a9\n");
	assert_refused(fx, text, "lp.yaml:1:5: anchors and aliases are not "
	    "allowed");
	free(text);
}

static void
test_cfg_load_refuses_an_empty_file(void **state)
{
	struct fx *fx = *state;
	char *path = write_file(fx, "lp.yaml", "", 0644);
	char *msg;

	assert_int_equal(lp_cfg_load(path, &fx->cfg, &fx->diag), -EINVAL);
	assert_null(fx->cfg);
	assert_int_equal(fx->diag.n, 1);
	assert_true(asprintf(&msg, "%s:1:1: the policy file is empty",
	    path) > 0);
	assert_string_equal(fx->diag.msgs[0], msg);
	free(msg);
	free(path);
}

/* Ten mebibytes of real text, not a sparse file: refused unread. */
static void
test_cfg_load_refuses_a_10_mib_file(void **state)
{
	struct fx *fx = *state;
	size_t n = 10u * 1024 * 1024;
	char *text, *path, *msg;

	text = malloc(n + 1);
	assert_non_null(text);
	memset(text, '#', n);
	text[n - 1] = '\n';
	text[n] = '\0';
	memcpy(text, "totp: {}\n", 9);
	path = write_file(fx, "lp.yaml", text, 0644);
	free(text);
	assert_true(asprintf(&msg, "is larger than %u bytes",
	    LP_CFG_SIZE_MAX) > 0);
	assert_load_refused(fx, path, -EFBIG, msg);
	free(msg);
	free(path);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_cfg_defaults_fill_totp_and_tunnel),
		T(test_cfg_parse_applies_defaults_to_absent_and_empty_sections),
		T(test_cfg_parse_reads_every_field_of_a_full_policy),
		T(test_cfg_parse_accepts_the_example_policy),
		T(test_cfg_parse_accepts_the_example_node_uncommented),
		T(test_cfg_parse_accepts_each_totp_number_at_its_bounds),
		T(test_cfg_parse_refuses_each_totp_number_past_its_bounds),
		T(test_cfg_parse_refuses_numbers_that_are_not_plain_decimal),
		T(test_cfg_parse_refuses_values_of_the_wrong_type),
		T(test_cfg_parse_accepts_each_algorithm),
		T(test_cfg_parse_refuses_unknown_algorithms),
		T(test_cfg_parse_accepts_issuer_of_1_and_64_characters),
		T(test_cfg_parse_refuses_bad_issuers),
		T(test_cfg_parse_accepts_tunnel_user_and_addresses),
		T(test_cfg_parse_refuses_bad_tunnel_user_and_addresses),
		T(test_cfg_parse_refuses_unknown_keys_at_every_level),
		T(test_cfg_parse_reports_duplicate_keys_with_both_lines),
		T(test_cfg_parse_reports_duplicate_node_names_with_both_lines),
		T(test_cfg_parse_refuses_empty_or_non_mapping_files),
		T(test_cfg_parse_accepts_node_ports_at_their_bounds),
		T(test_cfg_parse_refuses_node_ports_past_their_bounds),
		T(test_cfg_parse_refuses_a_port_used_by_two_nodes),
		T(test_cfg_parse_refuses_a_key_given_to_two_nodes),
		T(test_cfg_parse_refuses_a_key_listed_twice_in_one_node),
		T(test_cfg_parse_normalises_spaces_in_key_lines),
		T(test_cfg_parse_accepts_every_listed_key_type),
		T(test_cfg_parse_accepts_security_key_types),
		T(test_cfg_parse_refuses_keys_of_unknown_type),
		T(test_cfg_parse_refuses_a_key_whose_blob_has_another_type),
		T(test_cfg_parse_refuses_malformed_key_data),
		T(test_cfg_parse_refuses_a_node_without_port_or_keys),
		T(test_cfg_parse_checks_node_names_as_dns_labels),
		T(test_cfg_parse_checks_groups),
		T(test_cfg_parse_takes_only_true_or_false_for_enabled),
		T(test_cfg_node_finds_nodes_by_name),
		T(test_cfg_parse_refuses_anchors_and_aliases),
		T(test_cfg_parse_refuses_explicit_tags),
		T(test_cfg_parse_refuses_a_tab_in_the_indentation),
		T(test_cfg_parse_refuses_text_that_is_not_utf8),
		T(test_cfg_parse_refuses_nul_bytes),
		T(test_cfg_parse_reports_yaml_syntax_errors_with_their_place),
		T(test_cfg_parse_bounds_nesting_and_node_count),
		T(test_cfg_parse_reports_every_problem_at_once),
		T(test_cfg_parse_works_without_a_diag),
		T(test_cfg_load_reads_a_root_owned_file),
		T(test_cfg_load_names_the_file_in_parse_errors),
		T(test_cfg_load_refuses_a_missing_file),
		T(test_cfg_load_refuses_a_symbolic_link),
		T(test_cfg_load_refuses_group_writable_file),
		T(test_cfg_load_refuses_world_writable_file),
		T(test_cfg_load_refuses_a_file_not_owned_by_root),
		T(test_cfg_load_refuses_a_fifo),
		T(test_cfg_load_refuses_a_directory),
		T(test_cfg_load_refuses_a_hard_linked_file),
		T(test_cfg_load_refuses_a_too_large_file),
		T(test_cfg_load_reads_a_file_of_exactly_the_size_limit),
		T(test_cfg_parse_refuses_node_ports_0_and_70000),
		T(test_cfg_parse_refuses_an_alias_bomb_at_its_first_anchor),
		T(test_cfg_load_refuses_an_empty_file),
		T(test_cfg_load_refuses_a_10_mib_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
