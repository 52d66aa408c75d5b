# The whole path, person -> bastion -> node, for tests/e2e/hop.sh and
# ci/demo; sourced after tests/e2e/lib.sh.
#
# Three network namespaces: "person" (ssh and ssh-agent), "bastion"
# (sshd with the shipped drop-in: people's forced command lp-hop,
# lp-nodes as the tunnel account's key command, the project's PAM stack)
# and "node" (its own sshd on its loopback only, lp-node-tunnel keeping
# the reverse tunnel).  lp-hop resolves nodes through nss_lp (a private
# nsswitch.conf and ld.so.cache, bind-mounted) from the index at its
# compiled-in path (an overlay on /var/lib), and has cap_audit_write on a
# copy on a tmpfs.
#
# Audit control is taken only from the machine's first PID namespace, so
# the private auditd (lp_path_auditd) starts in the outer half, before
# lp_e2e_init, under a machine-wide lock so that two never run at once;
# it is stopped by its PID on every exit path, and the kernel's audit
# enable flag put back as it was found.

# ------------------------------------------------------------ auditd

lp_path_audit_stop()
{
	if [ -n "${LP_PATH_AUDITD_PID:-}" ]; then
		kill -TERM "$LP_PATH_AUDITD_PID" 2>/dev/null || :
		n=0
		while kill -0 "$LP_PATH_AUDITD_PID" 2>/dev/null && [ "$n" -lt 50 ]
		do
			sleep 0.1
			n=$((n + 1))
		done
		kill -KILL "$LP_PATH_AUDITD_PID" 2>/dev/null || :
		wait "$LP_PATH_AUDITD_PID" 2>/dev/null || :
		LP_PATH_AUDITD_PID=
	fi
	if [ -n "${LP_PATH_AUDIT_WAS:-}" ]; then
		auditctl -e "$LP_PATH_AUDIT_WAS" >/dev/null 2>&1 ||
		    echo "# could not put audit enabled back to $LP_PATH_AUDIT_WAS"
		LP_PATH_AUDIT_WAS=
	fi
	[ -z "${LP_PATH_AUDIT_DIR:-}" ] || rm -rf "$LP_PATH_AUDIT_DIR"
}

# Starts the private auditd; LP_PATH_AUDIT_LOG names its log.  Returns 77
# when this machine cannot run one (no audit in the kernel, or an auditd
# of its own already running), 1 on a failure.
lp_path__audit_start()
{
	command -v auditd >/dev/null 2>&1 && command -v auditctl >/dev/null &&
	    command -v ausearch >/dev/null || return 77
	st=$(auditctl -s 2>/dev/null) || return 77
	[ "$(echo "$st" | awk '$1 == "pid" { print $2 }')" = 0 ] || return 77
	LP_PATH_AUDIT_WAS=$(echo "$st" | awk '$1 == "enabled" { print $2 }')
	case $LP_PATH_AUDIT_WAS in
	0|1) ;;
	*) LP_PATH_AUDIT_WAS=; return 77 ;;	# 2: locked, not ours to change
	esac
	LP_PATH_AUDIT_DIR=$(mktemp -d /tmp/lp-e2e-audit.XXXXXX)
	mkdir -m 0750 "$LP_PATH_AUDIT_DIR/plugins" "$LP_PATH_AUDIT_DIR/log"
	cat >"$LP_PATH_AUDIT_DIR/auditd.conf" <<EOF
local_events = yes
write_logs = yes
log_file = $LP_PATH_AUDIT_DIR/log/audit.log
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
plugin_dir = $LP_PATH_AUDIT_DIR/plugins
end_of_event_timeout = 2
EOF
	chmod 0640 "$LP_PATH_AUDIT_DIR/auditd.conf"
	auditd -n -s enable -c "$LP_PATH_AUDIT_DIR" </dev/null \
	    >"$LP_PATH_AUDIT_DIR/auditd.out" 2>&1 &
	LP_PATH_AUDITD_PID=$!
	n=0
	while [ "$n" -lt 100 ]; do
		if auditctl -s 2>/dev/null |
		    grep -qx "pid $LP_PATH_AUDITD_PID"; then
			LP_PATH_AUDIT_LOG=$LP_PATH_AUDIT_DIR/log/audit.log
			return 0
		fi
		kill -0 "$LP_PATH_AUDITD_PID" 2>/dev/null || break
		sleep 0.1
		n=$((n + 1))
	done
	cat "$LP_PATH_AUDIT_DIR/auditd.out" >&2
	return 1
}

# lp_path_auditd NAME: in the outer half (before lp_e2e_init), as root,
# starts the private auditd under the machine-wide lock and arranges for
# it to stop on every exit path.  LP_PATH_AUDIT_LOG (exported) names its
# log.  Returns 77 when this machine cannot run one, 1 on a failure.
lp_path_auditd()
{
	exec 9>/tmp/lp-e2e-auditd.lock
	if ! flock -w 300 9; then
		echo "e2e-$1: another private auditd held the lock for 300 s"
		return 1
	fi
	LP_PATH_AUDITD_PID=
	LP_PATH_AUDIT_WAS=
	LP_PATH_AUDIT_DIR=
	trap 'lp_path_audit_stop' EXIT
	trap 'lp_path_audit_stop; exit 130' INT
	trap 'lp_path_audit_stop; exit 143' TERM
	trap 'lp_path_audit_stop; exit 129' HUP
	lp_path__audit_start || return
	export LP_PATH_AUDIT_LOG
}

# ------------------------------------------------------------ setup

# lp_path_init: after lp_e2e_init and lp_e2e_netns_traps; names the
# namespaces, addresses and programs, copies lp-nodes and lp-hop where
# sshd accepts them, and gives the lp-hop copy cap_audit_write.
lp_path_init()
{
	W=$LP_E2E_WORK
	ID=${W##*.}
	NODE=lp-e2e-n-$ID
	BAST=lp-e2e-b-$ID
	PERS=lp-e2e-p-$ID
	NODE_ADDR=198.18.2.1
	BAST_NODE_ADDR=198.18.2.2
	PERS_ADDR=198.18.3.1
	BAST_ADDR=198.18.3.2
	TUSER=lp-tunnel
	RUN_DIR=/run/lp/tunnels
	INDEX=$(lp_path_index_path) || lp_e2e_bail "no LP_INDEX_PATH in config.h"
	TUNNEL_MODULE=$LP_TEST_BUILDDIR/.libs/pam_lp_tunnel.so
	NSS_LIBS=$LP_TEST_BUILDDIR/.libs
	SCRIPT=$LP_TEST_SRCDIR/../utils/lp-node-tunnel
	SSH_OUT=$LP_E2E_SSH_OUT
	SSH_ERR=$LP_E2E_SSH_ERR
	PD=$W/person

	for t in ip ss ssh-agent ssh-add setcap getcap ldconfig; do
		command -v "$t" >/dev/null 2>&1 ||
		    lp_e2e_bail "$t not found"
	done
	for f in "$TUNNEL_MODULE" "$LP_E2E_MODULE" "$NSS_LIBS/libnss_lp.so.2"
	do
		[ -f "$f" ] || lp_e2e_bail "$f is not built"
	done
	for f in "$LP_E2E_ENROLL" "$LP_TEST_BUILDDIR/lp-nodes" \
	    "$LP_TEST_BUILDDIR/lp-hop"; do
		[ -x "$f" ] || lp_e2e_bail "$f is not built"
	done
	LP_NODES=$(lp_e2e_safe_bin "$LP_TEST_BUILDDIR/lp-nodes") ||
	    lp_e2e_bail "a safe path for the AuthorizedKeysCommand"
	# The copy that sshd runs: a program with a file capability must
	# not sit in a directory its users can write.
	LP_HOP=$(lp_e2e_safe_bin "$LP_TEST_BUILDDIR/lp-hop") ||
	    lp_e2e_bail "a copy of lp-hop"
	setcap cap_audit_write+ep "$LP_HOP" ||
	    lp_e2e_bail "setcap on $LP_HOP"
}

# lp_path_accounts PERSON...: the tunnel account, the people, and
# lp-keys, which runs the key command.  LP_PATH_PEOPLE lists the people.
lp_path_accounts()
{
	LP_PATH_PEOPLE=$*
	for u in "$TUSER" "$@"; do
		lp_e2e_add_user "$u" || return 1
	done
	id=$((LP_E2E_UID_BASE + 100))
	printf 'lp-keys:x:%d:%d:lp e2e keys:/nonexistent:/usr/sbin/nologin\n' \
	    "$id" "$id" >>"$W/etc/passwd" &&
	printf 'lp-keys:x:%d:\n' "$id" >>"$W/etc/group" &&
	printf 'lp-keys:*:%d:0:99999:7:::\n' $(($(date +%s) / 86400)) \
	    >>"$W/etc/shadow"
}

# lp_path_enrol PERSON...: enrols each with lp-enroll-totp --uri-only.
lp_path_enrol()
{
	for u in "$@"; do
		lp_e2e_enroll "$u" || return 1
	done
}

# lp_path_group NAME MEMBER...: a group of the private group file.
lp_path_group()
{
	LP_PATH_GROUPS=$((${LP_PATH_GROUPS:-0} + 1))
	name=$1
	shift
	printf '%s:x:%d:%s\n' "$name" \
	    $((LP_E2E_UID_BASE + 200 + LP_PATH_GROUPS)) \
	    "$(echo "$*" | tr ' ' ',')" >>"$W/etc/group"
}

# lp_path_network: the three namespaces, and veth pairs node-bastion and
# person-bastion.
lp_path_network()
{
	lp_e2e_netns_add "$NODE" && lp_e2e_netns_add "$BAST" &&
	lp_e2e_netns_add "$PERS" &&
	lp_e2e_veth "$NODE" "lpn-$ID" "$NODE_ADDR/24" "$BAST" "lpb-$ID" \
	    "$BAST_NODE_ADDR/24" &&
	lp_e2e_veth "$PERS" "lpp-$ID" "$PERS_ADDR/24" "$BAST" "lpq-$ID" \
	    "$BAST_ADDR/24"
}

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

# ------------------------------------------------------------ bastion

# lp_path_index_path: where this build's nss_lp and lp-hop look for the
# index (LP_INDEX_PATH in config.h).
lp_path_index_path()
{
	sed -n 's/^#define LP_INDEX_PATH "\(.*\)"$/\1/p' \
	    "$LP_TEST_BUILDDIR/config.h" | grep .
}

# lp_path_index: the index at the path nss_lp and lp-hop are built with
# ($INDEX), compiled by $LP_NODES from
# the policy, on an overlay of the nearest directory above it that
# exists (/var/lib on a usual build), which only this namespace sees.
lp_path_index()
{
	lp_path__d=$(dirname "$INDEX")
	lp_path__a=$lp_path__d
	while [ ! -d "$lp_path__a" ]; do
		lp_path__a=$(dirname "$lp_path__a")
	done
	lp_e2e__overlay "$lp_path__a" && mkdir -p -m 0755 "$lp_path__d" &&
	"$LP_NODES" -c "$LP_E2E_CONFIG" -i "$INDEX" compile >/dev/null
}

# nss_lp for hosts and services, found through a private ld.so.cache: a
# program with a file capability ignores LD_LIBRARY_PATH.  In a sanitizer
# build the module carries the sanitizer's runtime, which the machine's
# own ssh (run onward by lp-hop, asking for the service "ssh") cannot
# load: there, files answer services first, and nss_lp the node names
# that files do not know.
lp_path_nss()
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

lp_path_bastion_pam()
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
lp_path_bastion_dropin()
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

lp_path_bastion_sshd()
{
	lp_e2e_sshd_config && lp_path_bastion_dropin || return 1
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
lp_path_node_sshd()
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

# lp_path_node_tunnel: gpu01 (key $W/keys/gpu01, port 22001) runs
# lp-node-tunnel; returns once the bastion listens on its port.
lp_path_node_tunnel()
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

# The person's side, for each of $LP_PATH_PEOPLE: an agent holding the
# key for the nodes (its file is removed once added: the key lives only in
# the agent), the node's authorized key, and the ~/.ssh/config that
# README.md and lp-hop(8) show, with the test's addresses and files.
lp_path_person()
{
	mkdir -m 0700 "$PD" || return 1
	in_person ssh-agent -a "$PD/agent.sock" -D </dev/null \
	    >"$PD/agent.log" 2>&1 &
	lp_e2e_track $!
	lp_e2e__wait_for 5 test -S "$PD/agent.sock" || return 1
	for u in $LP_PATH_PEOPLE; do
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
lp_path_stop_masters()
{
	for u in $LP_PATH_PEOPLE; do
		pid=$(SSH_AUTH_SOCK= in_person ssh -F "$PD/config.$u" -O check \
		    bastion 2>&1 | sed -n 's/^Master running (pid=\([0-9]*\)).*/\1/p')
		[ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null || :
	done
}

