# Owlet's commands. `make run` and `make test` install what they need first (scripts/bootstrap.sh).
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV := source scripts/env.sh &&

.PHONY: help setup setup-test build run test test-node test-python generate check-generated bench lock-python lock-runtimes clean

help:
	@echo "make run      install what is needed, build, and start the server with the embedded defaults"
	@echo "make test     install what is needed (PostgreSQL too), build, and run the whole test suite"
	@echo "make setup    install what is needed (quick when nothing changed)"
	@echo "make bench    run the benchmarks (bench/)"
	@echo "make generate regenerate src/generated/ from the pinned botocore model"

setup:
	@bash scripts/bootstrap.sh

# What only the tests need: a PostgreSQL server for the PostgreSQL state store's suite, Chromium for the console's.
setup-test:
	@bash scripts/install-postgres.sh
	@bash scripts/install-chromium.sh

build: setup
	@rm -rf dist && $(ENV) tsc -p .
	@$(ENV) tsc -p web && node dist/scripts/build-console.js

run: build
	@bin/owlet server $(ARGS)

test: build setup-test
	@bash scripts/test.sh

test-node: build setup-test
	@$(ENV) node --test --test-reporter=spec 'dist/test/**/*.test.js'

test-python: build
	@$(ENV) pytest -q test/python runner/tests

generate: build
	@$(ENV) node dist/scripts/generate-model.js && tsc -p .

bench: build
	@$(ENV) node dist/bench/run.js

PIP_COMPILE := .tools/pip-tools/bin/pip-compile --quiet --generate-hashes --strip-extras --no-emit-index-url \
  --no-emit-find-links --no-header

.tools/pip-tools/bin/pip-compile:
	@python3 -m venv .tools/pip-tools && .tools/pip-tools/bin/pip install --quiet pip-tools

# The tools' environment (.venv). Each Spark runtime's environment is locked by `make lock-runtimes`, which
# takes far longer: pip-compile downloads every candidate pyspark source archive it considers.
lock-python: .tools/pip-tools/bin/pip-compile
	@$(PIP_COMPILE) --output-file requirements.lock requirements.in

lock-runtimes: .tools/pip-tools/bin/pip-compile
	@for runtime in runtimes/spark-*/; do (cd $$runtime && ../../$(PIP_COMPILE) --output-file requirements.lock requirements.in); done

clean:
	rm -rf dist
