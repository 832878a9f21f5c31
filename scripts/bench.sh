#!/usr/bin/env bash
# make bench: every benchmark, printing ratios measured side by side in one run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(go version | cut -d' ' -f3)"
echo "== region"
bash scripts/bench-region.sh
if [ -f scripts/bench-migrate.sh ]; then
	echo "== migration"
	bash scripts/bench-migrate.sh
fi
if [ -f scripts/bench-rack.sh ]; then
	echo "== rack"
	bash scripts/bench-rack.sh
fi
