#!/bin/sh
# End to end: a person reaches a node through the bastion with plain
# OpenSSH, and every hop is audited.
#
# The topology is tests/e2e/path-lib.sh's: three network namespaces made
# by the test, "person", "bastion" (the shipped drop-in, lp-hop as the
# people's forced command) and "node" (its own sshd on its loopback, and
# here a VNC server too, lp-node-tunnel keeping the reverse tunnel).  The
# person's key for the node lives only in the person's agent and in the
# node's authorized keys; the bastion holds no private key.
#
# Auditing for real: before entering its namespaces, the test starts its
# own auditd with a private configuration and log (lp_path_auditd), and
# stops it by its PID when the test ends, however it ends, with the
# kernel's audit enable flag put back as it was found.  The auditors'
# queries of lp-audit(8) then run with ausearch -if and aureport -if on
# that log.
set -eu

if [ -z "${LP_E2E_INNER:-}" ] && [ "$(id -u)" -eq 0 ]; then
	# shellcheck source=tests/e2e/path-lib.sh
	. "${LP_TEST_SRCDIR:?}/e2e/path-lib.sh"
	rc=0
	lp_path_auditd hop || rc=$?
	if [ "$rc" -eq 77 ]; then
		echo "SKIP: e2e-hop: no kernel audit here, or an auditd runs"
		exit 77
	elif [ "$rc" -ne 0 ]; then
		echo "e2e-hop: the private auditd did not start"
		exit 1
	fi
fi

# shellcheck source=tests/e2e/lib.sh
. "${LP_TEST_SRCDIR:?}/e2e/lib.sh"
# shellcheck source=tests/e2e/path-lib.sh
. "$LP_TEST_SRCDIR/e2e/path-lib.sh"
lp_e2e_init hop "$@"
lp_e2e_netns_traps
lp_path_init
AUDIT_LOG=${LP_PATH_AUDIT_LOG:?}
export LC_ALL=C
for t in ausearch aureport Xtigervnc; do
	command -v "$t" >/dev/null 2>&1 || lp_e2e_bail "$t not found"
done

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
lp_path_accounts alice bob carol dave erin frank &&
lp_path_enrol alice bob carol dave erin frank ||
    lp_e2e_bail "accounts and enrolments"
lp_path_group ml alice carol dave erin || lp_e2e_bail "group ml"

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

# ------------------------------------------------------------ setup

lp_e2e_private_run || lp_e2e_bail "private /run"
lp_e2e_syslog_start || lp_e2e_bail "syslog capture on /dev/log"
lp_path_index || lp_e2e_bail "the index at $INDEX"
lp_path_nss || lp_e2e_bail "private nsswitch.conf and ld.so.cache"
lp_path_network || lp_e2e_bail "network namespaces"
lp_path_bastion_pam || lp_e2e_bail "PAM service"
lp_path_bastion_sshd || lp_e2e_bail "the bastion's sshd did not start"
lp_path_node_sshd || lp_e2e_bail "the node's sshd did not start"
node_vnc || lp_e2e_bail "the node's VNC server did not start"
lp_path_person || lp_e2e_bail "the person's agent and config"

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
	lp_path_node_tunnel || return 1
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
	    'lp-hop: request longer than 255 bytes'
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

lp_path_stop_masters
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
