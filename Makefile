# Two commands are all a new user needs: `make run` and `make test`.
SHELL := /bin/sh
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgresql+psycopg2://postgres@127.0.0.1:5432/test
export RAY_AUTH_MODE ?= disabled
# Ray's usage-stats prompt and its log deduplication only get in the way here.
export RAY_USAGE_STATS_ENABLED ?= 0
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: run test test-unit test-integration bench lint clean venv image

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/find-python
	@PY=$$(scripts/find-python) || exit 1; \
	 if [ ! -x $(BIN)/python ] || ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
	   echo "creating $(VENV) with $$PY"; rm -rf $(VENV); "$$PY" -m venv $(VENV) || exit 1; fi
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test,lint,bench]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/trading-cluster run

# Tests marked own_cluster start a Ray cluster with a job agent: they run in a second pytest process,
# after the first one has stopped the session's cluster (both would bind the agent's port 52365).
# Tests marked multinode build a Ray cluster whose nodes are network namespaces (root + iproute2): a
# third process, so that its drivers never share a process with the session's local cluster.
test: $(STAMP)
	TRADING_TEST_POSTGRES_URL=$${TRADING_TEST_POSTGRES_URL:-$(PG_URL)} $(BIN)/python -m pytest -q -p no:cacheprovider -m "not own_cluster and not multinode"
	$(BIN)/python -m pytest -q -p no:cacheprovider -m own_cluster
	$(BIN)/python -m pytest -q -p no:cacheprovider -m multinode tests/multinode

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit

test-integration: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/integration

bench: $(STAMP)
	$(BIN)/python bench/run_all.py --write BENCHMARKS.md

# mypy --strict covers the foundation, the pure cores and models/ (the modules they import are read, not
# reported); lint-imports checks the layer contracts in pyproject.toml ([tool.importlinter];
# docs/architecture.md).
STRICT := cluster/foundation \
	actors/signal/core.py actors/signal/model_slot.py actors/signal/strategy.py \
	actors/market_data/batcher.py actors/market_data/book.py actors/market_data/live_batcher.py \
	actors/market_data/synthetic.py actors/market_data/journal.py \
	actors/execution/broker.py actors/execution/alpaca_updates.py actors/execution/rate_limit.py \
	actors/risk/accounting.py actors/risk/book.py actors/risk/breaker.py actors/risk/calendar.py \
	actors/risk/core.py actors/risk/events.py actors/risk/liquidation.py actors/risk/rules.py \
	actors/risk/sizing.py actors/risk/staleness.py actors/risk/status.py actors/risk/batch.py actors/risk/marks.py \
	actors/execution/core.py actors/execution/order_fsm.py actors/execution/sim_broker.py \
	actors/market_data/alpaca_feed_sequence.py \
	cluster/app/progress.py cluster/app/summary.py models
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy cluster actors models alpaca_sim
	$(BIN)/mypy --strict --follow-imports=silent $(STRICT)
	$(BIN)/lint-imports

# The image of every Ray pod (Dockerfile). Push it with `docker push $(IMAGE):$(TAG)` and set the same
# name and tag under `images:` in infra/k8s/base/kustomization.yaml (docs/operations.md, "Build and push").
IMAGE ?= trading-cluster
TAG ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
image:
	docker build -t $(IMAGE):$(TAG) .

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
