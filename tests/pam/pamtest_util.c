/* The PAM test environment: pam_wrapper, private policy and state. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>
#include <libpamtest.h>

#include "pamtest_util.h"

#define LP_PT_MODULE	LP_TEST_BUILDDIR "/.libs/pam_lp_totp.so"
#define LP_PT_TUNNEL	LP_TEST_BUILDDIR "/.libs/pam_lp_tunnel.so"
#define LP_ARRAY_LEN(a)	(sizeof(a) / sizeof((a)[0]))

static char base_dir[256];

static void die(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "pamtest: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(99);
}

/* snprintf that fails the test rather than cut a path short. */
static void fmt(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
fmt(char *buf, size_t size, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, size, f, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		die("path too long");
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f;

	(void)unlink(path);
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0)
		die("cannot write %s: %s", path, strerror(errno));
	if (chmod(path, mode) != 0)
		die("chmod %s: %s", path, strerror(errno));
}

static char *
replace_all(const char *in, const char *key, const char *val)
{
	size_t klen = strlen(key), vlen = strlen(val), n = 0;
	const char *p;
	char *out, *o;

	for (p = in; (p = strstr(p, key)) != NULL; p += klen)
		n++;
	out = malloc(strlen(in) + n * vlen + 1);
	if (out == NULL)
		die("out of memory");
	for (o = out, p = in; *p != '\0';) {
		if (strncmp(p, key, klen) == 0) {
			memcpy(o, val, vlen);
			o += vlen;
			p += klen;
		} else
			*o++ = *p++;
	}
	*o = '\0';
	return out;
}

static void
make_service(const char *srcdir, const char *svcdir, const char *name)
{
	char in[512], out[512], text[4096], *t0, *t1, *t2;
	size_t len;
	FILE *f;

	fmt(in, sizeof(in), "%s/%s", srcdir, name);
	f = fopen(in, "r");
	if (f == NULL)
		die("cannot read %s", in);
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	t0 = replace_all(text, "@TUNNEL_MODULE@", LP_PT_TUNNEL);
	t1 = replace_all(t0, "@MODULE@", LP_PT_MODULE);
	t2 = replace_all(t1, "@BASE@", base_dir);
	free(t0);
	fmt(out, sizeof(out), "%s/%.*s", svcdir,
	    (int)(strlen(name) - 3), name);
	write_file(out, t2, 0644);
	free(t1);
	free(t2);
}

static void
make_services(const char *svcdir)
{
	char srcdir[512];
	struct dirent *de;
	DIR *d;

	fmt(srcdir, sizeof(srcdir), "%s/pam/services", LP_TEST_SRCDIR);
	d = opendir(srcdir);
	if (d == NULL)
		die("cannot open %s", srcdir);
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n > 3 && strcmp(de->d_name + n - 3, ".in") == 0)
			make_service(srcdir, svcdir, de->d_name);
	}
	closedir(d);
}

static void
reexec(char **argv)
{
	char svcdir[300], preload[1024];
	const char *old = getenv("LD_PRELOAD");

	if (access(LP_PAM_WRAPPER_LIB, R_OK) != 0 ||
	    access(LP_PT_MODULE, R_OK) != 0) {
		fprintf(stderr, "pamtest: pam_wrapper or module missing\n");
		exit(77);
	}
	fmt(base_dir, sizeof(base_dir), "/tmp/lp-pamtest.XXXXXX");
	if (mkdtemp(base_dir) == NULL || chmod(base_dir, 0755) != 0)
		die("mkdtemp: %s", strerror(errno));
	fmt(svcdir, sizeof(svcdir), "%s/services", base_dir);
	if (mkdir(svcdir, 0755) != 0)
		die("mkdir %s: %s", svcdir, strerror(errno));
	make_services(svcdir);

	fmt(preload, sizeof(preload), "%s%s%s", old ? old : "",
	    old ? ":" : "", LP_PAM_WRAPPER_LIB);
	setenv("LD_PRELOAD", preload, 1);
	setenv("PAM_WRAPPER", "1", 1);
	setenv("PAM_WRAPPER_SERVICE_DIR", svcdir, 1);
	setenv("LP_PAMTEST_BASE", base_dir, 1);
	/* pam_wrapper prints pam_syslog lines at this level and above. */
	setenv("PAM_WRAPPER_DEBUGLEVEL", "2", 1);
#if defined(__SANITIZE_ADDRESS__)
	/*
	 * The preloaded wrapper comes before the sanitizer's runtime, and
	 * the sanitizer cannot work with libraries opened RTLD_DEEPBIND.
	 */
	setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 0);
	setenv("PAM_WRAPPER_DISABLE_DEEPBIND", "1", 1);
	/* pam_wrapper 1.1.4 reads the switch under uid_wrapper's name. */
	setenv("UID_WRAPPER_DISABLE_DEEPBIND", "1", 1);
#endif
	execv("/proc/self/exe", argv);
	die("execv: %s", strerror(errno));
}

void
lp_pt_init(int argc, char **argv)
{
	const char *b = getenv("LP_PAMTEST_BASE");

	(void)argc;
	if (geteuid() != 0) {
		fprintf(stderr, "pamtest: needs root (state files are "
		    "root-owned)\n");
		exit(77);
	}
	if (getenv("PAM_WRAPPER") == NULL || b == NULL)
		reexec(argv);
	fmt(base_dir, sizeof(base_dir), "%s", b);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
lp_pt_done(void)
{
	if (base_dir[0] != '\0')
		(void)nftw(base_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *
lp_pt_base(void)
{
	return base_dir;
}

void
lp_pt_setup_policy(const char *yaml)
{
	char path[512];

	lp_pt_teardown_policy();
	fmt(path, sizeof(path), "%s/lp.yaml", base_dir);
	write_file(path, yaml, 0644);
	fmt(path, sizeof(path), "%s/state", base_dir);
	if (mkdir(path, 0700) != 0)
		die("mkdir %s: %s", path, strerror(errno));
}

void
lp_pt_teardown_policy(void)
{
	char path[512];

	fmt(path, sizeof(path), "%s/lp.yaml", base_dir);
	(void)unlink(path);
	fmt(path, sizeof(path), "%s/state", base_dir);
	(void)nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void
lp_pt_state_path(const char *user, char *buf, size_t size)
{
	fmt(buf, size, "%s/state/%s", base_dir, user);
}

void
lp_pt_enroll(const char *user, const char *secret_b32,
    const char *const *recovery_hashes)
{
	char path[512], text[8192];
	size_t i, off;

	off = (size_t)snprintf(text, sizeof(text),
	    "lp-totp-state 1\nsecret %s\nlast_step 0\nfailures 0\n"
	    "locked_until 0\nlast_success 0\nenrolled %lld\n",
	    secret_b32, (long long)time(NULL));
	for (i = 0; recovery_hashes != NULL && recovery_hashes[i] != NULL;
	    i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
		    "recovery %s\n", recovery_hashes[i]);
	(void)snprintf(text + off, sizeof(text) - off, "end\n");
	lp_pt_state_path(user, path, sizeof(path));
	write_file(path, text, 0600);
}

void
lp_pt_oathtool(const char *secret_b32, const char *opts, long offset,
    char *out, size_t size)
{
	char cmd[512];
	size_t len;
	FILE *p;

	fmt(cmd, sizeof(cmd), "%s %s -b -N @%lld %s",
	    LP_OATHTOOL, opts, (long long)time(NULL) + offset, secret_b32);
	p = popen(cmd, "r");
	if (p == NULL || fgets(out, (int)size, p) == NULL)
		die("oathtool failed");
	if (pclose(p) != 0)
		die("oathtool failed");
	len = strcspn(out, "\n");
	out[len] = '\0';
}

static char *
xstrdup(const char *s)
{
	char *d = strdup(s != NULL ? s : "");

	if (d == NULL)
		die("out of memory");
	return d;
}

static void
record(char **v, size_t *n, const char *msg)
{
	if (*n < LP_PT_MAX_MSGS)
		v[(*n)++] = xstrdup(msg);
}

static int
conv_fn(int num, const struct pam_message **msg, struct pam_response **resp,
    void *data)
{
	struct lp_pt_conv *c = data;
	struct pam_response *r;
	int i;

	r = calloc((size_t)num, sizeof(*r));
	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < num; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
		case PAM_PROMPT_ECHO_ON:
			record(c->prompts, &c->nprompts, msg[i]->msg);
			if (c->nanswered >= LP_PT_MAX_MSGS ||
			    c->answers[c->nanswered] == NULL) {
				free(r);
				return PAM_CONV_ERR;
			}
			r[i].resp = xstrdup(c->answers[c->nanswered++]);
			break;
		case PAM_ERROR_MSG:
			record(c->errors, &c->nerrors, msg[i]->msg);
			break;
		case PAM_TEXT_INFO:
			record(c->infos, &c->ninfos, msg[i]->msg);
			break;
		default:
			free(r);
			return PAM_CONV_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* Sends standard error to BASE/log; returns the saved descriptor. */
static int
capture_stderr(void)
{
	char path[512];
	int saved, fd;

	fflush(stderr);
	fmt(path, sizeof(path), "%s/log", base_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	saved = dup(2);
	if (fd < 0 || saved < 0 || dup2(fd, 2) < 0)
		die("cannot capture standard error");
	close(fd);
	return saved;
}

static char *
release_stderr(int saved)
{
	char path[512], *text;
	size_t len;
	FILE *f;

	fflush(stderr);
	if (dup2(saved, 2) < 0)
		die("cannot restore standard error");
	close(saved);
	fmt(path, sizeof(path), "%s/log", base_dir);
	f = fopen(path, "r");
	text = calloc(1, 65536);
	if (f == NULL || text == NULL)
		die("cannot read the captured log");
	len = fread(text, 1, 65535, f);
	text[len] = '\0';
	fclose(f);
	/* Shown again, so that a failing test still tells what happened. */
	fputs(text, stderr);
	return text;
}

int
lp_pt_authenticate(const char *service, const char *user,
    struct lp_pt_conv *c)
{
	struct pam_testcase tests[] = {
		pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
	};
	enum pamtest_err e;
	int saved;

	/* The caller checks the code; a run that never started is fatal. */
	tests[0].op_rv = -1;
	saved = capture_stderr();
	e = _pamtest_conv(service, user, conv_fn, c, tests,
	    LP_ARRAY_LEN(tests), NULL);
	c->log = release_stderr(saved);
	if (e != PAMTEST_ERR_OK && e != PAMTEST_ERR_CASE)
		die("libpamtest: %s", pamtest_strerror(e));
	return tests[0].op_rv;
}

void
lp_pt_conv_free(struct lp_pt_conv *c)
{
	size_t i;

	for (i = 0; i < c->nprompts; i++)
		free(c->prompts[i]);
	for (i = 0; i < c->nerrors; i++)
		free(c->errors[i]);
	for (i = 0; i < c->ninfos; i++)
		free(c->infos[i]);
	free(c->log);
	memset(c, 0, sizeof(*c));
}

static int
silent_conv(int num, const struct pam_message **msg,
    struct pam_response **resp, void *data)
{
	(void)num;
	(void)msg;
	(void)resp;
	(void)data;
	return PAM_CONV_ERR;
}

pam_handle_t *
lp_pt_start(const char *service, const char *user)
{
	/* libpamtest puts its own conversation on the handle at each run. */
	const struct pam_conv conv = { silent_conv, NULL };
	pam_handle_t *ph = NULL;

	if (pam_start(service, user, &conv, &ph) != PAM_SUCCESS || ph == NULL)
		die("pam_start %s for %s failed", service, user);
	return ph;
}

void
lp_pt_putenv(pam_handle_t *ph, const char *name, const char *value)
{
	char *kv;
	int r;

	if (value == NULL) {
		/* PAM says PAM_BAD_ITEM when there was nothing to remove. */
		r = pam_putenv(ph, name);
		if (r != PAM_SUCCESS && r != PAM_BAD_ITEM)
			die("pam_putenv %s: %d", name, r);
		return;
	}
	if (asprintf(&kv, "%s=%s", name, value) < 0)
		die("out of memory");
	r = pam_putenv(ph, kv);
	free(kv);
	if (r != PAM_SUCCESS)
		die("pam_putenv %s: %d", name, r);
}

void
lp_pt_set_item(pam_handle_t *ph, int item, const char *value)
{
	if (pam_set_item(ph, item, value) != PAM_SUCCESS)
		die("pam_set_item %d failed", item);
}

int
lp_pt_run(pam_handle_t *ph, const char *service, const char *user, int op,
    struct lp_pt_conv *c)
{
	/*
	 * KEEPHANDLE first: libpamtest stops at the first unexpected
	 * result and ends the handle unless it has already been told to
	 * keep it, and the operation's result is not known beforehand.
	 */
	struct pam_testcase tests[] = {
		pam_test(PAMTEST_KEEPHANDLE, PAM_SUCCESS),
		pam_test((enum pamtest_ops)op, PAM_SUCCESS),
	};
	enum pamtest_err e;
	int saved;

	tests[1].op_rv = -1;
	saved = capture_stderr();
	e = _pamtest_conv(service, user, conv_fn, c, tests,
	    LP_ARRAY_LEN(tests), ph);
	free(c->log);
	c->log = release_stderr(saved);
	if (e != PAMTEST_ERR_OK && e != PAMTEST_ERR_CASE)
		die("libpamtest: %s", pamtest_strerror(e));
	return tests[1].op_rv;
}

void
lp_pt_end(pam_handle_t *ph)
{
	if (ph != NULL)
		(void)pam_end(ph, PAM_SUCCESS);
}
