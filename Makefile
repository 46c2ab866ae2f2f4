# Two commands matter: `make run` and `make test`. Everything else is a step of theirs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
GO ?= go

.PHONY: help db db-stop db-reset run build image test test-sql test-go test-cli test-types test-ops test-image types bench policies lint

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

db: ## start (or reuse) the local database, migrated and seeded; last line is its URL
	@scripts/db.sh up

db-stop: ## stop the local database
	@scripts/db.sh stop

db-reset: ## delete the local database (the next `make db` starts from nothing)
	@scripts/db.sh reset

build: ## build bin/sidecar
	$(GO) build -o bin/sidecar ./sidecar/cmd/sidecar

image: ## build the sidecar image (podman, FROM scratch, no registry); last line is the docker-archive's path
	@scripts/image.sh

run: build ## database + sidecar in the foreground (file email); DATABASE_URL overrides the database
	@scripts/run.sh

test: ## everything: pgTAP, CLI migration list + lint, types drift + typecheck, Go tests, ops checks
	@scripts/test.sh all

test-sql: ## pgTAP tests only
	@scripts/test.sh sql

test-go: ## Go tests only
	@scripts/test.sh go

test-cli: ## Supabase CLI migration list + db lint only
	@scripts/test.sh cli

test-types: ## generated types current + supabase/examples typecheck only
	@scripts/test.sh types

test-ops: ## deploy/k8s checked against Kubernetes types (tools/k8scheck) + alert rules with promtool only
	@scripts/test.sh ops

test-image: ## the image only: make image, then podman run and podman kube play of it against the database
	@scripts/test.sh image

types: ## regenerate supabase/types/database.ts (supabase-js types) from the migrations
	@scripts/types.sh gen

bench: build ## benchmarks; prints the tables docs/performance.md quotes
	@scripts/bench.sh

policies: ## write a new migration from policies/*.sql: make policies NAME=what_changed
	@test -n "$(NAME)" || (echo "usage: make policies NAME=what_changed" >&2; exit 2)
	@scripts/gen-policies.sh new $(NAME)
