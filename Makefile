# The two commands: `make dev` runs the API locally, `make test` runs every check and test.
# `make bench` measures (release builds; not part of the tests) and writes BENCHMARKS.md.
.PHONY: dev test bench

dev:
	bash scripts/dev.sh

test:
	bash scripts/test.sh

bench:
	bash scripts/bench.sh
