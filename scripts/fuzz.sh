#!/usr/bin/env bash
# Usage: scripts/fuzz.sh [PATTERN]
#
# Runs every native Go fuzz target of the repository (each `func FuzzXxx`
# in a _test.go file, found by grep, so a new target needs no list) for
# FUZZTIME each (default 10s; `make fuzz` passes 2m), one after the other,
# with FUZZ_WORKERS workers (default: all cores), minimizing new inputs for
# at most FUZZMINIMIZETIME (default 5s). PATTERN (a grep -E
# regexp) picks targets by "DIR FuzzXxx". A failing input is written by Go
# to DIR/testdata/fuzz/FuzzXxx/ and named here: commit it as a regression
# seed together with the fix (`make test` runs every seed). Exits 1 if any
# target failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fuzztime=${FUZZTIME:-10s}
# Minimizing a new input costs about its length times one run: bound it, or
# a target with large inputs spends its whole time minimizing.
minimize=${FUZZMINIMIZETIME:-5s}
workers=${FUZZ_WORKERS:-$(nproc)}
pattern=${1:-.}
go=${GO:-go}

mapfile -t targets < <(grep -rE --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]+\(' . |
	sed -E 's#^\./(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]+)\($#./\1 \2#' | sort -u | grep -E -- "$pattern" || true)
if ((${#targets[@]} == 0)); then
	echo "fuzz: no fuzz target matches $pattern" >&2
	exit 1
fi

failed=()
start=$(date +%s)
for t in "${targets[@]}"; do
	read -r dir name <<<"$t"
	before=$(ls "$dir/testdata/fuzz/$name" 2>/dev/null | sort || true)
	log=$(mktemp)
	t0=$(date +%s)
	run() { "$go" test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" -fuzzminimizetime="$minimize" -parallel="$workers" "$dir" >"$log" 2>&1; }
	ok=0
	run && ok=1
	if ((!ok)) && [[ "$(ls "$dir/testdata/fuzz/$name" 2>/dev/null | sort || true)" == "$before" ]] &&
		grep -q 'context deadline exceeded' "$log"; then
		# Go's fuzz coordinator reports "context deadline exceeded" when a
		# worker answers late at the end of -fuzztime on a loaded machine;
		# a real finding always writes its input. Run such a target again.
		echo "fuzz: $dir $name: the fuzz engine timed out without a failing input; running it again"
		run && ok=1
	fi
	if ((ok)); then
		execs=$({ grep -oE 'execs: [0-9]+' "$log" || true; } | tail -1 | cut -d' ' -f2)
		echo "fuzz: ok   $dir $name ($((($(date +%s) - t0)))s, ${execs:-?} execs)"
	else
		echo "fuzz: FAIL $dir $name"
		sed 's/^/    /' "$log"
		after=$(ls "$dir/testdata/fuzz/$name" 2>/dev/null | sort || true)
		new=$(comm -13 <(echo "$before") <(echo "$after") | sed '/^$/d')
		for f in $new; do
			echo "    failing input: $dir/testdata/fuzz/$name/$f (reproduce: go test -run='^$name/$f\$' $dir)"
		done
		failed+=("$dir $name")
	fi
	rm -f "$log"
done
echo "fuzz: ${#targets[@]} targets fuzzed for $fuzztime each in $(($(date +%s) - start))s; ${#failed[@]} found a failing input"
for f in "${failed[@]}"; do echo "fuzz: failing: $f"; done
((${#failed[@]} == 0))
