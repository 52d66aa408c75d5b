#!/bin/sh
# ci/bench section "tunnels" (issue 6): 200 node tunnels held open at once
# on one bastion, how long they take to come up, the bastion's memory per
# tunnel, and how long they take to come back when the bastion's sshd
# restarts.  Peer: the same sshd serving the same keys, with the same
# options, from a plain authorized_keys file, and no pam_lp_tunnel.
#
# Two network namespaces made here, joined by a veth pair: "bastion"
# (sshd with the shipped drop-in's Match block for the tunnel account,
# lp-nodes as its AuthorizedKeysCommand and pam_lp_tunnel in the PAM
# session stack, as tests/e2e/tunnel.sh sets them up) and "nodes" (200
# copies of utils/lp-node-tunnel, each with its own key and port, started
# in batches).  Everything runs inside tests/e2e/lib.sh's private mount
# and PID namespace, with a private /run; every process started here is
# stopped by its PID, and the namespaces are deleted, however the section
# ends.  Each wait is bounded (LP_BENCH_TUNNEL_WAIT, 180 s): a section that
# does not see its tunnels in time reports it and stops, it never hangs.
#
# A restart here stops the listening sshd and every session process it
# started (what a reboot of the bastion or a crash does): every node sees
# its tunnel end and comes back through lp-node-tunnel's retries, here at
# most LP_RETRY_MAX=2 s apart (the shipped default is 60).  Debian's
# ssh.service restarts with KillMode=process, which leaves the sessions
# up: that case is measured too, as the number of tunnels it drops.
#
# Environment (set by ci/bench): LP_TEST_SRCDIR, LP_TEST_BUILDDIR and
# OATHTOOL as lib.sh wants them, LP_BENCH_TOP, LP_BENCH_TABLE (the file
# that receives the Markdown table), LP_BENCH_TUNNEL_RESTARTS (full
# restarts per mode, default 3), LP_BENCH_TUNNELS (default 200),
# LP_BENCH_TUNNEL_WAIT.
#
# shellcheck disable=SC2154	# the figures are set through eval
set -eu

# shellcheck source=tests/e2e/lib.sh
. "${LP_TEST_SRCDIR:?}/e2e/lib.sh"
# shellcheck source=tests/bench/lib.sh
. "${LP_BENCH_TOP:?}/tests/bench/lib.sh"
lp_e2e_init bench-tunnels "$@"
lp_e2e_netns_traps

W=$LP_E2E_WORK
ID=${W##*.}
BAST=lp-bench-tb-$ID
NODES=lp-bench-tn-$ID
NODE_ADDR=198.18.20.1
BAST_ADDR=198.18.20.2
TUSER=lp-tunnel
N=${LP_BENCH_TUNNELS:-200}
RESTARTS=${LP_BENCH_TUNNEL_RESTARTS:-3}
WAIT_S=${LP_BENCH_TUNNEL_WAIT:-180}
BATCH=20
BATCH_PAUSE=0.5
PORT0=23000
WIDE=250:30:300
TABLE=${LP_BENCH_TABLE:?}
MODULE=$LP_TEST_BUILDDIR/.libs/pam_lp_tunnel.so
LP_NODES=$LP_TEST_BUILDDIR/lp-nodes
SCRIPT=$LP_TEST_SRCDIR/../utils/lp-node-tunnel
INDEX=$W/nodes.cdb
export LC_ALL=C

for t in ip ss ssh-keygen timeout; do
	command -v "$t" >/dev/null 2>&1 || lp_e2e_bail "$t not found"
done
[ -f "$MODULE" ] || lp_e2e_bail "$MODULE is not built"
[ -f "$LP_E2E_MODULE" ] || lp_e2e_bail "$LP_E2E_MODULE is not built"
[ -x "$LP_NODES" ] || lp_e2e_bail "$LP_NODES is not built"
LP_NODES=$(lp_e2e_safe_bin "$LP_NODES") ||
    lp_e2e_bail "a safe path for the AuthorizedKeysCommand"

# Clients and the bastion's sshd are stopped here, in bulk, before lib.sh
# stops what it tracks and deletes the namespaces.
CLIENTS=
SSHD=
OLD_SESSIONS=
bench_cleanup()
{
	stop_clients
	stop_sshd
	lp_e2e_netns_cleanup
}
trap 'lp_e2e__rc=$?; bench_cleanup; exit "$lp_e2e__rc"' EXIT
trap 'bench_cleanup; exit 130' INT
trap 'bench_cleanup; exit 143' TERM
trap 'bench_cleanup; exit 129' HUP

now_ms() { echo $(($(date +%s%N) / 1000000)); }
name_of() { printf 'node%03d' "$1"; }

# ------------------------------------------------------------ stopping

# stop_pids PID...: TERM to each, KILL after 5 s to what is left with
# its descendants, then reap them.
stop_pids()
{
	[ $# -gt 0 ] || return 0
	kill -TERM "$@" 2>/dev/null || :
	sp_i=0
	while [ "$sp_i" -lt 50 ]; do
		sp_left=
		for sp_p in "$@"; do
			! lp_e2e__running "$sp_p" || sp_left="$sp_left $sp_p"
		done
		[ -n "$sp_left" ] || break
		sleep 0.1
		sp_i=$((sp_i + 1))
	done
	for sp_p in $sp_left; do
		# shellcheck disable=SC2046
		kill -KILL "$sp_p" $(lp_e2e__descendants "$sp_p") 2>/dev/null ||
		    :
	done
	for sp_p in "$@"; do
		wait "$sp_p" 2>/dev/null || :
	done
}

# Each lp-node-tunnel stops its own ssh or sleep on TERM.
stop_clients()
{
	# shellcheck disable=SC2086
	stop_pids $CLIENTS
	CLIENTS=
}

# The listening sshd and every process below it (the tunnels' sessions),
# and sessions left over from a restart of the listener alone.
stop_sshd()
{
	[ -n "$SSHD" ] || [ -n "$OLD_SESSIONS" ] || return 0
	ss_all=
	if [ -n "$SSHD" ]; then
		ss_all="$SSHD $(bench_tree "$SSHD" | awk '{ print $1 }')"
	fi
	# shellcheck disable=SC2086
	stop_pids $ss_all $OLD_SESSIONS
	SSHD=
	OLD_SESSIONS=
}

# ------------------------------------------------------------ setup

lp_e2e_private_run || lp_e2e_bail "private /run"
# The records on a tmpfs, as /run is on a bastion: the private /run is an
# overlay whose writes land on the work directory's disk, where each
# record's fsync would cost a disk flush that a bastion never pays.
{ [ -d /run/lp ] || mkdir -m 0755 /run/lp; } &&
    mount -t tmpfs -o mode=0755,size=16m lp-bench-run /run/lp ||
    lp_e2e_bail "tmpfs on /run/lp"
lp_e2e_syslog_start || lp_e2e_bail "syslog capture on /dev/log"
{ lp_e2e_netns_add "$NODES" && lp_e2e_netns_add "$BAST"; } ||
    lp_e2e_bail "network namespaces"
lp_e2e_veth "$NODES" "lbn-$ID" "$NODE_ADDR/24" "$BAST" "lbb-$ID" \
    "$BAST_ADDR/24" || lp_e2e_bail "veth pair"

i=1
{
	printf 'totp:\n  issuer: lp-bench\ntunnel:\n  user: %s\n' "$TUSER"
	printf '  listen_address: 127.0.0.1\nnodes:\n'
	while [ "$i" -le "$N" ]; do
		lp_e2e_new_key "$(name_of "$i")" || exit 1
		printf '  %s:\n    port: %d\n    keys: [ "%s" ]\n' \
		    "$(name_of "$i")" $((PORT0 + i)) \
		    "$(cut -d' ' -f1,2 "$W/keys/$(name_of "$i").pub")"
		i=$((i + 1))
	done
} >"$W/lp.yaml.in" || lp_e2e_bail "$N node keys"
lp_e2e_policy <"$W/lp.yaml.in" || lp_e2e_bail "policy file"
"$LP_NODES" -c "$LP_E2E_CONFIG" -i "$INDEX" compile >/dev/null ||
    lp_e2e_bail "lp-nodes compile"
lp_e2e_add_user "$TUSER" || lp_e2e_bail "account $TUSER"
{
	id=$((LP_E2E_UID_BASE + 100))
	printf 'lp-keys:x:%d:%d:lp bench keys:/nonexistent:/usr/sbin/nologin\n' \
	    "$id" "$id" >>"$W/etc/passwd" &&
	printf 'lp-keys:x:%d:\n' "$id" >>"$W/etc/group" &&
	printf 'lp-keys:*:%d:0:99999:7:::\n' $(($(date +%s) / 86400)) \
	    >>"$W/etc/shadow"
} || lp_e2e_bail "account lp-keys"

# The peer's keys: the very lines lp-nodes serves, in the tunnel
# account's authorized_keys.
AK=$W/home/$TUSER/.ssh/authorized_keys
"$LP_NODES" -i "$INDEX" authorized-keys "$TUSER" >"$AK" &&
    [ "$(grep -c . "$AK")" -eq "$N" ] || lp_e2e_bail "authorized_keys"

# pam_service MODE: lp as tests/e2e/tunnel.sh builds it from the shipped
# etc/pam.d/lp-sshd (pam_lp_totp for auth, pam_lp_tunnel for account and
# session after pam_unix); plain without pam_lp_tunnel.
pam_service()
{
	sed -n "/^auth[[:space:]]/s|pam_lp_totp\\.so|$LP_E2E_MODULE config=$LP_E2E_CONFIG state_dir=$LP_E2E_STATE|p" \
	    "$LP_E2E_ETC/pam.d/lp-sshd" >"$W/auth.lines" &&
	sed -n "s#^\\(\\(account\\|session\\)[[:space:]].*\\)pam_lp_tunnel\\.so#\\1$MODULE config=$LP_E2E_CONFIG index=$INDEX#p" \
	    "$LP_E2E_ETC/pam.d/lp-sshd" >"$W/tunnel.lines" || return 1
	[ "$(grep -c . "$W/tunnel.lines")" = 2 ] || return 1
	[ "$1" = plain ] && : >"$W/tunnel.lines"
	{
		cat "$W/auth.lines"
		echo 'account required pam_unix.so'
		grep '^account' "$W/tunnel.lines" || :
		echo 'session required pam_unix.so'
		grep '^session' "$W/tunnel.lines" || :
		echo 'password required pam_deny.so'
	} | lp_e2e_pam_service
}

# sshd_config MODE: lib.sh's settings, then the shipped drop-in (people's
# forced command left out); for lp with this build's lp-nodes and index,
# for plain with the authorized_keys file instead of the command, for
# wide as lp with room for every node's login at once (MaxStartups).
write_sshd_config()
{
	lp_e2e_sshd_config || return 1
	lp_e2e_shell_dropin "$W/lp-bastion.shell" || return 1
	src=$W/lp-bastion.shell
	grep -q '^	AuthorizedKeysFile none$' "$src" &&
	grep -q '^	AuthorizedKeysCommand /usr/sbin/lp-nodes ' "$src" &&
	grep -q '^	AuthorizedKeysCommandUser lp-keys$' "$src" || return 1
	if [ "$1" = wide ]; then
		echo "MaxStartups $WIDE" >>"$LP_E2E_SSHD_CONFIG"
	fi
	if [ "$1" != plain ]; then
		sed "s|^	AuthorizedKeysCommand /usr/sbin/lp-nodes |	AuthorizedKeysCommand $LP_NODES -i $INDEX |" \
		    "$src" >"$W/lp-bastion.conf"
	else
		sed -e '/^	AuthorizedKeysCommand/d' \
		    -e 's|^	AuthorizedKeysFile none$|	AuthorizedKeysFile .ssh/authorized_keys|' \
		    "$src" >"$W/lp-bastion.conf"
	fi
	{
		echo "ListenAddress $BAST_ADDR:22"
		echo "Include $W/lp-bastion.conf"
	} >>"$LP_E2E_SSHD_CONFIG"
}

# start_sshd: the bastion's sshd, in its namespace; SSHD is its PID (ip
# netns exec executes it in place).
start_sshd()
{
	ln -sf "$LP_E2E_SSHD" "$W/$LP_E2E_SERVICE" || return 1
	: >>"$LP_E2E_SSHD_LOG"
	lp_e2e_mark "$LP_E2E_SSHD_LOG"
	ip netns exec "$BAST" "$W/$LP_E2E_SERVICE" -D \
	    -f "$LP_E2E_SSHD_CONFIG" -E "$LP_E2E_SSHD_LOG" \
	    </dev/null >>"$W/sshd.err" 2>&1 &
	SSHD=$!
	lp_e2e_log_wait 10 "$LP_E2E_SSHD_LOG" \
	    "^Server listening on $BAST_ADDR port 22\\." &&
	lp_e2e__running "$SSHD"
}

# ------------------------------------------------------------ clients

mkdir -m 0700 "$W/nodes"

start_clients()
{
	sc_i=1
	while [ "$sc_i" -le "$N" ]; do
		sc_n=$(name_of "$sc_i")
		LP_NODE_TUNNEL_CONF=/dev/null LP_BASTION=$BAST_ADDR \
		    LP_BASTION_PORT=22 LP_TUNNEL_USER=$TUSER \
		    LP_LISTEN=127.0.0.1 LP_PORT=$((PORT0 + sc_i)) \
		    LP_KEY=$W/keys/$sc_n LP_KNOWN_HOSTS=$W/nodes/known_hosts \
		    LP_RETRY_MAX=2 \
		    ip netns exec "$NODES" /bin/sh "$SCRIPT" \
		    </dev/null >>"$W/nodes/$sc_n.log" 2>&1 &
		CLIENTS="$CLIENTS $!"
		if [ $((sc_i % BATCH)) -eq 0 ]; then
			sleep "$BATCH_PAUSE"
		fi
		sc_i=$((sc_i + 1))
	done
}

# up: how many tunnel ports listen on the bastion's 127.0.0.1.
up()
{
	ip netns exec "$BAST" ss -Htln | awk -v lo="$PORT0" -v hi=$((PORT0 + N)) '
	{ n = split($4, a, ":"); p = a[n] + 0
	  if ($4 ~ /^127\.0\.0\.1:/ && p > lo && p <= hi) c++ }
	END { print c + 0 }'
}

# wait_all T0_MS: waits until all N ports listen, at most WAIT_S seconds;
# prints the seconds since T0_MS, or "timeout:COUNT".
wait_all()
{
	wa_end=$(($(date +%s) + WAIT_S))
	while [ "$(date +%s)" -lt "$wa_end" ]; do
		if [ "$(up)" -ge "$N" ]; then
			awk -v d=$(($(now_ms) - $1)) 'BEGIN { printf "%.1f", d / 1000 }'
			return 0
		fi
		sleep 0.2
	done
	echo "timeout:$(up)"
	return 1
}

drops()
{
	lp_e2e_since "$LP_E2E_SSHD_LOG" | grep -c 'past MaxStartups' || :
}

records()
{
	find /run/lp/tunnels -maxdepth 1 -name 'node[0-9]*' ! -name '*.down' \
	    2>/dev/null | grep -c . || :
}

# memory: "PROCS PSS_KB RSS_KB" summed over the listening sshd and every
# process below it.
memory()
{
	# shellcheck disable=SC2046
	bench_mem_sum $(bench_tree "$SSHD" | awk '{ print $1 }')
}

# ------------------------------------------------------------ one mode

FAILED=

# run_mode MODE: sets UP_MODE, MEM_MODE, LOST_MODE, BACK_MODE, DROPS_MODE.
run_mode()
{
	m=$1
	pam_service "$m" && write_sshd_config "$m" ||
	    lp_e2e_bail "$m: sshd settings"
	printf '%s %s\n' "$BAST_ADDR" "$(cat "$W/ssh_host_ed25519_key.pub")" \
	    >"$W/nodes/known_hosts"
	start_sshd || lp_e2e_bail "$m: the bastion's sshd did not start"

	lp_e2e_mark "$LP_E2E_SSHD_LOG"
	t0=$(now_ms)
	start_clients
	r=$(wait_all "$t0") || FAILED="$FAILED $m:up:$r"
	eval "UP_$m=\$r DROPS_UP_$m=\$(drops)"
	lp_e2e_diag "$m: $N tunnels up: $r s"
	if [ "$m" != plain ]; then
		eval "REC_$m=\$(records)"
	else
		eval "REC_$m=-"
	fi

	: >"$W/mem"
	for k in 1 2 3; do
		memory >>"$W/mem"
		sleep 0.5
	done
	eval "PROCS_$m=\$(awk '{ print \$1 }' \"\$W/mem\" | bench_median)"
	eval "PSS_$m=\$(awk '{ print \$2 }' \"\$W/mem\" | bench_median)"
	eval "RSS_$m=\$(awk '{ print \$3 }' \"\$W/mem\" | bench_median)"
	eval "LPSS_$m=\$(bench_mem \"\$SSHD\" | awk '{ print \$2 }')"

	# The listener alone restarted: the sessions stay.
	OLD_SESSIONS=$(bench_tree "$SSHD" | awk -v s="$SSHD" '$1 != s { print $1 }')
	stop_pids "$SSHD"
	SSHD=
	start_sshd || lp_e2e_bail "$m: sshd did not start again"
	sleep 2
	eval "LOST_$m=\$((N - \$(up)))"

	# Full restarts: the listener and every session stopped.
	: >"$W/back"
	: >"$W/backdrops"
	k=0
	while [ "$k" -lt "$RESTARTS" ]; do
		stop_sshd
		t0=$(now_ms)
		start_sshd || lp_e2e_bail "$m: sshd did not start again"
		r=$(wait_all "$t0") || { FAILED="$FAILED $m:back:$r"; break; }
		echo "$r" >>"$W/back"
		drops >>"$W/backdrops"
		lp_e2e_diag "$m: restart $((k + 1)): all back in $r s"
		k=$((k + 1))
	done
	eval "BACK_$m=\$(bench_median <\"\$W/back\")"
	eval "BACKN_$m=\$(grep -c . \"\$W/back\" || :)"
	eval "DROPS_BACK_$m=\$(bench_median <\"\$W/backdrops\")"

	stop_clients
	stop_sshd
}

run_mode lp
run_mode plain
run_mode wide

# ------------------------------------------------------------ table

v() { eval "echo \"\${$1_$2:-}\""; }
per() { awk -v a="$1" -v n="$N" 'BEGIN { printf "%.0f", a / n }'; }
# row TEXT NAME [per]: one measure, from NAME_lp, NAME_plain, NAME_wide.
row()
{
	ro_l=$(v "$2" lp)
	ro_p=$(v "$2" plain)
	ro_w=$(v "$2" wide)
	if [ "${3:-}" = per ]; then
		ro_l=$(per "$ro_l")
		ro_p=$(per "$ro_p")
		ro_w=$(per "$ro_w")
	fi
	echo "| $1 | $ro_l | $ro_p | $(bench_ratio "$ro_l" "$ro_p") | $ro_w |"
}

{
	echo
	echo "## $N node tunnels on one bastion"
	echo
	echo "lp-bastion: the tunnel account's Match block of the shipped" \
	    "drop-in, \`lp-nodes authorized-keys %u %t %k\` as its" \
	    "AuthorizedKeysCommand, pam_lp_tunnel in account and session." \
	    "Peer: the same sshd and Match block with the same key lines in" \
	    "an authorized_keys file and no pam_lp_tunnel. Nodes: $N copies" \
	    "of utils/lp-node-tunnel (LP_RETRY_MAX=2) in one network" \
	    "namespace, started $BATCH every $BATCH_PAUSE s; sshd's" \
	    "MaxStartups is its default (10:30:100), as the drop-in leaves" \
	    "it. Memory: Pss and Rss from /proc/PID/smaps_rollup, summed over" \
	    "the listening sshd and every process below it, divided by $N;" \
	    "median of 3 samples. Bring-up: one run per mode. Restart: the" \
	    "listener and every session stopped, then sshd started again;" \
	    "median of $RESTARTS. Records on a tmpfs, as /run is."
	echo
	echo '| measure | lp-bastion | plain OpenSSH (peer) | lp/peer |' \
	    "lp-bastion, MaxStartups $WIDE |"
	echo '|---|---:|---:|---:|---:|'
	row "seconds until all $N listen, from the first client's start" UP
	row "connections dropped by MaxStartups meanwhile" DROPS_UP
	echo "| live tunnel records in /run/lp/tunnels | $(v REC lp) | - | |" \
	    "$(v REC wide) |"
	row "sshd processes on the bastion (listener included)" PROCS
	row "Pss per tunnel, KiB" PSS per
	row "Rss per tunnel, KiB (shared pages counted in each)" RSS per
	row "Pss of the listening sshd, KiB" LPSS
	row "tunnels lost when the listener alone restarts (KillMode=process)" \
	    LOST
	row "seconds until all $N are back after a full restart" BACK
	row "connections dropped by MaxStartups per full restart" DROPS_BACK
	echo
	echo "Where the time goes: sshd lets 10 connections wait for" \
	    "authentication at once and drops a growing share of the ones" \
	    "past that (MaxStartups 10:30:100; the drops counted above); a" \
	    "dropped node waits for its next retry, up to LP_RETRY_MAX" \
	    "seconds (2 here, 60 by default). The last column is lp-bastion" \
	    "with MaxStartups $WIDE, room for every node at once: what is" \
	    "left is the logins' own cost (key exchanges, sshd's re-exec," \
	    "lp-nodes, PAM) on the bastion's $(nproc) CPUs, shared here with" \
	    "the $N clients."
	echo
	if [ -z "$FAILED" ]; then
		echo "Goal met: all $N tunnels came up, and came back after each" \
		    "restart, within the bound of $WAIT_S s; everything started" \
		    "was stopped by its PID."
	else
		echo "GOAL MISSED: not every tunnel was up within $WAIT_S s:" \
		    "$FAILED (mode:phase:timeout:count up)."
	fi
} >"$TABLE"

lp_e2e_ok "the tunnels section ran"
[ -z "$FAILED" ] || lp_e2e_not_ok "tunnels missing:$FAILED"
lp_e2e_finish
