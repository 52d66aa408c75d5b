/*
 * lp-audit: writes one audit record from its arguments, for scripts and
 * node-side hooks, through the audit library that the modules and lp-hop
 * use, so that its records read like theirs.  Each argument is checked
 * on its own first, so that a refusal names the argument at fault.
 */
#include "config.h"

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libaudit.h>

#include "audit.h"
#include "lp_util.h"

#define EXIT_REFUSED	1
#define EXIT_USAGE	2

#define SHOWN_MAX	64	/* bytes of an argument shown in a message */

/* getopt_long's values for options that have no short form. */
enum {
	OPT_NODES = 256,
	OPT_SENT,
	OPT_RECEIVED,
	OPT_DURATION_MS,
};

static const struct option longopts[] = {
	{ "acct",		required_argument,	NULL, 'a' },
	{ "addr",		required_argument,	NULL, 'A' },
	{ "duration-ms",	required_argument,	NULL, OPT_DURATION_MS },
	{ "help",		no_argument,		NULL, 'h' },
	{ "hostname",		required_argument,	NULL, 'H' },
	{ "dry-run",		no_argument,		NULL, 'n' },
	{ "node",		required_argument,	NULL, 'N' },
	{ "nodes",		required_argument,	NULL, OPT_NODES },
	{ "op",			required_argument,	NULL, 'o' },
	{ "port",		required_argument,	NULL, 'p' },
	{ "reason",		required_argument,	NULL, 'r' },
	{ "received",		required_argument,	NULL, OPT_RECEIVED },
	{ "result",		required_argument,	NULL, 's' },
	{ "sent",		required_argument,	NULL, OPT_SENT },
	{ "terminal",		required_argument,	NULL, 'T' },
	{ "type",		required_argument,	NULL, 't' },
	{ "version",		no_argument,		NULL, 'V' },
	{ NULL,			0,			NULL, 0 },
};

struct opts {
	struct lp_audit_rec	 rec;
	const char		*type;
	bool			 dry_run;
};

/* Asked for, the usage goes to stdout; after an error, to stderr. */
static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status == EXIT_SUCCESS ? stdout : stderr,
	    "usage: lp-audit [-n] -t type -o op [-a acct] [-N node] "
	    "[-p port] [-r reason]\n"
	    "                [--nodes n] [--sent n] [--received n] "
	    "[--duration-ms n]\n"
	    "                [-H hostname] [-A addr] [-T terminal] "
	    "[-s success | failed]\n"
	    "       lp-audit -h | -V\n");
	exit(status);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	usage(EXIT_USAGE);
}

/* Refuses the record, naming the argument at fault. */
static void __attribute__((noreturn))
refuse(const char *option, const char *value, const char *why)
{
	char shown[SHOWN_MAX + 1];

	warnx("%s \"%s\": %s", option,
	    lp_log_safe(shown, sizeof(shown), value, SHOWN_MAX), why);
	exit(EXIT_REFUSED);
}

static unsigned
parse_port(const char *s)
{
	long long v;

	if (lp_parse_ll(s, 1, 65535, &v) != 0)
		refuse("--port", s, "not a port number (1 to 65535)");
	return (unsigned)v;
}

static int64_t
parse_count(const char *option, const char *s)
{
	long long v;

	if (lp_parse_ll(s, 0, INT64_MAX, &v) != 0)
		refuse(option, s, "not a count (0 or more, in decimal)");
	return (int64_t)v;
}

static bool
parse_result(const char *s)
{
	if (strcmp(s, "success") == 0)
		return true;
	if (strcmp(s, "failed") == 0)
		return false;
	refuse("--result", s, "must be success or failed");
}

static void
parse_args(int argc, char *argv[], struct opts *o)
{
	struct lp_audit_rec *r = &o->rec;
	int ch;

	memset(o, 0, sizeof(*o));
	lp_audit_rec_init(r, 0, NULL);
	r->success = true;

	while ((ch = getopt_long(argc, argv, "A:a:H:hN:no:p:r:s:T:t:V",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'A':
			r->addr = optarg;
			break;
		case 'a':
			r->acct = optarg;
			break;
		case 'H':
			r->hostname = optarg;
			break;
		case 'h':
			usage(EXIT_SUCCESS);
		case 'N':
			r->node = optarg;
			break;
		case 'n':
			o->dry_run = true;
			break;
		case 'o':
			r->op = optarg;
			break;
		case 'p':
			r->port = parse_port(optarg);
			break;
		case 'r':
			r->reason = optarg;
			break;
		case 's':
			r->success = parse_result(optarg);
			break;
		case 'T':
			r->terminal = optarg;
			break;
		case 't':
			o->type = optarg;
			break;
		case 'V':
			printf("lp-audit %s\n", PACKAGE_VERSION);
			exit(fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_REFUSED);
		case OPT_NODES:
			r->nodes = parse_count("--nodes", optarg);
			break;
		case OPT_SENT:
			r->sent = parse_count("--sent", optarg);
			break;
		case OPT_RECEIVED:
			r->received = parse_count("--received", optarg);
			break;
		case OPT_DURATION_MS:
			r->duration_ms = parse_count("--duration-ms", optarg);
			break;
		default:
			/* getopt_long(3) has said what was wrong. */
			usage(EXIT_USAGE);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument \"%s\"", argv[optind]);
	if (o->type == NULL)
		usage_error("no record type given (-t)");
	if (r->op == NULL)
		usage_error("no operation given (-o)");
}

/* Whether the audit library accepts a record. */
static bool
acceptable(const struct lp_audit_rec *r)
{
	char buf[LP_AUDIT_MSG_MAX];

	return lp_audit_format(r, buf, sizeof(buf)) != -EINVAL;
}

/*
 * Tries each field alone in an otherwise empty record, so that the audit
 * library's own rules decide and a refusal can name the argument.
 */
static void
check_record(struct opts *o)
{
	static const char word[] = "must be one word of printable ASCII "
	    "without quotes, '=' or '\\'";
	static const char remote[] = "must be printable ASCII without "
	    "spaces, at most 255 bytes";
	struct lp_audit_rec *r = &o->rec, t;

	r->type = lp_audit_type_by_name(o->type);
	if (r->type < 0)
		refuse("--type", o->type, "not one of USER_AUTH, "
		    "ANOM_LOGIN_FAILURES, USER_START, USER_END, USER_MGMT, "
		    "USYS_CONFIG");
	lp_audit_rec_init(&t, r->type, r->op);
	if (!acceptable(&t))
		refuse("--op", r->op, word);
	if (r->acct != NULL && *r->acct == '\0')
		refuse("--acct", r->acct, "is empty");

	lp_audit_rec_init(&t, r->type, "x");
	t.node = r->node;
	if (!acceptable(&t))
		refuse("--node", r->node, word);
	lp_audit_rec_init(&t, r->type, "x");
	t.reason = r->reason;
	if (!acceptable(&t))
		refuse("--reason", r->reason, word);
	lp_audit_rec_init(&t, r->type, "x");
	t.hostname = r->hostname;
	if (!acceptable(&t))
		refuse("--hostname", r->hostname, remote);
	lp_audit_rec_init(&t, r->type, "x");
	t.addr = r->addr;
	if (!acceptable(&t))
		refuse("--addr", r->addr, remote);
	lp_audit_rec_init(&t, r->type, "x");
	t.terminal = r->terminal;
	if (!acceptable(&t))
		refuse("--terminal", r->terminal, remote);
}

/* The sink of a dry run: shows what would be written. */
static int
show(int type, const char *text, void *ctx)
{
	(void)ctx;
	printf("type=%s %s\n", lp_audit_type_name(type), text);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct opts o;
	int r;

	parse_args(argc, argv, &o);
	check_record(&o);

	if (o.dry_run)
		lp_audit_set_sink(show, NULL);
	r = lp_audit_write(&o.rec);
	if (r == -ENOBUFS)
		errx(EXIT_REFUSED, "the record is longer than %d bytes",
		    LP_AUDIT_MSG_MAX - 1);
	if (r == -EPERM)
		errx(EXIT_REFUSED, "the kernel refused the record: "
		    "writing audit records needs CAP_AUDIT_WRITE");
	if (r < 0)
		errx(EXIT_REFUSED, "the record was not written: %s",
		    strerror(-r));
	if (r == 1)
		warnx("the kernel has no audit support: the record went to "
		    "syslog");
	if (fflush(stdout) != 0)
		err(EXIT_REFUSED, "stdout");
	return EXIT_SUCCESS;
}
