#!/bin/sh
# End to end: lp-nodes, the built program, on a private policy, index and
# tunnel run directory under the work directory.  check and compile on a
# good and a broken policy; the authorized_keys lines it prints for sshd,
# checked by ssh-keygen's parser and then by a real sshd that takes them
# from `lp-nodes authorized-keys %u %t %k' as an unprivileged
# AuthorizedKeysCommandUser; corrupt and unsafe indexes; list and status
# against live, stale and missing tunnel records; usage errors.
#
# Runs inside lib.sh's private mount and PID namespace: the accounts
# lp-tunnel and lp-keys exist only there, and syslog goes to a file.
set -eu

. "${LP_TEST_SRCDIR:?}/e2e/lib.sh"
lp_e2e_init nodes "$@"

W=$LP_E2E_WORK
NODES=$LP_TEST_BUILDDIR/lp-nodes
POLICY=$W/lp.yaml
BROKEN=$W/broken.yaml
IDX=$W/lib/nodes.cdb
RUN=$W/run/tunnels
OUT=$W/out
ERR=$W/err
export TZ=UTC LC_ALL=C

[ -x "$NODES" ] || lp_e2e_bail "$NODES is not built"

# ------------------------------------------------------------ setup

mkdir -m 0755 "$W/lib" "$W/run" "$RUN" "$W/expect" ||
    lp_e2e_bail "directories"
for k in gpu01 gpu01b gpu03 stranger; do
	lp_e2e_new_key "$k" || lp_e2e_bail "key $k"
done
ssh-keygen -q -t ecdsa -b 256 -N '' -C 'gpu02 ecdsa' -f "$W/keys/gpu02" \
    </dev/null || lp_e2e_bail "key gpu02"

pub()
{
	cat "$W/keys/$1.pub"
}

# The type and base64 of a key, as sshd's %t %k give them.
type_of()
{
	cut -d ' ' -f 1 "$W/keys/$1.pub"
}

blob_of()
{
	cut -d ' ' -f 2 "$W/keys/$1.pub"
}

# policy FILE LISTEN: three nodes, the third disabled.
policy()
{
	cat >"$1" <<EOF
tunnel:
  user: lp-tunnel
  listen_address: "$2"
nodes:
  gpu01:
    port: 22001
    keys:
      - $(pub gpu01)
      - $(pub gpu01b)
    groups: [ml, ops]
  gpu02:
    port: 22002
    keys: ["$(pub gpu02)"]
  gpu03:
    port: 22003
    keys: ["$(pub gpu03)"]
    enabled: false
EOF
	chmod 0644 "$1"
}

policy "$POLICY" 127.0.0.1 || lp_e2e_bail "policy"
policy "$W/lp6.yaml" ::1 || lp_e2e_bail "IPv6 policy"

# Seven problems on as many lines, to be reported all at once.
cat >"$BROKEN" <<EOF || lp_e2e_bail "broken policy"
tunnel:
  user: "bad user"
nodes:
  gpu01:
    port: 80
    keys: ["ssh-ed25519 notbase64!"]
  Bad_Name:
    port: 22002
    keys: ["$(pub gpu01)"]
  gpu03:
    port: 22002
    keys: ["$(pub gpu01)"]
    colour: blue
EOF
chmod 0644 "$BROKEN"

lp_e2e_syslog_start || lp_e2e_bail "syslog capture on /dev/log"

# nodes ARG...: runs lp-nodes on the test's index and run directory;
# output in $OUT and $ERR, status in $rc.
nodes()
{
	rc=0
	"$NODES" -i "$IDX" -r "$RUN" "$@" >"$OUT" 2>"$ERR" || rc=$?
}

# line OPTS LISTEN PORT KEY: the authorized_keys line expected for KEY.
line()
{
	printf 'restrict,port-forwarding,permitlisten="%s:%s",' "$1" "$2"
	printf 'command="/usr/sbin/nologin" %s\n' "$(pub "$3")"
}

line 127.0.0.1 22001 gpu01 >"$W/expect/all"
line 127.0.0.1 22001 gpu01b >>"$W/expect/all"
line 127.0.0.1 22002 gpu02 >>"$W/expect/all"
line 127.0.0.1 22001 gpu01b >"$W/expect/gpu01b"
line 127.0.0.1 22002 gpu02 >"$W/expect/gpu02"
line '[::1]' 22001 gpu01 >"$W/expect/all6"
line '[::1]' 22001 gpu01b >>"$W/expect/all6"
line '[::1]' 22002 gpu02 >>"$W/expect/all6"

# ------------------------------------------------------------ check

check_valid()
{
	nodes -c "$POLICY" check
	[ "$rc" -eq 0 ] || return 1
	[ "$(cat "$OUT")" = "$POLICY: 3 nodes, 2 enabled" ] || return 1
	[ ! -s "$ERR" ]
}
lp_e2e_check check_valid "check accepts a valid policy and sums it up"

check_broken()
{
	nodes -c "$BROKEN" check
	[ "$rc" -eq 1 ] && [ ! -s "$OUT" ] || return 1
	[ "$(grep -Ec "^$BROKEN:[0-9]+:[0-9]+: " "$ERR")" -eq 7 ] || return 1
	for at in "2:9: tunnel.user" "5:11: nodes.gpu01.port" \
	    "6:12: nodes.gpu01.keys\\[0\\]" "7:3: nodes.Bad_Name" \
	    "13:5: nodes.gpu03: unknown key" "11:11: nodes.gpu03.port" \
	    "12:12: nodes.gpu03.keys\\[0\\]: key already belongs"; do
		grep -q "^$BROKEN:$at" "$ERR" || return 1
	done
}
lp_e2e_check check_broken \
    "check reports all seven problems of a broken policy with file:line:col"

check_unsafe()
{
	cp -p "$POLICY" "$W/gw.yaml" && chmod 0664 "$W/gw.yaml" || return 1
	nodes -c "$W/gw.yaml" check
	[ "$rc" -eq 1 ] && grep -q 'not writable by group' "$ERR" || return 1
	nodes -c "$W/missing.yaml" check
	[ "$rc" -eq 1 ] && grep -q 'missing.yaml' "$ERR"
}
lp_e2e_check check_unsafe "check refuses a group-writable or missing policy"

# ------------------------------------------------------------ compile

compile_writes()
{
	lp_e2e_mark "$LP_E2E_SYSLOG"
	rc=0
	SUDO_USER=admin1 "$NODES" -c "$POLICY" -i "$IDX" compile \
	    >"$OUT" 2>"$ERR" || rc=$?
	[ "$rc" -eq 0 ] && [ -f "$IDX" ] || return 1
	[ "$(cat "$OUT")" = "$IDX: 3 nodes, 2 enabled" ] || return 1
	[ "$(stat -c '%u %a' "$IDX")" = "0 644" ] || return 1
	[ -z "$(find "$W/lib" -name '*.tmp')" ] || return 1
	want='lp-nodes\[[0-9]+\]: action=compile'
	lp_e2e_log_wait 3 "$LP_E2E_SYSLOG" \
	    "$want index=$IDX nodes=3 enabled=2 by=root sudo_user=admin1\$"
}
lp_e2e_check compile_writes \
    "compile writes a root-owned 0644 index and logs who rebuilt it"

compile_logs_notice_on_authpriv()
{
	# <85>: facility authpriv (10) times 8, plus notice (5).
	lp_e2e_since "$LP_E2E_SYSLOG" | grep -q '^<85>.*action=compile'
}
lp_e2e_check compile_logs_notice_on_authpriv \
    "compile logs at LOG_NOTICE on LOG_AUTHPRIV"

compile_refuses_broken()
{
	cp -p "$IDX" "$W/idx.before" || return 1
	lp_e2e_mark "$LP_E2E_SYSLOG"
	nodes -c "$BROKEN" compile
	[ "$rc" -eq 1 ] && cmp -s "$IDX" "$W/idx.before" || return 1
	grep -q 'left as it was' "$ERR" &&
	    [ "$(grep -Ec "^$BROKEN:[0-9]+:[0-9]+: " "$ERR")" -eq 7 ] ||
	    return 1
	[ -z "$(find "$W/lib" -name '*.tmp')" ] || return 1
	sleep 0.2
	! lp_e2e_since "$LP_E2E_SYSLOG" | grep -q 'action=compile'
}
lp_e2e_check compile_refuses_broken \
    "compile refuses a broken policy and leaves the index byte-identical"

compile_refuses_unsafe_dir()
{
	mkdir -m 0775 "$W/gwdir" || return 1
	rc=0
	"$NODES" -c "$POLICY" -i "$W/gwdir/nodes.cdb" compile \
	    >"$OUT" 2>"$ERR" || rc=$?
	[ "$rc" -eq 1 ] && [ ! -e "$W/gwdir/nodes.cdb" ] &&
	    grep -q 'not writable by group' "$ERR"
}
lp_e2e_check compile_refuses_unsafe_dir \
    "compile refuses an index directory writable by its group"

# ------------------------------------------------ authorized-keys

ak_all()
{
	nodes authorized-keys lp-tunnel
	[ "$rc" -eq 0 ] && cmp -s "$OUT" "$W/expect/all" && [ ! -s "$ERR" ]
}
lp_e2e_check ak_all \
    "authorized-keys prints every key of the enabled nodes, exactly"

ak_parsed_by_ssh_keygen()
{
	nodes authorized-keys lp-tunnel
	ssh-keygen -l -f "$OUT" >"$W/fp" 2>&1 || return 1
	[ "$(wc -l <"$W/fp")" -eq 3 ] || return 1
	for k in gpu01 gpu01b gpu02; do
		fp=$(ssh-keygen -l -f "$W/keys/$k.pub" | cut -d ' ' -f 2)
		grep -q " $fp " "$W/fp" || return 1
	done
	# The parser has teeth: a broken option list is not a key line.
	sed 's/nologin"/nologin/' "$OUT" >"$W/broken.keys"
	! ssh-keygen -l -f "$W/broken.keys" >/dev/null 2>&1
}
lp_e2e_check ak_parsed_by_ssh_keygen \
    "ssh-keygen reads each printed line as an authorized_keys line"

ak_one_key()
{
	nodes authorized-keys lp-tunnel "$(type_of gpu01b)" "$(blob_of gpu01b)"
	[ "$rc" -eq 0 ] && cmp -s "$OUT" "$W/expect/gpu01b" || return 1
	nodes authorized-keys lp-tunnel "$(type_of gpu02)" "$(blob_of gpu02)"
	[ "$rc" -eq 0 ] && cmp -s "$OUT" "$W/expect/gpu02"
}
lp_e2e_check ak_one_key "authorized-keys with %t %k prints only that key's line"

ak_nothing()
{
	for k in gpu03 stranger; do
		nodes authorized-keys lp-tunnel "$(type_of "$k")" \
		    "$(blob_of "$k")"
		[ "$rc" -eq 0 ] && [ ! -s "$OUT" ] || return 1
	done
	# A known blob under another type is another key.
	nodes authorized-keys lp-tunnel ssh-rsa "$(blob_of gpu01)"
	[ "$rc" -eq 0 ] && [ ! -s "$OUT" ] || return 1
	nodes authorized-keys lp-tunnel 'ssh-ed25519 x' '"; id'
	[ "$rc" -eq 0 ] && [ ! -s "$OUT" ]
}
lp_e2e_check ak_nothing \
    "authorized-keys prints nothing for a disabled node's or unknown key"

ak_other_user()
{
	for u in root alice lp-tunnel2 LP-TUNNEL; do
		nodes authorized-keys "$u"
		[ "$rc" -eq 0 ] && [ ! -s "$OUT" ] || return 1
		nodes authorized-keys "$u" "$(type_of gpu01)" \
		    "$(blob_of gpu01)"
		[ "$rc" -eq 0 ] && [ ! -s "$OUT" ] || return 1
	done
}
lp_e2e_check ak_other_user "authorized-keys prints nothing for any other user"

ak_ipv6()
{
	rc=0
	"$NODES" -c "$W/lp6.yaml" -i "$W/lib/nodes6.cdb" compile \
	    >/dev/null 2>"$ERR" || return 1
	"$NODES" -i "$W/lib/nodes6.cdb" authorized-keys lp-tunnel \
	    >"$OUT" 2>"$ERR" || return 1
	cmp -s "$OUT" "$W/expect/all6" &&
	    [ "$(ssh-keygen -l -f "$OUT" | wc -l)" -eq 3 ]
}
lp_e2e_check ak_ipv6 "authorized-keys brackets an IPv6 listen address"

# refuses TEXT: authorized-keys must fail with nothing on stdout.
refuses()
{
	nodes authorized-keys lp-tunnel
	[ "$rc" -eq 1 ] && [ ! -s "$OUT" ] && [ -s "$ERR" ] || return 1
	nodes authorized-keys lp-tunnel "$(type_of gpu01)" "$(blob_of gpu01)"
	[ "$rc" -eq 1 ] && [ ! -s "$OUT" ] && [ -s "$ERR" ]
}

with_index()
{
	cp -p "$W/idx.good" "$IDX"
}

cp -p "$IDX" "$W/idx.good" || lp_e2e_bail "copy of the index"

ak_truncated()
{
	lp_e2e_mark "$LP_E2E_SYSLOG"
	head -c 100 "$W/idx.good" >"$IDX" && refuses || return 1
	# sshd discards the command's stderr: the reason goes to syslog.
	# <83>: authpriv (10) times 8, plus err (3).
	want='^<83>.*lp-nodes\[[0-9]+\]: action=authorized-keys'
	lp_e2e_log_wait 3 "$LP_E2E_SYSLOG" "$want index=$IDX error=\"" ||
	    return 1
	head -c "$(($(wc -c <"$W/idx.good") - 5))" "$W/idx.good" >"$IDX" &&
	    refuses || return 1
	: >"$IDX" && refuses
}
lp_e2e_check ak_truncated \
    "a truncated or empty index: exit 1 and nothing on stdout"
with_index

ak_control_char()
{
	# Same length, so the tables still lead to the damaged key line.
	perl -0777 -pi -e 's/lp-e2e-gpu01b/lp-e2e\x01gpu01b/' "$IDX" &&
	    grep -q "$(printf 'e2e\001gpu')" "$IDX" || return 1
	refuses
}
lp_e2e_check ak_control_char \
    "a key line with a control character: exit 1 and nothing printed"
with_index

ak_unsafe_index()
{
	chmod 0664 "$IDX" && refuses || return 1
	chmod 0644 "$IDX" && chown 1 "$IDX" && refuses || return 1
	rm -f "$IDX" && refuses || return 1
	ln -s "$W/idx.good" "$IDX" && refuses || return 1
	rm -f "$IDX"
}
lp_e2e_check ak_unsafe_index \
    "a group-writable, foreign, missing or symlinked index is refused"
with_index

# ------------------------------------------------------------ list

# record NODE PORT PEER PID SINCE: a live tunnel record as
# pam_lp_tunnel writes it.
record()
{
	printf 'lp-tunnel 1\nnode %s\nport %s\npeer %s\n' "$1" "$2" "$3" \
	    >"$RUN/$1" &&
	printf 'pid %s\nsince %s\nend\n' "$4" "$5" >>"$RUN/$1" &&
	chmod 0644 "$RUN/$1"
}

# The tunnel's process, which must not have started after the record's
# time, or the record reads as stale.
sleep 60 &
live=$!
lp_e2e_track "$live"
sleep 1
since=$(date +%s)
sh -c 'exit 0' &
dead=$!
wait "$dead" || :
record gpu01 22001 192.0.2.7 "$live" "$since" || lp_e2e_bail "record gpu01"
record gpu02 22002 198.51.100.9 "$dead" "$since" ||
    lp_e2e_bail "record gpu02"
up="up since $(date -u -d "@$since" '+%Y-%m-%d %H:%M:%S') +0000"

list_table()
{
	nodes list
	[ "$rc" -eq 0 ] || return 1
	cat >"$W/expect/list" <<EOF
NAME   PORT ENABLED STATE
gpu01 22001 yes     $up from 192.0.2.7
gpu02 22002 yes     down (stale record)
gpu03 22003 no      down
EOF
	cmp -s "$OUT" "$W/expect/list"
}
lp_e2e_check list_table \
    "list shows each node, its port, enabled, and up since when from where"

status_one()
{
	nodes status gpu01
	[ "$rc" -eq 0 ] || return 1
	sed -n 2p "$OUT" >"$W/row" &&
	    sed -n 2p "$W/expect/list" | cmp -s - "$W/row" || return 1
	[ "$(wc -l <"$OUT")" -eq 2 ] || return 1
	nodes status gpu03
	[ "$rc" -eq 0 ] && grep -q '^gpu03 22003 no      down$' "$OUT"
}
lp_e2e_check status_one "status shows one node's line"

status_damaged_record()
{
	printf 'lp-tunnel 1\nnode gpu03\n' >"$RUN/gpu03" &&
	    chmod 0644 "$RUN/gpu03" || return 1
	nodes status gpu03
	rm -f "$RUN/gpu03"
	[ "$rc" -eq 0 ] &&
	    grep -q '^gpu03 22003 no      unknown (damaged record)$' "$OUT"
}
lp_e2e_check status_damaged_record "status shows a damaged tunnel record"

status_unknown()
{
	nodes status gpu09
	[ "$rc" -eq 1 ] && [ ! -s "$OUT" ] &&
	    grep -q 'gpu09: no such node' "$ERR"
}
lp_e2e_check status_unknown "status of an unknown node exits 1"

list_corrupt()
{
	head -c "$(($(wc -c <"$W/idx.good") - 5))" "$W/idx.good" >"$IDX" ||
	    return 1
	nodes list
	[ "$rc" -eq 1 ] && [ -s "$ERR" ]
}
lp_e2e_check list_corrupt "list of a corrupt index exits 1"
with_index

# ------------------------------------------------------------ usage

usage_errors()
{
	for args in "" "frobnicate" "check extra" "compile now" "list x" \
	    "status" "status a b" "authorized-keys" \
	    "authorized-keys lp-tunnel ssh-ed25519" \
	    "authorized-keys lp-tunnel a b c" "-x check" "--index"; do
		rc=0
		# shellcheck disable=SC2086
		"$NODES" $args >"$OUT" 2>"$ERR" || rc=$?
		[ "$rc" -eq 2 ] && [ ! -s "$OUT" ] || return 1
		grep -q '^usage: lp-nodes' "$ERR" || return 1
	done
}
lp_e2e_check usage_errors "usage errors exit 2 with the synopsis"

# ------------------------------------------------------------ sshd

# sshd runs the AuthorizedKeysCommand only from a safe path.
BIN=$(lp_e2e_safe_bin "$NODES") ||
    lp_e2e_bail "a safe path for the AuthorizedKeysCommand"
BIN=$(dirname "$BIN")
lp_e2e_add_user lp-tunnel || lp_e2e_bail "account lp-tunnel"
lp_e2e_add_user lp-keys || lp_e2e_bail "account lp-keys"
lp_e2e_pam_service <<EOF || lp_e2e_bail "PAM service"
auth required pam_deny.so
account required pam_unix.so
session required pam_unix.so
password required pam_deny.so
EOF
# free_port: a port in 20000..59999 that nothing listens on, and that
# no other node of the policy has.
free_port()
{
	tries=20
	while [ "$tries" -gt 0 ]; do
		r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		p=$((20000 + r % 40000))
		case $p in
		22002|22003) ;;
		*)	if [ -z "$(ss -Htln "sport = :$p")" ]; then
				echo "$p"
				return 0
			fi ;;
		esac
		tries=$((tries - 1))
	done
	return 1
}

TPORT=$(free_port) || lp_e2e_bail "a free port"
lp_e2e_sshd_config || lp_e2e_bail "sshd config"
# Unlike the shipped drop-in, no ForceCommand and no MaxSessions 0: the
# options of the key lines alone must stop a command.
cat >>"$LP_E2E_SSHD_CONFIG" <<EOF || lp_e2e_bail "sshd config"
Match User lp-tunnel
	AuthenticationMethods publickey
	AuthorizedKeysFile none
	AuthorizedKeysCommand $BIN/lp-nodes -i $IDX authorized-keys %u %t %k
	AuthorizedKeysCommandUser lp-keys
	AllowTcpForwarding remote
	AllowStreamLocalForwarding no
	PermitTTY no
EOF
# The index's port must be free on this machine for the forward.
sed -i "s/port: 22001/port: $TPORT/" "$POLICY" &&
    "$NODES" -c "$POLICY" -i "$IDX" compile >/dev/null ||
    lp_e2e_bail "compile with a free port"
lp_e2e_sshd_start || lp_e2e_bail "sshd did not start"

# tunnel_ssh KEY ARG...: the node's ssh, key only; it replaces the
# shell that runs it, so call it in a subshell or in the background.
tunnel_ssh()
{
	k=$1
	shift
	exec timeout 20 ssh -F /dev/null \
	    -o UserKnownHostsFile="$W/known_hosts" \
	    -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
	    -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none \
	    -o ConnectTimeout=10 -o ExitOnForwardFailure=yes \
	    -i "$W/keys/$k" -p "$LP_E2E_PORT" "$@" \
	    </dev/null >"$LP_E2E_SSH_OUT" 2>"$LP_E2E_SSH_ERR"
}

sshd_runs_no_command()
{
	lp_e2e_mark "$LP_E2E_SSHD_LOG"
	! (tunnel_ssh gpu01b lp-tunnel@127.0.0.1 id) || return 1
	! grep -q 'uid=' "$LP_E2E_SSH_OUT" || return 1
	cat "$LP_E2E_SSH_OUT" "$LP_E2E_SSH_ERR" | grep -q 'not available' ||
	    return 1
	lp_e2e_log_wait 3 "$LP_E2E_SSHD_LOG" \
	    'Accepted publickey for lp-tunnel from 127.0.0.1'
}
lp_e2e_check sshd_runs_no_command \
    "sshd takes the key from lp-nodes and runs only the forced nologin"

sshd_refuses_other_keys()
{
	for k in gpu03 stranger; do
		! (tunnel_ssh "$k" lp-tunnel@127.0.0.1 true) || return 1
		grep -q 'Permission denied (publickey)' "$LP_E2E_SSH_ERR" ||
		    return 1
	done
}
lp_e2e_check sshd_refuses_other_keys \
    "sshd refuses a disabled node's key and an unknown key"

sshd_refuses_other_port()
{
	other=$((TPORT + 1))
	! (tunnel_ssh gpu01 -N -R "127.0.0.1:$other:127.0.0.1:9" \
	    lp-tunnel@127.0.0.1) || return 1
	grep -q "remote port forwarding failed for listen port $other" \
	    "$LP_E2E_SSH_ERR"
}
lp_e2e_check sshd_refuses_other_port \
    "permitlisten stops the node's key from listening on another port"

sshd_refuses_on_corrupt_index()
{
	cp -p "$IDX" "$W/idx.sshd" &&
	    head -c 2000 "$W/idx.sshd" >"$IDX" || return 1
	rc=0
	(tunnel_ssh gpu01 lp-tunnel@127.0.0.1 true) || rc=$?
	cp -p "$W/idx.sshd" "$IDX" || return 1
	[ "$rc" -ne 0 ] &&
	    grep -q 'Permission denied (publickey)' "$LP_E2E_SSH_ERR"
}
lp_e2e_check sshd_refuses_on_corrupt_index \
    "sshd lets no node key in while the index is corrupt"

listening()
{
	[ -n "$(ss -Htln "sport = :$TPORT")" ]
}

sshd_allows_own_port()
{
	tunnel_ssh gpu01 -N -R "127.0.0.1:$TPORT:127.0.0.1:9" \
	    lp-tunnel@127.0.0.1 &
	t=$!
	lp_e2e_track "$t"
	ok=0
	i=0
	while [ "$i" -lt 100 ]; do
		if listening; then
			ok=1
			break
		fi
		sleep 0.1
		i=$((i + 1))
	done
	# timeout(1) passes the signal on to ssh.
	kill "$t" 2>/dev/null || :
	wait "$t" 2>/dev/null || :
	[ "$ok" -eq 1 ]
}
lp_e2e_check sshd_allows_own_port \
    "the node's key listens on its own port on the listen address"

lp_e2e_finish
