#!/bin/sh
# Faults around the files the bastion trusts, through real libpam
# (tests/pam/lp-pam-auth with pam_start_confdir) and the real utilities:
#   - the state directory on a full tmpfs, and on a read-only bind mount:
#     a right and a wrong code are refused, the log line names the error,
#     the state file is byte-identical afterwards, no temporary file is
#     left, and lp-enroll-totp --status still shows the state;
#   - stale leftovers of every name the store uses (.USER.tmp as a file, a
#     link or a directory; .USER.lock) do not stop a login, and the
#     temporary ones are gone after it;
#   - kill -9 of lp-nodes compile at spread-out moments with a large
#     policy: the index is always the old or the new one, whole, and no
#     temporary file is left after the next compile.
# Mounts are made inside the test's private mount namespace and vanish
# with it.  Codes come from oathtool and travel on stdin, never in argv.
set -u

. "${LP_TEST_SRCDIR:?}/e2e/lib.sh"
lp_e2e_init faults "$@"

W=$LP_E2E_WORK
U=fay
AUTH=$LP_TEST_BUILDDIR/tests/pam/lp-pam-auth
NODES=$LP_TEST_BUILDDIR/lp-nodes
KILLS=40
NODES_OLD=2000
NODES_NEW=3000

[ -f "$LP_E2E_MODULE" ] || lp_e2e_bail "$LP_E2E_MODULE is not built"
[ -x "$LP_E2E_ENROLL" ] || lp_e2e_bail "$LP_E2E_ENROLL is not built"
[ -x "$AUTH" ] || lp_e2e_bail "$AUTH is not built"
[ -x "$NODES" ] || lp_e2e_bail "$NODES is not built"

# ------------------------------------------------------------ setup

lp_e2e_policy <<EOF || lp_e2e_bail "policy file"
totp:
  issuer: lp-e2e
  max_failures: 1000
EOF
lp_e2e_add_user "$U" || lp_e2e_bail "account $U"
lp_e2e_enroll "$U" || lp_e2e_bail "lp-enroll-totp --uri-only $U"
lp_e2e_syslog_start || lp_e2e_bail "syslog capture on /dev/log"
SECRET=$(lp_e2e_secret "$U")
# The enrolled state, copied into each scenario's own directory, so that
# every scenario starts with no step used.
cp -p "$LP_E2E_STATE/$U" "$W/pristine" || lp_e2e_bail "copy of the state"
mkdir -m 0755 "$W/services" &&
    echo 'auth required pam_deny.so' >"$W/services/other" ||
    lp_e2e_bail "service directory"

# ------------------------------------------------------------ helpers

# state_dir NAME: a fresh state directory $W/NAME holding the pristine
# state of $U, and a PAM service NAME whose state_dir= is it.
state_dir()
{
	mkdir -m 0700 "$W/$1" &&
	cp -p "$W/pristine" "$W/$1/$U" &&
	service "$1" "$W/$1"
}

# service NAME DIR: the PAM service NAME, with state_dir=DIR.
service()
{
	printf 'auth required %s config=%s state_dir=%s\n' \
	    "$LP_E2E_MODULE" "$LP_E2E_CONFIG" "$2" >"$W/services/$1" &&
	chmod 0644 "$W/services/$1"
}

# auth SERVICE ANSWERFILE: one pam_authenticate of $U; the PAM result's
# name is left in $W/auth.out.  Returns the driver's status.
auth()
{
	timeout 30 "$AUTH" "$W/services" "$1" "$U" <"$2" \
	    >"$W/auth.out" 2>"$W/auth.err"
}

right_code()
{
	lp_e2e_totp "$SECRET" >"$W/code.right"
}

wrong_code()
{
	lp_e2e_wrong_code "$SECRET" >"$W/code.wrong"
}

# refused SERVICE ANSWERFILE PAMNAME: the attempt is refused with PAMNAME.
refused()
{
	lp_e2e_mark "$LP_E2E_SYSLOG"
	if auth "$1" "$2"; then
		lp_e2e_diag "$1: accepted"
		return 1
	fi
	grep -qx "$3" "$W/auth.out" || {
		lp_e2e_diag "$1: $(cat "$W/auth.out") instead of $3"
		return 1
	}
}

# logged ERE: pam_lp_totp logged a line matching ERE since the mark.
logged()
{
	lp_e2e_log_wait 3 "$LP_E2E_SYSLOG" "pam_lp_totp\\(.*\\): user=$U .*$1" ||
	{
		lp_e2e_diag "no log line matching: $1"
		lp_e2e_since "$LP_E2E_SYSLOG" | sed 's/^/#   /'
		return 1
	}
}

# untouched DIR: the state file in DIR is byte-identical to the pristine
# one and no temporary file lies beside it.
untouched()
{
	cmp -s "$W/pristine" "$1/$U" || {
		lp_e2e_diag "$1/$U changed"
		return 1
	}
	no_tmp "$1"
}

no_tmp()
{
	if [ -e "$1/.$U.tmp" ] || [ -L "$1/.$U.tmp" ]; then
		lp_e2e_diag "$1/.$U.tmp left behind"
		return 1
	fi
}

# status_shows DIR: lp-enroll-totp --status reads the state in DIR.
status_shows()
{
	"$LP_E2E_ENROLL" --status --config "$LP_E2E_CONFIG" \
	    --state-dir "$1" "$U" >"$W/status.out" 2>"$W/status.err" || {
		lp_e2e_diag "lp-enroll-totp --status: $(cat "$W/status.err")"
		return 1
	}
	grep -qx 'enrolled: yes' "$W/status.out" &&
	grep -qx 'failures: 0' "$W/status.out"
}

# ------------------------------------------------------------ full disk

# A 64 KiB tmpfs holding the state directory, then filled to the last
# byte: tmpfs hands out whole pages, so once a page-sized write fails,
# even one more byte cannot be stored.
full_setup()
{
	mkdir -m 0700 "$W/full" &&
	mount -t tmpfs -o size=64k,mode=0700 lp-faults-full "$W/full" &&
	cp -p "$W/pristine" "$W/full/$U" &&
	service full "$W/full" &&
	# The lock file exists once a writer has come by; an empty file
	# takes an inode but no page.
	: >"$W/full/.$U.lock" && chmod 0600 "$W/full/.$U.lock" || return 1
	dd if=/dev/zero of="$W/full/filler" bs=4096 2>/dev/null
	if printf x >>"$W/full/filler" 2>/dev/null; then
		lp_e2e_diag "the tmpfs is not full"
		return 1
	fi
}
full_setup || lp_e2e_bail "a full tmpfs for the state directory"

full_right_code()
{
	right_code || return 1
	refused full "$W/code.right" PAM_AUTHINFO_UNAVAIL &&
	logged 'reason=bad_state error=No space left on device' &&
	untouched "$W/full"
}
lp_e2e_check full_right_code \
    "full disk: a right code is refused, ENOSPC logged, state byte-identical, no temporary file"

# A failure that cannot be counted is refused as a state error, so that
# a full disk never lets guesses go uncounted in silence.
full_wrong_code()
{
	wrong_code || return 1
	refused full "$W/code.wrong" PAM_AUTHINFO_UNAVAIL &&
	logged 'reason=bad_state error=No space left on device' &&
	untouched "$W/full"
}
lp_e2e_check full_wrong_code \
    "full disk: a wrong code, whose failure cannot be counted, is refused" \
    "as a state error naming ENOSPC; state byte-identical, no temporary file"

full_status()
{
	status_shows "$W/full"
}
lp_e2e_check full_status \
    "full disk: lp-enroll-totp --status still shows the state"

# Nothing was used up: with room again, the same right code passes.
full_then_freed()
{
	rm -f "$W/full/filler" &&
	auth full "$W/code.right" && grep -qx PAM_SUCCESS "$W/auth.out" &&
	no_tmp "$W/full"
}
lp_e2e_check full_then_freed \
    "full disk: once space is freed, the same right code is accepted"

# ------------------------------------------------------------ read-only

ro_setup()
{
	mkdir -m 0700 "$W/ro.src" "$W/ro" &&
	cp -p "$W/pristine" "$W/ro.src/$U" &&
	: >"$W/ro.src/.$U.lock" && chmod 0600 "$W/ro.src/.$U.lock" &&
	mount --bind "$W/ro.src" "$W/ro" &&
	mount -o remount,bind,ro "$W/ro" &&
	service ro "$W/ro" || return 1
	if touch "$W/ro/probe" 2>/dev/null; then
		lp_e2e_diag "the bind mount is writable"
		return 1
	fi
}
ro_setup || lp_e2e_bail "a read-only bind mount of the state directory"

ro_right_code()
{
	right_code || return 1
	refused ro "$W/code.right" PAM_AUTHINFO_UNAVAIL &&
	logged 'reason=bad_state error=Read-only file system' &&
	untouched "$W/ro"
}
lp_e2e_check ro_right_code \
    "read-only: a right code is refused, EROFS logged, state byte-identical, no temporary file"

ro_wrong_code()
{
	wrong_code || return 1
	refused ro "$W/code.wrong" PAM_AUTHINFO_UNAVAIL &&
	logged 'reason=bad_state error=Read-only file system' &&
	untouched "$W/ro"
}
lp_e2e_check ro_wrong_code \
    "read-only: a wrong code is refused, EROFS logged, state byte-identical, no temporary file"

ro_status()
{
	status_shows "$W/ro"
}
lp_e2e_check ro_status \
    "read-only: lp-enroll-totp --status still shows the state"

# ------------------------------------------------------------ leftovers

# stale_login NAME: a right code is accepted in $W/NAME, whatever was
# left there, and no temporary file remains afterwards.
stale_login()
{
	right_code || return 1
	auth "$1" "$W/code.right" && grep -qx PAM_SUCCESS "$W/auth.out" ||
	{
		lp_e2e_diag "$1: $(cat "$W/auth.out")"
		return 1
	}
	no_tmp "$W/$1" && status_shows "$W/$1"
}

# A half-written temporary file and a lock file, as a writer killed
# between creating them and renaming leaves them.
stale_file_and_lock()
{
	state_dir stale1 || return 1
	head -c 40 "$W/pristine" >"$W/stale1/.$U.tmp" &&
	chmod 0600 "$W/stale1/.$U.tmp" &&
	printf 'stale\n' >"$W/stale1/.$U.lock" &&
	chmod 0600 "$W/stale1/.$U.lock" || return 1
	stale_login stale1
}
lp_e2e_check stale_file_and_lock \
    "leftovers: a stale .$U.tmp and .$U.lock do not stop a login; the temporary file is gone"

# A temporary name planted as a link: removed, its target untouched.
stale_tmp_link()
{
	state_dir stale2 || return 1
	printf 'target\n' >"$W/stale2.target" &&
	ln -s "$W/stale2.target" "$W/stale2/.$U.tmp" || return 1
	stale_login stale2 &&
	[ "$(cat "$W/stale2.target")" = target ]
}
lp_e2e_check stale_tmp_link \
    "leftovers: a .$U.tmp symbolic link is removed, not followed, and the login works"

stale_tmp_dir()
{
	state_dir stale3 || return 1
	mkdir -m 0700 "$W/stale3/.$U.tmp" || return 1
	stale_login stale3
}
lp_e2e_check stale_tmp_dir \
    "leftovers: an empty .$U.tmp directory is removed and the login works"

# A writer really killed with its temporary file in place: the leftover
# of lp-enroll-totp and of the module alike (both write through lib/state).
stale_after_kill()
{
	state_dir stale4 || return 1
	wrong_code || return 1
	i=0
	while [ "$i" -lt 50 ] && [ ! -e "$W/stale4/.$U.tmp" ]; do
		# The driver itself, not a subshell, is what gets killed.
		"$AUTH" "$W/services" stale4 "$U" <"$W/code.wrong" \
		    >/dev/null 2>&1 &
		p=$!
		sleep "0.00$((i % 10))"
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
		i=$((i + 1))
	done
	lp_e2e_diag "stale4: a temporary file was left after $i kills:" \
	    "$([ -e "$W/stale4/.$U.tmp" ] && echo yes || echo no)"
	stale_login stale4
}
lp_e2e_check stale_after_kill \
    "leftovers: after writers killed with kill -9, a login works and no temporary file remains"

# ------------------------------------------------------------ lp-nodes

# gen_policy FILE N: a policy of N nodes, each with its own port and a
# made-up ed25519 key (a well-formed blob; no private half exists).
gen_policy()
{
	perl -MMIME::Base64 -e '
		my ($n) = @ARGV;
		print "tunnel:\n  user: lp-tunnel\nnodes:\n";
		for my $i (1 .. $n) {
			my $blob = pack("N/a*", "ssh-ed25519") .
			    pack("N/a*", pack("N", $i) . ("\x5a" x 28));
			printf "  n%05d:\n    port: %d\n    keys: [\"ssh-ed25519 %s\"]\n",
			    $i, 20000 + $i, encode_base64($blob, "");
		}' "$2" >"$1" && chmod 0644 "$1"
}

mkdir -m 0755 "$W/idx" || lp_e2e_bail "index directory"
gen_policy "$W/nodes-old.yaml" "$NODES_OLD" &&
    gen_policy "$W/nodes-new.yaml" "$NODES_NEW" ||
    lp_e2e_bail "generated policies"
IDX=$W/idx/nodes.cdb

compile()
{
	"$NODES" -c "$1" -i "$IDX" -r "$W/run" compile \
	    >/dev/null 2>"$W/compile.err"
}

# Prints the number of nodes lp-nodes list shows; fails when it fails.
listed()
{
	"$NODES" -i "$IDX" -r "$W/run" list >"$W/list.out" 2>"$W/list.err" ||
	    return 1
	echo $(($(wc -l <"$W/list.out") - 1))
}

compile_setup()
{
	compile "$W/nodes-old.yaml" || return 1
	[ "$(listed)" = "$NODES_OLD" ] || return 1
	# The life of one compile, the shortest of three, so that the kills
	# land all over it rather than after it.
	LIFE_US=
	for k in 1 2 3; do
		t0=$(date +%s%N)
		compile "$W/nodes-new.yaml" || return 1
		t1=$(date +%s%N)
		t=$(((t1 - t0) / 1000))
		if [ -z "$LIFE_US" ] || [ "$t" -lt "$LIFE_US" ]; then
			LIFE_US=$t
		fi
	done
	[ "$(listed)" = "$NODES_NEW" ]
}
compile_setup || lp_e2e_bail "compiling the generated policies"
lp_e2e_diag "one compile of $NODES_NEW nodes takes about $LIFE_US us"

# Each run compiles the other policy and is killed after a delay spread
# evenly from 0 to the measured life (plus a quarter); afterwards the
# index must be the one before the run or the one it was writing.
compile_killed()
{
	bad=0
	done_=0
	tmp_left=0
	i=0
	before=$NODES_NEW
	while [ "$i" -lt "$KILLS" ]; do
		if [ $((i % 2)) -eq 0 ]; then
			src=$W/nodes-old.yaml want=$NODES_OLD
		else
			src=$W/nodes-new.yaml want=$NODES_NEW
		fi
		delay_us=$((LIFE_US * 5 * i / (4 * (KILLS - 1))))
		"$NODES" -c "$src" -i "$IDX" -r "$W/run" compile \
		    >/dev/null 2>&1 &
		p=$!
		sleep "$(printf '%d.%06d' $((delay_us / 1000000)) \
		    $((delay_us % 1000000)))"
		kill -9 "$p" 2>/dev/null
		if wait "$p" 2>/dev/null; then
			done_=$((done_ + 1))
		fi
		[ -e "$W/idx/.nodes.cdb.tmp" ] && tmp_left=$((tmp_left + 1))
		now=$(listed) || {
			lp_e2e_diag "run $i: lp-nodes list fails:" \
			    "$(cat "$W/list.err")"
			bad=$((bad + 1))
			i=$((i + 1))
			continue
		}
		if [ "$now" != "$before" ] && [ "$now" != "$want" ]; then
			lp_e2e_diag "run $i: $now nodes, neither $before nor $want"
			bad=$((bad + 1))
		fi
		before=$now
		i=$((i + 1))
	done
	lp_e2e_diag "$KILLS compiles killed: $done_ finished first," \
	    "a temporary file was left $tmp_left times"
	[ "$bad" -eq 0 ]
}
lp_e2e_check compile_killed \
    "kill -9 of lp-nodes compile at $KILLS moments: the index is always the old or the new one, whole"

compile_cleans_up()
{
	compile "$W/nodes-old.yaml" &&
	[ "$(listed)" = "$NODES_OLD" ] &&
	[ ! -e "$W/idx/.nodes.cdb.tmp" ] && [ ! -L "$W/idx/.nodes.cdb.tmp" ]
}
lp_e2e_check compile_cleans_up \
    "after the kills, the next compile succeeds and leaves no temporary file"

lp_e2e_finish
