#!/bin/sh
# End to end: a person logs in to a real sshd with a real ssh client, key
# first, then a TOTP code that pam_lp_totp checks.  The sshd uses the
# shipped drop-in (etc/sshd_config.d/lp-bastion.conf) and the shipped PAM
# line (etc/pam.d/lp-sshd), with the module and policy of this build.
# Codes come from oathtool, an implementation independent of ours.
#
# Accounts: alice (right code, wrong code, replay), bob (a stranger's key,
# then his own), carol (lockout), dave (exists, never enrolled).
set -eu

. "${LP_TEST_SRCDIR:?}/e2e/lib.sh"
lp_e2e_init login "$@"

W=$LP_E2E_WORK
MAX_FAILURES=3
PROMPT='Verification code: '

[ -f "$LP_E2E_MODULE" ] || lp_e2e_bail "$LP_E2E_MODULE is not built"
[ -x "$LP_E2E_ENROLL" ] || lp_e2e_bail "$LP_E2E_ENROLL is not built"

# Every code typed during the test, right or wrong: none may be logged.
used_codes=

# ------------------------------------------------------------ setup

lp_e2e_policy <<EOF || lp_e2e_bail "policy file"
totp:
  issuer: lp-e2e
  max_failures: $MAX_FAILURES
  lockout: 300
EOF
for u in alice bob carol dave; do
	lp_e2e_add_user "$u" || lp_e2e_bail "account $u"
done
lp_e2e_new_key stranger || lp_e2e_bail "stranger's key"
for u in alice bob carol; do
	lp_e2e_enroll "$u" || lp_e2e_bail "lp-enroll-totp --uri-only $u"
	case $LP_E2E_URI in
	"otpauth://totp/lp-e2e:$u?"*) ;;
	*) lp_e2e_bail "the URI of $u names another issuer or account" ;;
	esac
done

lp_e2e_bastion_pam || lp_e2e_bail "PAM service"
lp_e2e_syslog_start || lp_e2e_bail "syslog capture on /dev/log"
lp_e2e_bastion_sshd || lp_e2e_bail "sshd did not start"

# ------------------------------------------------------------ helpers

key()
{
	echo "$W/keys/$1"
}

# try_login USER KEY CODE: one login that runs a command printing the
# account's name.  Notes CODE as used, and keeps what the client printed
# and was asked in $W/client.log.
try_login()
{
	used_codes="$used_codes $3"
	lp_e2e_mark "$LP_E2E_SSHD_LOG"
	lp_e2e_mark "$LP_E2E_SYSLOG"
	rc=0
	# shellcheck disable=SC2016
	lp_e2e_ssh -c "$3" "$1" "$2" 'echo "logged in as $(id -un)"' || rc=$?
	cat "$LP_E2E_ASKPASS_LOG" "$LP_E2E_SSH_OUT" "$LP_E2E_SSH_ERR" \
	    >>"$W/client.log"
	return "$rc"
}

# refused: ssh failed and was told so, and ran nothing.
refused()
{
	grep -q 'Permission denied' "$LP_E2E_SSH_ERR" &&
	    ! [ -s "$LP_E2E_SSH_OUT" ]
}

# prompted USER: the client was asked exactly once, with the module's
# prompt (ssh puts the account and host in front of it).
prompted()
{
	[ "$(cat "$LP_E2E_ASKPASS_LOG")" = "($1@127.0.0.1) $PROMPT" ]
}

# told: the first line the client printed, the message of the refusal.
told()
{
	head -n 1 "$LP_E2E_SSH_ERR" | tr -d '\r'
}

# sshd_said TEXT: sshd logged TEXT for the last connection.
sshd_said()
{
	lp_e2e_log_wait 3 "$LP_E2E_SSHD_LOG" "$1"
}

# ------------------------------------------------------------ checks

check_dropin()
{
	cfg=$W/debian_sshd_config
	{
		echo "Include $LP_E2E_ETC/sshd_config.d/lp-bastion.conf"
		# What Debian's own sshd_config sets after its Include line.
		echo 'KbdInteractiveAuthentication no'
		echo 'UsePAM yes'
		echo 'X11Forwarding yes'
		echo "HostKey $W/ssh_host_ed25519_key"
	} >"$cfg"
	"$LP_E2E_SSHD" -t -f "$cfg" || return 1
	"$LP_E2E_SSHD" -T -f "$cfg" \
	    -C user=alice,host=client.example,addr=192.0.2.1 >"$W/effective" ||
	    return 1
	for want in 'authenticationmethods publickey,keyboard-interactive' \
	    'kbdinteractiveauthentication yes' 'usepam yes' \
	    'passwordauthentication no' 'permitrootlogin no' \
	    'x11forwarding no' 'allowtcpforwarding no' \
	    'allowstreamlocalforwarding no'; do
		grep -qx "$want" "$W/effective" || {
			lp_e2e_diag "sshd -T lacks: $want"
			return 1
		}
	done
}
lp_e2e_check check_dropin \
    "the shipped sshd drop-in, read before Debian's settings, asks key" \
    "then code, never a password"

alice_code=
bad_code_told=
check_right_code()
{
	alice_code=$(lp_e2e_totp "$(lp_e2e_secret alice)") || return 1
	try_login alice "$(key alice)" "$alice_code" || return 1
	[ "$(cat "$LP_E2E_SSH_OUT")" = 'logged in as alice' ] &&
	    prompted alice && lp_e2e_totp_logged alice ok &&
	    sshd_said 'Accepted keyboard-interactive/pam for alice '
}
lp_e2e_check check_right_code \
    "alice with her key and the right code gets in and runs a command"

check_wrong_code()
{
	wrong=$(lp_e2e_wrong_code "$(lp_e2e_secret alice)") || return 1
	! try_login alice "$(key alice)" "$wrong" && refused && prompted alice &&
	    lp_e2e_totp_logged alice bad_code &&
	    sshd_said 'Failed keyboard-interactive/pam for alice ' || return 1
	bad_code_told=$(told)
}
lp_e2e_check check_wrong_code \
    "alice with her key and a wrong code is refused"

check_replay()
{
	[ -n "$alice_code" ] || return 1
	! try_login alice "$(key alice)" "$alice_code" && refused &&
	    prompted alice && lp_e2e_totp_logged alice replayed_code
}
lp_e2e_check check_replay \
    "alice's code that already let her in is refused the second time"

check_stranger_key()
{
	code=$(lp_e2e_totp "$(lp_e2e_secret bob)") || return 1
	! try_login bob "$(key stranger)" "$code" || return 1
	grep -q 'Permission denied (publickey)' "$LP_E2E_SSH_ERR" &&
	    ! [ -s "$LP_E2E_ASKPASS_LOG" ] &&
	    sshd_said 'Failed publickey for bob ' &&
	    sleep 0.3 &&
	    ! lp_e2e_since "$LP_E2E_SYSLOG" | grep -q 'user=bob ' &&
	    ! lp_e2e_since "$LP_E2E_SSHD_LOG" | grep -q 'keyboard-interactive'
}
lp_e2e_check check_stranger_key \
    "bob with a key not in his authorized_keys is refused before any" \
    "code prompt"

check_own_key()
{
	code=$(lp_e2e_totp "$(lp_e2e_secret bob)") || return 1
	try_login bob "$(key bob)" "$code" &&
	    [ "$(cat "$LP_E2E_SSH_OUT")" = 'logged in as bob' ] &&
	    lp_e2e_totp_logged bob ok
}
lp_e2e_check check_own_key "bob with his own key and the right code gets in"

check_lockout()
{
	i=1
	while [ "$i" -le "$MAX_FAILURES" ]; do
		wrong=$(lp_e2e_wrong_code "$(lp_e2e_secret carol)") || return 1
		if try_login carol "$(key carol)" "$wrong" || ! refused ||
		    ! lp_e2e_totp_logged carol bad_code; then
			lp_e2e_diag "wrong code $i of $MAX_FAILURES"
			return 1
		fi
		i=$((i + 1))
	done
	code=$(lp_e2e_totp "$(lp_e2e_secret carol)") || return 1
	# Only someone holding carol's key gets this far, and is told why.
	! try_login carol "$(key carol)" "$code" && refused && prompted carol &&
	    lp_e2e_totp_logged carol locked && told | grep -qi 'locked'
}
lp_e2e_check check_lockout \
    "carol is locked after $MAX_FAILURES wrong codes, then refused with" \
    "the right code and told so"

check_not_enrolled()
{
	! try_login dave "$(key dave)" 000000 && refused && prompted dave &&
	    lp_e2e_totp_logged dave not_enrolled && [ -n "$bad_code_told" ] &&
	    [ "$(told)" = "$bad_code_told" ]
}
lp_e2e_check check_not_enrolled \
    "dave, never enrolled, gets the same prompt and the same refusal as" \
    "a wrong code"

# Every decision above was logged once, with its reason word.
check_log_reasons()
{
	for want in 'alice ok 1' 'alice bad_code 1' 'alice replayed_code 1' \
	    'bob ok 1' "carol bad_code $MAX_FAILURES" 'carol locked 1' \
	    'dave not_enrolled 1'; do
		# shellcheck disable=SC2086
		set -- $want
		n=$(grep -Ec "pam_lp_totp\\(lp-test-sshd:auth\\): user=$1 .*reason=$2( |\$)" \
		    "$LP_E2E_SYSLOG") || :
		[ "$n" = "$3" ] || {
			lp_e2e_diag "$1 $2: $n lines, not $3"
			return 1
		}
	done
	[ "$(grep -c 'Accepted keyboard-interactive/pam' \
	    "$LP_E2E_SSHD_LOG")" = 2 ]
}
lp_e2e_check check_log_reasons \
    "the module logged one line per decision with its reason word, sshd" \
    "two logins"

check_no_secret_logged()
{
	for f in "$LP_E2E_SSHD_LOG" "$LP_E2E_SYSLOG" "$W/client.log" \
	    "$W/sshd.err"; do
		[ -f "$f" ] || continue
		# shellcheck disable=SC2086
		lp_e2e_no_word "$f" $used_codes || {
			lp_e2e_diag "a code appears in $(basename "$f")"
			return 1
		}
		for u in alice bob carol; do
			lp_e2e_no_word "$f" "$(cat "$(lp_e2e_secret "$u")")" || {
				lp_e2e_diag "a secret appears in $(basename "$f")"
				return 1
			}
		done
	done
}
lp_e2e_check check_no_secret_logged \
    "no code typed and no secret appears in sshd's log, the module's" \
    "log or the client's output"

lp_e2e_sshd_stop
lp_e2e_finish
