#!/bin/sh
# ci/bench section "hop" (issue 6): lp-hop's relay against a direct
# loopback connection and against sshd's own forwarding (ssh -W), in the
# same run: the throughput of a 1 GiB transfer, the CPU it costs on the
# bastion, the round trip of small messages, and the memory of an open
# hop.  Goals: at least 90% of the direct throughput, and less CPU per
# GiB on the bastion than sshd's own forwarding.
#
# One private sshd on 127.0.0.1 (tests/e2e/lib.sh, inside its mount and
# PID namespace), key-only logins for two bench accounts: "bench", whose
# forced command is lp-hop (as the shipped drop-in forces it on people,
# with the index, records and NSS of the bench), and "benchfwd", allowed
# TCP forwarding to the sink's port only, for ssh -W.  The "node" is
# bench_net serve, a sink and echo server on 127.0.0.1 whose port is
# node bench01's in the bench's index; a live tunnel record for bench01
# names the server's pid, so lp-hop relays straight to it.  Both ssh
# clients use the same cipher (aes128-gcm@openssh.com), no compression.
#
# lp-hop runs as the bench account with cap_audit_write on a copy of its
# own, as make install sets it: without it the kernel refuses its record
# (EPERM, whether audit is on or off) and lp-hop refuses every hop.  A
# program with a file capability ignores LD_LIBRARY_PATH and
# LP_NSS_INDEX, so nss_lp is found through a private ld.so.cache and
# reads the index at its compiled-in path, on an overlay of /var/lib that
# only this namespace sees (lp_path_index and lp_path_nss of
# tests/e2e/path-lib.sh, as tests/e2e/hop.sh uses them).
#
# Environment (set by ci/bench): LP_TEST_SRCDIR, LP_TEST_BUILDDIR and
# OATHTOOL as lib.sh wants them, LP_BENCH_TOP, LP_BENCH_BIN (bench_net),
# LP_BENCH_TABLE (the file that receives the Markdown tables),
# LP_BENCH_RUNS (runs per figure, default 5), LP_BENCH_HOP_BYTES
# (default 1 GiB).
#
# shellcheck disable=SC2154	# the figures are set through eval (set_v)
set -eu

# shellcheck source=tests/e2e/lib.sh
. "${LP_TEST_SRCDIR:?}/e2e/lib.sh"
. "$LP_TEST_SRCDIR/e2e/path-lib.sh"
# shellcheck source=tests/bench/lib.sh
. "${LP_BENCH_TOP:?}/tests/bench/lib.sh"
lp_e2e_init bench-hop "$@"

W=$LP_E2E_WORK
B=$LP_TEST_BUILDDIR
NET=${LP_BENCH_BIN:?}/bench_net
TABLE=${LP_BENCH_TABLE:?}
RUNS=${LP_BENCH_RUNS:-5}
BYTES=${LP_BENCH_HOP_BYTES:-1073741824}
PINGS=1000
PING_SIZE=64
CIPHER=aes128-gcm@openssh.com
NODE=bench01
RUN_DIR=$W/run/tunnels
INDEX=$(lp_path_index_path) || lp_e2e_bail "no LP_INDEX_PATH in config.h"
LP_NODES=$B/lp-nodes
NSS_LIBS=$B/.libs
export LC_ALL=C

for t in setcap ldconfig; do
	command -v "$t" >/dev/null 2>&1 || lp_e2e_bail "$t not found"
done
[ -x "$NET" ] || lp_e2e_bail "$NET is not built"
[ -f "$NSS_LIBS/libnss_lp.so.2" ] || lp_e2e_bail "libnss_lp.so.2 is not built"
for f in "$B/lp-hop" "$B/lp-nodes"; do
	[ -x "$f" ] || lp_e2e_bail "$f is not built"
done
LP_HOP=$(lp_e2e_safe_bin "$B/lp-hop") || lp_e2e_bail "a copy of lp-hop"
setcap cap_audit_write+ep "$LP_HOP" || lp_e2e_bail "setcap on $LP_HOP"

# ------------------------------------------------------------ the node

lp_e2e_syslog_start || lp_e2e_bail "syslog capture on /dev/log"
"$NET" serve "$W/port" </dev/null >"$W/serve.log" 2>&1 &
SERVER=$!
lp_e2e_track "$SERVER"
lp_e2e__wait_for 5 test -s "$W/port" || lp_e2e_bail "bench_net serve"
PORT=$(cat "$W/port")
# The record's since must not come before the process it names started.
sleep 1

lp_e2e_new_key "$NODE" || lp_e2e_bail "key $NODE"
lp_e2e_policy <<EOF || lp_e2e_bail "policy file"
tunnel:
  user: lp-tunnel
  listen_address: 127.0.0.1
nodes:
  $NODE:
    port: $PORT
    keys: [ "$(cut -d' ' -f1,2 "$W/keys/$NODE.pub")" ]
    groups: [bench]
EOF
lp_path_index || lp_e2e_bail "lp-nodes compile"

# The live record, as pam_lp_tunnel writes it (lib/tunnel.h).
mkdir -m 0755 "$W/run" "$RUN_DIR" &&
printf 'lp-tunnel 1\nnode %s\nport %s\npeer 127.0.0.1\npid %s\nsince %s\nend\n' \
    "$NODE" "$PORT" "$SERVER" "$(date +%s)" >"$RUN_DIR/$NODE" &&
chmod 0644 "$RUN_DIR/$NODE" || lp_e2e_bail "tunnel record"
"$B/lp-nodes" -i "$INDEX" -r "$RUN_DIR" status "$NODE" >"$W/status" 2>&1 &&
    grep -q "^$NODE .* up " "$W/status" ||
    lp_e2e_bail "lp-nodes status does not see $NODE up: $(cat "$W/status")"

# nss_lp for hosts and services, through a private ld.so.cache.
lp_path_nss || lp_e2e_bail "private nsswitch.conf and ld.so.cache"
[ "$(getent services "$NODE" | awk '{ print $2 }')" = "$PORT/tcp" ] ||
    lp_e2e_bail "getent services $NODE: $(getent services "$NODE" || :)"

# ------------------------------------------------------------ bastion

for u in bench benchfwd; do
	lp_e2e_add_user "$u" || lp_e2e_bail "account $u"
done
lp_e2e_pam_service <<EOF || lp_e2e_bail "PAM service"
auth required pam_deny.so
account required pam_unix.so
session required pam_unix.so
password required pam_deny.so
EOF
lp_e2e_sshd_config || lp_e2e_bail "sshd settings"
cat >>"$LP_E2E_SSHD_CONFIG" <<EOF
Match User bench
	AuthenticationMethods publickey
	KbdInteractiveAuthentication no
	ForceCommand $LP_HOP -r $RUN_DIR
	AllowTcpForwarding no
	AllowStreamLocalForwarding no
	PermitTTY no
Match User benchfwd
	AuthenticationMethods publickey
	KbdInteractiveAuthentication no
	ForceCommand /usr/sbin/nologin
	AllowTcpForwarding yes
	PermitOpen 127.0.0.1:$PORT
	AllowStreamLocalForwarding no
	PermitTTY no
EOF
lp_e2e_sshd_start || lp_e2e_bail "sshd did not start"
# The listener itself, which lib.sh may have started below a subshell.
SSHD=$(bench_tree "$LP_E2E_SSHD_PID" |
    awk -v s="$LP_E2E_SERVICE" '$2 == s { print $1; exit }')
[ -n "$SSHD" ] || lp_e2e_bail "no listening sshd below $LP_E2E_SSHD_PID"

ssh_base()
{
	echo ssh -F /dev/null -T -c "$CIPHER" -o Compression=no \
	    -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none \
	    -o UserKnownHostsFile="$W/known_hosts" \
	    -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
	    -o ConnectTimeout=10 -p "$LP_E2E_PORT"
}
# shellcheck disable=SC2046
set -- $(ssh_base) -i "$W/keys/bench" bench@127.0.0.1 "$NODE"
HOP_CMD=$*
# shellcheck disable=SC2046
set -- $(ssh_base) -i "$W/keys/benchfwd" -W "127.0.0.1:$PORT" \
    benchfwd@127.0.0.1
FWD_CMD=$*

# target PATH: bench_net's TARGET for PATH (direct, hop, fwd).
target()
{
	case $1 in
	direct) echo "$PORT" ;;
	hop) echo "-- $HOP_CMD" ;;
	fwd) echo "-- $FWD_CMD" ;;
	esac
}

# A first hop of each kind, checked, before anything is measured.
# shellcheck disable=SC2046
"$NET" ping 3 "$PING_SIZE" $(target hop) >"$W/first.hop" 2>"$W/first.err" ||
    lp_e2e_bail "a hop through lp-hop: $(tail -n 3 "$W/first.err")"
# shellcheck disable=SC2046
"$NET" ping 3 "$PING_SIZE" $(target fwd) >"$W/first.fwd" 2>"$W/first.err" ||
    lp_e2e_bail "a hop through ssh -W: $(tail -n 3 "$W/first.err")"
lp_e2e_log_wait 3 "$LP_E2E_SYSLOG" "lp-hop.*action=start .*node=$NODE" ||
    lp_e2e_bail "lp-hop logged no start"

# ------------------------------------------------------------ runs

# push PATH RUN: one transfer of BYTES; its output in $W/push.PATH.RUN.
push()
{
	pu_t=
	[ "$1" = direct ] || pu_t="-t $SSHD"
	# shellcheck disable=SC2046,SC2086
	timeout 300 "$NET" push $pu_t "$BYTES" $(target "$1") \
	    >"$W/push.$1.$2" 2>"$W/push.err" || {
		lp_e2e_diag "push $1: $(tail -n 3 "$W/push.err")"
		return 1
	}
}

ping_run()
{
	# shellcheck disable=SC2046
	timeout 120 "$NET" ping "$PINGS" "$PING_SIZE" $(target "$1") \
	    >"$W/ping.$1.$2" 2>"$W/ping.err" || {
		lp_e2e_diag "ping $1: $(tail -n 3 "$W/ping.err")"
		return 1
	}
}

# mem PATH RUN: the memory of the bastion's processes of one open
# connection: "COMM RSS_KB PSS_KB" lines in $W/mem.PATH.RUN.
mem()
{
	rm -f "$W/hold"
	# shellcheck disable=SC2046
	timeout 120 "$NET" ping -h "$W/hold" 3 "$PING_SIZE" $(target "$1") \
	    >/dev/null 2>"$W/mem.err" &
	me_pid=$!
	lp_e2e__wait_for 20 test -e "$W/hold" || {
		lp_e2e_diag "mem $1: $(tail -n 3 "$W/mem.err")"
		return 1
	}
	: >"$W/mem.$1.$2"
	bench_tree "$SSHD" | while read -r me_p me_c; do
		[ "$me_p" != "$SSHD" ] || continue
		echo "$me_c $(bench_mem "$me_p")" >>"$W/mem.$1.$2"
	done
	rm -f "$W/hold"
	wait "$me_pid"
}

start=$(date +%s)
r=1
while [ "$r" -le "$RUNS" ]; do
	for p in direct hop fwd; do
		push "$p" "$r" || lp_e2e_bail "transfer through $p"
	done
	for p in direct hop fwd; do
		ping_run "$p" "$r" || lp_e2e_bail "round trips through $p"
	done
	for p in hop fwd; do
		mem "$p" "$r" || lp_e2e_bail "memory of an open $p"
	done
	r=$((r + 1))
done
lp_e2e_diag "runs took $(($(date +%s) - start)) s"

# ------------------------------------------------------------ figures

# med PATTERN AWK: the median over the runs' files of what AWK prints.
med()
{
	for me_f in $1; do
		awk "$2" "$me_f"
	done | bench_median
}

# set NAME PATH VALUE: NAME_PATH=VALUE.
set_v() { eval "$1_$2=\$3"; }

for p in direct hop fwd; do
	set_v MBS "$p" "$(med "$W/push.$p.*" \
	    '$1 == "bytes" { printf "%.1f\n", $2 * 1e3 / $6 }')"
	set_v SETUP "$p" "$(med "$W/push.$p.*" \
	    '$1 == "bytes" { printf "%.1f\n", $4 / 1e6 }')"
	set_v CCPU "$p" "$(med "$W/push.$p.*" \
	    '$1 == "bytes" { printf "%.3f\n", $8 / 1e9 / ($2 / 1073741824) }')"
	set_v RTT "$p" "$(med "$W/ping.$p.*" '{ printf "%.1f\n", $4 / 1e3 }')"
	set_v P99 "$p" "$(med "$W/ping.$p.*" '{ printf "%.1f\n", $8 / 1e3 }')"
done
# Bastion CPU over the transfer, seconds per GiB: every process below
# the listener, and lp-hop's own.
for p in hop fwd; do
	set_v BCPU "$p" "$(med "$W/push.$p.*" '
	    $1 == "bytes" { b = $2 }
	    $1 == "bastion_cpu_ns" { printf "%.3f\n", $2 / 1e9 / (b / 1073741824) }')"
	set_v HCPU "$p" "$(med "$W/push.$p.*" '
	    $1 == "bytes" { b = $2 }
	    $1 == "proc" && $4 == "lp-hop" { t += $3 }
	    END { printf "%.3f\n", t / 1e9 / (b / 1073741824) }')"
done
# Memory: every process of the connection on the bastion.
for p in hop fwd; do
	set_v MEMALL "$p" "$(med "$W/mem.$p.*" '{ q += $3 } END { print q }')"
	set_v MEMALLR "$p" "$(med "$W/mem.$p.*" '{ r += $2 } END { print r }')"
done
HOP_RSS=$(med "$W/mem.hop.*" '$1 == "lp-hop" { print $2 }')
HOP_PSS=$(med "$W/mem.hop.*" '$1 == "lp-hop" { print $3 }')
SSHD_PSS_hop=$(med "$W/mem.hop.*" '$1 != "lp-hop" { q += $3 } END { print q }')
SSHD_PSS_fwd=$(med "$W/mem.fwd.*" '$1 != "lp-hop" { q += $3 } END { print q }')
COMMS_hop=$(awk '{ print $1 }' "$W/mem.hop.1" | sort | uniq -c |
    awk '{ printf "%s%s x%d", s, $2, $1; s = ", " }')
COMMS_fwd=$(awk '{ print $1 }' "$W/mem.fwd.1" | sort | uniq -c |
    awk '{ printf "%s%s x%d", s, $2, $1; s = ", " }')

GIB=$(awk -v b="$BYTES" 'BEGIN { printf "%g", b / 1073741824 }')

# ------------------------------------------------------------ table

r_direct=$(bench_ratio "$MBS_hop" "$MBS_direct")
r_fwd=$(bench_ratio "$MBS_hop" "$MBS_fwd")
r_fwd_direct=$(bench_ratio "$MBS_fwd" "$MBS_direct")
r_cpu=$(bench_ratio "$BCPU_hop" "$BCPU_fwd")
hop_share=$(awk -v a="$HCPU_hop" -v b="$BCPU_hop" \
    'BEGIN { if (b > 0) printf "%.0f", 100 * a / b; else print "-" }')
sshd_hop=$(awk -v a="$BCPU_hop" -v b="$HCPU_hop" 'BEGIN { printf "%.3f", a - b }')

{
	echo
	echo "## lp-hop relay: $GIB GiB and $PINGS round trips"
	echo
	echo "direct: a TCP connection to the sink on 127.0.0.1. lp-hop:" \
	    "\`ssh -T bench@127.0.0.1 $NODE\` into a private sshd whose" \
	    "forced command is lp-hop (-c $CIPHER, no compression), lp-hop" \
	    "relaying to the same sink as node $NODE's tunnel port. ssh -W:" \
	    "\`ssh -W 127.0.0.1:PORT\` into the same sshd, same cipher." \
	    "Throughput: bytes / time from the sink's first answer to its" \
	    "count (set-up excluded; MB = 10^6 bytes). Bastion CPU: over the" \
	    "same time, every process below the listening sshd (its session" \
	    "processes, the forced command's shell and lp-hop), from" \
	    "/proc/PID/schedstat read every 50 ms and once the count is back." \
	    "Client CPU: the ssh client's, the same way. Round trip: $PING_SIZE" \
	    "bytes through an echo. Median of $RUNS runs each, the three" \
	    "paths interleaved in each run; $(nproc) CPUs for everything."
	echo
	echo '| path | MB/s | set-up ms | bastion CPU s/GiB | of which lp-hop' \
	    '| ssh client CPU s/GiB | round trip µs (median) | round trip µs' \
	    '(p99) |'
	echo '|---|---:|---:|---:|---:|---:|---:|---:|'
	echo "| direct loopback | $MBS_direct | $SETUP_direct | - | - | - |" \
	    "$RTT_direct | $P99_direct |"
	echo "| sshd + lp-hop | $MBS_hop | $SETUP_hop | $BCPU_hop |" \
	    "$HCPU_hop | $CCPU_hop | $RTT_hop | $P99_hop |"
	echo "| sshd, ssh -W (peer) | $MBS_fwd | $SETUP_fwd | $BCPU_fwd | - |" \
	    "$CCPU_fwd | $RTT_fwd | $P99_fwd |"
	echo
	echo '| ratio | value | goal |'
	echo '|---|---:|---|'
	if bench_le 0.90 "$r_direct"; then
		g="met (at least 0.90)"
	else
		g="goal missed (at least 0.90): see below"
	fi
	echo "| throughput lp-hop / direct | $r_direct | $g |"
	echo "| throughput ssh -W / direct | $r_fwd_direct | |"
	echo "| throughput lp-hop / ssh -W | $r_fwd | |"
	if bench_le "$r_cpu" 0.999; then
		g="met (below 1)"
	else
		g="goal missed (below 1): see below"
	fi
	echo "| bastion CPU per GiB lp-hop / ssh -W | $r_cpu | $g |"
	echo "| round trip lp-hop / direct | $(bench_ratio "$RTT_hop" "$RTT_direct") | |"
	echo "| round trip lp-hop / ssh -W | $(bench_ratio "$RTT_hop" "$RTT_fwd") | |"
	echo
	echo "### Memory of one open connection on the bastion"
	echo
	echo "Read from /proc/PID/smaps_rollup while a connection is held" \
	    "open, every process below the listening sshd; median of $RUNS."
	echo
	echo '| | lp-hop | ssh -W (peer) | lp/peer |'
	echo '|---|---:|---:|---:|'
	echo "| processes | $COMMS_hop | $COMMS_fwd | |"
	echo "| lp-hop alone, Rss KiB | $HOP_RSS | - | |"
	echo "| lp-hop alone, Pss KiB | $HOP_PSS | - | |"
	echo "| sshd's processes, Pss KiB | $SSHD_PSS_hop | $SSHD_PSS_fwd |" \
	    "$(bench_ratio "$SSHD_PSS_hop" "$SSHD_PSS_fwd") |"
	echo "| all, Pss KiB | $MEMALL_hop | $MEMALL_fwd |" \
	    "$(bench_ratio "$MEMALL_hop" "$MEMALL_fwd") |"
	echo "| all, Rss KiB | $MEMALLR_hop | $MEMALLR_fwd |" \
	    "$(bench_ratio "$MEMALLR_hop" "$MEMALLR_fwd") |"
	echo
	if ! bench_le 0.90 "$r_direct"; then
		echo "GOAL MISSED: lp-hop carries ${r_direct}x the direct" \
		    "throughput. ssh -W through the same sshd carries" \
		    "${r_fwd_direct}x: both paths run the person's ssh" \
		    "(encrypting, $CCPU_hop s/GiB) and sshd (decrypting) on" \
		    "the same $(nproc) CPUs as the sender and the sink, which" \
		    "a direct connection does not. lp-hop's own share of the" \
		    "bastion's CPU is ${hop_share}% ($HCPU_hop of $BCPU_hop" \
		    "s/GiB); lp-hop / ssh -W = $r_fwd."
	fi
	if ! bench_le "$r_cpu" 0.999; then
		echo "GOAL MISSED: the bastion spends ${r_cpu}x the CPU per GiB" \
		    "of ssh -W: sshd's session process still decrypts every" \
		    "byte ($sshd_hop s/GiB here against $BCPU_fwd for -W)," \
		    "then writes it to lp-hop's pipe instead of the socket," \
		    "and lp-hop moves it again ($HCPU_hop s/GiB)."
	fi
} >"$TABLE"

lp_e2e_ok "the hop section ran"
lp_e2e_finish
