#!/bin/sh
# End to end: a person reaches a node through the bastion with plain
# OpenSSH, and every hop is audited.
#
# Three network namespaces made by the test: "person" (the person's ssh
# and ssh-agent), "bastion" (sshd with the shipped drop-in, people's
# forced command lp-hop, the project's PAM stack) and "node" (its own
# sshd on its loopback only, a VNC server, lp-node-tunnel keeping the
# reverse tunnel).  The person's key for the node lives only in the
# person's agent and in the node's authorized keys; the bastion holds no
# private key.  lp-hop resolves nodes through nss_lp (a private
# nsswitch.conf and ld.so.cache, bind-mounted) from the index at its
# compiled-in path (an overlay on /var/lib), and has cap_audit_write on a
# copy on a tmpfs.
#
# Auditing for real: before entering its namespaces, the test starts its
# own auditd with a private configuration and log, outside the PID
# namespace (the kernel takes audit control only from the first one),
# under a machine-wide lock so that two never run at once.  It stops that
# auditd by its PID when the test ends, however it ends, and puts the
# kernel's audit enable flag back as it found it.  The auditors' queries
# of lp-audit(8) then run with ausearch -if and aureport -if on that log.
set -eu

# ------------------------------------------------------------ auditd
#
# This part runs before lp_e2e_init, in the machine's PID namespace.

hop_audit_stop()
{
	if [ -n "${HOP_AUDITD_PID:-}" ]; then
		kill -TERM "$HOP_AUDITD_PID" 2>/dev/null || :
		n=0
		while kill -0 "$HOP_AUDITD_PID" 2>/dev/null && [ "$n" -lt 50 ]
		do
			sleep 0.1
			n=$((n + 1))
		done
		kill -KILL "$HOP_AUDITD_PID" 2>/dev/null || :
		wait "$HOP_AUDITD_PID" 2>/dev/null || :
		HOP_AUDITD_PID=
	fi
	if [ -n "${HOP_AUDIT_WAS:-}" ]; then
		auditctl -e "$HOP_AUDIT_WAS" >/dev/null 2>&1 ||
		    echo "# could not put audit enabled back to $HOP_AUDIT_WAS"
		HOP_AUDIT_WAS=
	fi
	[ -z "${HOP_AUDIT_DIR:-}" ] || rm -rf "$HOP_AUDIT_DIR"
}

# Starts the private auditd; HOP_AUDIT_LOG names its log.  Returns 77
# when this machine cannot run one (no audit in the kernel, or an auditd
# of its own already running), 1 on a failure.
hop_audit_start()
{
	command -v auditd >/dev/null 2>&1 && command -v auditctl >/dev/null &&
	    command -v ausearch >/dev/null || return 77
	st=$(auditctl -s 2>/dev/null) || return 77
	[ "$(echo "$st" | awk '$1 == "pid" { print $2 }')" = 0 ] || return 77
	HOP_AUDIT_WAS=$(echo "$st" | awk '$1 == "enabled" { print $2 }')
	case $HOP_AUDIT_WAS in
	0|1) ;;
	*) HOP_AUDIT_WAS=; return 77 ;;	# 2: locked, not ours to change
	esac
	HOP_AUDIT_DIR=$(mktemp -d /tmp/lp-e2e-hop-audit.XXXXXX)
	mkdir -m 0750 "$HOP_AUDIT_DIR/plugins" "$HOP_AUDIT_DIR/log"
	cat >"$HOP_AUDIT_DIR/auditd.conf" <<EOF
local_events = yes
write_logs = yes
log_file = $HOP_AUDIT_DIR/log/audit.log
log_format = RAW
log_group = root
flush = SYNC
freq = 0
max_log_file = 64
num_logs = 1
max_log_file_action = IGNORE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
name_format = NONE
priority_boost = 0
plugin_dir = $HOP_AUDIT_DIR/plugins
end_of_event_timeout = 2
EOF
	chmod 0640 "$HOP_AUDIT_DIR/auditd.conf"
	auditd -n -s enable -c "$HOP_AUDIT_DIR" </dev/null \
	    >"$HOP_AUDIT_DIR/auditd.out" 2>&1 &
	HOP_AUDITD_PID=$!
	n=0
	while [ "$n" -lt 100 ]; do
		if auditctl -s 2>/dev/null |
		    grep -qx "pid $HOP_AUDITD_PID"; then
			HOP_AUDIT_LOG=$HOP_AUDIT_DIR/log/audit.log
			return 0
		fi
		kill -0 "$HOP_AUDITD_PID" 2>/dev/null || break
		sleep 0.1
		n=$((n + 1))
	done
	cat "$HOP_AUDIT_DIR/auditd.out" >&2
	return 1
}

if [ -z "${LP_E2E_INNER:-}" ] && [ "$(id -u)" -eq 0 ]; then
	exec 9>/tmp/lp-e2e-auditd.lock
	if ! flock -w 300 9; then
		echo "e2e-hop: another private auditd held the lock for 300 s"
		exit 1
	fi
	HOP_AUDITD_PID=
	HOP_AUDIT_WAS=
	HOP_AUDIT_DIR=
	trap 'hop_audit_stop' EXIT
	trap 'hop_audit_stop; exit 130' INT
	trap 'hop_audit_stop; exit 143' TERM
	trap 'hop_audit_stop; exit 129' HUP
	rc=0
	hop_audit_start || rc=$?
	if [ "$rc" -eq 77 ]; then
		echo "SKIP: e2e-hop: no kernel audit here, or an auditd runs"
		exit 77
	elif [ "$rc" -ne 0 ]; then
		echo "e2e-hop: the private auditd did not start"
		exit 1
	fi
	export HOP_AUDIT_LOG
fi

# shellcheck source=tests/e2e/lib.sh
. "${LP_TEST_SRCDIR:?}/e2e/lib.sh"
lp_e2e_init hop "$@"
lp_e2e_netns_traps

W=$LP_E2E_WORK
ID=${W##*.}
NODE=lp-e2e-hn-$ID
BAST=lp-e2e-hb-$ID
PERS=lp-e2e-hp-$ID
NODE_ADDR=198.18.2.1
BAST_NODE_ADDR=198.18.2.2
PERS_ADDR=198.18.3.1
BAST_ADDR=198.18.3.2
TUSER=lp-tunnel
RUN_DIR=/run/lp/tunnels
INDEX=/var/lib/lp/nodes.cdb
TUNNEL_MODULE=$LP_TEST_BUILDDIR/.libs/pam_lp_tunnel.so
NSS_LIBS=$LP_TEST_BUILDDIR/.libs
LP_NODES=$LP_TEST_BUILDDIR/lp-nodes
LP_HOP_BUILT=$LP_TEST_BUILDDIR/lp-hop
SCRIPT=$LP_TEST_SRCDIR/../utils/lp-node-tunnel
AUDIT_LOG=${HOP_AUDIT_LOG:?}
SSH_OUT=$LP_E2E_SSH_OUT
SSH_ERR=$LP_E2E_SSH_ERR
PD=$W/person
export LC_ALL=C

for t in ip ss ssh-agent ssh-add ausearch aureport setcap getcap ldconfig \
    Xtigervnc script; do
	command -v "$t" >/dev/null 2>&1 || lp_e2e_bail "$t not found"
done
for f in "$TUNNEL_MODULE" "$LP_E2E_MODULE" "$NSS_LIBS/libnss_lp.so.2"; do
	[ -f "$f" ] || lp_e2e_bail "$f is not built"
done
for f in "$LP_E2E_ENROLL" "$LP_NODES" "$LP_HOP_BUILT"; do
	[ -x "$f" ] || lp_e2e_bail "$f is not built"
done
LP_NODES=$(lp_e2e_safe_bin "$LP_NODES") ||
    lp_e2e_bail "a safe path for the AuthorizedKeysCommand"
# The copy that sshd runs: a program with a file capability must not sit
# in a directory its users can write.
LP_HOP=$(lp_e2e_safe_bin "$LP_HOP_BUILT") || lp_e2e_bail "a copy of lp-hop"
setcap cap_audit_write+ep "$LP_HOP" || lp_e2e_bail "setcap on $LP_HOP"

# ------------------------------------------------------------ helpers

in_node() { ip netns exec "$NODE" "$@"; }
in_bastion() { ip netns exec "$BAST" "$@"; }
in_person() { ip netns exec "$PERS" "$@"; }
pub() { cut -d' ' -f1,2 "$W/keys/$1.pub"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

listening()
{
	ip netns exec "$1" ss -Htln "sport = :$2" | awk '{ print $4 }'
}

# listens NS PORT: something listens on PORT in namespace NS.
listens() { [ -n "$(listening "$1" "$2")" ]; }

# pssh USER ARG...: the person USER's ssh with the person's config
# ($PD/config), from the person's namespace, bounded in time.  The TOTP
# prompt, when one comes, is answered from USER's secret; the prompts
# shown are in $LP_E2E_ASKPASS_LOG.  Output in $SSH_OUT and $SSH_ERR.
pssh()
{
	ps_user=$1
	shift
	: >"$LP_E2E_ASKPASS_LOG"
	SSH_ASKPASS=$W/askpass SSH_ASKPASS_REQUIRE=force \
	    LP_E2E_ASKPASS_LOG=$LP_E2E_ASKPASS_LOG \
	    LP_E2E_ASKPASS_SECRET=$(lp_e2e_secret "$ps_user") \
	    SSH_AUTH_SOCK=$PD/agent.sock \
	    in_person timeout 60 setsid -w ssh -F "$PD/config.$ps_user" "$@" \
	    >"$SSH_OUT" 2>"$SSH_ERR"
}

prompts() { grep -c . "$LP_E2E_ASKPASS_LOG" || :; }

# audit_records ARG...: ausearch -if on the private log, interpreted.
audit_records()
{
	ausearch -if "$AUDIT_LOG" "$@" -i 2>/dev/null || :
}

# hop_records TYPE: the interpreted lp-hop records of TYPE of this run.
hop_records()
{
	audit_records -m "$1" | grep "op=lp-hop " || :
}

logged()
{
	lp_e2e_log_wait 3 "$LP_E2E_SYSLOG" "$1"
}

# ------------------------------------------------------------ accounts

for k in gpu01 gpu02 gpu03; do
	lp_e2e_new_key "$k" || lp_e2e_bail "key $k"
done
lp_e2e_policy <<EOF || lp_e2e_bail "policy file"
totp:
  issuer: lp-e2e
  max_failures: 3
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
    groups: [ml]
    enabled: false
  gpu03:
    port: 22003
    keys: [ "$(pub gpu03)" ]
    groups: [ml]
EOF
for u in "$TUSER" alice bob carol dave erin frank; do
	lp_e2e_add_user "$u" || lp_e2e_bail "account $u"
done
for u in alice bob carol dave erin frank; do
	lp_e2e_enroll "$u" || lp_e2e_bail "lp-enroll-totp $u"
done
ML_GID=$((LP_E2E_UID_BASE + 200))
KEYS_ID=$((LP_E2E_UID_BASE + 100))
{
	printf 'ml:x:%d:alice,carol,dave,erin\n' "$ML_GID" >>"$W/etc/group" &&
	printf 'lp-keys:x:%d:%d:lp e2e keys:/nonexistent:/usr/sbin/nologin\n' \
	    "$KEYS_ID" "$KEYS_ID" >>"$W/etc/passwd" &&
	printf 'lp-keys:x:%d:\n' "$KEYS_ID" >>"$W/etc/group" &&
	printf 'lp-keys:*:%d:0:99999:7:::\n' $(($(date +%s) / 86400)) \
	    >>"$W/etc/shadow"
} || lp_e2e_bail "groups ml and lp-keys"

# ------------------------------------------------------------ bastion files

# The index at the path nss_lp and lp-hop are built with, on an overlay
# of /var/lib that only this namespace sees.
lp_e2e__overlay /var/lib || lp_e2e_bail "overlay on /var/lib"
mkdir -p -m 0755 /var/lib/lp &&
"$LP_NODES" -c "$LP_E2E_CONFIG" -i "$INDEX" compile >/dev/null ||
    lp_e2e_bail "lp-nodes compile"

# nss_lp for hosts and services, found through a private ld.so.cache: a
# program with a file capability ignores LD_LIBRARY_PATH.  In a sanitizer
# build the module carries the sanitizer's runtime, which the machine's
# own ssh (run onward by lp-hop, asking for the service "ssh") cannot
# load: there, files answer services first, and nss_lp the node names
# that files do not know.
private_nss()
{
	services='lp files'
	[ -z "${LP_SANITIZED:-}" ] || services='files lp'
	sed -e '/^hosts:/d' -e '/^services:/d' /etc/nsswitch.conf \
	    >"$W/nsswitch.conf" &&
	printf 'hosts: files lp\nservices: %s\n' "$services" \
	    >>"$W/nsswitch.conf" &&
	printf '%s\ninclude /etc/ld.so.conf.d/*.conf\n' "$NSS_LIBS" \
	    >"$W/ld.so.conf" &&
	ldconfig -X -C "$W/ld.so.cache" -f "$W/ld.so.conf" &&
	chmod 0644 "$W/nsswitch.conf" "$W/ld.so.cache" &&
	mount --bind "$W/nsswitch.conf" /etc/nsswitch.conf &&
	mount --bind "$W/ld.so.cache" /etc/ld.so.cache
}

bastion_pam()
{
	sed -n "/^auth[[:space:]]/{s|pam_lp_totp\\.so|$LP_E2E_MODULE config=$LP_E2E_CONFIG state_dir=$LP_E2E_STATE|;p;}" \
	    "$LP_E2E_ETC/pam.d/lp-sshd" >"$W/auth.lines" &&
	sed -n "s#^\\(\\(account\\|session\\)[[:space:]].*\\)pam_lp_tunnel\\.so#\\1$TUNNEL_MODULE config=$LP_E2E_CONFIG#p" \
	    "$LP_E2E_ETC/pam.d/lp-sshd" >"$W/tunnel.lines" || return 1
	[ "$(grep -c "$LP_E2E_MODULE" "$W/auth.lines")" = 1 ] &&
	[ "$(grep -c . "$W/tunnel.lines")" = 2 ] || return 1
	{
		cat "$W/auth.lines"
		echo 'account required pam_unix.so'
		grep '^account' "$W/tunnel.lines"
		echo 'session required pam_loginuid.so'
		echo 'session required pam_unix.so'
		grep '^session' "$W/tunnel.lines"
		echo 'password required pam_deny.so'
	} | lp_e2e_pam_service
}

# The shipped drop-in, with the test's lp-nodes and lp-hop copies and a
# known_hosts file for the nodes; each change is checked to apply.
bastion_dropin()
{
	src=$LP_E2E_ETC/sshd_config.d/lp-bastion.conf
	grep -qx '	ForceCommand /usr/bin/lp-hop' "$src" &&
	grep -qx '	AuthorizedKeysCommand /usr/sbin/lp-nodes authorized-keys %u %t %k' \
	    "$src" || return 1
	sed -e "s|^	ForceCommand /usr/bin/lp-hop\$|	ForceCommand $LP_HOP --known-hosts $W/known_nodes|" \
	    -e "s|^	AuthorizedKeysCommand /usr/sbin/lp-nodes |	AuthorizedKeysCommand $LP_NODES |" \
	    -e "s|^	ClientAliveInterval 5\$|	ClientAliveInterval 2|" \
	    "$src" >"$W/lp-bastion.conf" &&
	grep -q "^	ForceCommand $LP_HOP " "$W/lp-bastion.conf" &&
	grep -q "^	AuthorizedKeysCommand $LP_NODES " "$W/lp-bastion.conf"
}

bastion_sshd()
{
	lp_e2e_sshd_config && bastion_dropin || return 1
	{
		echo "ListenAddress $BAST_ADDR:22"
		echo "ListenAddress $BAST_NODE_ADDR:22"
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
	    "^Server listening on $BAST_NODE_ADDR port 22\\." "$LP_E2E_SSHD_LOG"
}

# ------------------------------------------------------------ node

# The node's sshd: its own loopback only; people's keys in a directory
# of the node's own, not in the bastion's homes.
node_sshd()
{
	mkdir -m 0755 "$W/node" "$W/node/keys" &&
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
AuthorizedKeysFile $W/node/keys/%u
StrictModes no
AllowTcpForwarding local
PermitTTY yes
PrintMotd no
LogLevel VERBOSE
EOF
	: >"$W/node/sshd.log"
	ip netns exec "$NODE" "$LP_E2E_SSHD" -D -f "$W/node/sshd_config" \
	    -E "$W/node/sshd.log" </dev/null >>"$W/node/sshd.err" 2>&1 &
	lp_e2e_track $!
	lp_e2e__wait_for 10 grep -q '^Server listening on 127.0.0.1 port 22\.' \
	    "$W/node/sshd.log"
}

# A VNC server on the node's loopback only, as a workstation runs one.
VNC_DISPLAY=$((40 + $(printf '%s' "$ID" | cksum | awk '{ print $1 % 50 }')))
node_vnc()
{
	in_node Xtigervnc ":$VNC_DISPLAY" -localhost -rfbport 5901 \
	    -SecurityTypes None -nolisten tcp -nolisten unix \
	    </dev/null >"$W/node/vnc.log" 2>&1 &
	lp_e2e_track $!
	lp_e2e__wait_for 10 listens "$NODE" 5901
}

start_node_tunnel()
{
	cat >"$W/node/lp-node-tunnel.conf" <<EOF
LP_BASTION=$BAST_NODE_ADDR
LP_BASTION_PORT=22
LP_TUNNEL_USER=$TUSER
LP_LISTEN=127.0.0.1
LP_PORT=22001
LP_KEY=$W/keys/gpu01
LP_KNOWN_HOSTS=$W/node/bastion_known_hosts
LP_ALIVE_INTERVAL=3
LP_ALIVE_COUNT=3
LP_RETRY_MAX=2
EOF
	printf '%s %s\n' "$BAST_NODE_ADDR" \
	    "$(cat "$W/ssh_host_ed25519_key.pub")" >"$W/node/bastion_known_hosts"
	LP_NODE_TUNNEL_CONF=$W/node/lp-node-tunnel.conf \
	    ip netns exec "$NODE" /bin/sh "$SCRIPT" \
	    </dev/null >>"$W/node/tunnel.log" 2>&1 &
	lp_e2e_track $!
	lp_e2e__wait_for 20 listens "$BAST" 22001
}

# ------------------------------------------------------------ person

# The person's side: an agent holding the key for the nodes (its file is
# removed once added: the key lives only in the agent), and the
# ~/.ssh/config that README.md and lp-hop(8) show, with the test's
# addresses and files.
person_setup()
{
	mkdir -m 0700 "$PD" || return 1
	in_person ssh-agent -a "$PD/agent.sock" -D </dev/null \
	    >"$PD/agent.log" 2>&1 &
	lp_e2e_track $!
	lp_e2e__wait_for 5 test -S "$PD/agent.sock" || return 1
	for u in alice bob carol dave erin frank; do
		ssh-keygen -q -t ed25519 -N '' -C "lp-e2e-$u-node" \
		    -f "$PD/$u-node" </dev/null &&
		SSH_AUTH_SOCK=$PD/agent.sock ssh-add -q "$PD/$u-node" \
		    2>/dev/null &&
		cp "$PD/$u-node.pub" "$W/node/keys/$u" &&
		rm -f "$PD/$u-node" || return 1
		cat >"$PD/config.$u" <<EOF
Host bastion
	HostName $BAST_ADDR
	User $u
	IdentityFile $W/keys/$u
	IdentitiesOnly yes
	IdentityAgent $PD/agent.sock
	ControlMaster auto
	ControlPath $PD/cm-%r@%h:%p
	ControlPersist 120
	UserKnownHostsFile $PD/known_hosts
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	NumberOfPasswordPrompts 1
	BatchMode no
	ConnectTimeout 10

Host gpu*
	ProxyCommand ssh -F $PD/config.$u -T bastion %h
	User $u
	IdentityAgent $PD/agent.sock
	IdentityFile none
	UserKnownHostsFile $PD/known_hosts
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	BatchMode no
EOF
	done
	# The bastion's host key, and the node's under its name.
	{
		printf '%s %s\n' "$BAST_ADDR" \
		    "$(cat "$W/ssh_host_ed25519_key.pub")"
		printf 'gpu01 %s\n' "$(cat "$W/node/ssh_host_ed25519_key.pub")"
	} >"$PD/known_hosts"
	# What the bastion pins interactive hops to, by node name.
	printf 'gpu01 %s\n' "$(cat "$W/node/ssh_host_ed25519_key.pub")" \
	    >"$W/known_nodes"
	chmod 0644 "$W/known_nodes"
}

# The ControlMaster a person's first hop left behind, stopped by PID.
stop_masters()
{
	for u in alice bob carol dave erin frank; do
		pid=$(SSH_AUTH_SOCK= in_person ssh -F "$PD/config.$u" -O check \
		    bastion 2>&1 | sed -n 's/^Master running (pid=\([0-9]*\)).*/\1/p')
		[ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null || :
	done
}

# ------------------------------------------------------------ setup

lp_e2e_private_run || lp_e2e_bail "private /run"
lp_e2e_syslog_start || lp_e2e_bail "syslog capture on /dev/log"
private_nss || lp_e2e_bail "private nsswitch.conf and ld.so.cache"
{
	lp_e2e_netns_add "$NODE" && lp_e2e_netns_add "$BAST" &&
	lp_e2e_netns_add "$PERS"
} || lp_e2e_bail "network namespaces"
lp_e2e_veth "$NODE" "lhn-$ID" "$NODE_ADDR/24" "$BAST" "lhb-$ID" \
    "$BAST_NODE_ADDR/24" || lp_e2e_bail "veth node-bastion"
lp_e2e_veth "$PERS" "lhp-$ID" "$PERS_ADDR/24" "$BAST" "lhq-$ID" \
    "$BAST_ADDR/24" || lp_e2e_bail "veth person-bastion"
bastion_pam || lp_e2e_bail "PAM service"
bastion_sshd || lp_e2e_bail "the bastion's sshd did not start"
node_sshd || lp_e2e_bail "the node's sshd did not start"
node_vnc || lp_e2e_bail "the node's VNC server did not start"
person_setup || lp_e2e_bail "the person's agent and config"
HOP_T0=$(date +%s)

# ------------------------------------------------------------ checks

check_dropin()
{
	cfg=$W/shipped_sshd_config
	{
		echo "Include $LP_E2E_ETC/sshd_config.d/lp-bastion.conf"
		echo "HostKey $W/ssh_host_ed25519_key"
	} >"$cfg"
	"$LP_E2E_SSHD" -T -f "$cfg" -C "user=alice,host=p,addr=192.0.2.1" \
	    >"$W/effective.alice" &&
	"$LP_E2E_SSHD" -T -f "$cfg" -C "user=$TUSER,host=n,addr=192.0.2.2" \
	    >"$W/effective.tunnel" || return 1
	for want in 'forcecommand /usr/bin/lp-hop' 'allowtcpforwarding no' \
	    'allowagentforwarding yes' 'permittty yes' \
	    'allowstreamlocalforwarding no' 'x11forwarding no'; do
		grep -qx "$want" "$W/effective.alice" || {
			lp_e2e_diag "sshd -T for alice lacks: $want"
			return 1
		}
	done
	grep -qx 'forcecommand /usr/sbin/nologin' "$W/effective.tunnel"
}
lp_e2e_check check_dropin \
    "the shipped drop-in forces lp-hop on people, with no forwarding but" \
    "the agent, and keeps nologin for the tunnel account"

check_capability()
{
	# auditctl answers only in the machine's PID namespace: the log
	# tells that the private auditd runs and the kernel sends to it.
	getcap "$LP_HOP" | grep -q 'cap_audit_write=ep' &&
	ausearch -if "$AUDIT_LOG" -m DAEMON_START >/dev/null 2>&1
}
lp_e2e_check check_capability \
    "lp-hop has cap_audit_write and the kernel's audit is on (the" \
    "test's own auditd)"

check_tunnel_up()
{
	start_node_tunnel || return 1
	lp_e2e__wait_for 5 test -f "$RUN_DIR/gpu01"
}
lp_e2e_check check_tunnel_up "gpu01's tunnel comes up on the bastion"

FIRST_MS=
check_relay_hop()
{
	lp_e2e_mark "$LP_E2E_SYSLOG"
	t0=$(now_ms)
	# shellcheck disable=SC2016
	pssh alice gpu01 'echo "on $SSH_CONNECTION as $(id -un)"' || {
		lp_e2e_diag "ssh gpu01: $(tail -n 3 "$SSH_ERR")"
		return 1
	}
	FIRST_MS=$(($(now_ms) - t0))
	lp_e2e_diag "first hop (login with key + code, then the node):" \
	    "${FIRST_MS} ms; node said: $(cat "$SSH_OUT")"
	grep -q '^on 127\.0\.0\.1 [0-9]* 127\.0\.0\.1 22 as alice$' \
	    "$SSH_OUT" &&
	[ "$(prompts)" = 1 ] &&
	grep -q "Accepted publickey for alice from 127.0.0.1 .*ED25519 $(ssh-keygen -lf "$PD/alice-node.pub" | cut -d' ' -f2)" \
	    "$W/node/sshd.log"
}
lp_e2e_check check_relay_hop \
    "ssh gpu01 with ProxyCommand through the bastion: one key + code" \
    "login there, then the node's own sshd, with the key in the agent"

check_no_key_on_bastion()
{
	[ ! -e "$PD/alice-node" ] &&
	! grep -rlq 'PRIVATE KEY' "$W/home" 2>/dev/null
}
lp_e2e_check check_no_key_on_bastion \
    "the node key exists only in the person's agent; no private key in" \
    "any home on the bastion"

check_second_hop_no_code()
{
	t0=$(now_ms)
	pssh alice gpu01 'echo second' || return 1
	lp_e2e_diag "second hop over the ControlMaster: $(($(now_ms) - t0)) ms"
	[ "$(cat "$SSH_OUT")" = second ] && [ "$(prompts)" = 0 ]
}
lp_e2e_check check_second_hop_no_code \
    "a second hop over the same ControlMaster connection asks no code"

check_vnc()
{
	port=$((5900 + VNC_DISPLAY))
	SSH_ASKPASS=$W/askpass SSH_ASKPASS_REQUIRE=force \
	    LP_E2E_ASKPASS_LOG=$LP_E2E_ASKPASS_LOG \
	    SSH_AUTH_SOCK=$PD/agent.sock in_person setsid ssh \
	    -F "$PD/config.alice" -N -o ExitOnForwardFailure=yes \
	    -L "127.0.0.1:$port:127.0.0.1:5901" gpu01 \
	    </dev/null >"$W/vnc-ssh.out" 2>&1 &
	vpid=$!
	lp_e2e_track "$vpid"
	lp_e2e__wait_for 20 listens "$PERS" "$port" || return 1
	# shellcheck disable=SC2016
	b=$(in_person timeout 5 perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1",
		    PeerPort => $ARGV[0], Timeout => 3) or exit 2;
		sysread($s, my $b, 12) == 12 or exit 3;
		$b =~ s/\n\z//;
		print "$b\n";' "$port") || return 1
	lp_e2e__stop_pid "$vpid"
	lp_e2e__untrack "$vpid"
	lp_e2e_diag "through ssh -L inside the hop: $b"
	case $b in
	'RFB 003.00'[0-9]) ;;
	*) return 1 ;;
	esac
	# Nothing listens for VNC on the bastion.
	[ -z "$(listening "$BAST" 5901)" ]
}
lp_e2e_check check_vnc \
    "VNC needs no bastion port: ssh -L inside the end-to-end session" \
    "reads the node's RFB banner"

# An interactive hop needs the agent forwarded on the connection that
# carries it; a ControlMaster forwards it only when the master itself was
# started with ForwardAgent, so dave's hop takes a connection of its own
# (-S none), and a code.
check_interactive()
{
	printf 'echo LP-MARK-$((6 * 7))\nexit\n' >"$W/typed"
	: >"$LP_E2E_ASKPASS_LOG"
	SSH_ASKPASS=$W/askpass SSH_ASKPASS_REQUIRE=force \
	    LP_E2E_ASKPASS_LOG=$LP_E2E_ASKPASS_LOG \
	    LP_E2E_ASKPASS_SECRET=$(lp_e2e_secret dave) \
	    SSH_AUTH_SOCK=$PD/agent.sock in_person timeout 60 setsid -w ssh \
	    -F "$PD/config.dave" -S none -tt -A bastion gpu01 \
	    <"$W/typed" >"$SSH_OUT" 2>"$SSH_ERR" || {
		lp_e2e_diag "ssh -t -A bastion gpu01: $(tail -n 3 "$SSH_ERR")"
		return 1
	}
	grep -q 'LP-MARK-42' "$SSH_OUT" && [ "$(prompts)" = 1 ] &&
	grep -q "Accepted publickey for dave from 127.0.0.1 .*ED25519 $(ssh-keygen -lf "$PD/dave-node.pub" | cut -d' ' -f2)" \
	    "$W/node/sshd.log"
}
lp_e2e_check check_interactive \
    "ssh -t -A bastion gpu01: lp-hop runs ssh onward with the forwarded" \
    "agent, pinned to gpu01's host key, and a shell on the node answers"

check_interactive_no_agent()
{
	rc=0
	SSH_ASKPASS=$W/askpass SSH_ASKPASS_REQUIRE=force \
	    LP_E2E_ASKPASS_LOG=$LP_E2E_ASKPASS_LOG \
	    SSH_AUTH_SOCK=$PD/agent.sock in_person timeout 60 setsid -w ssh \
	    -F "$PD/config.alice" -tt bastion gpu01 \
	    <"$W/typed" >"$SSH_OUT" 2>"$SSH_ERR" || rc=$?
	[ "$rc" != 0 ] && ! grep -q 'LP-MARK-42' "$SSH_OUT" &&
	grep -q 'needs a forwarded agent' "$SSH_OUT" "$SSH_ERR"
}
lp_e2e_check check_interactive_no_agent \
    "an interactive hop without a forwarded agent is refused and told why"

# erin's interactive hop meets a node whose host key is not the one
# /etc/lp/known_hosts (here known_nodes) pins for gpu01.
check_interactive_pinned()
{
	cp "$W/known_nodes" "$W/known_nodes.good" &&
	printf 'gpu01 %s\n' "$(cat "$W/ssh_host_ed25519_key.pub")" \
	    >"$W/known_nodes" || return 1
	rc=0
	SSH_ASKPASS=$W/askpass SSH_ASKPASS_REQUIRE=force \
	    LP_E2E_ASKPASS_LOG=$LP_E2E_ASKPASS_LOG \
	    LP_E2E_ASKPASS_SECRET=$(lp_e2e_secret erin) \
	    SSH_AUTH_SOCK=$PD/agent.sock in_person timeout 60 setsid -w ssh \
	    -F "$PD/config.erin" -S none -tt -A bastion gpu01 \
	    <"$W/typed" >"$SSH_OUT" 2>"$SSH_ERR" || rc=$?
	cp "$W/known_nodes.good" "$W/known_nodes" || return 1
	[ "$rc" != 0 ] && ! grep -q 'LP-MARK-42' "$SSH_OUT" &&
	grep -q 'Host key verification failed' "$SSH_OUT" "$SSH_ERR" &&
	! grep -q 'Accepted publickey for erin' "$W/node/sshd.log"
}
lp_e2e_check check_interactive_pinned \
    "an interactive hop to a node whose host key is not the pinned one" \
    "stops before any login there"

# refused USER REQUEST REASON MESSAGE: the hop is refused with MESSAGE
# (a fixed string) on stderr and REASON in a failed USER_START record.
refused()
{
	rf_rc=0
	pssh "$1" bastion "$2" || rf_rc=$?
	[ "$rf_rc" != 0 ] && [ "$(prompts)" = 0 ] || {
		lp_e2e_diag "request '$2': status $rf_rc, $(prompts) prompts"
		return 1
	}
	grep -qF -- "$4" "$SSH_ERR" || {
		lp_e2e_diag "request '$2': stderr: $(head -c 300 "$SSH_ERR")"
		return 1
	}
	lp_e2e__wait_for 3 sh -c "ausearch -if '$AUDIT_LOG' -m USER_START \
	    --success no -i 2>/dev/null | grep -q 'op=lp-hop .*reason=$3 '" || {
		lp_e2e_diag "no failed USER_START with reason=$3"
		return 1
	}
}

check_refuse_unknown()
{
	refused alice gpu99 unknown_node 'lp-hop: gpu99: no such node'
}
lp_e2e_check check_refuse_unknown "an unknown node is refused"

check_refuse_disabled()
{
	refused alice gpu02 node_disabled 'lp-hop: gpu02: the node is disabled'
}
lp_e2e_check check_refuse_disabled "a disabled node is refused"

check_refuse_down()
{
	refused alice gpu03 tunnel_down 'lp-hop: gpu03: tunnel is down'
}
lp_e2e_check check_refuse_down "a node whose tunnel is down is refused"

# bob logs in (his code), but is in none of gpu01's groups.
check_refuse_group_login()
{
	rf_rc=0
	pssh bob bastion gpu01 || rf_rc=$?
	[ "$rf_rc" != 0 ] && [ "$(prompts)" = 1 ] &&
	grep -qF "lp-hop: gpu01: you are in none of the node's groups" \
	    "$SSH_ERR" &&
	lp_e2e__wait_for 3 sh -c "ausearch -if '$AUDIT_LOG' -m USER_START \
	    --success no -i 2>/dev/null |
	    grep -q 'op=lp-hop acct=bob node=gpu01 .*reason=not_allowed '"
}
lp_e2e_check check_refuse_group_login \
    "a person in none of the node's groups is refused"

check_refuse_words()
{
	refused alice 'gpu01 extra' extra_words \
	    'lp-hop: expected one node name, got 2 words'
}
lp_e2e_check check_refuse_words "a request of two words is refused"

check_refuse_semicolon()
{
	refused alice 'gpu01;id' bad_characters \
	    "lp-hop: ';' cannot be in a node name"
}
lp_e2e_check check_refuse_semicolon "a request with ';' is refused"

check_refuse_substitution()
{
	# shellcheck disable=SC2016
	refused alice '$(id)' bad_characters \
	    "lp-hop: '\$' cannot be in a node name"
}
lp_e2e_check check_refuse_substitution "a request with \$(...) is refused"

check_refuse_long()
{
	refused alice "$(printf 'g%.0s' $(seq 1 300))" too_long \
	    'lp-hop: request longer than 63 bytes'
}
lp_e2e_check check_refuse_long "a request of 300 characters is refused"

check_refuse_empty()
{
	refused alice '' empty 'lp-hop: no node named; usage: ssh BASTION NODE'
}
lp_e2e_check check_refuse_empty "an empty request (no command) is refused"

check_no_shell()
{
	rf_rc=0
	pssh alice bastion 'id' || rf_rc=$?
	[ "$rf_rc" != 0 ] && ! grep -q 'uid=' "$SSH_OUT"
}
lp_e2e_check check_no_shell "a person gets no shell command on the bastion"

check_no_forwarding()
{
	rf_rc=0
	pssh carol -W 127.0.0.1:22001 bastion </dev/null || rf_rc=$?
	[ "$rf_rc" != 0 ] && [ "$(prompts)" = 1 ] &&
	grep -q 'forwarding request failed' "$SSH_ERR" &&
	grep -q 'refused local port forward: .*target 127.0.0.1 port 22001' \
	    "$LP_E2E_SSHD_LOG"
}
lp_e2e_check check_no_forwarding \
    "a person's own forward (ssh -W, unaudited) is refused by sshd"

# Without the capability, lp-hop cannot write its record while the
# kernel's audit is on, and refuses the hop.
check_refuse_without_audit()
{
	setcap -r "$LP_HOP" || return 1
	rc=0
	pssh alice gpu01 'echo through' || rc=$?
	setcap cap_audit_write+ep "$LP_HOP" || return 1
	[ "$rc" != 0 ] && ! grep -q through "$SSH_OUT" &&
	grep -q 'audit' "$SSH_ERR"
}
lp_e2e_check check_refuse_without_audit \
    "without cap_audit_write the record cannot be written, and the hop" \
    "is refused"

# frank types wrong codes until his account locks.
check_lockout()
{
	for i in 1 2 3; do
		: >"$LP_E2E_ASKPASS_LOG"
		printf '000000\n' >"$W/wrong.code"
		SSH_ASKPASS=$W/askpass SSH_ASKPASS_REQUIRE=force \
		    LP_E2E_ASKPASS_LOG=$LP_E2E_ASKPASS_LOG \
		    LP_E2E_ASKPASS_CODE=$W/wrong.code \
		    in_person timeout 30 setsid -w ssh -F "$PD/config.frank" \
		    -S none bastion gpu01 </dev/null >"$SSH_OUT" 2>"$SSH_ERR" &&
		    return 1
		grep -q 'Permission denied' "$SSH_ERR" || return 1
	done
	logged "pam_lp_totp.*user=frank .*reason=bad_code( |\$)"
}
lp_e2e_check check_lockout "three wrong codes lock frank's account"

# ------------------------------------------------------------ the audit log

stop_masters
sleep 1

# ends_with_bytes: every lp-hop USER_END of alice to gpu01 carries the
# bytes each way and the duration, and at least one moved bytes.
check_audit_hops()
{
	hop_records USER_START >"$W/starts"
	hop_records USER_END >"$W/ends"
	lp_e2e_diag "lp-hop records: $(grep -c . "$W/starts") starts," \
	    "$(grep -c . "$W/ends") ends"
	ok_starts=$(grep -c "acct=alice node=gpu01 port=22001 .*res=success" \
	    "$W/starts" || :)
	# Two commands and the VNC session through alice's ProxyCommand.
	[ "$ok_starts" = 3 ] || {
		lp_e2e_diag "alice's successful starts for gpu01: $ok_starts"
		return 1
	}
	ends='node=gpu01 port=22001 .*sent=[1-9][0-9]* received=[1-9][0-9]* duration_ms=[0-9]* .*res=success'
	[ "$(grep -c "acct=alice $ends" "$W/ends")" = 3 ] &&
	[ "$(grep -c "acct=dave $ends" "$W/ends")" = 1 ] &&
	grep -q "acct=erin node=gpu01 .*reason=ssh_failed .*res=failed" \
	    "$W/ends" &&
	grep -q "acct=alice .*addr=$PERS_ADDR .*res=success" "$W/starts"
}
lp_e2e_check check_audit_hops \
    "ausearch: the hops to gpu01 started and ended, each end with bytes" \
    "each way and a duration, from the person's address; the hop to a" \
    "wrongly keyed node ended as failed"

check_audit_refusals()
{
	for why in unknown_node node_disabled tunnel_down not_allowed \
	    extra_words bad_characters too_long empty; do
		grep -q "reason=$why .*res=failed" "$W/starts" || {
			lp_e2e_diag "no refusal record reason=$why"
			return 1
		}
	done
	grep -q 'acct=bob node=gpu01 .*reason=not_allowed' "$W/starts"
}
lp_e2e_check check_audit_refusals \
    "ausearch: every refusal is recorded with its reason"

check_audit_totp()
{
	audit_records -m USER_AUTH | grep 'op=lp-totp ' >"$W/totp.records" || :
	grep -q 'acct=alice .*res=success' "$W/totp.records" &&
	grep -q 'acct=bob .*res=success' "$W/totp.records" &&
	aureport -if "$AUDIT_LOG" --auth -i 2>/dev/null >"$W/aureport.auth" &&
	grep -q ' alice ' "$W/aureport.auth"
}
lp_e2e_check check_audit_totp \
    "ausearch and aureport --auth: the TOTP logins of alice and bob"

check_audit_tunnel()
{
	audit_records -m USER_START | grep 'op=lp-tunnel ' >"$W/tun" || :
	grep -q "acct=$TUSER node=gpu01 port=22001 .*addr=$NODE_ADDR .*res=success" \
	    "$W/tun"
}
lp_e2e_check check_audit_tunnel \
    "ausearch: gpu01's tunnel up, from the node's address"

check_audit_by_node()
{
	# Every hop to a node, as lp-audit(8) asks it.
	n=$(ausearch -if "$AUDIT_LOG" -m USER_START,USER_END -i 2>/dev/null |
	    grep -c 'op=lp-hop .*node=gpu01 ' || :)
	lp_e2e_diag "records of hops to gpu01: $n"
	[ "$n" -ge 8 ]
}
lp_e2e_check check_audit_by_node "ausearch: every hop to gpu01"

# The auditors' queries of lp-audit(8), run as written there but for the
# log file (-if) and the path of this test's lp-hop (-x).
count() { grep -c . || :; }
check_auditors_queries()
{
	q=$W/query
	ausearch -if "$AUDIT_LOG" -m USER_START,USER_END -x "$LP_HOP" -i \
	    2>/dev/null | grep -E 'op=lp-hop acct=alice ' >"$q.person" || :
	ausearch -if "$AUDIT_LOG" -m USER_START,USER_END -x "$LP_HOP" \
	    -ul alice -i 2>/dev/null | grep 'op=lp-hop' >"$q.auid" || :
	ausearch -if "$AUDIT_LOG" -m USER_START,USER_END -x "$LP_HOP" -i \
	    2>/dev/null | grep -E 'op=lp-hop .* node=gpu01 ' >"$q.node" || :
	ausearch -if "$AUDIT_LOG" -m USER_START,USER_END -x "$LP_HOP" \
	    -hn "$PERS_ADDR" -i 2>/dev/null >"$q.addr" || :
	ausearch -if "$AUDIT_LOG" -m USER_START -x "$LP_HOP" --success no \
	    -i 2>/dev/null >"$q.refused" || :
	ausearch -if "$AUDIT_LOG" -m USER_AUTH --success no -i 2>/dev/null |
	    grep -E 'op=lp-totp ' >"$q.codes" || :
	aureport -if "$AUDIT_LOG" --auth --failed -i 2>/dev/null \
	    >"$q.aureport" || :
	ausearch -if "$AUDIT_LOG" -m ANOM_LOGIN_FAILURES -i 2>/dev/null |
	    grep -E 'op=lp-totp ' >"$q.lockouts" || :
	ausearch -if "$AUDIT_LOG" -m USER_START,USER_END -i 2>/dev/null |
	    grep -E 'op=lp-tunnel .* node=gpu01 ' >"$q.tunnel" || :
	ausearch -if "$AUDIT_LOG" -m USER_MGMT -i 2>/dev/null |
	    grep -E 'op=lp-enroll-totp ' >"$q.enrol" || :
	ausearch -if "$AUDIT_LOG" -m USYS_CONFIG -i 2>/dev/null |
	    grep -E 'op=lp-nodes ' >"$q.index" || :
	lp_e2e_diag "alice's hop records $(count <"$q.person")," \
	    "by her login uid $(count <"$q.auid"), to gpu01" \
	    "$(count <"$q.node"), from her address $(count <"$q.addr")," \
	    "refused $(count <"$q.refused"), failed codes" \
	    "$(count <"$q.codes"), lockouts $(count <"$q.lockouts")," \
	    "tunnel $(count <"$q.tunnel"), enrolments $(count <"$q.enrol")," \
	    "index builds $(count <"$q.index")"
	# alice: 3 hops started and ended, 8 refusals, 1 without agent;
	# to gpu01 also dave (2), erin (2) and bob (1).
	[ "$(grep -c 'res=success' "$q.person")" = 6 ] &&
	[ "$(count <"$q.auid")" = "$(count <"$q.person")" ] &&
	[ "$(count <"$q.node")" = 12 ] &&
	[ "$(count <"$q.addr")" -ge "$(count <"$q.node")" ] &&
	grep -q 'reason=not_allowed' "$q.refused" &&
	[ "$(grep -c 'acct=frank .*reason=bad_code' "$q.codes")" = 3 ] &&
	grep -q ' frank ' "$q.aureport" &&
	[ "$(grep -c 'acct=frank .*reason=locked' "$q.lockouts")" = 1 ] &&
	grep -q "acct=$TUSER node=gpu01 port=22001 " "$q.tunnel" &&
	for u in alice bob carol dave erin frank; do
		grep -q "acct=$u .*reason=enrolled .*res=success" "$q.enrol" ||
		    return 1
	done &&
	grep -q 'reason=compiled nodes=3 .*res=success' "$q.index"
}
lp_e2e_check check_auditors_queries \
    "lp-audit(8)'s queries find this run's hops by person, login uid," \
    "node and address, the refusals, failed codes, the lockout, the" \
    "tunnel, the enrolments and the index build"

lp_e2e_diag "figures: first hop ${FIRST_MS:-?} ms; audit log" \
    "$(wc -c <"$AUDIT_LOG") bytes"
lp_e2e_finish
