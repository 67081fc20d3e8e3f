# Trackside developer commands. `make setup` installs everything into .venv (the suite, the embedded
# backing servers, test tools) and .venv-clients (the real clearml SDK and agent the tests drive).

PYTHON ?= python3
VENV ?= .venv
CLIENTS_VENV ?= .venv-clients
PY := $(VENV)/bin/python
PACKAGES := -e shared[server,embedded] -e services/api -e services/fileserver -e services/webhooks \
	-e services/watchdog -e services/webapp -e agent
PYTEST_ARGS ?=
WHEELHOUSE := .trackside/wheelhouse
WEBAPP_FRONTEND := services/webapp/frontend
WEBAPP_NPM := $(WEBAPP_FRONTEND)/node_modules/.installed

.PHONY: setup run test test-unit fuzz bench-storage bench-events bench-dispatch bench-agent bench-docker bench-webapp bench-webhooks bench-scale bench-events-scale stress-dispatch stress-faults stress-events deploy-smoke clean

setup: $(VENV)/.installed $(CLIENTS_VENV)/.installed $(WHEELHOUSE)/.complete $(WEBAPP_NPM)

$(VENV)/.installed: shared/pyproject.toml services/*/pyproject.toml agent/pyproject.toml requirements/test.txt \
		requirements/tools.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(PACKAGES) -r requirements/test.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements/tools.txt
	touch $@

$(CLIENTS_VENV)/.installed: requirements/clients.txt
	$(PYTHON) -m venv $(CLIENTS_VENV)
	$(CLIENTS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/clients.txt
	touch $@

# Wheels for the venvs our agent builds in tests, which install offline (requirements/wheelhouse.txt).
$(WHEELHOUSE)/.complete: requirements/wheelhouse.txt $(VENV)/.installed
	$(PY) -m pip download --quiet --disable-pip-version-check --dest $(WHEELHOUSE) -r requirements/wheelhouse.txt
	touch $@

# The web app's third-party browser code (plotly.js), pinned by the lockfile; never committed, never a CDN.
$(WEBAPP_NPM): $(WEBAPP_FRONTEND)/package.json $(WEBAPP_FRONTEND)/package-lock.json
	cd $(WEBAPP_FRONTEND) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

# Start the suite on the embedded default (no MongoDB, Elasticsearch or Redis to install) and print the
# credentials to use with the SDK. Ctrl-C stops everything.
run: $(VENV)/.installed $(WEBAPP_NPM)
	$(VENV)/bin/trackside-run

test: setup
	$(PY) -m pytest tests $(PYTEST_ARGS)

test-unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

# The API fuzzing run of make test (tests/integration/test_fuzz_api.py), longer: 100 generated bodies per endpoint
# plus schemathesis's coverage phase (boundary, null and wrong-typed values, missing fields, other methods).
fuzz: $(VENV)/.installed
	TRACKSIDE_FUZZ_EXAMPLES=$${TRACKSIDE_FUZZ_EXAMPLES:-100} $(PY) -m pytest tests/integration/test_fuzz_api.py $(PYTEST_ARGS)

# The Mongo-wire server comparison behind the embedded-default choice (ARCHITECTURE.md).
bench-storage: $(VENV)/.installed
	$(PY) bench/bench_mongo_wire.py

# End-to-end events.add_batch rate against each backend's raw bulk-insert rate (mongo, elastic).
bench-events: $(VENV)/.installed
	$(PY) bench/bench_events.py

# Enqueue-to-claim latency of a subscribed agent against the stock agent's 5 s polling, in one run.
bench-dispatch: $(VENV)/.installed
	$(PY) bench/bench_dispatch.py

# Enqueue-to-task-start latency with a warm venv cache: our daemon against the stock clearml-agent, in one run.
bench-agent: setup
	$(PY) bench/bench_agent.py

# What a container costs: enqueue-to-task-start of our daemon with --docker against venv mode, in one run
# (needs dockerd and debootstrap: apt-get install docker.io debootstrap).
bench-docker: setup
	$(PY) bench/bench_docker.py

# The web app's speed with 100,000 tasks, 1,000,000 scalar points and console lines and a 100-task compare,
# server and browser time against small baselines in one run (sizes: TRACKSIDE_BENCH_* in bench/bench_webapp.py).
bench-webapp: $(VENV)/.installed $(WEBAPP_NPM)
	$(PY) bench/bench_webapp.py

# Webhook deliveries: events/s from API write to delivery at a loopback receiver, end-to-end p50/p99, and what
# publishing domain events costs tasks.create (publish_events on against off), in one run.
bench-webhooks: $(VENV)/.installed
	$(PY) bench/bench_webhooks.py

# The web app's queries at 1,000 / 10,000 / 100,000 tasks in one run, with the ratio 100k/1k (issue 18; sizes:
# --steps or TRACKSIDE_SCALE_* in bench/bench_scale.py).
bench-scale: $(VENV)/.installed
	$(PY) bench/bench_scale.py

# One task's chart, zoom, console and log search, and the deletes of a task's events, while the events store
# grows (default 100k then 1M events; BENCH_EVENTS_SCALE_ARGS="--sizes ..."), on mongo and elastic, with ratios.
bench-events-scale: $(VENV)/.installed
	$(PY) bench/bench_events_scale.py $(BENCH_EVENTS_SCALE_ARGS)

# The dispatch stress test at full size: 1000 tasks, 12 subscriber processes, kill -9s, a Redis restart.
stress-dispatch: $(VENV)/.installed
	TRACKSIDE_STRESS=full $(PY) -m pytest tests/stress --ignore-glob='tests/stress/test_faults_*' --ignore=tests/stress/test_events_ingest_stress.py -s $(PYTEST_ARGS)

# Events ingestion at full size: 100 tasks reporting at once from 4 client processes (2 senders a task), on the
# mongo and elastic backends; zero client errors, exact counts per series, log positions dense (~15 min).
stress-events: $(VENV)/.installed
	TRACKSIDE_STRESS=full $(PY) -m pytest tests/stress/test_events_ingest_stress.py -s $(PYTEST_ARGS)

# The fault tests at full size: API workers SIGKILLed under the clearml SDK's reporting, the Mongo-wire server
# and Redis killed and restarted under load (tests/stress/test_faults_*.py).
stress-faults: setup
	TRACKSIDE_STRESS=full $(PY) -m pytest $(wildcard tests/stress/test_faults_*.py) -s $(PYTEST_ARGS)

# The compose stack on a private dockerd at full size: images built offline, all healthy, the SDK, the
# services agent running a task, down and up keeping the data, a backup restored into a fresh stack
# (needs docker.io and debootstrap).
deploy-smoke: setup
	TRACKSIDE_SMOKE=full $(PY) -m pytest tests/deploy/test_compose_smoke.py -s $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(CLIENTS_VENV) .pytest_cache $(WEBAPP_FRONTEND)/node_modules
