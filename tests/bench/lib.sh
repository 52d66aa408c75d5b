# Helpers shared by the sections of ci/bench under tests/bench/ (issue 6;
# not part of the test suite).  Sourced; defines functions only.

# bench_median: the median of the numbers on stdin, one a line (the
# upper one of the two middle values when there is an even number).
bench_median()
{
	sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int(NR / 2) + 1] }'
}

# bench_ratio A B [DIGITS]: A / B, or "-" when B is zero or missing.
bench_ratio()
{
	awk -v a="${1:-0}" -v b="${2:-0}" -v d="${3:-2}" \
	    'BEGIN { if (b + 0 == 0) print "-"; else printf "%.*f\n", d, a / b }'
}

# bench_fmt NUMBER [DIGITS]: NUMBER with DIGITS decimals (default 0).
bench_fmt()
{
	awk -v a="${1:-0}" -v d="${2:-0}" 'BEGIN { printf "%.*f\n", d, a }'
}

# bench_le A B: true when A <= B (numbers, decimals allowed).
bench_le()
{
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'
}

# bench_field LINE NAME: the word after NAME in a "name value ..." line.
bench_field()
{
	printf '%s\n' "$1" | awk -v k="$2" \
	    '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }'
}

# bench_mem PID: "RSS_KB PSS_KB" of PID from /proc/PID/smaps_rollup.
bench_mem()
{
	awk '$1 == "Rss:" { r = $2 } $1 == "Pss:" { p = $2 }
	    END { if (r != "") print r, p }' "/proc/$1/smaps_rollup" 2>/dev/null
}

# bench_mem_sum PID...: "PROCS PSS_KB RSS_KB" summed over the PIDs
# that still run.
bench_mem_sum()
{
	for bm_p in "$@"; do
		echo "/proc/$bm_p/smaps_rollup"
	done | xargs -r cat 2>/dev/null | awk '
	$1 == "Rss:" { r += $2; n++ } $1 == "Pss:" { p += $2 }
	END { print n + 0, p + 0, r + 0 }'
}

# bench_tree PID: PID and its descendants, one a line, each as
# "PID COMM"; read from /proc, which the caller's PID namespace shows.
bench_tree()
{
	# A process may end while its stat is read: cat goes on.
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
	{
		# comm may hold spaces and parentheses: it ends at the last ")".
		line = $0
		lpar = index(line, "(")
		rest = line
		rpar = 0
		while ((k = index(rest, ")")) > 0) {
			rpar += k
			rest = substr(rest, k + 1)
		}
		if (lpar == 0 || rpar <= lpar)
			next
		split(substr(line, rpar + 2), f, " ")
		pid = $1 + 0
		ppid[pid] = f[2] + 0
		comm[pid] = substr(line, lpar + 1, rpar - lpar - 1)
	}
	END {
		for (p in ppid) {
			q = p + 0
			for (n = 0; n < 64 && q > 0; n++) {
				if (q == root) {
					print p, comm[p]
					break
				}
				q = ppid[q]
			}
		}
	}' | sort -n
}
