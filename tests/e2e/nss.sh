#!/bin/sh
# End to end: node names through real glibc and the built libnss_lp.so.2.
# lp-nodes compiles a private policy into an index under the work
# directory; LP_NSS_INDEX names it.  Inside lib.sh's private mount and PID
# namespace, copies of nsswitch.conf (hosts: files lp dns, services: lp
# files), hosts (one entry that must win over the module), resolv.conf (a
# loopback name server, so that nothing leaves the machine) and an
# ld.so.cache that also lists the build's .libs are bind-mounted over the
# machine's.  getent, getaddrinfo(3) (through perl's Socket) and a
# set-user-ID copy of getent then ask through the module.  At the end the
# machine's nsswitch.conf and ld.so.cache are checked unchanged.
set -eu

. "${LP_TEST_SRCDIR:?}/e2e/lib.sh"
lp_e2e_init nss "$@"

W=$LP_E2E_WORK
NODES=$LP_TEST_BUILDDIR/lp-nodes
MODULE=$LP_TEST_BUILDDIR/.libs/libnss_lp.so.2
IDX=$W/lib/nodes.cdb
OUT=$W/out
ERR=$W/err
export LC_ALL=C

[ -x "$NODES" ] || lp_e2e_bail "$NODES is not built"
[ -f "$MODULE" ] || lp_e2e_bail "$MODULE is not built"
for t in getent ldconfig setpriv sha256sum; do
	command -v "$t" >/dev/null 2>&1 || lp_e2e_bail "$t not found"
done

# The namespace still sees the machine's files here: nothing is mounted.
machine_sums()
{
	sha256sum /etc/nsswitch.conf /etc/ld.so.cache
}
machine_sums >"$W/sums.before" || lp_e2e_bail "checksums of /etc"

# ------------------------------------------------------------ setup

mkdir -m 0755 "$W/lib" || lp_e2e_bail "index directory"
for k in gpu01 gpu02 gpu03; do
	lp_e2e_new_key "$k" || lp_e2e_bail "key $k"
done

# policy FILE LISTEN PORT1: gpu01 on PORT1, gpu02, and gpu03 disabled.
policy()
{
	cat >"$1" <<EOF
tunnel:
  user: lp-tunnel
  listen_address: "$2"
nodes:
  gpu01:
    port: $3
    keys: ["$(cat "$W/keys/gpu01.pub")"]
  gpu02:
    port: 22002
    keys: ["$(cat "$W/keys/gpu02.pub")"]
  gpu03:
    port: 22003
    keys: ["$(cat "$W/keys/gpu03.pub")"]
    enabled: false
EOF
	chmod 0644 "$1"
}

# compile POLICY INDEX: the index, as an administrator makes it.
compile()
{
	"$NODES" -c "$1" -i "$2" compile >/dev/null 2>"$ERR"
}

policy "$W/lp.yaml" 127.0.0.1 22001 &&
policy "$W/lp6.yaml" ::1 22011 &&
policy "$W/other.yaml" 127.0.0.1 22999 || lp_e2e_bail "policies"
compile "$W/lp.yaml" "$IDX" || lp_e2e_bail "lp-nodes compile: $(cat "$ERR")"

# bind FILE TARGET: FILE over TARGET, inside the namespace only.
bind()
{
	chmod 0644 "$1" && mount --bind "$1" "$2"
}

private_etc()
{
	sed -e '/^hosts:/d' -e '/^services:/d' /etc/nsswitch.conf \
	    >"$W/nsswitch.conf" || return 1
	printf 'hosts: files lp dns\nservices: lp files\n' \
	    >>"$W/nsswitch.conf" || return 1
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' \
	    >"$W/resolv.conf" || return 1
	{ cat /etc/hosts && echo '127.0.0.9 gpu02'; } >"$W/hosts" || return 1
	printf '%s\ninclude /etc/ld.so.conf.d/*.conf\n' \
	    "$LP_TEST_BUILDDIR/.libs" >"$W/ld.so.conf" || return 1
	ldconfig -X -C "$W/ld.so.cache" -f "$W/ld.so.conf" || return 1

	bind "$W/nsswitch.conf" /etc/nsswitch.conf &&
	bind "$W/hosts" /etc/hosts &&
	bind "$W/ld.so.cache" /etc/ld.so.cache || return 1
	# Without a resolv.conf glibc asks the loopback address anyway.
	[ ! -e /etc/resolv.conf ] || bind "$W/resolv.conf" /etc/resolv.conf
}
private_etc || lp_e2e_bail "private nsswitch.conf, hosts, resolv.conf, cache"

# Under the sanitizers the module needs their runtimes preloaded, which
# a set-user-ID program refuses.
sanitized=
if ldd "$MODULE" 2>/dev/null | grep -Eq 'lib(a|ub)san\.so'; then
	sanitized=1
fi

# ------------------------------------------------------------ helpers

# q COMMAND ARG...: runs COMMAND with LP_NSS_INDEX naming the test's
# index; output squeezed to single spaces in $OUT, status in $rc.  qi
# INDEX COMMAND ARG... names INDEX instead.
q()
{
	qi "$IDX" "$@"
}

qi()
{
	rc=0
	qi_index=$1
	shift
	lp_e2e__sanitized env LP_NSS_INDEX="$qi_index" "$@" </dev/null \
	    >"$W/raw" 2>"$ERR" || rc=$?
	tr -s ' \t' '  ' <"$W/raw" >"$OUT"
}

# is TEXT: the output is exactly TEXT (one line).
is()
{
	[ "$rc" -eq 0 ] && [ "$(cat "$OUT")" = "$1" ]
}

# gai NAME SERVICE [FAMILY]: getaddrinfo with SOCK_STREAM, one
# "ADDRESS PORT" line per answer.
gai()
{
	q perl -MSocket=:addrinfo,SOCK_STREAM,AF_UNSPEC,AF_INET6 -e '
		my ($e, @r) = getaddrinfo($ARGV[0], $ARGV[1], {
		    socktype => SOCK_STREAM,
		    family => $ARGV[2] eq "6" ? AF_INET6 : AF_UNSPEC });
		die "getaddrinfo: $e\n" if $e;
		for (@r) {
			my ($ne, $h, $p) = getnameinfo($_->{addr},
			    NI_NUMERICHOST | NI_NUMERICSERV);
			die "getnameinfo: $ne\n" if $ne;
			print "$h $p\n";
		}' "$1" "$2" "${3:-}"
}

# ------------------------------------------------------------ services

services_by_name()
{
	q getent services gpu01 && is 'gpu01 22001/tcp' || return 1
	q getent services gpu01/tcp && is 'gpu01 22001/tcp'
}
lp_e2e_check services_by_name \
    "getent services gpu01 gives the node's tunnel port over tcp"

services_by_port()
{
	q getent services 22001 && is 'gpu01 22001/tcp' || return 1
	q getent services 22002/tcp && is 'gpu02 22002/tcp'
}
lp_e2e_check services_by_port "getent services 22001 gives the node's name"

services_not_udp()
{
	q getent services gpu01/udp
	[ "$rc" -eq 2 ] || return 1
	q getent services 22001/udp
	[ "$rc" -eq 2 ]
}
lp_e2e_check services_not_udp "a udp service lookup finds no node"

services_enumerate()
{
	q getent services
	[ "$rc" -eq 0 ] || return 1
	printf 'gpu01 22001/tcp\ngpu02 22002/tcp\n' >"$W/want"
	head -n 2 "$OUT" | cmp -s - "$W/want" || return 1
	! grep -q '^gpu03 ' "$OUT" || return 1
	# services: lp files, so the machine's file follows the nodes.
	[ "$(wc -l <"$OUT")" -gt 2 ] || [ ! -s /etc/services ]
}
lp_e2e_check services_enumerate \
    "getent services lists the enabled nodes first, then the files"

services_unknown()
{
	q getent services nosuch-node
	[ "$rc" -eq 2 ] || return 1
	q getent services gpu03
	[ "$rc" -eq 2 ] || return 1
	q getent services 22003
	[ "$rc" -eq 2 ]
}
lp_e2e_check services_unknown \
    "an unknown or disabled node falls through and is not found (exit 2)"

# ------------------------------------------------------------ hosts

hosts_by_name()
{
	q getent hosts gpu01 && is '127.0.0.1 gpu01' || return 1
	q getent hosts GPU01 && is '127.0.0.1 gpu01'
}
lp_e2e_check hosts_by_name \
    "getent hosts gpu01 gives the listen address, in any case"

hosts_files_first()
{
	q getent hosts gpu02 && is '127.0.0.9 gpu02'
}
lp_e2e_check hosts_files_first \
    "hosts: files lp dns lets /etc/hosts answer before the module"

ahosts()
{
	q getent ahosts gpu01
	[ "$rc" -eq 0 ] || return 1
	[ "$(head -n 1 "$OUT")" = '127.0.0.1 STREAM gpu01' ] || return 1
	[ "$(cut -d ' ' -f 1 "$OUT" | sort -u)" = 127.0.0.1 ]
}
lp_e2e_check ahosts "getent ahosts gpu01 gives 127.0.0.1 only"

ahostsv4()
{
	q getent ahostsv4 gpu01
	[ "$rc" -eq 0 ] || return 1
	[ "$(head -n 1 "$OUT")" = '127.0.0.1 STREAM gpu01' ] || return 1
	[ "$(cut -d ' ' -f 1 "$OUT" | sort -u)" = 127.0.0.1 ]
}
lp_e2e_check ahostsv4 "getent ahostsv4 gpu01 gives 127.0.0.1"

# getent ahostsv6 asks with AI_V4MAPPED, so glibc itself turns the IPv4
# answer into ::ffff:127.0.0.1; the module gives no IPv6 address.
ahostsv6()
{
	q getent ahostsv6 gpu01
	[ "$rc" -eq 0 ] || [ "$rc" -eq 2 ] || return 1
	! cut -d ' ' -f 1 "$OUT" | grep -qv '^::ffff:127\.0\.0\.1$'
}
lp_e2e_check ahostsv6 \
    "getent ahostsv6 gpu01 finds no IPv6 address (only glibc's v4-mapped one)"

gai_inet6()
{
	gai gpu01 gpu01 6
	[ "$rc" -ne 0 ] && [ ! -s "$OUT" ]
}
lp_e2e_check gai_inet6 \
    "getaddrinfo(gpu01) for AF_INET6 without AI_V4MAPPED finds nothing"

hosts_unknown()
{
	q getent hosts nosuch-node
	[ "$rc" -eq 2 ] || return 1
	q getent ahosts nosuch-node
	[ "$rc" -eq 2 ] || return 1
	q getent hosts gpu03
	[ "$rc" -eq 2 ]
}
lp_e2e_check hosts_unknown \
    "an unknown or disabled host name falls through to dns and fails (exit 2)"

# ------------------------------------------------------------ getaddrinfo

gai_endpoint()
{
	gai gpu01 gpu01 && is '127.0.0.1 22001'
}
lp_e2e_check gai_endpoint \
    "getaddrinfo(\"gpu01\", \"gpu01\") gives the endpoint 127.0.0.1:22001"

# ssh -G prints the configuration it would use, without connecting.
ssh_port()
{
	q ssh -F /dev/null -G -p gpu01 admin@gpu01
	[ "$rc" -eq 0 ] && grep -qx 'port 22001' "$OUT" &&
	    grep -qx 'hostname gpu01' "$OUT"
}
lp_e2e_check ssh_port "ssh -p gpu01 takes the node's port from the module"

gai_replaced()
{
	compile "$W/lp6.yaml" "$IDX" || return 1
	gai gpu01 gpu01 && is '::1 22011' || return 1
	q getent hosts gpu01 && is '::1 gpu01' || return 1
	q getent ahostsv4 gpu01
	[ "$rc" -eq 2 ] || return 1
	compile "$W/lp.yaml" "$IDX" || return 1
	gai gpu01 gpu01 && is '127.0.0.1 22001'
}
lp_e2e_check gai_replaced \
    "a recompiled index (IPv6 listener, new port) is seen by the next lookup"

# ------------------------------------------------------------ failures

index_missing()
{
	qi "$W/lib/none.cdb" getent hosts gpu01
	[ "$rc" -eq 2 ] || return 1
	qi "$W/lib/none.cdb" getent services gpu01
	[ "$rc" -eq 2 ] || return 1
	qi "$W/lib/none.cdb" getent services ssh
	[ ! -s /etc/services ] || { [ "$rc" -eq 0 ] && grep -q '^ssh ' "$OUT"; }
}
lp_e2e_check index_missing \
    "without an index the module is unavailable and the files still answer"

# The index named by LP_NSS_INDEX answers 22001; the one at the built-in
# path, on a tmpfs inside the namespace, answers 22999.
setuid_ignores_env()
{
	def=$(sed -n 's/^#define LP_INDEX_PATH "\(.*\)"$/\1/p' \
	    "$LP_TEST_BUILDDIR/config.h")
	[ -n "$def" ] || return 1
	top=$(dirname "$def")
	while [ ! -d "$top" ]; do
		top=$(dirname "$top")
	done
	[ "$top" != / ] || return 1
	mount -t tmpfs -o mode=0755 lp-e2e-nss "$top" || return 1
	r=1
	if mkdir -p "$(dirname "$def")" && chmod 0755 "$(dirname "$def")" &&
	    compile "$W/other.yaml" "$def" &&
	    cp /usr/bin/getent "$W/getent-suid" &&
	    chmod 4755 "$W/getent-suid"; then
		r=0
		q setpriv --reuid=65534 --regid=65534 --clear-groups \
		    getent services gpu01
		is 'gpu01 22001/tcp' || r=1
		q setpriv --reuid=65534 --regid=65534 --clear-groups \
		    "$W/getent-suid" services gpu01
		if [ -z "$sanitized" ]; then
			is 'gpu01 22999/tcp' || r=1
		else
			lp_e2e_diag "sanitizer build: the set-user-ID getent" \
			    "cannot load the module, only checking it ignores" \
			    "LP_NSS_INDEX"
			! is 'gpu01 22001/tcp' || r=1
		fi
	fi
	umount "$top" || r=1
	return "$r"
}
lp_e2e_check setuid_ignores_env \
    "a set-user-ID program ignores LP_NSS_INDEX and reads the built-in path"

# ------------------------------------------------------------ the machine

machine_unchanged()
{
	umount /etc/nsswitch.conf /etc/ld.so.cache || return 1
	machine_sums >"$W/sums.after" || return 1
	cmp -s "$W/sums.before" "$W/sums.after"
}
lp_e2e_check machine_unchanged \
    "the machine's nsswitch.conf and ld.so.cache are unchanged"

lp_e2e_finish
