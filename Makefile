# PixelFlow. Every target calls a script in scripts/; `make help` lists them.
SHELL := /bin/bash
VENV := .venv
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo run stop test test-unit test-soak test-pythons lint bench compose-check image image-check clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt requirements-plugins.txt requirements-plugins-dev.txt requirements-pip.txt \
		requirements-tools.txt scripts/bootstrap
	scripts/bootstrap

install: $(STAMP) ## Install system packages, the virtualenv and Pillow-SIMD
	@true

demo: $(STAMP) ## Start everything, push a sample image through the API, print the outputs, stop
	scripts/demo

run: $(STAMP) ## API on 127.0.0.1:8080, a worker and the local S3 server, in the foreground
	scripts/run

stop: ## Stop what demo or run started
	scripts/stop

test: $(STAMP) ## Run the whole test suite against the real services
	scripts/test

test-soak: $(STAMP) ## 2,000 jobs over ~10 minutes under random faults, then the checker (not part of make test)
	scripts/test-soak

test-unit: $(STAMP) ## Run the unit tier only: no services, the ports in memory (seconds)
	scripts/test-unit

test-pythons: $(STAMP) ## The unit tier on the other supported Pythons (3.11-3.13), each in a .venv-pyX.Y of its own
	scripts/test-pythons

lint: $(STAMP) ## ruff and mypy
	scripts/lint

bench: $(STAMP) ## Measure engine, pipeline, API and memory side by side (BENCH_ARGS=--long for the long run)
	scripts/bench $(BENCH_ARGS)

compose-check: $(STAMP) ## Validate compose.yaml with the compose binary
	scripts/compose-check

image: ## Build the Containerfile with buildah, no Docker engine (ARCH=arm64 for the arm64 image)
	scripts/image $(if $(ARCH),--arch $(ARCH))

image-check: $(STAMP) ## Build the image, then run every role from it and push a job through it
	scripts/image-check

clean: stop ## Remove the virtualenv and run state
	rm -rf $(VENV) .venv-tools .run
