# Helpers for the end-to-end tests: a real sshd and a real ssh client,
# with test accounts and a PAM stack that exist only inside a private
# mount and PID namespace.  Sourced by tests/e2e/*.sh and ci/demo.
#
# A test runs in two halves.  lp_e2e_init, called first, makes the work
# directory, then runs the script again inside `unshare --mount --pid`
# and removes the work directory when that returns; everything after
# lp_e2e_init therefore runs inside the namespaces, where the copies of
# /etc/passwd, /etc/group, /etc/shadow and /etc/pam.d are bind-mounted
# over the machine's.  Nothing outside the work directory is written,
# except /run/sshd when the namespace cannot hide one (see
# lp_e2e__run_dir).  When the namespace's first process exits, the kernel
# ends every process left in it.
#
# Environment: LP_TEST_SRCDIR (absolute tests/ directory), LP_TEST_BUILDDIR
# (absolute build directory), OATHTOOL (path of oathtool), as `make check`
# sets them.  LP_E2E_KEEP=1 keeps the work directory for a post-mortem;
# LP_E2E_X=-x traces the inner half; LP_E2E_TMPDIR (default /tmp) is where
# the work directory goes, and test accounts must be able to reach it.
#
# Results print as `ok N - text` / `not ok N - text`, then one line
# `e2e-NAME: P passed, F failed`.  Exit status: 0 all passed, 1 a check
# failed, 77 (skip) only without root or without namespaces.
#
# Functions return a status rather than relying on `set -e`, which the
# shell suspends inside a function called from `if` or `||`; check
# functions given to lp_e2e_check should chain their steps with
# `|| return 1`.

LP_E2E_SSHD=/usr/sbin/sshd
LP_E2E_NS_OPTS='--mount --pid --fork --kill-child --mount-proc
    --propagation private'
LP_E2E_UID_BASE=20000
LP_E2E_SERVICE=lp-test-sshd

# ------------------------------------------------------------ results

lp_e2e_diag()
{
	printf '# %s\n' "$*"
}

lp_e2e_ok()
{
	LP_E2E_N=$((LP_E2E_N + 1))
	LP_E2E_PASS=$((LP_E2E_PASS + 1))
	printf 'ok %d - %s\n' "$LP_E2E_N" "$1"
}

lp_e2e_not_ok()
{
	LP_E2E_N=$((LP_E2E_N + 1))
	LP_E2E_FAIL=$((LP_E2E_FAIL + 1))
	printf 'not ok %d - %s\n' "$LP_E2E_N" "$1"
}

# lp_e2e_check COMMAND TEXT...: one numbered check, passed when COMMAND
# (run without arguments) returns 0; the words of TEXT describe it.  A
# failure shows what the client and the server said last, and the test
# goes on: lp_e2e_finish gives the verdict.
lp_e2e_check()
{
	lp_e2e__cmd=$1
	shift
	lp_e2e__text=$*
	if "$lp_e2e__cmd"; then
		lp_e2e_ok "$lp_e2e__text"
		return 0
	fi
	lp_e2e_not_ok "$lp_e2e__text"
	lp_e2e__show_tail 'ssh said' "$LP_E2E_WORK/ssh.err"
	lp_e2e__show_tail 'sshd log' "$LP_E2E_WORK/sshd.log"
	lp_e2e__show_tail 'syslog' "$LP_E2E_WORK/syslog.log"
	return 0
}

lp_e2e__show_tail()
{
	[ -s "$2" ] || return 0
	lp_e2e_diag "$1:"
	tail -n 4 "$2" | tr -d '\r' | sed 's/^/#   /'
}

# lp_e2e_bail TEXT: a setup step failed; counts as a failure and ends.
lp_e2e_bail()
{
	lp_e2e_not_ok "setup: $1"
	lp_e2e_finish
}

lp_e2e_finish()
{
	for lp_e2e__f in "$LP_E2E_WORK"/sanitizer.*; do
		[ -f "$lp_e2e__f" ] || continue
		lp_e2e_not_ok "sanitizer report from sshd: $lp_e2e__f"
		sed 's/^/#   /' "$lp_e2e__f"
	done
	printf 'e2e-%s: %d passed, %d failed\n' "$LP_E2E_NAME" \
	    "$LP_E2E_PASS" "$LP_E2E_FAIL"
	[ "$LP_E2E_FAIL" -eq 0 ] || exit 1
	[ "$LP_E2E_PASS" -gt 0 ] || exit 1
	exit 0
}

# ------------------------------------------------------------ namespaces

# True before lp_e2e_init has moved the script into its namespace: code
# that must run once (a build, in ci/demo) checks this.
lp_e2e_outer()
{
	[ -z "${LP_E2E_INNER:-}" ]
}

# lp_e2e_init NAME [ARG...]: must be called with the script's arguments.
lp_e2e_init()
{
	LP_E2E_NAME=$1
	shift
	LP_E2E_N=0
	LP_E2E_PASS=0
	LP_E2E_FAIL=0
	if lp_e2e_outer; then
		lp_e2e__run_outer "$@"
	fi
	lp_e2e__setup_inner
}

lp_e2e__run_outer()
{
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: e2e-$LP_E2E_NAME needs root (private sshd)"
		exit 77
	fi
	# shellcheck disable=SC2086
	if ! unshare $LP_E2E_NS_OPTS true >/dev/null 2>&1; then
		echo "SKIP: e2e-$LP_E2E_NAME: no mount and PID namespace here"
		exit 77
	fi

	lp_e2e__work=$(mktemp -d \
	    "${LP_E2E_TMPDIR:-/tmp}/lp-e2e-$LP_E2E_NAME.XXXXXX")
	lp_e2e__sig=
	# unshare --fork ignores INT and TERM, and its child would inherit
	# that; env gives the inner half back the default dispositions, so
	# that its traps work.  The outer half passes on the signals it gets
	# and removes the work directory once the inner half has stopped its
	# processes.
	# shellcheck disable=SC2086
	LP_E2E_INNER=1 LP_E2E_WORK=$lp_e2e__work \
	    unshare $LP_E2E_NS_OPTS env --default-signal=INT,TERM,HUP \
	    /bin/sh ${LP_E2E_X:-} "$0" "$@" &
	lp_e2e__ns=$!
	trap 'lp_e2e__forward INT' INT
	trap 'lp_e2e__forward TERM' TERM
	trap 'lp_e2e__forward HUP' HUP
	while :; do
		lp_e2e__rc=0
		wait "$lp_e2e__ns" || lp_e2e__rc=$?
		kill -0 "$lp_e2e__ns" 2>/dev/null || break
	done
	trap - INT TERM HUP
	if [ -n "$lp_e2e__sig" ] && [ "$lp_e2e__rc" -eq 0 ]; then
		lp_e2e__rc=1
	fi
	if [ -n "${LP_E2E_KEEP:-}" ]; then
		echo "# work directory kept: $lp_e2e__work"
	else
		rm -rf "$lp_e2e__work"
	fi
	exit "$lp_e2e__rc"
}

# Sends signal $1 to the inner half (the child of unshare) and to what it
# runs, so that a command in the foreground does not hold up its traps.
lp_e2e__forward()
{
	lp_e2e__sig=$1
	for lp_e2e__c in $(lp_e2e__descendants "$lp_e2e__ns"); do
		kill -s "$1" "$lp_e2e__c" 2>/dev/null || :
	done
}

lp_e2e__setup_inner()
{
	: "${LP_E2E_WORK:?}"
	LP_E2E_PIDS=
	LP_E2E_USERS=0
	LP_E2E_PORT=
	LP_E2E_SSHD_PID=
	LP_E2E_SSHD_CONFIG=$LP_E2E_WORK/sshd_config
	LP_E2E_SSHD_LOG=$LP_E2E_WORK/sshd.log
	LP_E2E_SYSLOG=
	LP_E2E_SSH_OUT=$LP_E2E_WORK/ssh.out
	LP_E2E_SSH_ERR=$LP_E2E_WORK/ssh.err
	LP_E2E_ASKPASS_LOG=$LP_E2E_WORK/askpass.log
	LP_E2E_ETC=${LP_TEST_SRCDIR:?}/../etc
	LP_E2E_MODULE=${LP_TEST_BUILDDIR:?}/.libs/pam_lp_totp.so
	LP_E2E_ENROLL=$LP_TEST_BUILDDIR/lp-enroll-totp
	LP_E2E_CONFIG=$LP_E2E_WORK/lp.yaml
	LP_E2E_STATE=$LP_E2E_WORK/totp
	trap 'lp_e2e__rc=$?; lp_e2e__cleanup; exit "$lp_e2e__rc"' EXIT
	trap 'lp_e2e__cleanup; exit 130' INT
	trap 'lp_e2e__cleanup; exit 143' TERM
	trap 'lp_e2e__cleanup; exit 129' HUP

	for lp_e2e__t in "$LP_E2E_SSHD" ssh ssh-keygen ss perl "${OATHTOOL:-}"
	do
		command -v "$lp_e2e__t" >/dev/null 2>&1 ||
		    lp_e2e_bail "${lp_e2e__t:-OATHTOOL} not found"
	done

	# Test users must be able to reach their homes below it.
	chmod 0711 "$LP_E2E_WORK"
	mkdir -m 0755 "$LP_E2E_WORK/etc" "$LP_E2E_WORK/home"
	mkdir -m 0700 "$LP_E2E_WORK/keys" "$LP_E2E_WORK/secrets"
	lp_e2e__private_etc || lp_e2e_bail "private /etc copies"
	lp_e2e__run_dir || lp_e2e_bail "/run/sshd"
	lp_e2e__write_askpass
}

# Copies of the account files and of /etc/pam.d, bind-mounted over the
# originals; the mount namespace is private, so the machine never sees
# them.
lp_e2e__private_etc()
{
	for lp_e2e__f in passwd group shadow; do
		cp -p "/etc/$lp_e2e__f" "$LP_E2E_WORK/etc/$lp_e2e__f" &&
		mount --bind "$LP_E2E_WORK/etc/$lp_e2e__f" \
		    "/etc/$lp_e2e__f" || return 1
	done
	cp -a /etc/pam.d "$LP_E2E_WORK/pam.d" &&
	mount --bind "$LP_E2E_WORK/pam.d" /etc/pam.d
}

# sshd needs its privilege separation directory.  When the machine has
# none, an overlay on /run inside the namespace holds it, so the machine
# stays as it was (mounts below /run are not seen through the overlay; the
# private sshd needs none).  Where overlayfs is missing it is made for
# real, which is what openssh-server itself does when it starts.
lp_e2e__run_dir()
{
	[ -d /run/sshd ] && return 0
	if lp_e2e__overlay /run 2>/dev/null; then
		mkdir -m 0755 /run/sshd
		return
	fi
	lp_e2e_diag "no overlayfs: creating /run/sshd on the machine"
	mkdir -m 0755 /run/sshd 2>/dev/null || [ -d /run/sshd ]
}

# lp_e2e__overlay DIR: an overlay on DIR, inside the namespace, whose
# writes land in the work directory.
lp_e2e__overlay()
{
	lp_e2e__o=$LP_E2E_WORK/overlay$(echo "$1" | tr / .)
	mkdir -m 0755 "$lp_e2e__o" "$lp_e2e__o/up" "$lp_e2e__o/work" &&
	mount -t overlay "lp-e2e$(echo "$1" | tr / -)" -o \
	    "lowerdir=$1,upperdir=$lp_e2e__o/up,workdir=$lp_e2e__o/work" "$1"
}

lp_e2e__cleanup()
{
	trap - EXIT
	trap '' INT TERM HUP
	for lp_e2e__p in $LP_E2E_PIDS; do
		lp_e2e__stop_pid "$lp_e2e__p"
	done
	LP_E2E_PIDS=
}

# lp_e2e_track PID: stop PID (and what it started) when the test ends.
lp_e2e_track()
{
	LP_E2E_PIDS="$1 $LP_E2E_PIDS"
}

lp_e2e__untrack()
{
	lp_e2e__left=
	for lp_e2e__p in $LP_E2E_PIDS; do
		[ "$lp_e2e__p" = "$1" ] ||
		    lp_e2e__left="$lp_e2e__left $lp_e2e__p"
	done
	LP_E2E_PIDS=$lp_e2e__left
}

# Prints PID's descendants, children before grandchildren.
lp_e2e__descendants()
{
	for lp_e2e__c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		echo "$lp_e2e__c"
		lp_e2e__descendants "$lp_e2e__c"
	done
}

# lp_e2e__stop_pid PID: TERM to PID and its descendants, KILL to what is
# left after 5 s, then reap PID.
lp_e2e__stop_pid()
{
	lp_e2e__all="$1 $(lp_e2e__descendants "$1")"
	# shellcheck disable=SC2086
	kill -TERM $lp_e2e__all 2>/dev/null || :
	lp_e2e__i=0
	while [ "$lp_e2e__i" -lt 50 ]; do
		lp_e2e__alive=
		for lp_e2e__p in $lp_e2e__all; do
			lp_e2e__running "$lp_e2e__p" &&
			    lp_e2e__alive="$lp_e2e__alive $lp_e2e__p"
		done
		[ -z "$lp_e2e__alive" ] && break
		sleep 0.1
		lp_e2e__i=$((lp_e2e__i + 1))
	done
	# shellcheck disable=SC2086
	if [ -n "$lp_e2e__alive" ]; then
		kill -KILL $lp_e2e__alive 2>/dev/null || :
	fi
	# Its status is of no interest; under set -e it must not end the
	# shell either.
	wait "$1" 2>/dev/null || :
}

# A process that has exited but is not yet reaped counts as stopped.
lp_e2e__running()
{
	kill -0 "$1" 2>/dev/null || return 1
	lp_e2e__st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $lp_e2e__st in
	Z*|'') return 1 ;;
	esac
	return 0
}

# ------------------------------------------------------------ accounts

# lp_e2e_add_user NAME: appends NAME (uid 20001, 20002, ...) to the private
# account files, makes its home under the work directory and a key pair
# $LP_E2E_WORK/keys/NAME whose public half is its only authorized key.
lp_e2e_add_user()
{
	lp_e2e__u=$1
	if getent passwd "$lp_e2e__u" >/dev/null; then
		lp_e2e_diag "user $lp_e2e__u already exists"
		return 1
	fi
	LP_E2E_USERS=$((LP_E2E_USERS + 1))
	lp_e2e__id=$((LP_E2E_UID_BASE + LP_E2E_USERS))
	if getent passwd "$lp_e2e__id" >/dev/null ||
	    getent group "$lp_e2e__id" >/dev/null; then
		lp_e2e_diag "uid $lp_e2e__id already taken"
		return 1
	fi
	lp_e2e__home=$LP_E2E_WORK/home/$lp_e2e__u
	lp_e2e__day=$(($(date +%s) / 86400))

	printf '%s:x:%d:%d:lp e2e %s:%s:/bin/sh\n' "$lp_e2e__u" \
	    "$lp_e2e__id" "$lp_e2e__id" "$lp_e2e__u" "$lp_e2e__home" \
	    >>"$LP_E2E_WORK/etc/passwd" || return 1
	printf '%s:x:%d:\n' "$lp_e2e__u" "$lp_e2e__id" \
	    >>"$LP_E2E_WORK/etc/group" || return 1
	printf '%s:*:%d:0:99999:7:::\n' "$lp_e2e__u" "$lp_e2e__day" \
	    >>"$LP_E2E_WORK/etc/shadow" || return 1

	lp_e2e_new_key "$lp_e2e__u" || return 1
	mkdir -m 0755 "$lp_e2e__home" &&
	mkdir -m 0700 "$lp_e2e__home/.ssh" &&
	cp "$LP_E2E_WORK/keys/$lp_e2e__u.pub" \
	    "$lp_e2e__home/.ssh/authorized_keys" &&
	chmod 0600 "$lp_e2e__home/.ssh/authorized_keys" &&
	chown -R "$lp_e2e__id:$lp_e2e__id" "$lp_e2e__home"
}

# lp_e2e_new_key NAME: a key pair $LP_E2E_WORK/keys/NAME, no passphrase,
# in nobody's authorized_keys unless lp_e2e_add_user puts it there.
# Copies the program $1 to a directory that sshd accepts for an
# AuthorizedKeysCommand (every directory up to / root's and not group or
# world writable, which a work directory under /tmp is not): a tmpfs on
# /srv, in this mount namespace only.  Prints the copy's path.
lp_e2e_safe_bin()
{
	lp_e2e__bin=/srv
	[ -d "$lp_e2e__bin" ] || lp_e2e__bin=/mnt
	if ! mountpoint -q "$lp_e2e__bin"; then
		mount -t tmpfs -o mode=0755 lp-e2e-bin "$lp_e2e__bin" || return 1
	fi
	cp "$1" "$lp_e2e__bin/" &&
	    chmod 0755 "$lp_e2e__bin/$(basename "$1")" &&
	    echo "$lp_e2e__bin/$(basename "$1")"
}

lp_e2e_new_key()
{
	ssh-keygen -q -t ed25519 -N '' -C "lp-e2e-$1" \
	    -f "$LP_E2E_WORK/keys/$1" </dev/null
}

# lp_e2e_pam_service: the private /etc/pam.d/lp-test-sshd, read from
# stdin.  Modules of the build are named by absolute path.
lp_e2e_pam_service()
{
	cat >"$LP_E2E_WORK/pam.d/$LP_E2E_SERVICE" &&
	chmod 0644 "$LP_E2E_WORK/pam.d/$LP_E2E_SERVICE"
}

# ------------------------------------------------------------ syslog

# lp_e2e_syslog_start: catches syslog(3) messages, which is where
# pam_syslog(3) writes, in $LP_E2E_SYSLOG.  There is no syslog daemon, and
# sshd -E redirects only sshd's own messages, so without this a module's
# log lines are lost.  /dev/log is made on an overlay of /dev inside the
# namespace; devpts and /dev/shm get instances of their own there.
lp_e2e_syslog_start()
{
	lp_e2e__overlay /dev || return 1
	mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts \
	    /dev/pts &&
	mount --bind /dev/pts/ptmx /dev/ptmx &&
	mount -t tmpfs -o mode=1777 lp-e2e-shm /dev/shm || return 1

	LP_E2E_SYSLOG=$LP_E2E_WORK/syslog.log
	: >"$LP_E2E_SYSLOG"
	perl -MSocket -e '
		socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die "socket: $!\n";
		bind($s, pack_sockaddr_un($ARGV[0])) or die "bind: $!\n";
		chmod(0666, $ARGV[0]);
		open(my $f, ">>", $ARGV[1]) or die "$ARGV[1]: $!\n";
		$f->autoflush(1);
		while (defined(recv($s, my $m, 65536, 0))) {
			$m =~ s/\n+\z//;
			print $f "$m\n";
		}' /dev/log "$LP_E2E_SYSLOG" \
	    </dev/null >>"$LP_E2E_WORK/syslogd.err" 2>&1 &
	lp_e2e_track $!
	lp_e2e__wait_for 5 test -S /dev/log
}

# lp_e2e__wait_for SECONDS COMMAND [ARG...]: polls COMMAND every 0.1 s.
lp_e2e__wait_for()
{
	lp_e2e__tries=$(($1 * 10))
	shift
	while [ "$lp_e2e__tries" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		lp_e2e__tries=$((lp_e2e__tries - 1))
	done
	return 1
}

# ------------------------------------------------------------ sshd

# lp_e2e_sshd_config: writes $LP_E2E_SSHD_CONFIG, the private sshd's
# configuration.  A test may append lines before lp_e2e_sshd_start; sshd
# keeps the first value it reads for each keyword.
lp_e2e_sshd_config()
{
	[ -f "$LP_E2E_WORK/ssh_host_ed25519_key" ] ||
	    ssh-keygen -q -t ed25519 -N '' -C lp-e2e-host \
	    -f "$LP_E2E_WORK/ssh_host_ed25519_key" </dev/null || return 1
	cat >"$LP_E2E_SSHD_CONFIG" <<EOF
HostKey $LP_E2E_WORK/ssh_host_ed25519_key
PidFile none
UsePAM yes
AuthenticationMethods publickey,keyboard-interactive
PubkeyAuthentication yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
PermitRootLogin no
AuthorizedKeysFile .ssh/authorized_keys
StrictModes yes
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
LogLevel VERBOSE
EOF
}

# Picks a port in 20000..59999 that nothing listens on now.
lp_e2e__pick_port()
{
	lp_e2e__tries=20
	while [ "$lp_e2e__tries" -gt 0 ]; do
		lp_e2e__r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		lp_e2e__port=$((20000 + lp_e2e__r % 40000))
		if [ -z "$(ss -Htln "sport = :$lp_e2e__port")" ]; then
			echo "$lp_e2e__port"
			return 0
		fi
		lp_e2e__tries=$((lp_e2e__tries - 1))
	done
	return 1
}

lp_e2e__sshd_listening()
{
	lp_e2e__running "$LP_E2E_SSHD_PID" || return 0
	grep -q "^Server listening on 127.0.0.1 port $LP_E2E_PORT\." \
	    "$LP_E2E_SSHD_LOG"
}

# lp_e2e__sanitized COMMAND...: runs COMMAND, which will load this build's
# module, with the sanitizer runtimes the module was linked with preloaded:
# sshd is not built with them, and ASan must come first.  Leak detection
# is off there, since it would report sshd's own allocations.  sshd's
# children have no stderr, so reports go to $LP_E2E_WORK/sanitizer.*,
# which lp_e2e_finish looks at.
lp_e2e__sanitized()
{
	lp_e2e__pre=
	if [ -f "${LP_E2E_MODULE:-}" ]; then
		lp_e2e__pre=$(ldd "$LP_E2E_MODULE" 2>/dev/null |
		    awk '$1 ~ /^lib(a|ub)san\.so/ { print $3 }' | tr '\n' ' ')
	fi
	if [ -z "$lp_e2e__pre" ]; then
		"$@"
		return
	fi
	lp_e2e__log=log_path=$LP_E2E_WORK/sanitizer
	LD_PRELOAD="$lp_e2e__pre" \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:$lp_e2e__log" \
	    UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}$lp_e2e__log" "$@"
}

# lp_e2e_sshd_start: starts sshd as $LP_E2E_WORK/lp-test-sshd (so that PAM
# reads /etc/pam.d/lp-test-sshd) on 127.0.0.1:$LP_E2E_PORT, and writes
# the client's known_hosts.  Another port is tried when the chosen one was
# taken in the meantime.
lp_e2e_sshd_start()
{
	[ -f "$LP_E2E_SSHD_CONFIG" ] || lp_e2e_sshd_config || return 1
	ln -sf "$LP_E2E_SSHD" "$LP_E2E_WORK/$LP_E2E_SERVICE" || return 1
	lp_e2e__attempt=0
	while [ "$lp_e2e__attempt" -lt 5 ]; do
		lp_e2e__attempt=$((lp_e2e__attempt + 1))
		LP_E2E_PORT=$(lp_e2e__pick_port) || return 1
		: >"$LP_E2E_SSHD_LOG"
		lp_e2e__sanitized env \
		    "$LP_E2E_WORK/$LP_E2E_SERVICE" -D -f "$LP_E2E_SSHD_CONFIG" \
		    -E "$LP_E2E_SSHD_LOG" \
		    -o "ListenAddress=127.0.0.1:$LP_E2E_PORT" \
		    </dev/null >>"$LP_E2E_WORK/sshd.err" 2>&1 &
		LP_E2E_SSHD_PID=$!
		lp_e2e_track "$LP_E2E_SSHD_PID"
		lp_e2e__wait_for 10 lp_e2e__sshd_listening || return 1
		if lp_e2e__running "$LP_E2E_SSHD_PID"; then
			printf '[127.0.0.1]:%s %s\n' "$LP_E2E_PORT" \
			    "$(cat "$LP_E2E_WORK/ssh_host_ed25519_key.pub")" \
			    >"$LP_E2E_WORK/known_hosts"
			return 0
		fi
		wait "$LP_E2E_SSHD_PID" 2>/dev/null || :
		lp_e2e__untrack "$LP_E2E_SSHD_PID"
		grep -q 'Address already in use' "$LP_E2E_SSHD_LOG" ||
		    return 1
	done
	return 1
}

lp_e2e_sshd_stop()
{
	[ -n "$LP_E2E_SSHD_PID" ] || return 0
	lp_e2e__stop_pid "$LP_E2E_SSHD_PID"
	lp_e2e__untrack "$LP_E2E_SSHD_PID"
	LP_E2E_SSHD_PID=
}

# ------------------------------------------------------------ client

lp_e2e__write_askpass()
{
	cat >"$LP_E2E_WORK/askpass" <<'EOF'
#!/bin/sh
# ssh's SSH_ASKPASS: $1 is the prompt.  Records the prompt (never the
# answer) and prints the code from a file, or one computed now by oathtool.
printf '%s\n' "$1" >>"$LP_E2E_ASKPASS_LOG"
if [ -n "${LP_E2E_ASKPASS_CODE:-}" ]; then
	exec cat "$LP_E2E_ASKPASS_CODE"
elif [ -n "${LP_E2E_ASKPASS_SECRET:-}" ]; then
	# shellcheck disable=SC2086
	exec "$OATHTOOL" --totp ${LP_E2E_TOTP_OPTS:-} -b - \
	    <"$LP_E2E_ASKPASS_SECRET"
fi
exit 1
EOF
	chmod 0700 "$LP_E2E_WORK/askpass"
}

# lp_e2e_ssh [-c CODE | -s SECRETFILE] USER KEY [COMMAND...]: one login
# by the real ssh client with key KEY; the keyboard-interactive prompt is
# answered with CODE, or with the code oathtool computes from the base32
# secret in SECRETFILE when the prompt comes, or not at all.  Returns
# ssh's status; its output is in $LP_E2E_SSH_OUT and $LP_E2E_SSH_ERR, the
# prompts it was shown in $LP_E2E_ASKPASS_LOG.
lp_e2e_ssh()
{
	lp_e2e__code=
	lp_e2e__secret=
	OPTIND=1
	while getopts c:s: lp_e2e__o; do
		case $lp_e2e__o in
		c) lp_e2e__code=$LP_E2E_WORK/askpass.code
		   (umask 077 && printf '%s\n' "$OPTARG" >"$lp_e2e__code") ||
		       return 1 ;;
		s) lp_e2e__secret=$OPTARG ;;
		*) return 2 ;;
		esac
	done
	shift $((OPTIND - 1))
	lp_e2e__user=$1
	lp_e2e__key=$2
	shift 2

	: >"$LP_E2E_ASKPASS_LOG"
	lp_e2e__rc=0
	SSH_ASKPASS=$LP_E2E_WORK/askpass SSH_ASKPASS_REQUIRE=force \
	    LP_E2E_ASKPASS_LOG=$LP_E2E_ASKPASS_LOG \
	    LP_E2E_ASKPASS_CODE=$lp_e2e__code \
	    LP_E2E_ASKPASS_SECRET=$lp_e2e__secret \
	    timeout 60 setsid -w ssh -F /dev/null \
	    -o UserKnownHostsFile="$LP_E2E_WORK/known_hosts" \
	    -o GlobalKnownHostsFile=/dev/null \
	    -o StrictHostKeyChecking=yes \
	    -o NumberOfPasswordPrompts=1 \
	    -o BatchMode=no \
	    -o IdentitiesOnly=yes \
	    -o IdentityAgent=none \
	    -o ConnectTimeout=10 \
	    -i "$lp_e2e__key" -p "$LP_E2E_PORT" \
	    "$lp_e2e__user@127.0.0.1" "$@" \
	    </dev/null >"$LP_E2E_SSH_OUT" 2>"$LP_E2E_SSH_ERR" ||
	    lp_e2e__rc=$?
	[ -z "$lp_e2e__code" ] || rm -f "$lp_e2e__code"
	return "$lp_e2e__rc"
}

# ------------------------------------------------------------ bastion

# lp_e2e_policy: writes the policy file $LP_E2E_CONFIG (root, 0644) from
# stdin and makes the empty state directory $LP_E2E_STATE (0700).
lp_e2e_policy()
{
	cat >"$LP_E2E_CONFIG" && chmod 0644 "$LP_E2E_CONFIG" &&
	mkdir -m 0700 "$LP_E2E_STATE"
}

# lp_e2e_enroll USER [OPTION...]: enrols USER with this build's
# lp-enroll-totp --uri-only, checks the URI's shape, and keeps its secret
# for oathtool in the file that lp_e2e_secret USER names.  The URI is left
# in LP_E2E_URI.
lp_e2e_enroll()
{
	lp_e2e__u=$1
	shift
	LP_E2E_URI=$("$LP_E2E_ENROLL" --config "$LP_E2E_CONFIG" \
	    --state-dir "$LP_E2E_STATE" --uri-only "$@" "$lp_e2e__u") ||
	    return 1
	case $LP_E2E_URI in
	"otpauth://totp/"*":$lp_e2e__u?"*secret=*) ;;
	*) return 1 ;;
	esac
	(umask 077 && lp_e2e_uri_secret "$LP_E2E_URI" \
	    >"$(lp_e2e_secret "$lp_e2e__u")") &&
	[ -s "$(lp_e2e_secret "$lp_e2e__u")" ]
}

lp_e2e_secret()
{
	echo "$LP_E2E_WORK/secrets/$1"
}

# lp_e2e_bastion_pam [OPTION...]: the private PAM service holds the auth
# line shipped in etc/pam.d/lp-sshd, naming this build's module with
# config= and state_dir= of the test and OPTIONs, then pam_unix for
# account and session.
lp_e2e_bastion_pam()
{
	lp_e2e__args="config=$LP_E2E_CONFIG state_dir=$LP_E2E_STATE${*:+ $*}"
	lp_e2e__to="$LP_E2E_MODULE $lp_e2e__args"
	sed -n "s|^\\(auth[[:space:]].*\\)pam_lp_totp\\.so|\\1$lp_e2e__to|p" \
	    "$LP_E2E_ETC/pam.d/lp-sshd" >"$LP_E2E_WORK/auth.lines" || return 1
	if ! grep -q "$LP_E2E_MODULE" "$LP_E2E_WORK/auth.lines"; then
		lp_e2e_diag "no pam_lp_totp line in etc/pam.d/lp-sshd"
		return 1
	fi
	{
		cat "$LP_E2E_WORK/auth.lines"
		echo 'account required pam_unix.so'
		echo 'session required pam_unix.so'
		echo 'password required pam_deny.so'
	} | lp_e2e_pam_service
}

# lp_e2e_shell_dropin FILE: writes to FILE the shipped drop-in
# etc/sshd_config.d/lp-bastion.conf without the people's forced command,
# for tests of the login itself, which run a command to show who logged
# in; tests/e2e/hop.sh runs the drop-in with lp-hop.
lp_e2e_shell_dropin()
{
	lp_e2e__src=$LP_E2E_ETC/sshd_config.d/lp-bastion.conf
	lp_e2e__fc='	ForceCommand /usr/bin/lp-hop'
	grep -qx "$lp_e2e__fc" "$lp_e2e__src" || {
		lp_e2e_diag "no people's ForceCommand in $lp_e2e__src"
		return 1
	}
	grep -vx "$lp_e2e__fc" "$lp_e2e__src" >"$1"
}

# lp_e2e_bastion_sshd: the private sshd, its settings followed by the
# shipped drop-in etc/sshd_config.d/lp-bastion.conf, people's forced
# command left out (lp_e2e_shell_dropin).
lp_e2e_bastion_sshd()
{
	lp_e2e_sshd_config &&
	lp_e2e_shell_dropin "$LP_E2E_WORK/lp-bastion.conf" &&
	echo "Include $LP_E2E_WORK/lp-bastion.conf" >>"$LP_E2E_SSHD_CONFIG" &&
	lp_e2e_sshd_start
}

# lp_e2e_totp_logged USER REASON: pam_lp_totp logged, since the mark on
# $LP_E2E_SYSLOG, its decision REASON on a login of USER.
lp_e2e_totp_logged()
{
	lp_e2e_log_wait 3 "$LP_E2E_SYSLOG" \
	    "pam_lp_totp\\($LP_E2E_SERVICE:auth\\): user=$1 .*reason=$2( |\$)"
}

# ------------------------------------------------------------ TOTP

# lp_e2e_uri_secret URI: prints the secret= parameter of an otpauth URI.
lp_e2e_uri_secret()
{
	printf '%s\n' "$1" | sed -n 's/^otpauth:.*[?&]secret=\([A-Za-z2-7=]*\).*/\1/p'
}

# lp_e2e_totp SECRETFILE [EPOCH]: the code oathtool computes for the base32
# secret in SECRETFILE, now or at EPOCH.  The secret travels on stdin, not
# in argv.  LP_E2E_TOTP_OPTS adds oathtool options (--digits=8 ...).
lp_e2e_totp()
{
	# shellcheck disable=SC2086
	"$OATHTOOL" --totp ${LP_E2E_TOTP_OPTS:-} --now="@${2:-$(date +%s)}" \
	    -b - <"$1"
}

# lp_e2e_wrong_code SECRETFILE: a code of the right length that oathtool
# gives for none of the steps from two before now to three after.
lp_e2e_wrong_code()
{
	lp_e2e__now=$(date +%s)
	lp_e2e__near=
	for lp_e2e__d in -60 -30 0 30 60 90; do
		lp_e2e__near="$lp_e2e__near $(lp_e2e_totp "$1" \
		    $((lp_e2e__now + lp_e2e__d)))" || return 1
	done
	lp_e2e__c=$(lp_e2e_totp "$1" "$lp_e2e__now") || return 1
	lp_e2e__len=${#lp_e2e__c}
	lp_e2e__mod=1
	lp_e2e__i=0
	while [ "$lp_e2e__i" -lt "$lp_e2e__len" ]; do
		lp_e2e__mod=$((lp_e2e__mod * 10))
		lp_e2e__i=$((lp_e2e__i + 1))
	done
	lp_e2e__k=1
	while [ "$lp_e2e__k" -lt 10 ]; do
		lp_e2e__w=$(printf '%0*d' "$lp_e2e__len" \
		    $(((1${lp_e2e__c} - lp_e2e__mod + lp_e2e__k * 104729) % \
		    lp_e2e__mod)))
		case " $lp_e2e__near " in
		*" $lp_e2e__w "*) ;;
		*) echo "$lp_e2e__w"; return 0 ;;
		esac
		lp_e2e__k=$((lp_e2e__k + 1))
	done
	return 1
}

# ------------------------------------------------------------ logs

# lp_e2e_mark FILE: remembers FILE's length; lp_e2e_since FILE prints
# what was appended after the mark.
lp_e2e_mark()
{
	lp_e2e__m=$(wc -c <"$1" 2>/dev/null | tr -d ' ')
	eval "LP_E2E_MARK_$(lp_e2e__mark_var "$1")=\${lp_e2e__m:-0}"
}

lp_e2e_since()
{
	eval "lp_e2e__m=\${LP_E2E_MARK_$(lp_e2e__mark_var "$1"):-0}"
	tail -c "+$((lp_e2e__m + 1))" "$1" 2>/dev/null
}

lp_e2e__mark_var()
{
	printf '%s' "$1" | tr -c 'A-Za-z0-9' '_'
}

# lp_e2e_log_wait SECONDS FILE ERE: waits until a line appended to FILE
# since its mark matches the extended regular expression ERE.  Log lines
# can land a moment after ssh has returned.
lp_e2e_log_wait()
{
	lp_e2e__tries=$(($1 * 10))
	while [ "$lp_e2e__tries" -gt 0 ]; do
		lp_e2e_since "$2" | grep -Eq -- "$3" && return 0
		sleep 0.1
		lp_e2e__tries=$((lp_e2e__tries - 1))
	done
	return 1
}

# lp_e2e_no_word FILE WORD...: true when no WORD stands in FILE as a word
# of its own (a code inside a longer run of digits does not count).
lp_e2e_no_word()
{
	lp_e2e__file=$1
	shift
	for lp_e2e__w in "$@"; do
		if grep -Eq "(^|[^0-9A-Za-z])$lp_e2e__w([^0-9A-Za-z]|\$)" \
		    "$lp_e2e__file"; then
			return 1
		fi
	done
	return 0
}

# ------------------------------------------------------------ networks

# lp_e2e_private_run: makes /run the namespace's own, an overlay whose
# writes land in the work directory (lp_e2e__run_dir makes one only when
# the machine has no /run/sshd).  Named network namespaces (/run/netns)
# and what the test's daemons write below /run then stay private.
lp_e2e_private_run()
{
	[ -d "$LP_E2E_WORK/overlay.run" ] && return 0
	lp_e2e__overlay /run
}

# lp_e2e_netns_traps: for a test that makes network namespaces, right
# after lp_e2e_init: on every exit path, the test's processes are
# stopped first, then its namespaces deleted (their veth pairs go with
# them).
lp_e2e_netns_traps()
{
	LP_E2E_NETNS=
	trap 'lp_e2e__rc=$?; lp_e2e_netns_cleanup; exit "$lp_e2e__rc"' EXIT
	trap 'lp_e2e_netns_cleanup; exit 130' INT
	trap 'lp_e2e_netns_cleanup; exit 143' TERM
	trap 'lp_e2e_netns_cleanup; exit 129' HUP
}

lp_e2e_netns_cleanup()
{
	lp_e2e__cleanup
	for lp_e2e__n in ${LP_E2E_NETNS:-}; do
		ip netns del "$lp_e2e__n" 2>/dev/null ||
		    lp_e2e_diag "could not delete network namespace $lp_e2e__n"
	done
	LP_E2E_NETNS=
}

# lp_e2e_netns_add NAME: a network namespace with its loopback up,
# deleted when the test ends.  Its name lives in the private /run.
lp_e2e_netns_add()
{
	ip netns add "$1" || return 1
	LP_E2E_NETNS="$1 ${LP_E2E_NETNS:-}"
	ip -n "$1" link set lo up
}

# lp_e2e_veth NS1 IF1 ADDR1 NS2 IF2 ADDR2: a veth pair made inside NS1
# with its peer created in NS2, so that it never appears in the
# machine's own namespace; each end gets its address (CIDR) and is up.
lp_e2e_veth()
{
	ip -n "$1" link add "$2" type veth peer name "$5" netns "$4" &&
	ip -n "$1" addr add "$3" dev "$2" &&
	ip -n "$4" addr add "$6" dev "$5" &&
	ip -n "$1" link set "$2" up &&
	ip -n "$4" link set "$5" up
}
