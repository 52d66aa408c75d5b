#!/bin/sh
# No enumeration by timing (issue 7): pam_lp_totp must refuse an unknown
# user, a known but unenrolled user and an enrolled user with a wrong code
# by the same computation.  Each refusal is one pam_start_confdir,
# pam_authenticate and pam_end (tests/pam/lp-pam-auth) under callgrind,
# which counts the instructions of pam_authenticate alone; the counts are
# repeatable where wall time is not.  The three must lie within 5% of
# each other (max/min at most 1.05).
#
# The accounts live in a private copy of /etc/passwd, read through a
# private nsswitch.conf naming only "files", both bind-mounted inside
# `unshare -m` (with --map-root-user when not run as root), so that the
# machine's user databases neither change nor take part.  The policy,
# service files and state directory live in a temporary directory.
#
# Environment: LP_TEST_BUILDDIR (the build directory), as `make check`
# sets it.  Exit status: 0 within 5%, 1 not, or a setup error, 77 (skip)
# only when valgrind is missing or the build is a sanitizer build.
set -eu

LIMIT_PERMILLE=1050

if [ -z "${LP_TIMING_INNER:-}" ]; then
	if ! command -v valgrind >/dev/null 2>&1; then
		echo "refusals: valgrind is missing, skipped"
		exit 77
	fi
	build=${LP_TEST_BUILDDIR:-$(pwd)}
	# valgrind cannot run a sanitizer's runtime, and its counts would be
	# the sanitizer's: the plain build is the one that is measured.
	if ldd "$build/.libs/pam_lp_totp.so" 2>/dev/null |
	    grep -Eq 'lib(a|ub)san\.so'; then
		echo "refusals: a sanitizer build, skipped (the plain build counts)"
		exit 77
	fi
	work=$(mktemp -d /tmp/lp-timing.XXXXXX)
	chmod 0755 "$work"
	set -- --mount --propagation private
	[ "$(id -u)" -eq 0 ] || set -- --map-root-user "$@"
	rc=0
	LP_TIMING_INNER=1 LP_TIMING_BUILD=$build LP_TIMING_WORK=$work \
	    unshare "$@" /bin/sh "$0" || rc=$?
	rm -rf "$work"
	exit "$rc"
fi

# ------------------------------------------------------------ inside

B=$LP_TIMING_BUILD
W=$LP_TIMING_WORK
export LC_ALL=C

die()
{
	echo "refusals: $*" >&2
	exit 1
}

MODULE=$B/.libs/pam_lp_totp.so
DRIVER=$B/tests/pam/lp-pam-auth
[ -f "$MODULE" ] || die "$MODULE is missing (run make first)"
[ -x "$DRIVER" ] || die "$DRIVER is missing (make check builds it)"

# Accounts: the unknown name is in no database; the other two come last,
# so that every lookup reads the whole (short) file.
mkdir -p "$W/etc"
cat >"$W/etc/passwd" <<EOF
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
lpt-unenrolled:x:20001:20001::/nonexistent:/usr/sbin/nologin
lpt-enrolled:x:20002:20002::/nonexistent:/usr/sbin/nologin
EOF
printf 'passwd: files\ngroup: files\nshadow: files\n' \
    >"$W/etc/nsswitch.conf"
chmod 0644 "$W/etc/passwd" "$W/etc/nsswitch.conf"
mount --bind "$W/etc/passwd" /etc/passwd ||
    die "cannot bind-mount a private /etc/passwd"
mount --bind "$W/etc/nsswitch.conf" /etc/nsswitch.conf ||
    die "cannot bind-mount a private /etc/nsswitch.conf"

umask 077
mkdir -m 0755 "$W/svc"
mkdir -m 0700 "$W/state"
# No lockout during the run: every attempt meets the same state.
printf 'totp:\n  max_failures: 1000\n' >"$W/lp.yaml"
printf 'auth required %s config=%s state_dir=%s\n' "$MODULE" \
    "$W/lp.yaml" "$W/state" >"$W/svc/lp"
printf 'auth required pam_deny.so\n' >"$W/svc/other"
chmod 0644 "$W/lp.yaml" "$W"/svc/*

# shellcheck disable=SC2016
HASH='$y$j7T$lWacOMVdW3Nh7PeUGZBeg1$/UU3SXd34qVAihir/9RmhTiOlFa/2NMYAKqULFbS2X7'
# A fresh enrolment as lp-enroll-totp writes it: a 20-byte secret and ten
# recovery codes (yescrypt hashes of codes that appear nowhere).
{
	printf 'lp-totp-state 1\nsecret %s\n' \
	    GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
	printf 'last_step 0\nfailures 0\nlocked_until 0\n'
	printf 'last_success 0\nenrolled 1700000000\n'
	i=0
	while [ "$i" -lt 10 ]; do
		printf 'recovery %s\n' "$HASH"
		i=$((i + 1))
	done
	printf 'end\n'
} >"$W/enrolled.tmpl"
# Six digits, so each case goes through the TOTP check.
echo 000000 >"$W/wrong"

# count NAME USER: prints the instructions of one refused
# pam_authenticate by USER.
count()
{
	cp "$W/enrolled.tmpl" "$W/state/lpt-enrolled"
	chmod 0600 "$W/state/lpt-enrolled"
	valgrind --tool=callgrind --toggle-collect=pam_authenticate \
	    --callgrind-out-file="$W/cg.$1" "$DRIVER" "$W/svc" lp "$2" \
	    <"$W/wrong" >"$W/out.$1" 2>"$W/err.$1" || true
	read -r res <"$W/out.$1" || res=none
	[ "$res" = PAM_AUTH_ERR ] || {
		cat "$W/err.$1" >&2
		die "$1: pam_authenticate gave $res, not PAM_AUTH_ERR"
	}
	n=$(sed -n 's/^==[0-9]*== Collected : *//p' "$W/err.$1")
	[ -n "$n" ] || die "$1: callgrind counted nothing"
	echo "$n"
}

# The first refusal ever creates the dummy enrolment's file; every later
# one reads it, as these do.
"$DRIVER" "$W/svc" lp lpt-unknown <"$W/wrong" >/dev/null ||
    [ $? -eq 1 ] || die "the warm-up refusal failed to run"
unknown=$(count unknown lpt-unknown)
unenrolled=$(count unenrolled lpt-unenrolled)
enrolled=$(count enrolled lpt-enrolled)

max=$unknown
min=$unknown
for n in $unenrolled $enrolled; do
	[ "$n" -gt "$max" ] && max=$n
	[ "$n" -lt "$min" ] && min=$n
done
permille=$((max * 1000 / min))
printf 'unknown     %s\nunenrolled  %s\nenrolled    %s\n' "$unknown" \
    "$unenrolled" "$enrolled"
printf 'max/min     %d.%03d (limit %d.%03d)\n' $((permille / 1000)) \
    $((permille % 1000)) $((LIMIT_PERMILLE / 1000)) \
    $((LIMIT_PERMILLE % 1000))
[ "$permille" -le "$LIMIT_PERMILLE" ] ||
    die "refusals differ by more than 5%: a name can be told by its cost"
