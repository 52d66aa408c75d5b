#!/bin/sh
# End to end: a node that accepts no inbound connection keeps a reverse
# tunnel to the bastion with lp-node-tunnel, and its key can do nothing
# there but listen on its own port.
#
# Two network namespaces made by the test, joined by a veth pair on a
# private subnet: "node" (its own sshd on its 127.0.0.1:22, nftables
# dropping every new inbound connection) and "bastion" (sshd with the
# project's PAM stack: pam_lp_totp, pam_lp_tunnel; the shipped drop-in
# etc/sshd_config.d/lp-bastion.conf; lp-nodes as AuthorizedKeysCommand;
# the index compiled from the test's lp.yaml).  Everything runs inside
# lib.sh's mount and PID namespace, with a private /run that holds the
# names of the network namespaces and /run/lp/tunnels.
#
# To keep the run short, the bastion's ClientAliveInterval in the tunnel
# account's Match block is 2 s instead of the shipped 5 s (the count
# stays 3), and the node script probes every 3 s and retries after at
# most 2 s; the check of the drop-in itself reads the shipped values.
# OpenSSH 9.2 ends a silent session after 2 x interval x (count + 1)
# seconds (measured: 16 s for 2 x 3, 24 s for 3 x 3, 40 s for 5 x 3),
# which is the bound the cut-link check holds sshd to.
#
# Nodes: gpu01 (runs lp-node-tunnel), gpu02 (disabled), gpu03 (enabled,
# its key used to try what a node key must not do).  People: alice (a
# node's key in her authorized_keys), bob (his own key).
set -eu

# shellcheck source=tests/e2e/lib.sh
. "${LP_TEST_SRCDIR:?}/e2e/lib.sh"
lp_e2e_init tunnel "$@"
lp_e2e_netns_traps

W=$LP_E2E_WORK
ID=${W##*.}
NODE=lp-e2e-node-$ID
BAST=lp-e2e-bastion-$ID
NODE_IF=lpn-$ID
BAST_IF=lpb-$ID
NODE_ADDR=198.18.0.1
BAST_ADDR=198.18.0.2
TUSER=lp-tunnel
RUN_DIR=/run/lp/tunnels
MODULE=$LP_TEST_BUILDDIR/.libs/pam_lp_tunnel.so
LP_NODES=$LP_TEST_BUILDDIR/lp-nodes
SCRIPT=$LP_TEST_SRCDIR/../utils/lp-node-tunnel
ALIVE=2		# the test's ClientAliveInterval; the count stays 3
DEAD_S=$((2 * ALIVE * (3 + 1)))	# when sshd gives a silent session up
SSH_OUT=$LP_E2E_SSH_OUT
SSH_ERR=$LP_E2E_SSH_ERR

for t in ip nft ss ssh-keyscan timeout; do
	command -v "$t" >/dev/null 2>&1 || lp_e2e_bail "$t not found"
done
[ -f "$MODULE" ] || lp_e2e_bail "$MODULE is not built"
[ -f "$LP_E2E_MODULE" ] || lp_e2e_bail "$LP_E2E_MODULE is not built"
[ -x "$LP_E2E_ENROLL" ] || lp_e2e_bail "$LP_E2E_ENROLL is not built"
[ -x "$LP_NODES" ] || lp_e2e_bail "$LP_NODES is not built"
# sshd runs the AuthorizedKeysCommand only from a safe path, which a build
# tree under /tmp is not.
LP_NODES=$(lp_e2e_safe_bin "$LP_NODES") ||
    lp_e2e_bail "a safe path for the AuthorizedKeysCommand"

# ------------------------------------------------------------ helpers

in_node() { ip netns exec "$NODE" "$@"; }
in_bastion() { ip netns exec "$BAST" "$@"; }
key() { echo "$W/keys/$1"; }
pub() { cut -d' ' -f1,2 "$W/keys/$1.pub"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_until SECONDS COMMAND...: polls every 0.1 s; sets WAITED_MS.
wait_until()
{
	wu_t0=$(now_ms)
	lp_e2e__wait_for "$@" || return 1
	WAITED_MS=$(($(now_ms) - wu_t0))
}

# node_ssh KEY ARG...: a node's ssh to the bastion's tunnel account, from
# the node's namespace, bounded in time; output in $SSH_OUT, $SSH_ERR.
node_ssh()
{
	ns_key=$1
	shift
	in_node timeout 20 ssh -F /dev/null -i "$ns_key" -p 22 \
	    -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none \
	    -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null \
	    -o UserKnownHostsFile="$W/node/known_hosts" \
	    -o ConnectTimeout=5 "$@" </dev/null >"$SSH_OUT" 2>"$SSH_ERR"
}

# person_ssh USER KEY COMMAND: a person's key and TOTP code (from
# oathtool, through lib.sh's askpass), from inside the bastion.
person_ssh()
{
	SSH_ASKPASS=$W/askpass SSH_ASKPASS_REQUIRE=force \
	    LP_E2E_ASKPASS_LOG=$LP_E2E_ASKPASS_LOG \
	    LP_E2E_ASKPASS_SECRET=$(lp_e2e_secret "$1") \
	    in_bastion timeout 30 setsid -w ssh -F /dev/null \
	    -o UserKnownHostsFile="$W/node/known_hosts" \
	    -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
	    -o NumberOfPasswordPrompts=1 -o BatchMode=no \
	    -o IdentitiesOnly=yes -o IdentityAgent=none -o ConnectTimeout=5 \
	    -i "$2" "$1@$BAST_ADDR" "$3" </dev/null >"$SSH_OUT" 2>"$SSH_ERR"
}

# listening NS PORT: what listens on PORT in namespace NS ("ADDR:PORT").
listening()
{
	ip netns exec "$1" ss -Htln "sport = :$2" | awk '{ print $4 }'
}

port_up() { [ -n "$(listening "$BAST" "$1")" ]; }
port_down() { [ -z "$(listening "$BAST" "$1")" ]; }

# banner NS ADDR PORT: the first line a TCP server there sends.
banner()
{
	# shellcheck disable=SC2016
	ip netns exec "$1" timeout 5 perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new(PeerAddr => $ARGV[0],
		    PeerPort => $ARGV[1], Timeout => 3) or exit 2;
		my $l = <$s>;
		defined $l or exit 3;
		$l =~ s/\r?\n\z//;
		print "$l\n";' "$2" "$3"
}

# record_field NAME: a field of gpu01's live tunnel record.
record_field()
{
	sed -n "s/^$1 //p" "$RUN_DIR/gpu01" 2>/dev/null
}

has_record() { [ -f "$RUN_DIR/$1" ]; }

# node_state ERE: lp-nodes, reading the record, tells gpu01's state so.
node_state()
{
	# shellcheck disable=SC2015
	"$LP_NODES" -i "$W/nodes.cdb" status gpu01 >"$W/status" 2>&1 &&
	grep -Eq "^gpu01 +22001 +yes +$1\$" "$W/status" || {
		lp_e2e_diag "lp-nodes status: $(tail -n 1 "$W/status")"
		return 1
	}
}
no_record() { ! [ -e "$RUN_DIR/$1" ]; }

# logged ERE: pam_lp_tunnel logged a line matching ERE since the mark.
logged()
{
	lp_e2e_log_wait 3 "$LP_E2E_SYSLOG" \
	    "pam_lp_tunnel\\($LP_E2E_SERVICE:[a-z]+\\): (.* )?$1"
}

# ------------------------------------------------------------ accounts

for k in gpu01 gpu02 gpu03 stranger; do
	lp_e2e_new_key "$k" || lp_e2e_bail "key $k"
done
lp_e2e_policy <<EOF || lp_e2e_bail "policy file"
totp:
  issuer: lp-e2e
tunnel:
  user: $TUSER
  listen_address: 127.0.0.1
nodes:
  gpu01:
    port: 22001
    keys: [ "$(pub gpu01) gpu01-tunnel" ]
    groups: [ml]
  gpu02:
    port: 22002
    keys: [ "$(pub gpu02)" ]
    enabled: false
  gpu03:
    port: 22003
    keys: [ "$(pub gpu03)" ]
EOF
for u in "$TUSER" alice bob; do
	lp_e2e_add_user "$u" || lp_e2e_bail "account $u"
done
for u in alice bob; do
	lp_e2e_enroll "$u" || lp_e2e_bail "lp-enroll-totp $u"
done
# The attack on people: a node's key planted in a person's keys.
cat "$W/keys/gpu01.pub" >>"$W/home/alice/.ssh/authorized_keys"

# ------------------------------------------------------------ index

# lp-nodes compiles the index; as sshd's AuthorizedKeysCommand it serves
# the tunnel account's keys from it, running as lp-keys, the system
# account the drop-in names.
compile_index()
{
	"$LP_NODES" -c "$LP_E2E_CONFIG" -i "$W/nodes.cdb" compile >/dev/null &&
	[ "$(stat -c '%u %a' "$W/nodes.cdb")" = '0 644' ]
}
compile_index || lp_e2e_bail "lp-nodes compile"

keys_account()
{
	id=$((LP_E2E_UID_BASE + 100))
	printf 'lp-keys:x:%d:%d:lp e2e keys:/nonexistent:/usr/sbin/nologin\n' \
	    "$id" "$id" >>"$W/etc/passwd" &&
	printf 'lp-keys:x:%d:\n' "$id" >>"$W/etc/group" &&
	printf 'lp-keys:*:%d:0:99999:7:::\n' $(($(date +%s) / 86400)) \
	    >>"$W/etc/shadow"
}
keys_account || lp_e2e_bail "account lp-keys"

# ------------------------------------------------------------ bastion

mark_pam()
{
	sed -n "s#^\\(\\(account\\|session\\)[[:space:]].*\\)pam_lp_tunnel\\.so#\\1$MODULE config=$LP_E2E_CONFIG index=$W/nodes.cdb#p" \
	    "$LP_E2E_ETC/pam.d/lp-sshd"
}

bastion_pam()
{
	mark_pam >"$W/tunnel.lines" || return 1
	[ "$(grep -c "$MODULE" "$W/tunnel.lines")" = 2 ] || {
		lp_e2e_diag "no pam_lp_tunnel account and session lines in lp-sshd"
		return 1
	}
	sed -n "/^auth[[:space:]]/s|pam_lp_totp\\.so|$LP_E2E_MODULE config=$LP_E2E_CONFIG state_dir=$LP_E2E_STATE|p" \
	    "$LP_E2E_ETC/pam.d/lp-sshd" >"$W/auth.lines" || return 1
	{
		cat "$W/auth.lines"
		echo 'account required pam_unix.so'
		grep '^account' "$W/tunnel.lines"
		echo 'session required pam_unix.so'
		grep '^session' "$W/tunnel.lines"
		echo 'password required pam_deny.so'
	} | lp_e2e_pam_service
}

# The shipped drop-in with the test's changes, each checked to apply:
# its own lp-nodes and index, and the shorter ClientAliveInterval.
bastion_dropin()
{
	src=$LP_E2E_ETC/sshd_config.d/lp-bastion.conf
	grep -q "^	ClientAliveInterval 5\$" "$src" &&
	grep -q '^	AuthorizedKeysCommandUser lp-keys$' "$src" &&
	grep -q '^	AuthorizedKeysCommand /usr/sbin/lp-nodes authorized-keys %u %t %k$' \
	    "$src" || return 1
	lp_e2e_shell_dropin "$W/lp-bastion.shell" &&
	sed -e "s|^	ClientAliveInterval 5\$|	ClientAliveInterval $ALIVE|" \
	    -e "$AKC_SED" "$W/lp-bastion.shell" >"$W/lp-bastion.conf" &&
	grep -q "^	AuthorizedKeysCommand $LP_NODES " "$W/lp-bastion.conf" &&
	grep -q "^	ClientAliveInterval $ALIVE\$" "$W/lp-bastion.conf"
}

AKC_SED="s|^	AuthorizedKeysCommand /usr/sbin/lp-nodes |	AuthorizedKeysCommand $LP_NODES -i $W/nodes.cdb |"

bastion_sshd()
{
	lp_e2e_sshd_config && bastion_dropin || return 1
	{
		echo "ListenAddress $BAST_ADDR:22"
		echo "Include $W/lp-bastion.conf"
	} >>"$LP_E2E_SSHD_CONFIG"
	ln -sf "$LP_E2E_SSHD" "$W/$LP_E2E_SERVICE" || return 1
	: >"$LP_E2E_SSHD_LOG"
	lp_e2e__sanitized ip netns exec "$BAST" "$W/$LP_E2E_SERVICE" -D \
	    -f "$LP_E2E_SSHD_CONFIG" -E "$LP_E2E_SSHD_LOG" \
	    </dev/null >>"$W/sshd.err" 2>&1 &
	LP_E2E_SSHD_PID=$!
	lp_e2e_track "$LP_E2E_SSHD_PID"
	lp_e2e__wait_for 10 grep -q \
	    "^Server listening on $BAST_ADDR port 22\\." "$LP_E2E_SSHD_LOG"
}

# ------------------------------------------------------------ node

node_sshd()
{
	mkdir -m 0700 "$W/node" &&
	ssh-keygen -q -t ed25519 -N '' -C lp-e2e-node \
	    -f "$W/node/ssh_host_ed25519_key" </dev/null || return 1
	cat >"$W/node/sshd_config" <<EOF
HostKey $W/node/ssh_host_ed25519_key
ListenAddress 127.0.0.1:22
PidFile none
UsePAM no
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile none
EOF
	: >"$W/node/sshd.log"
	ip netns exec "$NODE" "$LP_E2E_SSHD" -D -f "$W/node/sshd_config" \
	    -E "$W/node/sshd.log" </dev/null >>"$W/node/sshd.err" 2>&1 &
	lp_e2e_track $!
	lp_e2e__wait_for 10 grep -q '^Server listening on 127.0.0.1 port 22\.' \
	    "$W/node/sshd.log"
}

# New connections in are dropped, without a reset; the node's own
# connections out and their replies pass.
node_firewall()
{
	in_node nft -f - <<EOF
table inet lp_node {
	chain input {
		type filter hook input priority 0; policy drop;
		iif lo accept
		ct state established,related accept
	}
}
EOF
}

# The link cut without FIN or RST: every packet that arrives over the
# veth, on either side, is dropped, as if the cable were pulled.
cut_link()
{
	for cl_ns in "$NODE:$NODE_IF" "$BAST:$BAST_IF"; do
		ip netns exec "${cl_ns%%:*}" nft -f - <<EOF || return 1
table inet lp_cut {
	chain input {
		type filter hook input priority -100; policy accept;
		iifname "${cl_ns#*:}" drop
	}
}
EOF
	done
}

restore_link()
{
	in_node nft delete table inet lp_cut &&
	in_bastion nft delete table inet lp_cut
}

start_node_tunnel()
{
	cat >"$W/node/lp-node-tunnel.conf" <<EOF
# written by tests/e2e/tunnel.sh
LP_BASTION=$BAST_ADDR
LP_BASTION_PORT=22
LP_TUNNEL_USER=$TUSER
LP_LISTEN=127.0.0.1
LP_PORT=22001
LP_KEY=$(key gpu01)
LP_KNOWN_HOSTS=$W/node/known_hosts
LP_ALIVE_INTERVAL=3
LP_ALIVE_COUNT=3
LP_RETRY_MAX=2
EOF
	: >"$W/node/tunnel.log"
	LP_NODE_TUNNEL_CONF=$W/node/lp-node-tunnel.conf \
	    ip netns exec "$NODE" /bin/sh "$SCRIPT" \
	    </dev/null >>"$W/node/tunnel.log" 2>&1 &
	TUNNEL_PID=$!
	lp_e2e_track "$TUNNEL_PID"
}

# ------------------------------------------------------------ setup

lp_e2e_private_run || lp_e2e_bail "private /run"
lp_e2e_syslog_start || lp_e2e_bail "syslog capture on /dev/log"
{ lp_e2e_netns_add "$NODE" && lp_e2e_netns_add "$BAST"; } ||
    lp_e2e_bail "network namespaces"
lp_e2e_veth "$NODE" "$NODE_IF" "$NODE_ADDR/24" "$BAST" "$BAST_IF" \
    "$BAST_ADDR/24" || lp_e2e_bail "veth pair"
bastion_pam || lp_e2e_bail "PAM service"
bastion_sshd || lp_e2e_bail "the bastion's sshd did not start"
node_sshd || lp_e2e_bail "the node's sshd did not start"
node_firewall || lp_e2e_bail "the node's nftables rules"
printf '%s %s\n' "$BAST_ADDR" "$(cat "$W/ssh_host_ed25519_key.pub")" \
    >"$W/node/known_hosts"

# ------------------------------------------------------------ checks

check_dropin()
{
	cfg=$W/shipped_sshd_config
	{
		echo "Include $LP_E2E_ETC/sshd_config.d/lp-bastion.conf"
		echo "HostKey $W/ssh_host_ed25519_key"
	} >"$cfg"
	"$LP_E2E_SSHD" -T -f "$cfg" -C "user=$TUSER,host=node,addr=192.0.2.1" \
	    >"$W/effective" || return 1
	for want in 'authenticationmethods publickey' \
	    'authorizedkeysfile none' \
	    'authorizedkeyscommand /usr/sbin/lp-nodes authorized-keys %u %t %k' \
	    'authorizedkeyscommanduser lp-keys' \
	    'allowtcpforwarding remote' 'allowstreamlocalforwarding no' \
	    'permitopen none' 'permittty no' 'x11forwarding no' \
	    'allowagentforwarding no' 'forcecommand /usr/sbin/nologin' \
	    'clientaliveinterval 5' 'clientalivecountmax 3' \
	    'gatewayports no' 'maxsessions 0'; do
		grep -qx "$want" "$W/effective" || {
			lp_e2e_diag "sshd -T for $TUSER lacks: $want"
			return 1
		}
	done
}
lp_e2e_check check_dropin \
    "the shipped drop-in's Match block gives the tunnel account remote" \
    "forwards only, no terminal, no session, 5 s x 3 keepalives"

check_node_closed()
{
	[ "$(listening "$NODE" 22)" = 127.0.0.1:22 ] || return 1
	# shellcheck disable=SC2016
	out=$(ip netns exec "$BAST" timeout 10 perl -MIO::Socket::INET -e '
		IO::Socket::INET->new(PeerAddr => $ARGV[0], PeerPort => 22,
		    Timeout => 2) and exit 1;
		print "$!\n";' "$NODE_ADDR") || return 1
	lp_e2e_diag "bastion -> $NODE_ADDR:22: $out"
	case $out in
	*'timed out'*) return 0 ;;
	esac
	return 1
}
lp_e2e_check check_node_closed \
    "the node's sshd listens on its loopback only, and a connection from" \
    "the bastion to the node times out (dropped, no reset)"

UP_MS=
check_tunnel_up()
{
	lp_e2e_mark "$LP_E2E_SYSLOG"
	start_node_tunnel
	wait_until 20 port_up 22001 || return 1
	UP_MS=$WAITED_MS
	lp_e2e_diag "tunnel up ${UP_MS} ms after lp-node-tunnel started"
	# Only the address the node asked for, the one permitlisten names.
	[ "$(listening "$BAST" 22001)" = 127.0.0.1:22001 ]
}
lp_e2e_check check_tunnel_up \
    "lp-node-tunnel brings the tunnel up: the bastion listens on" \
    "127.0.0.1:22001 and nowhere else"

check_reaches_node()
{
	b=$(banner "$BAST" 127.0.0.1 22001) || return 1
	lp_e2e_diag "banner through the tunnel: $b"
	case $b in
	SSH-2.0-*) ;;
	*) return 1 ;;
	esac
	in_bastion ssh-keyscan -T 5 -t ed25519 -p 22001 127.0.0.1 \
	    2>/dev/null | cut -d' ' -f2,3 >"$W/scanned" &&
	[ "$(cat "$W/scanned")" = \
	    "$(cut -d' ' -f1,2 "$W/node/ssh_host_ed25519_key.pub")" ]
}
lp_e2e_check check_reaches_node \
    "a connection to the bastion's 127.0.0.1:22001 reaches the node's" \
    "sshd: its banner, and its host key"

TUNNEL_SSHD=
check_record()
{
	wait_until 5 has_record gpu01 || return 1
	[ "$(record_field node)" = gpu01 ] &&
	[ "$(record_field port)" = 22001 ] &&
	[ "$(record_field peer)" = "$NODE_ADDR" ] || return 1
	TUNNEL_SSHD=$(record_field pid)
	since=$(record_field since)
	[ $(($(date +%s) - since)) -lt 60 ] || return 1
	[ "$(stat -c '%u %a' "$RUN_DIR/gpu01")" = '0 644' ] || return 1
	# The pid is sshd's privileged process for the connection, the one
	# that opened the session and will close it ("NAME: USER [priv]").
	cmd=$(tr -s '\0 ' '  ' <"/proc/$TUNNEL_SSHD/cmdline")
	lp_e2e_diag "record pid $TUNNEL_SSHD: $cmd"
	case $cmd in
	"$LP_E2E_SERVICE: $TUSER [priv]"*) ;;
	*) return 1 ;;
	esac
	logged "user=$TUSER .*reason=deferred" &&
	    logged "user=$TUSER .*reason=ok node=gpu01 port=22001 pid=$TUNNEL_SSHD\$" &&
	    node_state "up since .* from $NODE_ADDR"
}
lp_e2e_check check_record \
    "$RUN_DIR/gpu01 records the tunnel (node, port, peer, the pid of" \
    "sshd's process for it); the module deferred in account, ok in session"

check_second_tunnel()
{
	lp_e2e_mark "$LP_E2E_SYSLOG"
	! node_ssh "$(key gpu01)" -N -o ExitOnForwardFailure=yes \
	    -R 127.0.0.1:22001:127.0.0.1:22 "$TUSER@$BAST_ADDR" &&
	    logged "reason=already_up node=gpu01 pid=$TUNNEL_SSHD " &&
	    [ "$(record_field pid)" = "$TUNNEL_SSHD" ]
}
lp_e2e_check check_second_tunnel \
    "a second tunnel of gpu01 while the first is up is refused, and the" \
    "record still names the first"

# What a node key must not do, tried with gpu03's (enabled, not up).
check_no_command()
{
	! node_ssh "$(key gpu03)" "$TUSER@$BAST_ADDR" id &&
	    ! grep -q uid= "$SSH_OUT" &&
	    grep -q 'open failed' "$SSH_ERR"
}
lp_e2e_check check_no_command "the node key cannot run a command"

check_no_shell()
{
	! node_ssh "$(key gpu03)" -tt "$TUSER@$BAST_ADDR" &&
	    ! grep -q '[$#] *$' "$SSH_OUT" &&
	    grep -q 'open failed' "$SSH_ERR"
}
lp_e2e_check check_no_shell "the node key cannot get a shell with a terminal"

# try_listen SPEC: a remote forward the key's permitlisten must refuse.
try_listen()
{
	! node_ssh "$(key gpu03)" -N -o ExitOnForwardFailure=yes \
	    -R "$1:127.0.0.1:22" "$TUSER@$BAST_ADDR" &&
	    grep -q 'remote port forwarding failed' "$SSH_ERR"
}

check_no_other_port()
{
	try_listen 127.0.0.1:22002 && port_down 22002 &&
	try_listen 127.0.0.1:22001 && port_down 22003 &&
	try_listen 127.0.0.1:22999 && port_down 22999 &&
	try_listen 0.0.0.0:22003 && port_down 22003 &&
	try_listen 22003 && port_down 22003
}
lp_e2e_check check_no_other_port \
    "the node key cannot listen on another node's port, any other port," \
    "or its own port on another address"

check_no_unix_socket()
{
	sock=$W/home/$TUSER/lp-e2e.sock
	! node_ssh "$(key gpu03)" -N -o ExitOnForwardFailure=yes \
	    -R "$sock:127.0.0.1:22" "$TUSER@$BAST_ADDR" &&
	    grep -q 'remote port forwarding failed' "$SSH_ERR" &&
	    ! [ -e "$sock" ]
}
lp_e2e_check check_no_unix_socket \
    "the node key cannot forward a Unix socket"

check_no_local_forward()
{
	in_node timeout 20 ssh -F /dev/null -i "$(key gpu03)" \
	    -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none \
	    -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null \
	    -o UserKnownHostsFile="$W/node/known_hosts" -o ConnectTimeout=5 \
	    -N -L 127.0.0.1:2222:127.0.0.1:22 "$TUSER@$BAST_ADDR" \
	    </dev/null >"$SSH_OUT" 2>"$SSH_ERR" &
	lf=$!
	lp_e2e_track "$lf"
	rc=0
	# shellcheck disable=SC2016
	if wait_until 10 eval '[ -n "$(listening "$NODE" 2222)" ]'; then
		! banner "$NODE" 127.0.0.1 2222 >/dev/null || rc=1
		lp_e2e__wait_for 3 grep -q 'administratively prohibited' \
		    "$SSH_ERR" || rc=1
	else
		rc=1
	fi
	lp_e2e__stop_pid "$lf"
	lp_e2e__untrack "$lf"
	return "$rc"
}
lp_e2e_check check_no_local_forward \
    "the node key cannot open a local forward (the bastion refuses the" \
    "channel)"

check_tries_left_nothing()
{
	wait_until 5 no_record gpu03 &&
	[ "$(record_field pid)" = "$TUNNEL_SSHD" ] && port_up 22001
}
lp_e2e_check check_tries_left_nothing \
    "those sessions left no record, and gpu01's tunnel is untouched"

check_unregistered_key()
{
	! node_ssh "$(key stranger)" -N -o ExitOnForwardFailure=yes \
	    -R 127.0.0.1:22003:127.0.0.1:22 "$TUSER@$BAST_ADDR" &&
	    grep -q 'Permission denied (publickey)' "$SSH_ERR" &&
	    port_down 22003
}
lp_e2e_check check_unregistered_key "an unregistered key is refused"

check_disabled_node()
{
	! node_ssh "$(key gpu02)" -N -o ExitOnForwardFailure=yes \
	    -R 127.0.0.1:22002:127.0.0.1:22 "$TUSER@$BAST_ADDR" &&
	    grep -q 'Permission denied (publickey)' "$SSH_ERR" &&
	    port_down 22002 && no_record gpu02
}
lp_e2e_check check_disabled_node "a disabled node's key is refused"

check_person_own_key()
{
	lp_e2e_mark "$LP_E2E_SYSLOG"
	# shellcheck disable=SC2016
	person_ssh bob "$(key bob)" 'echo "in as $(id -un)"' &&
	[ "$(cat "$SSH_OUT")" = 'in as bob' ] &&
	logged 'user=bob .*reason=ok key_type=ssh-ed25519'
}
lp_e2e_check check_person_own_key \
    "a person with their own key and code gets in"

check_person_node_key()
{
	lp_e2e_mark "$LP_E2E_SYSLOG"
	# shellcheck disable=SC2016
	! person_ssh alice "$(key gpu01)" 'echo "in as $(id -un)"' &&
	! grep -q 'in as' "$SSH_OUT" &&
	logged 'user=alice .*reason=node_key_for_person node=gpu01'
}
lp_e2e_check check_person_node_key \
    "a node's key in a person's authorized_keys, offered with the right" \
    "code, is refused"

DROP_MS=
check_cut_dropped()
{
	lp_e2e_mark "$LP_E2E_SYSLOG"
	cut_link || return 1
	wait_until $((DEAD_S + 10)) no_record gpu01 || return 1
	DROP_MS=$WAITED_MS
	lp_e2e_diag "the bastion dropped the dead tunnel ${DROP_MS} ms after" \
	    "the cut (ClientAlive ${ALIVE} s x 3, expected ${DEAD_S} s)"
	port_down 22001 && node_state "down since .*" &&
	logged "reason=closed node=gpu01 pid=$TUNNEL_SSHD" &&
	[ "$DROP_MS" -le $(((DEAD_S + 2) * 1000)) ]
}
lp_e2e_check check_cut_dropped \
    "the link cut without FIN or RST: the bastion drops the dead session" \
    "within its ClientAlive bound, and removes its record"

BACK_MS=
check_comes_back()
{
	restore_link || return 1
	wait_until 40 port_up 22001 || return 1
	BACK_MS=$WAITED_MS
	lp_e2e_diag "the tunnel came back ${BACK_MS} ms after the link did"
	b=$(banner "$BAST" 127.0.0.1 22001) || return 1
	case $b in
	SSH-2.0-*) ;;
	*) return 1 ;;
	esac
	wait_until 5 has_record gpu01 &&
	[ "$(record_field pid)" != "$TUNNEL_SSHD" ] &&
	grep -q 'tunnel ended' "$W/node/tunnel.log"
}
lp_e2e_check check_comes_back \
    "the link restored: lp-node-tunnel brings the tunnel back by itself"

# sshd's processes for the tunnel killed before they can close the
# session (the privileged one, which the record names, and its child,
# which holds the connection): the record left behind names a dead pid,
# which neither lp-nodes nor the module take for a live tunnel, and the
# node's next tunnel replaces it.
check_killed_sshd()
{
	old=$(record_field pid)
	[ -n "$old" ] || return 1
	lp_e2e_mark "$LP_E2E_SYSLOG"
	# shellcheck disable=SC2046
	kill -KILL "$old" $(lp_e2e__descendants "$old") || return 1
	# shellcheck disable=SC2016
	wait_until 20 eval '[ -n "$(record_field pid)" ] &&
	    [ "$(record_field pid)" != "$old" ] && port_up 22001' || return 1
	lp_e2e_diag "a new tunnel replaced the record of killed pid $old" \
	    "after ${WAITED_MS} ms"
	! lp_e2e_since "$LP_E2E_SYSLOG" | grep -q 'reason=already_up' &&
	! lp_e2e_since "$LP_E2E_SYSLOG" | grep -q "reason=closed .*pid=$old" &&
	node_state "up since .* from $NODE_ADDR"
}
lp_e2e_check check_killed_sshd \
    "a record left by a killed sshd does not hold the node off: its next" \
    "tunnel replaces it"

check_term()
{
	pid=$(record_field pid)
	lp_e2e_mark "$LP_E2E_SYSLOG"
	kill -TERM "$TUNNEL_PID" || return 1
	rc=0
	t0=$(now_ms)
	wait "$TUNNEL_PID" || rc=$?
	lp_e2e__untrack "$TUNNEL_PID"
	lp_e2e_diag "lp-node-tunnel ended with status $rc after" \
	    "$(($(now_ms) - t0)) ms"
	[ "$rc" = 0 ] || return 1
	wait_until 10 no_record gpu01 && port_down 22001 &&
	logged "reason=closed node=gpu01 pid=$pid"
}
lp_e2e_check check_term \
    "TERM stops lp-node-tunnel cleanly; the bastion closes the session" \
    "and the record disappears"

lp_e2e_diag "figures: up ${UP_MS:-?} ms, dead tunnel dropped ${DROP_MS:-?} ms" \
    "after the cut, back ${BACK_MS:-?} ms after the link"
lp_e2e_finish
