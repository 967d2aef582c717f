# Everything runs from a virtual environment that these targets create: nothing by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The bot's default store (NEWSBOT_DB): what the console and the command line read.
DB ?= var/newsbot.sqlite3

.PHONY: demo console test lint postgres-server bench bench-discord bench-scale bench-store bench-trend bench-follow eval eval-search docker-test clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m bot index --archive corpus/sample --db $(DB)
	@echo
	@echo '$$ /events al-qaryatain'
	$(BIN)/python -m bot search al-qaryatain --db $(DB) --limit 5
	@echo
	@echo '$$ /on 2016-04-03'
	$(BIN)/python -m bot on 2016-04-03 --db $(DB)
	@echo
	@echo 'Next: make console (the slash commands at a prompt; try /events syrian, then n, then /event 7),'
	@echo 'or the command line: .venv/bin/python -m bot --help (or activate the venv: . .venv/bin/activate).'

console: $(STAMP)
	$(BIN)/python -m bot --db $(DB) console

test: lint postgres-server
	$(BIN)/python -m pytest -q

# The tests start a real PostgreSQL server (tests/postgres_server.py): its programs come from
# Debian's postgresql package, installed here where they are missing (CI runs as root).
postgres-server:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Side by side with tantivy (a reference engine, only in the `eval` extra, installed here as for eval-search).
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,eval]'
	$(BIN)/python -m tests.bench_search

bench-discord: $(STAMP)
	$(BIN)/python -m tests.bench_discord

bench-scale: $(STAMP) postgres-server
	$(BIN)/python -m tests.bench_scale

bench-store: $(STAMP)
	$(BIN)/python -m tests.bench_store

bench-trend: $(STAMP)
	$(BIN)/python -m tests.bench_trend

bench-follow: $(STAMP)
	$(BIN)/python -m tests.bench_follow

eval: $(STAMP)
	$(BIN)/python -m tests.eval_ask

# Builds deploy/Dockerfile and runs the image for real (as root; starts dockerd if none runs). Not part of `make test`.
docker-test: $(STAMP)
	$(BIN)/python -m tests.docker_check

# Search quality on the judged queries of tests/search_eval.jsonl, beside rank-bm25 and tantivy
# (tantivy only here: the `eval` extra, installed by this target's own step).
eval-search: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,eval]'
	$(BIN)/python -m tests.eval_search

clean:
	rm -rf $(VENV) var/*.sqlite3*
