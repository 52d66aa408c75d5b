#!/bin/sh
# End-to-end test of lp-enroll-totp: the built program, run as root on a
# private state directory and policy file under /tmp.  Codes come from
# oathtool as an independent oracle.  The machine's accounts are only
# read: `nobody', `daemon' and `root' exist on every Debian, and no
# account is added.  /etc/login.defs is replaced only inside private
# mount namespaces.
#
# Environment: LP_TEST_BUILDDIR (where lp-enroll-totp was built, with
# its config.h), LP_TEST_SRCDIR (tests/, beside man/), OATHTOOL.  Exit 0
# when every check passes, 1 when one fails, 77 (skipped) when not run
# as root.
set -u

if [ "$(id -u)" != 0 ]; then
	echo "e2e-enroll: skipped, needs root"
	exit 77
fi

builddir=${LP_TEST_BUILDDIR:-.}
srcdir=${LP_TEST_SRCDIR:-$(dirname "$0")/..}
prog=$builddir/lp-enroll-totp
oathtool=${OATHTOOL:-oathtool}
export LC_ALL=C TZ=UTC

for need in "$prog" "$oathtool" mandoc flock setpriv unshare; do
	if ! command -v "$need" >/dev/null 2>&1; then
		echo "e2e-enroll: $need not found" >&2
		exit 1
	fi
done

T=$(mktemp -d /tmp/lp-e2e-enroll.XXXXXX) || exit 1
bgpid=
holder=
cleanup() {
	# Only the processes this test may have left behind, by their PIDs.
	[ -n "$bgpid" ] && kill "$bgpid" 2>/dev/null
	[ -n "$holder" ] && kill "$holder" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

S=$T/state
C=$T/lp.yaml
chmod 0755 "$T"
mkdir -m 0700 "$S"
cat >"$C" <<'EOF'
totp:
  issuer: Example Corp
  digits: 6
  period: 30
  algorithm: sha1
  window: 1
EOF
chmod 0644 "$C"

n=0
passed=0
failed=0
# Everything the program writes outside an enrolment's own output, to be
# searched for recovery codes at the end.
other=$T/other.log
: >"$other"

ok() {
	n=$((n + 1))
	passed=$((passed + 1))
	echo "ok $n - $1"
}

not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	shift
	for line in "$@"; do
		echo "#   $line"
	done
	for f in "$T/out" "$T/err"; do
		[ -s "$f" ] && sed 's/^/#   | /' "$f" | head -20
	done
	return 0
}

# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
	desc=$1
	shift
	if "$@"; then
		ok "$desc"
	else
		not_ok "$desc" "failed: $*"
	fi
}

# run ARGS...: runs the program on the private policy and state; sets rc
# and leaves stdout in $T/out and stderr in $T/err.
run() {
	"$prog" --config "$C" --state-dir "$S" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	cat "$T/out" "$T/err" >>"$other"
}

# run_raw ARGS...: as run, without the default options.
run_raw() {
	"$prog" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	cat "$T/out" "$T/err" >>"$other"
}

err_has() {
	grep -q -- "$1" "$T/err"
}

mode_of() {
	stat -c '%u:%g:%a' "$1"
}

# The secret from a URI on stdin.
uri_secret() {
	sed -n 's/^otpauth:[^?]*?secret=\([A-Z2-7]*\)&.*/\1/p'
}

# The secret a state file holds.
state_secret() {
	sed -n 's/^secret //p' "$S/$1"
}

state_field() {
	sed -n "s/^$2 //p" "$S/$1"
}

# set_field USER KEY VALUE: edits a state file in place, as a login
# would have left it; the file keeps its inode, owner and mode.
set_field() {
	sed "s/^$2 .*/$2 $3/" "$S/$1" >"$T/field" && cat "$T/field" >"$S/$1"
}

# A 6-digit code that is wrong for every step oathtool says is near now.
wrong_code() {
	near=$("$oathtool" --totp -b "$1" -N "now - 90 seconds" -w 6)
	for c in 000000 111111 222222 333333 444444 555555; do
		if ! printf '%s\n' "$near" | grep -qx "$c"; then
			echo "$c"
			return
		fi
	done
}

# wait_for FILE PATTERN: waits up to 10 s for PATTERN to appear in FILE.
wait_for() {
	i=0
	while [ $i -lt 100 ]; do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# verify_fifo USER ANSWER [OPTIONS...]: enrols USER with --uri-only
# --verify in a session without a terminal, reading the code from a FIFO.
# ANSWER is "right", "wrong", "junk" or "none".  Sets rc, and secret to
# the secret printed.  When $meanwhile names a function, it is called
# once the prompt is up, before the answer; $bgpid is then the program's
# PID.  $runner, when set, is a command the program is started through.
verify_fifo() {
	vuser=$1
	answer=$2
	shift 2
	rm -f "$T/fifo"
	mkfifo -m 0600 "$T/fifo"
	# shellcheck disable=SC2086 # $runner is a command and its options
	setsid -w $runner "$prog" --config "$C" --state-dir "$S" --uri-only \
	    --verify "$@" "$vuser" <"$T/fifo" >"$T/out" 2>"$T/err" &
	bgpid=$!
	exec 3>"$T/fifo"
	secret=
	if wait_for "$T/out" '^otpauth:' && wait_for "$T/err" 'code: '; then
		secret=$(uri_secret <"$T/out")
		[ -n "$meanwhile" ] && "$meanwhile"
		case $answer in
		right)	"$oathtool" --totp -b "$secret" >&3 ;;
		wrong)	wrong_code "$secret" >&3 ;;
		junk)	echo "12a456" >&3 ;;
		none)	;;
		esac
	fi
	exec 3>&-
	wait "$bgpid"
	rc=$?
	bgpid=
	cat "$T/out" "$T/err" >>"$other"
}

# on_tty FILE COMMAND: runs the program on a pseudo-terminal through
# script(1), with FILE as the terminal's input; output in $T/tty.
on_tty() {
	input=$1
	shift
	script -q -e -c "$*" /dev/null <"$input" >"$T/tty" 2>&1
	rc=$?
	# The terminal turns "\n" into "\r\n"; the QR code's colours go too.
	sed "s/\r\$//; s/$esc\[[0-9;]*m//g" "$T/tty" >"$T/tty.txt"
	grep "^$esc\[30;107m" "$T/tty" | sed "s/\r\$//; s/$esc\[[0-9;]*m//g" |
	    sed "s/$full/B/g; s/$upper/T/g; s/$lower/L/g; s/ /./g" \
	    >"$T/qr.cells"
}

cmdline="$prog --config $C --state-dir $S"
meanwhile=
runner=
esc=$(printf '\033')
full=$(printf '\342\226\210')	# U+2588, both modules dark
upper=$(printf '\342\226\200')	# U+2580, the upper one
lower=$(printf '\342\226\204')	# U+2584, the lower one

# ---------------------------------------------------------------- refusals

mkdir -m 0755 "$T/bin"
cp "$prog" "$T/bin/lp-enroll-totp"
setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$T/bin/lp-enroll-totp" --config "$C" --state-dir "$S" --uri-only \
    nobody >"$T/out" 2>"$T/err"
rc=$?
cat "$T/out" "$T/err" >>"$other"
check "a user other than root is refused with status 1" \
    test $rc = 1 -a ! -s "$T/out"
check "the refusal says root is needed" err_has "must be run as root"

# Each usage error: status 2, nothing on stdout, and on stderr first the
# reason (the text after '|', or getopt's own words), then the usage.
usage_ok=true
while IFS='|' read -r args why; do
	# shellcheck disable=SC2086
	run_raw $args
	if [ $rc != 2 ] || [ -s "$T/out" ] ||
	    ! sed -n 1p "$T/err" | grep -q -- "lp-enroll-totp: $why" ||
	    ! sed -n 2p "$T/err" | grep -q '^usage: lp-enroll-totp '; then
		usage_ok=false
		echo "# usage: '$args' gave $rc"
		sed 's/^/#   | /' "$T/err"
	fi
done <<'EOF'
|no user given$
nobody root|one user at a time; 2 arguments given$
--bogus nobody|unrecognized option '--bogus'
-x|invalid option -- 'x'
--config|option '--config' requires an argument
--remove --status nobody|--remove and --status cannot be combined$
--remove --force nobody|--remove and --force cannot be combined$
--status --uri-only nobody|--status and --uri-only cannot be combined$
-R --verify nobody|--new-recovery-codes and --verify cannot be combined$
-U -n nobody|--unlock and --no-qr cannot be combined$
--unlock --remove nobody|--unlock and --remove cannot be combined$
EOF
check "usage errors exit 2 with the reason, then the usage text" $usage_ok

run_raw --help
cp "$T/out" "$T/help"
check "--help prints the usage on stdout and exits 0" \
    sh -c "test $rc = 0 && test ! -s '$T/err' &&
    head -1 '$T/out' | grep -q '^usage: lp-enroll-totp '"
run_raw -h
check "-h prints the same usage" \
    sh -c "test $rc = 0 && cmp -s '$T/out' '$T/help'"
setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$T/bin/lp-enroll-totp" --help >"$T/out" 2>"$T/err"
rc=$?
check "--help works without root" \
    sh -c "test $rc = 0 && cmp -s '$T/out' '$T/help'"

version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' \
    "$builddir/config.h")
run_raw --version
check "--version prints the package version ($version) and exits 0" \
    sh -c "test $rc = 0 && test -n '$version' && test ! -s '$T/err' &&
    test \"\$(cat '$T/out')\" = 'lp-enroll-totp $version'"

# The usage and the man page's SYNOPSIS, word for word.
bs=$(printf '\b')
mandoc -Tascii -O width=200 "$srcdir/../man/lp-enroll-totp.8" |
    sed "s/.$bs//g" | sed -n '/^SYNOPSIS$/,/^DESCRIPTION$/p' |
    sed '1d; $d; /^ *$/d; s/^ *//; s/  */ /g' >"$T/synopsis"
sed 's/^usage: //; s/^ *//; s/  */ /g' "$T/help" >"$T/usage"
check "the usage matches the man page's SYNOPSIS" \
    sh -c "test -s '$T/synopsis' && cmp -s '$T/synopsis' '$T/usage'"

long=$(printf 'a%.0s' $(seq 300))
names_ok=true
for bad in "../x" "a/b" "-x" "$long" "" ".hidden" "a b" "$(printf 'a\tb')"; do
	run --uri-only -- "$bad"
	if [ $rc != 1 ] || ! err_has "invalid user name" || [ -s "$T/out" ]
	then
		names_ok=false
		echo "# bad name '$bad' gave $rc"
	fi
done
check "bad user names are refused with status 1" $names_ok
check "no file was made outside the state directory" \
    test ! -e "$T/x" -a ! -e "$S/../x" -a -z "$(ls -A "$S")"

run --uri-only lp-e2e-no-such-user
check "an unknown user is refused with status 1" \
    test $rc = 1 -a ! -s "$T/out"
check "the refusal names the unknown user" \
    err_has "lp-e2e-no-such-user: no such user"

run nobody
check "the secret is not shown when stdout is not a terminal" \
    test $rc = 1 -a ! -s "$T/out" -a ! -e "$S/nobody"
check "the refusal points at --uri-only" err_has "not a terminal"

run -R nobody
check "-R of a user not enrolled says so first, even without a terminal" \
    sh -c "test $rc = 1 && test ! -s '$T/out' &&
    grep -q 'nobody: not enrolled' '$T/err' && ! grep -q terminal '$T/err'"

chmod 0755 "$S"
run --uri-only nobody
check "a state directory open to others is refused" \
    test $rc = 1 -a ! -s "$T/out" -a ! -e "$S/nobody"
chmod 0700 "$S"

chmod 0664 "$C"
run --uri-only nobody
check "a group-writable policy file is refused" \
    test $rc = 1 -a ! -s "$T/out" -a ! -e "$S/nobody"
chmod 0644 "$C"

printf 'totp:\n  issuer: X\n  digitz: 6\n' >"$T/bad.yaml"
run_raw --config "$T/bad.yaml" --state-dir "$S" --uri-only nobody
check "a policy with an unknown key is refused, naming line and column" \
    sh -c "test $rc = 1 && grep -q 'bad.yaml:3:' '$T/err'"

# ---------------------------------------------------------------- --uri-only

run --uri-only nobody
secret=$(uri_secret <"$T/out")
expect="^otpauth://totp/Example%20Corp:nobody?secret=[A-Z2-7]\{32\}"
expect="$expect&issuer=Example%20Corp&algorithm=SHA1&digits=6&period=30\$"
check "--uri-only prints exactly one URI line with a 32-character secret" \
    test $rc = 0 -a "$(wc -l <"$T/out")" = 1 -a ${#secret} = 32 -a \
    ! -s "$T/err"
check "the URI has the percent-encoded issuer, SHA1, 6 digits, 30 s" \
    grep -q "$expect" "$T/out"
check "the state file holds the secret of the URI" \
    test "$(state_secret nobody)" = "$secret"
check "the state file is root's, mode 0600; the directory stays 0700" \
    test "$(mode_of "$S/nobody")" = 0:0:600 -a "$(mode_of "$S")" = 0:0:700
check "--uri-only makes no recovery codes" \
    test -z "$(state_field nobody recovery)"
first=$secret

cp "$S/nobody" "$T/saved"
run --uri-only nobody
check "an existing enrolment is not replaced without --force (status 1)" \
    test $rc = 1 -a ! -s "$T/out"
check "the refusal says so and names --force" \
    err_has "nobody: already enrolled; use --force to replace"
check "the refused enrolment left the state file as it was" \
    cmp -s "$S/nobody" "$T/saved"

run --uri-only --force nobody
secret=$(uri_secret <"$T/out")
check "--force replaces the enrolment with a new secret" \
    test $rc = 0 -a ${#secret} = 32 -a "$secret" != "$first" -a \
    "$(state_secret nobody)" = "$secret"

cp "$S/nobody" "$T/saved"
run -R nobody
check "-R of an enrolled user refuses without a terminal, state untouched" \
    sh -c "test $rc = 1 && test ! -s '$T/out' &&
    grep -q 'nobody: standard output is not a terminal' '$T/err' &&
    cmp -s '$S/nobody' '$T/saved'"
check "the -R refusal does not point at --uri-only, which -R cannot take" \
    sh -c "! grep -q 'uri-only' '$T/err'"

run --status nobody
check "--status shows an enrolment without codes" \
    sh -c "test $rc = 0 && grep -qx 'enrolled: yes' '$T/out' &&
    grep -qx 'locked until: not locked' '$T/out' &&
    grep -qx 'recovery codes left: 0' '$T/out' &&
    grep -qx 'failures: 0' '$T/out' &&
    grep -qx 'last success: never' '$T/out'"
check "--status never prints the secret" \
    sh -c "! grep -q '$secret' '$T/out' '$T/err'"

# ---------------------------------------------------------------- system users

# Enrolling root or an account below UID_MIN warns on stderr and goes on;
# stdout keeps only the URI.  `daemon' (uid 1) exists on every Debian.
run --uri-only root
check "enrolling root warns that it is the superuser, and enrols" \
    sh -c "test $rc = 0 && test \$(wc -l <'$T/out') = 1 && test -e '$S/root' &&
    grep -q 'warning: root is the superuser (uid 0); enrolling anyway' \
    '$T/err'"
run --uri-only daemon
check "enrolling a system account warns, naming uid and UID_MIN" \
    sh -c "test $rc = 0 && test \$(wc -l <'$T/out') = 1 &&
    grep -q 'warning: daemon is a system account (uid 1, below UID_MIN 1000);' \
    '$T/err' && grep -q 'enrolling anyway' '$T/err'"
run --remove root
run --remove daemon
run --status daemon
check "--status, --remove and the like do not warn about system accounts" \
    sh -c "test $rc = 0 && test ! -s '$T/err'"

# login_defs FILE ARGS...: runs the program with FILE over
# /etc/login.defs, in a mount namespace of its own.
login_defs() {
	defs=$1
	shift
	# shellcheck disable=SC2016 # $1 and $@ belong to the inner shell
	unshare -m sh -c 'mount --bind "$1" /etc/login.defs && shift &&
	    exec "$@"' sh "$defs" "$prog" --config "$C" --state-dir "$S" "$@" \
	    >"$T/out" 2>"$T/err"
	rc=$?
	cat "$T/out" "$T/err" >>"$other"
}
printf '# UID_MIN 1\nUID_MIN\t\t\t 70000\nUID_MAX 80000\n' >"$T/login.defs"
login_defs "$T/login.defs" --uri-only --force nobody
check "UID_MIN is read from login.defs (70000: nobody is a system account)" \
    sh -c "test $rc = 0 && test \$(wc -l <'$T/out') = 1 &&
    grep -q 'nobody is a system account (uid 65534, below UID_MIN 70000)' \
    '$T/err'"
printf '# no UID_MIN here\n' >"$T/login.defs"
login_defs "$T/login.defs" --uri-only --force nobody
check "without UID_MIN in login.defs, 1000 is the limit" \
    sh -c "test $rc = 0 && test ! -s '$T/err'"
login_defs "$T/login.defs" --uri-only daemon
check "without UID_MIN, an account below 1000 is still warned about" \
    sh -c "test $rc = 0 && grep -q 'below UID_MIN 1000' '$T/err'"
run --remove daemon

# ---------------------------------------------------------------- --verify

verify_fifo nobody right --force
check "--verify keeps the enrolment on a code from oathtool" \
    test $rc = 0 -a ${#secret} = 32 -a \
    "$(state_secret nobody)" = "$secret"
check "--verify keeps stdout to the URI; the prompt goes to stderr" \
    sh -c "test \$(wc -l <'$T/out') = 1 &&
    grep -q 'Verification code: ' '$T/err'"
step=$(( $(date +%s) / 30 ))
last=$(state_field nobody last_step)
check "the accepted code's time step is recorded against reuse" \
    test "$last" -ge $((step - 2)) -a "$last" -le "$step"

cp "$S/nobody" "$T/saved"
verify_fifo nobody wrong --force
check "a wrong code fails --verify with status 1" \
    sh -c "test $rc = 1 && grep -q 'nobody: wrong code' '$T/err'"
check "after a wrong code the previous enrolment is untouched" \
    cmp -s "$S/nobody" "$T/saved"

verify_fifo nobody junk --force
check "a code with a letter fails --verify and changes nothing" \
    sh -c "test $rc = 1 && grep -q 'not a 6-digit code' '$T/err' &&
    cmp -s '$S/nobody' '$T/saved'"

verify_fifo nobody none --force
check "no code at all fails --verify and changes nothing" \
    sh -c "test $rc = 1 && cmp -s '$S/nobody' '$T/saved'"

verify_fifo root wrong
check "a wrong code for a new user leaves no enrolment" \
    test $rc = 1 -a ! -e "$S/root"

# While the prompt waits, the secret is in memory: the process must not
# be dumpable and its core size limit must be 0.  A process that is not
# dumpable has its /proc files owned by root's group instead of its own,
# so it runs here with group nobody (still as root) to tell them apart.
look_at_proc() {
	p_exe=$(readlink "/proc/$bgpid/exe")
	p_gid=$(stat -c %g "/proc/$bgpid/status")
	p_core=$(sed -n 's/^Max core file size *//p' "/proc/$bgpid/limits")
}
cp "$S/nobody" "$T/saved"
meanwhile=look_at_proc
runner="setpriv --regid=65534 --clear-groups"
p_exe=''
p_gid=''
p_core=''
verify_fifo nobody none --force
meanwhile=
runner=
check "at the prompt the program is not dumpable and may dump no core" \
    sh -c "test '$p_exe' = '$(readlink -f "$prog")' && test '$p_gid' = 0 &&
    echo '$p_core' | grep -Eq '^0 +0 +bytes' && test $rc = 1 &&
    cmp -s '$S/nobody' '$T/saved'"

# Another administrator replaces the enrolment while the first one waits
# for the person's code: the first one must then write nothing.
enrol_other() {
	"$prog" --config "$C" --state-dir "$S" --uri-only --force nobody \
	    >"$T/out2" 2>&1
}
meanwhile=enrol_other
verify_fifo nobody right --force
meanwhile=
theirs=$(uri_secret <"$T/out2")
check "an enrolment changed during --verify makes it write nothing" \
    sh -c "test $rc = 1 && grep -q 'changed meanwhile' '$T/err'"
check "the other administrator's enrolment stays" \
    test ${#theirs} = 32 -a "$(state_secret nobody)" = "$theirs"

# ---------------------------------------------------------------- terminal

# The whole interactive enrolment on a pseudo-terminal: URI, QR code, key
# and recovery codes.
on_tty /dev/null "$cmdline --force nobody"
check "on a terminal the enrolment is shown and written" \
    sh -c "test $rc = 0 && grep -q '^otpauth://totp/' '$T/tty.txt' &&
    grep -q 'nobody: enrolment replaced' '$T/tty.txt'"
secret=$(uri_secret <"$T/tty.txt")
check "the terminal shows the state file's secret" \
    test -n "$secret" -a "$(state_secret nobody)" = "$secret"
check "the recovery codes come with a warning that they are shown once" \
    grep -q "shown only this once" "$T/tty.txt"
grep -E '^    [a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$' "$T/tty.txt" |
    sed 's/^ *//' >"$T/codes1"
check "ten distinct recovery codes are shown" \
    test "$(sort -u "$T/codes1" | wc -l)" = 10
check "the state file keeps ten hashes and no code in clear" \
    sh -c "test \$(grep -c '^recovery ' '$S/nobody') = 10 &&
    ! grep -qFf '$T/codes1' '$S/nobody'"

# The QR code: rebuilt from the half blocks into a grid of modules
# (1 dark), then checked for its quiet zone, finder patterns and timing
# patterns, independently of the program's drawing code.
awk '
{
	w = length($0)
	if (NR == 1)
		width = w
	else if (w != width)
		bad = "ragged line " NR
	for (x = 0; x < w; x++) {
		c = substr($0, x + 1, 1)
		g[2 * (NR - 1), x] = (c == "B" || c == "T")
		g[2 * (NR - 1) + 1, x] = (c == "B" || c == "L")
	}
	rows = 2 * NR
}
function finder(ox, oy,    x, y, ring, want) {
	for (y = -1; y <= 7; y++)
		for (x = -1; x <= 7; x++) {
			if (ox + x < 4 || oy + y < 4 || ox + x >= width - 4 ||
			    oy + y >= width - 4)
				continue
			ring = (x < 0 || y < 0 || x > 6 || y > 6) ? 3 : \
			    (x == 0 || y == 0 || x == 6 || y == 6) ? 0 : \
			    (x == 1 || y == 1 || x == 5 || y == 5) ? 1 : 2
			want = (ring == 0 || ring == 2)
			if (g[oy + y, ox + x] != want)
				return 0
		}
	return 1
}
END {
	if (bad != "") { print bad; exit 1 }
	m = width - 8
	if (m < 21 || (m - 21) % 4 != 0) { print "width " width; exit 1 }
	if (rows != width + 1) { print "rows " rows; exit 1 }
	for (y = 0; y < rows; y++)
		for (x = 0; x < width; x++)
			if ((y < 4 || x < 4 || y >= width - 4 ||
			    x >= width - 4) && g[y, x]) {
				print "quiet zone " x "," y; exit 1
			}
	if (!finder(4, 4) || !finder(width - 11, 4) || !finder(4, width - 11)) {
		print "finder"; exit 1
	}
	for (i = 8; i < m - 8; i++)
		if (g[10, 4 + i] != (i % 2 == 0) ||
		    g[4 + i, 10] != (i % 2 == 0)) {
			print "timing " i; exit 1
		}
	printf "%d modules\n", m
}' "$T/qr.cells" >"$T/qr.result" 2>&1
check "the terminal shows a well-formed QR code ($(cat "$T/qr.result"))" \
    grep -q modules "$T/qr.result"

# With Python, the drawing is compared module by module with what
# libqrencode makes of the URI that was printed.
if command -v python3 >/dev/null 2>&1 &&
    python3 -c 'import ctypes; ctypes.CDLL("libqrencode.so.4")' 2>/dev/null
then
	grep '^otpauth://' "$T/tty.txt" | head -1 >"$T/uri"
	python3 - "$T/uri" "$T/qr.cells" >"$T/qr.py" 2>&1 <<'EOF'
import ctypes, sys
class QRcode(ctypes.Structure):
    _fields_ = [("version", ctypes.c_int), ("width", ctypes.c_int),
                ("data", ctypes.POINTER(ctypes.c_ubyte))]
lib = ctypes.CDLL("libqrencode.so.4")
lib.QRcode_encodeString.restype = ctypes.POINTER(QRcode)
lib.QRcode_encodeString.argtypes = [ctypes.c_char_p, ctypes.c_int,
                                    ctypes.c_int, ctypes.c_int, ctypes.c_int]
uri = open(sys.argv[1], "rb").read().strip()
qr = lib.QRcode_encodeString(uri, 0, 1, 2, 1).contents   # level M, 8-bit
w = qr.width
cells = open(sys.argv[2]).read().split()
def dark(x, y):
    x -= 4; y -= 4
    return 0 <= x < w and 0 <= y < w and qr.data[y * w + x] & 1
want = []
for y in range(0, w + 8, 2):
    want.append("".join("B" if dark(x, y) and dark(x, y + 1) else
                        "T" if dark(x, y) else
                        "L" if dark(x, y + 1) else "."
                        for x in range(w + 8)))
print("same" if want == cells else "differs")
EOF
	check "the QR code is libqrencode's symbol of the printed URI" \
	    grep -qx same "$T/qr.py"
fi

on_tty /dev/null "$cmdline --force --no-qr nobody"
check "--no-qr shows the URI and codes but no QR code" \
    sh -c "test $rc = 0 && grep -q '^otpauth://' '$T/tty.txt' &&
    grep -q 'shown only this once' '$T/tty.txt' && test ! -s '$T/qr.cells'"
grep -E '^    [a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$' "$T/tty.txt" |
    sed 's/^ *//' >>"$T/codes1"

# --verify on a terminal: the code is typed with echo off, and the codes
# are shown only once it is accepted.
rm -f "$T/fifo"
mkfifo -m 0600 "$T/fifo"
script -q -e -c "$cmdline --force --no-qr --verify nobody" /dev/null \
    <"$T/fifo" >"$T/tty" 2>&1 &
bgpid=$!
exec 3>"$T/fifo"
code=
if wait_for "$T/tty" 'Verification code: '; then
	secret=$(sed 's/\r$//' "$T/tty" | uri_secret)
	code=$("$oathtool" --totp -b "$secret")
	printf '%s\r' "$code" >&3
	wait_for "$T/tty" 'enrolment replaced'
fi
exec 3>&-
wait "$bgpid"
rc=$?
bgpid=
sed 's/\r$//' "$T/tty" >"$T/tty.txt"
check "--verify on a terminal accepts the code" \
    sh -c "test $rc = 0 && test -n '$code' &&
    test \"\$(sed -n 's/^secret //p' '$S/nobody')\" = '$secret'"
check "the typed code is not echoed" \
    sh -c "! grep -q '$code' '$T/tty.txt'"
check "with --verify the recovery codes follow the accepted code" \
    sh -c "sed -n '/^Code accepted/,\$p' '$T/tty.txt' |
    grep -Eq '^    [a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}\$'"
grep -E '^    [a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$' "$T/tty.txt" |
    sed 's/^ *//' >"$T/codes2"

# ^C at the prompt: echo comes back, nothing is written, and the program
# ends by the signal.  The shell ignores SIGINT so that it lives on to
# print the status and the terminal's modes.
cp "$S/nobody" "$T/saved"
rm -f "$T/fifo"
mkfifo -m 0600 "$T/fifo"
script -q -e -c "trap '' INT; $cmdline --force --no-qr --verify nobody;
    echo status=\$?; stty -a" /dev/null <"$T/fifo" >"$T/tty" 2>&1 &
bgpid=$!
exec 3>"$T/fifo"
if wait_for "$T/tty" 'Verification code: '; then
	printf '\003' >&3
	wait_for "$T/tty" 'status=.*' && wait_for "$T/tty" 'echo'
fi
exec 3>&-
wait "$bgpid"
bgpid=
sed 's/\r$//' "$T/tty" >"$T/tty.txt"
check "^C at the prompt ends the program by SIGINT, writing nothing" \
    sh -c "grep -q 'nobody: interrupted; nothing changed' '$T/tty.txt' &&
    grep -qx 'status=130' '$T/tty.txt' && cmp -s '$T/saved' '$S/nobody'"
check "^C at the prompt turns echo back on" \
    grep -Eq '(^| )echo( |$)' "$T/tty.txt"

# ---------------------------------------------------------------- -R

before=$(state_secret nobody)
last=$(state_field nobody last_step)
on_tty /dev/null "$cmdline --new-recovery-codes nobody"
grep -E '^    [a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$' "$T/tty.txt" |
    sed 's/^ *//' >"$T/codes3"
check "--new-recovery-codes shows ten new codes" \
    sh -c "test $rc = 0 && test \$(sort -u '$T/codes3' | wc -l) = 10 &&
    ! grep -qxFf '$T/codes2' '$T/codes3'"
check "--new-recovery-codes keeps the secret and the last step" \
    test "$(state_secret nobody)" = "$before" -a \
    "$(state_field nobody last_step)" = "$last"
run --status nobody
check "--status counts the new codes" \
    grep -qx 'recovery codes left: 10' "$T/out"

# ---------------------------------------------------------------- --unlock

# A lockout as pam_lp_totp leaves it after five wrong codes.
cp "$S/nobody" "$T/unlocked"
set_field nobody failures 5
set_field nobody locked_until $(($(date +%s) + 300))
run --status nobody
check "--status shows the lockout" \
    sh -c "grep -qx 'failures: 5' '$T/out' &&
    ! grep -qx 'locked until: not locked' '$T/out'"
run --unlock nobody
check "--unlock clears the failures and the lockout, and says so" \
    sh -c "test $rc = 0 && test ! -s '$T/err' &&
    grep -qx 'nobody: unlocked (was locked, 5 failures cleared).' '$T/out' &&
    test \"\$(sed -n 's/^failures //p' '$S/nobody')\" = 0 &&
    test \"\$(sed -n 's/^locked_until //p' '$S/nobody')\" = 0"
check "--unlock keeps the secret, the last step and the recovery codes" \
    cmp -s "$S/nobody" "$T/unlocked"
check "the unlocked state file is still root's, mode 0600" \
    test "$(mode_of "$S/nobody")" = 0:0:600
run --status nobody
check "--status then shows no lockout" \
    sh -c "grep -qx 'failures: 0' '$T/out' &&
    grep -qx 'locked until: not locked' '$T/out' &&
    grep -qx 'recovery codes left: 10' '$T/out'"

set_field nobody failures 1
run -U nobody
check "-U clears failures short of a lockout too" \
    sh -c "test $rc = 0 && cmp -s '$S/nobody' '$T/unlocked' &&
    grep -qx 'nobody: unlocked (was not locked, 1 failure cleared).' '$T/out'"

# --unlock takes the user's lock, as pam_lp_totp does: while another
# process holds it, --unlock waits and changes nothing.
set_field nobody failures 2
rm -f "$T/release"
# shellcheck disable=SC2016 # $1 belongs to the inner shell
flock "$S/.nobody.lock" sh -c 'i=0; while [ ! -e "$1" ] && [ $i -lt 100 ]
    do sleep 0.1; i=$((i + 1)); done' sh "$T/release" &
holder=$!
i=0
while flock -n "$S/.nobody.lock" true && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
"$prog" --config "$C" --state-dir "$S" --unlock nobody >"$T/out" \
    2>"$T/err" &
bgpid=$!
sleep 0.5
waited=no
kill -0 "$bgpid" 2>/dev/null && waited=yes
during=$(state_field nobody failures)
touch "$T/release"
wait "$holder"
holder=
wait "$bgpid"
rc=$?
bgpid=
check "--unlock waits for the user's lock, then clears" \
    sh -c "test $waited = yes && test '$during' = 2 && test $rc = 0 &&
    cmp -s '$S/nobody' '$T/unlocked'"

# ---------------------------------------------------------------- bad state

cp "$S/nobody" "$T/saved"
(umask 077 && printf 'not a state file\n' >"$S/nobody")
run --status nobody
check "a malformed state file is reported by --status (status 1)" \
    sh -c "test $rc = 1 && grep -q 'malformed' '$T/err'"
run --uri-only nobody
check "a malformed state file is not replaced without --force" \
    sh -c "test $rc = 1 && grep -q 'use --force' '$T/err'"
run --uri-only --force nobody
check "--force replaces a malformed state file" \
    test $rc = 0 -a "$(state_secret nobody)" = "$(uri_secret <"$T/out")"

mv "$S/nobody" "$T/saved"
ln -s "$T/saved" "$S/nobody"
run --uri-only --force nobody
check "a symbolic link in place of the state file is never replaced" \
    sh -c "test $rc = 1 && test -L '$S/nobody' &&
    grep -q 'symbolic link' '$T/err'"
rm -f "$S/nobody"
mv "$T/saved" "$S/nobody"

# --remove refuses what every other mode refuses, and leaves it as it is.
cp "$S/nobody" "$T/saved"
chown 65534 "$S/nobody"
run --remove nobody
check "--remove refuses a state file with the wrong owner" \
    sh -c "test $rc = 1 && test ! -s '$T/out' &&
    grep -q 'nobody: state file has the wrong owner or mode; not removed' \
    '$T/err' && test '$(mode_of "$S/nobody")' = 65534:0:600 &&
    cmp -s '$S/nobody' '$T/saved'"
chown 0 "$S/nobody"

chmod 0640 "$S/nobody"
run --remove nobody
check "--remove refuses a state file with group access" \
    sh -c "test $rc = 1 && grep -q 'wrong owner or mode; not removed' \
    '$T/err' && cmp -s '$S/nobody' '$T/saved'"
chmod 0600 "$S/nobody"

ln "$S/nobody" "$T/hardlink"
run --remove nobody
check "--remove refuses a hard-linked state file" \
    sh -c "test $rc = 1 &&
    grep -q 'nobody: state file has more than one hard link; not removed' \
    '$T/err' && test \$(stat -c %h '$S/nobody') = 2"
run --status nobody
check "--status names the hard link too" \
    sh -c "test $rc = 1 && grep -q 'more than one hard link' '$T/err'"
run --uri-only --force nobody
check "--force does not replace a hard-linked state file" \
    sh -c "test $rc = 1 && test ! -s '$T/out' &&
    cmp -s '$S/nobody' '$T/saved' && test \$(stat -c %h '$S/nobody') = 2"
rm -f "$T/hardlink"

mv "$S/nobody" "$T/saved"
ln -s "$T/saved" "$S/nobody"
run --remove nobody
check "--remove refuses a symbolic link, and its target stays" \
    sh -c "test $rc = 1 && test -L '$S/nobody' && test -f '$T/saved' &&
    grep -q 'nobody: state file is a symbolic link; not removed' '$T/err'"
rm -f "$S/nobody"

mkfifo -m 0600 "$S/nobody"
run --remove nobody
check "--remove refuses a FIFO" \
    sh -c "test $rc = 1 && test -p '$S/nobody' &&
    grep -q 'nobody: state file is not a regular file; not removed' '$T/err'"
rm -f "$S/nobody"

mkdir -m 0700 "$S/nobody"
run --remove nobody
check "--remove refuses a directory" \
    sh -c "test $rc = 1 && test -d '$S/nobody' &&
    grep -q 'not a regular file; not removed' '$T/err'"
rmdir "$S/nobody"

(umask 077 && printf 'not a state file\n' >"$S/nobody")
run --unlock nobody
check "--unlock refuses a malformed state file and leaves it" \
    sh -c "test $rc = 1 && grep -q 'nobody: state file is malformed' '$T/err' &&
    test \"\$(cat '$S/nobody')\" = 'not a state file'"
run --remove nobody
check "--remove deletes a malformed state file, as the way out" \
    test $rc = 0 -a ! -e "$S/nobody" -a ! -s "$T/err"

(umask 077 && head -c 20000 /dev/zero | tr '\0' x >"$S/nobody")
run --uri-only nobody
check "a state file too large is reported, and needs --force" \
    sh -c "test $rc = 1 && grep -q 'state file is too large; use --force' \
    '$T/err'"
run --remove nobody
check "--remove deletes a state file too large" \
    test $rc = 0 -a ! -e "$S/nobody"
mv "$T/saved" "$S/nobody"

# ---------------------------------------------------------------- syslog

# The log lines, read from a /dev/log of the test's own: the program runs
# in a private mount namespace whose /dev holds only that socket and a
# /dev/null.  Needs Python for the listening socket.
in_ns() {
	# shellcheck disable=SC2016 # $1 and $@ belong to the inner shell
	SUDO_USER=$sudo_user LOGNAME=$logname unshare -m sh -c \
	    'mount --bind /dev/null \
	    "$1/dev/null" && mount --bind "$1/dev" /dev && shift &&
	    exec "$@"' sh "$T" "$prog" --config "$C" --state-dir "$S" "$@" \
	    >"$T/out" 2>"$T/err"
	rc=$?
	cat "$T/out" "$T/err" >>"$other"
}
if command -v python3 >/dev/null 2>&1; then
	mkdir -m 0755 "$T/dev"
	: >"$T/dev/null"
	# Every datagram, one a line, until the test says stop and the
	# socket has been quiet for 0.2 s; 30 s at most.
	python3 - "$T/dev/log" "$T/syslog" "$T/stop" <<'END' &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.2)
out, end = open(sys.argv[2], "w"), time.time() + 30
while time.time() < end:
    try:
        out.write(s.recv(4096).decode(errors="replace") + "\n")
        out.flush()
    except socket.timeout:
        if os.path.exists(sys.argv[3]):
            break
END
	bgpid=$!
	i=0
	while [ ! -S "$T/dev/log" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	sudo_user=lp-e2e-admin
	logname=lp-e2e-admin
	in_ns --uri-only --force nobody
	logged=$(uri_secret <"$T/out")
	in_ns --uri-only root
	ln "$S/root" "$T/hardlink"
	in_ns --remove root
	refused=$rc
	rm -f "$T/hardlink"
	# Values that try to add fields of their own to the line.
	sudo_user='mallory action=removed user=alice'
	logname='eve action=removed user=alice'
	in_ns --unlock nobody
	sudo_user='x=y'
	logname='x=y'
	in_ns --unlock nobody
	sudo_user=lp-e2e-admin
	logname=lp-e2e-admin
	in_ns --remove root
	touch "$T/stop"
	wait "$bgpid"
	bgpid=
	# While the kernel's audit is off, each change's audit record comes
	# to syslog as well; the log lines are checked apart from them.
	grep 'lp-audit: type=' "$T/syslog" >"$T/audit.syslog" || :
	grep -v 'lp-audit: type=' "$T/syslog" >"$T/syslog.lines" || :
	mv "$T/syslog.lines" "$T/syslog"
	n=$(grep -c . "$T/audit.syslog" || :)
	check "each change is an audit record (in syslog while audit is off)" \
	    sh -c "test $n = 0 || { test $n = 6 &&
	    test \$(grep -c 'type=USER_MGMT op=lp-enroll-totp acct=\"[a-z]*\" reason=[a-z_]* .* res=success\$' '$T/audit.syslog') = 5 &&
	    grep -q 'acct=\"root\" reason=removed .* res=failed\$' '$T/audit.syslog'; }"
	who='by=root sudo_user=lp-e2e-admin'
	check "enrolling, unlocking and removing are each logged, with who" \
	    sh -c "grep -q ' action=replaced user=nobody $who verified=no\$' \
	    '$T/syslog' &&
	    grep -q ' action=enrolled user=root $who verified=no\$' \
	    '$T/syslog' &&
	    grep -q ' action=removed user=root $who\$' '$T/syslog' &&
	    test \$(grep -c ' action=unlocked user=nobody by=root\$' \
	    '$T/syslog') = 2 &&
	    test \$(grep -c '^<85>[A-Z][a-z][a-z] .* lp-enroll-totp\[' \
	    '$T/syslog') = 5"
	check "a refused --remove logs nothing" \
	    sh -c "test $refused = 1 &&
	    test \$(grep -c 'action=removed' '$T/syslog') = 1 &&
	    test \$(wc -l <'$T/syslog') = 5"
	check "a forged SUDO_USER or LOGNAME adds no field to the log" \
	    sh -c "! grep -Eq 'mallory|eve|alice|x=y|x\?y' '$T/syslog' &&
	    ! grep -Ev '^<85>[^=]* action=[a-z_]* user=[a-z]* by=root( |\$)' \
	    '$T/syslog' | grep -q ."
	check "the log holds no secret" \
	    sh -c "test -n '$logged' && ! grep -q '$logged' '$T/syslog'"
	cat "$T/syslog" >>"$other"
fi

# ---------------------------------------------------------------- --remove

run --remove nobody
check "--remove deletes the enrolment" test $rc = 0 -a ! -e "$S/nobody"
run --remove nobody
check "--remove of a user not enrolled exits 1" \
    sh -c "test $rc = 1 && grep -q 'nobody: not enrolled' '$T/err'"
run --unlock nobody
check "--unlock of a user not enrolled exits 1" \
    sh -c "test $rc = 1 && test ! -s '$T/out' &&
    grep -q 'nobody: not enrolled' '$T/err' && test ! -e '$S/nobody'"
run --status nobody
check "--status of a user not enrolled says so (status 0)" \
    sh -c "test $rc = 0 && grep -qx 'enrolled: no' '$T/out'"
on_tty /dev/null "$cmdline -R nobody"
check "--new-recovery-codes of a user not enrolled exits 1" \
    sh -c "test $rc = 1 && grep -q 'nobody: not enrolled' '$T/tty.txt'"
cat "$T/tty.txt" >>"$other"

# ---------------------------------------------------------------- the end

check "the state directory is still root's, mode 0700, with no temp file" \
    sh -c "test '$(mode_of "$S")' = 0:0:700 &&
    ! ls -A '$S' | grep -q 'tmp'"
check "no recovery code appears anywhere but in its enrolment's output" \
    sh -c "test -s '$T/codes1' && ! grep -qFf '$T/codes1' '$other' &&
    ! grep -qFf '$T/codes2' '$other' && ! grep -qFf '$T/codes3' '$other'"

echo "e2e-enroll: $passed passed, $failed failed"
[ $failed = 0 ]
