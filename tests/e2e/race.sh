#!/bin/sh
# Concurrency and crash safety of pam_lp_totp through real libpam, with a
# private service directory (pam_start_confdir): one code sent by 20 processes at once is accepted exactly
# once; failures sent at once are all counted; kill -9 at random moments
# never leaves a state file that is missing, empty or malformed.
set -eu

: "${LP_TEST_BUILDDIR:?}"
OATHTOOL=${OATHTOOL:-oathtool}

if [ "$(id -u)" -ne 0 ]; then
	echo "race: needs root (state files are root-owned); skipped"
	exit 77
fi

SEED=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
USER_NAME=daemon
ROUNDS=20
PARALLEL=20
CRASHES=200
AUTH="$LP_TEST_BUILDDIR/tests/pam/lp-pam-auth"
ENROLL="$LP_TEST_BUILDDIR/lp-enroll-totp"

work=$(mktemp -d /tmp/lp-race.XXXXXX)
pids=
cleanup() {
	for p in $pids; do
		kill -9 "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

n=0
nfail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); nfail=$((nfail + 1)); echo "not ok $n - $1"; }

mkdir -m 0755 "$work/services"
mkdir -m 0700 "$work/state"
printf 'auth required %s config=%s state_dir=%s\n' \
    "$LP_TEST_BUILDDIR/.libs/pam_lp_totp.so" "$work/lp.yaml" \
    "$work/state" >"$work/services/lp_totp"
printf 'totp:\n  max_failures: 1000\n' >"$work/lp.yaml"
chmod 0644 "$work/lp.yaml"

state="$work/state/$USER_NAME"
enroll_fresh() {
	umask 077
	printf 'lp-totp-state 1\nsecret %s\nlast_step 0\nfailures 0\n' \
	    "$SEED" >"$state.new"
	printf 'locked_until 0\nlast_success 0\nenrolled 1\nend\n' \
	    >>"$state.new"
	mv "$state.new" "$state"
}

run_auth() {
	# $1: file holding the answer; the code never goes through argv.
	timeout 30 "$AUTH" "$work/services" lp_totp "$USER_NAME" \
	    <"$1" >/dev/null 2>&1
}

state_is_sound() {
	"$ENROLL" --status --config "$work/lp.yaml" \
	    --state-dir "$work/state" "$USER_NAME" >/dev/null 2>&1
}

# One right code from 20 processes at once, 20 rounds.
rounds_ok=0
round=1
while [ "$round" -le "$ROUNDS" ]; do
	enroll_fresh
	"$OATHTOOL" --totp -b "$SEED" >"$work/code"
	pids=
	i=0
	while [ "$i" -lt "$PARALLEL" ]; do
		run_auth "$work/code" &
		pids="$pids $!"
		i=$((i + 1))
	done
	wins=0
	for p in $pids; do
		if wait "$p"; then
			wins=$((wins + 1))
		fi
	done
	pids=
	if [ "$wins" -eq 1 ] && state_is_sound; then
		rounds_ok=$((rounds_ok + 1))
	else
		echo "# round $round: $wins successes"
	fi
	round=$((round + 1))
done
if [ "$rounds_ok" -eq "$ROUNDS" ]; then
	ok "one code sent by $PARALLEL processes at once: exactly one success in each of $ROUNDS rounds"
else
	not_ok "one code sent at once: $rounds_ok of $ROUNDS rounds had exactly one success"
fi

# Failures sent at once are all counted.
enroll_fresh
echo 000000x >"$work/wrong"
pids=
i=0
while [ "$i" -lt "$PARALLEL" ]; do
	run_auth "$work/wrong" &
	pids="$pids $!"
	i=$((i + 1))
done
for p in $pids; do
	wait "$p" || true
done
pids=
if grep -qx "failures $PARALLEL" "$state"; then
	ok "$PARALLEL failures sent at once are all counted"
else
	not_ok "$PARALLEL failures at once: state says $(grep '^failures' "$state")"
fi

# kill -9 at random moments during authentications.  The delays are
# spread over the whole life of one authentication, measured here first,
# so that deaths land in every phase: start-up, the lock, the write, the
# fsync, the rename.
enroll_fresh
t0=$(date +%s%N)
i=0
while [ "$i" -lt 5 ]; do
	run_auth "$work/wrong" || true
	i=$((i + 1))
done
t1=$(date +%s%N)
life_us=$(( (t1 - t0) / 5000 ))
echo "# one authentication takes about $life_us us; kills land in 0..$((life_us * 5 / 4)) us"
awk -v n="$CRASHES" -v max="$((life_us * 5 / 4))" -v seed="$t1" \
    'BEGIN { srand(seed % 100000); for (i = 0; i < n; i++)
	printf "%.6f\n", rand() * max / 1000000 }' >"$work/delays"

bad=0
killed=0
leftovers=0
while read -r delay; do
	run_auth "$work/wrong" &
	p=$!
	pids=$p
	sleep "$delay"
	kill -9 "$p" 2>/dev/null || true
	if wait "$p" 2>/dev/null; then :; else
		[ $? -ge 128 ] && killed=$((killed + 1))
	fi
	pids=
	[ -e "$work/state/.$USER_NAME.tmp" ] && leftovers=$((leftovers + 1))
	if [ ! -s "$state" ] || ! state_is_sound; then
		bad=$((bad + 1))
		echo "# after a kill at ${delay}s the state file is damaged"
	fi
done <"$work/delays"
echo "# $killed of $CRASHES authentications were killed before they ended; a temporary file was left behind $leftovers times"
if [ "$bad" -eq 0 ]; then
	ok "kill -9 at random moments in $CRASHES authentications: state always well-formed"
else
	not_ok "kill -9: $bad of $CRASHES left a damaged state file"
fi

# A right code still works after all the killed writers.
"$OATHTOOL" --totp -b "$SEED" >"$work/code"
if run_auth "$work/code" && state_is_sound; then
	ok "a right code is accepted after the crashes"
else
	not_ok "a right code is refused after the crashes"
fi

echo "race: $((n - nfail)) passed, $nfail failed"
[ "$nfail" -eq 0 ]
