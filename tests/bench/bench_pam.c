/*
 * Times N authentications through libpam, each one pam_start_confdir,
 * pam_authenticate and pam_end, answering every prompt with the first
 * line of standard input (so the code never appears in argv).  With -s,
 * a template file is copied over a target before each authentication,
 * outside the timed part, so that every attempt meets the same state: a
 * fresh enrolment for a right code, no lockout or rate limit for a
 * wrong one.  PAM's failure delay is replaced by a no-op, so a refused
 * attempt is timed by its work, not by a sleep.
 *
 * Prints one line: "auths N success S usec_per_auth X".
 * Exit status: 0 when it ran, 2 on a usage or setup error.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

static char answer[256];

static void
usage(void)
{
	fprintf(stderr, "usage: bench_pam [-n count] "
	    "[-s template -t target -m octal-mode] confdir service user "
	    "< answer\n");
	exit(2);
}

static int
conv_fn(int num, const struct pam_message **msg, struct pam_response **resp,
    void *data)
{
	struct pam_response *r;
	int i;

	(void)data;
	r = calloc((size_t)num, sizeof(*r));
	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < num; i++) {
		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF &&
		    msg[i]->msg_style != PAM_PROMPT_ECHO_ON)
			continue;
		r[i].resp = strdup(answer);
		if (r[i].resp == NULL) {
			while (i-- > 0)
				free(r[i].resp);
			free(r);
			return PAM_BUF_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

static void
no_delay(int status, unsigned int usec, void *data)
{
	(void)status;
	(void)usec;
	(void)data;
}

/* Reads all of path into a new buffer; returns 0 or -errno. */
static int
slurp(const char *path, char **ret_buf, size_t *ret_len)
{
	char *buf = NULL, *nbuf;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	for (;;) {
		if (len == cap) {
			cap = cap == 0 ? 4096 : cap * 2;
			nbuf = realloc(buf, cap);
			if (nbuf == NULL) {
				r = -ENOMEM;
				goto out;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*ret_buf = buf;
	*ret_len = len;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

/* Replaces target with buf by a rename; returns 0 or -errno. */
static int
put(const char *target, const char *buf, size_t len, mode_t mode)
{
	char tmp[4096];
	ssize_t n;
	size_t off = 0;
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.bench", target) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd == -1)
		return -errno;
	while (off < len) {
		n = write(fd, buf + off, len - off);
		if (n == -1) {
			r = -errno;
			goto out;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, mode) == -1 || rename(tmp, target) == -1) {
		r = -errno;
		goto out;
	}
	r = 0;
out:
	close(fd);
	if (r != 0)
		(void)unlink(tmp);
	return r;
}

static double
now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int
main(int argc, char **argv)
{
	struct pam_conv conv = { conv_fn, NULL };
	pam_handle_t *ph;
	const char *tmpl = NULL, *target = NULL;
	char *buf = NULL, *end;
	size_t len = 0;
	double t0, total = 0;
	long count = 1, i, ok = 0;
	mode_t mode = 0600;
	int c, r;

	while ((c = getopt(argc, argv, "m:n:s:t:")) != -1) {
		switch (c) {
		case 'm':
			mode = (mode_t)strtoul(optarg, &end, 8);
			if (*end != '\0')
				usage();
			break;
		case 'n':
			count = strtol(optarg, &end, 10);
			if (*end != '\0' || count < 1 || count > 1000000)
				usage();
			break;
		case 's':
			tmpl = optarg;
			break;
		case 't':
			target = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 3 || (tmpl == NULL) != (target == NULL))
		usage();
	if (fgets(answer, sizeof(answer), stdin) == NULL)
		answer[0] = '\0';
	answer[strcspn(answer, "\n")] = '\0';
	if (tmpl != NULL && (r = slurp(tmpl, &buf, &len)) != 0) {
		fprintf(stderr, "bench_pam: %s: %s\n", tmpl, strerror(-r));
		return 2;
	}

	for (i = 0; i < count; i++) {
		if (target != NULL && (r = put(target, buf, len, mode)) != 0) {
			fprintf(stderr, "bench_pam: %s: %s\n", target,
			    strerror(-r));
			return 2;
		}
		t0 = now_usec();
		ph = NULL;
		r = pam_start_confdir(argv[1], argv[2], &conv, argv[0], &ph);
		if (r != PAM_SUCCESS) {
			fprintf(stderr, "bench_pam: pam_start: %d\n", r);
			return 2;
		}
		/* libpam's own API passes the function as an item. */
		(void)pam_set_item(ph, PAM_FAIL_DELAY,
		    (const void *)no_delay);
		r = pam_authenticate(ph, 0);
		if (r == PAM_SUCCESS)
			ok++;
		(void)pam_end(ph, r);
		total += now_usec() - t0;
	}
	free(buf);
	printf("auths %ld success %ld usec_per_auth %.1f\n", count, ok,
	    total / (double)count);
	return 0;
}
