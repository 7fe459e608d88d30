# The two commands: `make dev` runs the API locally, `make test` runs every check and test.
.PHONY: dev test

dev:
	bash scripts/dev.sh

test:
	bash scripts/test.sh
