# The two commands a newcomer needs: `make run` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Test processes for `make test`: each runs its own embedded broker and takes whole files.
TEST_JOBS ?= 2

.PHONY: run demo test lint unit integration fault-cluster bench soak venv kernel clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP) kernel

# The modules listed in detectors/kernel.py compiled with mypyc (scripts/build_kernel.py): rebuilt
# when their sources change (the script compares digests); without a C compiler the engine runs
# them as Python, slower.
kernel: $(STAMP)
	$(BIN)/python scripts/build_kernel.py

## Start the engine with the API on :8000 on an embedded broker unless KAFKA_BOOTSTRAP_SERVERS is
## set: Apache Kafka 4.1.1 when Java 17+ is present (jars fetched once with mvn), else Tansu.
run: $(STAMP) kernel
	$(BIN)/anomaly-engine run

## The engine with a synthetic feed: incidents in the dashboard, http://127.0.0.1:8000/ui/, within 30 s.
demo: $(STAMP) kernel
	$(BIN)/anomaly-engine demo

## Lint, type-check, then the whole suite: unit tests, doctests, integration tests on a real broker.
## The integration tests run on Apache Kafka where Java 17+ is present, else on Tansu (the report's
## header names it); the tests that start their own cluster are left to `make fault-cluster`.
test: lint kernel
	$(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile -m "not serial and not own_broker"
	$(BIN)/python -m pytest -m "serial and not own_broker"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy detectors incidents app/telemetry app/worker/entity_record.py app/worker/recent.py

unit: $(STAMP) kernel
	$(BIN)/python -m pytest -m "not integration"

integration: $(STAMP) kernel
	$(BIN)/python -m pytest -m "integration and not own_broker"

## Fault tests on a three-node Apache Kafka cluster (RF 3, min.insync.replicas 2, acks=all), each
## with its own cluster (needs Java 17+; a few minutes): a partition leader killed under load.
fault-cluster: $(STAMP) kernel
	$(BIN)/python -m pytest -m own_broker -p no:randomly -s

## Benchmarks (not part of `make test`, ~15 min) on both embedded brokers: every measurement on
## Apache Kafka (writes docs/PERFORMANCE.md; Tansu instead where there is no Java 17), then the
## ones over a broker again on Tansu, printed only. Each prints its table and names its broker.
## `make bench BENCH_ARGS=--quick` for a smoke run of a few minutes.
bench: $(STAMP) kernel
	$(BIN)/python -m bench --broker auto $(BENCH_ARGS)
	$(BIN)/python -m bench --broker tansu --only pipeline,bare,latency,score $(BENCH_ARGS)

## An hour of simulated time at 1k points/s with entity churn, spikes, silent entities and a
## restart, through the engine's scoring and timer in one process (not part of `make test`, a few
## minutes): prints RSS, table, incident and ledger sizes over time (bench/soak.py).
soak: $(STAMP) kernel
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .anomaly-data *.egg-info detectors/_compiled build/kernel
