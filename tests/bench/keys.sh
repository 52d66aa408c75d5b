#!/bin/sh
# ci/bench section "keys" (issue 6): `lp-nodes authorized-keys lp-tunnel
# TYPE KEY`, which sshd runs as the tunnel account's
# AuthorizedKeysCommand on every key a node offers, with 10, 1,000 and
# 100,000 nodes in the index.  Its peer is the same program without the
# key (sshd's %k left out of the command line): every key of every
# enabled node, which is also what an authorized_keys file of the same
# nodes makes sshd read.  Goal: flat, the time and the instructions of a
# call with 100,000 nodes no more than those with 10 (ratios at most 1.25
# and 1.10: a bigger index is a bigger file to map, nothing more).
#
# The indexes come from tests/nss/bench_nss gen (lp_index_write, like
# lp-nodes compile, but with more nodes than there are ports: the ports
# repeat, which a lookup by key does not mind; the keys are placeholders
# that lp-nodes passes through as text).  Nothing but a temporary
# directory is written.  Environment (set by ci/bench): LP_BENCH_TOP,
# LP_BENCH_BUILD, LP_BENCH_BIN (where ci/bench compiled bench_exec),
# LP_BENCH_TABLE (the file that receives the table; stdout without it),
# LP_BENCH_RUNS (rounds of timed calls, default 5), LP_BENCH_CG_RUNS
# (callgrind runs per figure, default 3).
set -eu

top=${LP_BENCH_TOP:?}
B=${LP_BENCH_BUILD:?}
BIN=${LP_BENCH_BIN:?}
CG_RUNS=${LP_BENCH_CG_RUNS:-3}
CALLS=${LP_BENCH_KEY_CALLS:-200}
ROUNDS=${LP_BENCH_RUNS:-5}
SIZES=${LP_BENCH_KEY_SIZES:-10 1000 100000}
NODES=$B/lp-nodes
GEN=$B/tests/nss/bench_nss
TUSER=lp-tunnel
export LC_ALL=C

# shellcheck source=tests/bench/lib.sh
. "$top/tests/bench/lib.sh"

[ -x "$NODES" ] || { echo "keys: $NODES is not built" >&2; exit 1; }
[ -x "$GEN" ] || { echo "keys: $GEN is not built" >&2; exit 1; }

W=$(mktemp -d /tmp/lp-bench-keys.XXXXXX)
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# instr TOGGLE ARG...: instructions of one lp-nodes call under callgrind,
# the median of CG_RUNS runs; TOGGLE "main" counts main() and what it
# calls, "all" the whole process from its first instruction (the
# dynamic loader included).
instr()
{
	in_t=$1
	shift
	: >"$W/vals"
	in_i=0
	while [ "$in_i" -lt "$CG_RUNS" ]; do
		rm -f "$W/cg.out"
		if [ "$in_t" = main ]; then
			set -- --collect-atstart=no --toggle-collect=main "$@"
		fi
		valgrind --tool=callgrind --callgrind-out-file="$W/cg.out" \
		    "$@" >/dev/null 2>"$W/vg.err" || {
			cat "$W/vg.err" >&2
			return 1
		}
		[ "$in_t" != main ] || shift 2
		sed -n 's/^totals: *//p' "$W/cg.out" | head -n 1 >>"$W/vals"
		in_i=$((in_i + 1))
	done
	bench_median <"$W/vals"
}

# usec KIND CALLS ARG...: one round of CALLS calls; appends the median
# wall microseconds of one call to $W/us.KIND.
usec()
{
	us_k=$1
	us_n=$2
	shift 2
	us_line=$("$BIN/bench_exec" -n "$us_n" "$@") || return 1
	bench_field "$us_line" median_us >>"$W/us.$us_k"
}

# The first lines of the table, filled in per size.
: >"$W/rows"
for n in $SIZES; do
	dir=$W/$n
	mkdir -m 0755 "$dir"
	last=$("$GEN" gen "$dir" "$n") || exit 1
	port=${last#* }
	idx=$dir/nodes.cdb
	rm -f "$dir/hosts" "$dir/services"
	key=$(printf 'AAAAC3NzaC1lZDI1NTE5AAAAI%06d' $((n - 1)))
	set -- "$NODES" -i "$idx" authorized-keys "$TUSER"
	# The answer is checked once: the last node's line, with its port.
	out=$("$@" ssh-ed25519 "$key") || exit 1
	case $out in
	*"permitlisten=\"127.0.0.1:$port\""*"ssh-ed25519 $key"*) ;;
	*) echo "keys: unexpected answer for $n nodes: $out" >&2; exit 1 ;;
	esac
	[ "$("$@" | wc -l)" -eq "$n" ] || {
		echo "keys: the full listing of $n nodes has another length" >&2
		exit 1
	}
	[ -z "$("$@" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIunknown)" ] || exit 1

	# ROUNDS rounds, the kinds interleaved in each, so that a slow
	# moment of the machine does not fall on one kind only.
	per=$(((CALLS + ROUNDS - 1) / ROUNDS))
	all_per=$per
	[ "$n" -lt 10000 ] || all_per=$(((20 + ROUNDS - 1) / ROUNDS))
	rm -f "$W"/us.*
	round=0
	while [ "$round" -lt "$ROUNDS" ]; do
		usec true "$per" /bin/true
		usec key "$per" "$@" ssh-ed25519 "$key"
		usec miss "$per" "$@" ssh-ed25519 \
		    AAAAC3NzaC1lZDI1NTE5AAAAIunknown
		usec all "$all_per" "$@"
		round=$((round + 1))
	done
	u_true=$(bench_median <"$W/us.true")
	u_key=$(bench_median <"$W/us.key")
	u_miss=$(bench_median <"$W/us.miss")
	u_all=$(bench_median <"$W/us.all")
	i_key=$(instr main "$@" ssh-ed25519 "$key")
	i_key_all=$(instr all "$@" ssh-ed25519 "$key")
	i_miss=$(instr main "$@" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIunknown)
	i_all=$(instr main "$@")
	kb=$(($(stat -c %s "$idx") / 1024))
	echo "$n $kb $u_key $i_key $i_key_all $u_miss $i_miss $u_all $i_all" \
	    "$u_true" >>"$W/rows"
	rm -rf "$dir"
done

first=$(head -n 1 "$W/rows")
final=$(tail -n 1 "$W/rows")
col() { echo "$1" | awk -v i="$2" '{ print $i }'; }

exec >"${LP_BENCH_TABLE:-/dev/stdout}"
echo
echo "## lp-nodes authorized-keys: the tunnel account's" \
    "AuthorizedKeysCommand"
echo
echo "\`lp-nodes -i INDEX authorized-keys $TUSER ssh-ed25519 KEY\` for the" \
    "last node of the index (a hit), for an unknown key (a miss), and," \
    "as the peer, without the key: every key of every node, the lines an" \
    "authorized_keys file of the same nodes makes sshd read. Time: wall," \
    "posix_spawn to waitpid: the median of $ROUNDS rounds (the kinds" \
    "interleaved) of the median of $per calls ($all_per for the full" \
    "listing of 100,000 or more). Instructions: callgrind, in main()" \
    "or in the whole process (dynamic loading included), median of" \
    "$CG_RUNS runs. A spawn of /bin/true, measured in the same rounds," \
    "costs $(bench_fmt "$(col "$first" 10)") µs (first size) and" \
    "$(bench_fmt "$(col "$final" 10)") µs (last size): most of a call" \
    "is the price of a new process."
echo
echo '| nodes | index KiB | hit µs | hit instr (main) | hit instr (process)' \
    '| miss µs | miss instr (main) | all keys µs (peer) |' \
    'all keys instr (main) (peer) | hit/peer µs | hit/peer instr (main) |'
echo '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
while read -r n kb uk ik ika um im ua ia _; do
	echo "| $n | $kb | $(bench_fmt "$uk") | $ik | $ika |" \
	    "$(bench_fmt "$um") | $im | $(bench_fmt "$ua") | $ia |" \
	    "$(bench_ratio "$uk" "$ua" 3) | $(bench_ratio "$ik" "$ia" 4) |"
done <"$W/rows"
r()
{
	bench_ratio "$(col "$final" "$1")" "$(col "$first" "$1")" "${2:-2}"
}
echo "| $(col "$final" 1) / $(col "$first" 1) | $(r 2 0)x |" \
    "$(r 3)x | $(r 4 3)x | $(r 5 3)x | $(r 6)x | $(r 7 3)x | $(r 8 0)x |" \
    "$(r 9 0)x | | |"
echo
t_ratio=$(r 3 3)
i_ratio=$(r 4 3)
if bench_le "$t_ratio" 1.25 && bench_le "$i_ratio" 1.10; then
	echo "Goal met (flat): a hit with $(col "$final" 1) nodes costs" \
	    "${t_ratio}x the time and ${i_ratio}x the instructions in main()" \
	    "of a hit with $(col "$first" 1)."
else
	echo "GOAL MISSED (flat): a hit with $(col "$final" 1) nodes costs" \
	    "${t_ratio}x the time (goal at most 1.25x) and ${i_ratio}x the" \
	    "instructions in main() (goal at most 1.10x) of a hit with" \
	    "$(col "$first" 1)."
fi
