# The two commands of the README: `make demo` runs everything, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo cluster haproxy test test-full chromium fonts pgbouncer lint messages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[local,dev]"
	touch $(STAMP)

demo: $(STAMP) fonts
	$(PY) manage.py rundemo

# The demo on several nodes (docs/operations.md, "Several nodes"): two web nodes behind HAProxy, a Celery
# worker per queue, one beat.  ARGS="--port 9000" moves it (HAProxy on 9000, the nodes on 9001 and 9002).
cluster: $(STAMP) haproxy
	$(PY) manage.py runcluster $(ARGS)

# Debian's haproxy (deploy/haproxy.cfg), installed here when missing.
haproxy:
	@test -x /usr/sbin/haproxy || command -v haproxy >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy; }

# The browser tests drive Debian's chromium (never a downloaded browser); installed here when missing,
# with CJK fonts so the screenshots of the Chinese admin are legible.
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
chromium:
	@test -x /usr/bin/chromium -a -e $(CJK_FONT) || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; }

# The share posters are drawn with the same CJK font (growth/poster_art.py, POSTER_FONT_PATH): the web needs
# it too, without a browser.  Installed here when missing.
fonts:
	@test -e $(CJK_FONT) || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk; }

# The tests run through a PgBouncer of their own in transaction pooling (tests/conftest.py; TEST_PGBOUNCER=0
# goes direct): Debian's pgbouncer, installed here when missing.
pgbouncer:
	@test -x /usr/sbin/pgbouncer || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer; }

# FULL=1 (or `make test-full`): the long fuzzing run (200 cases per operation instead of 8).
test: $(STAMP) chromium fonts pgbouncer
	FULL=$(FULL) $(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

test-full:
	$(MAKE) test FULL=1

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

# Needs GNU gettext (apt install gettext) to extract and compile the catalogues.  makemessages rewrites
# locale/zh_Hans from the project's sources only; the theme's texts (unfold's, not in our sources) live in
# locale/theme/zh_Hans, which it never touches, so they are neither dropped nor marked obsolete.  Both compile.
messages: $(STAMP)
	$(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=tests --ignore=.data --ignore=staticfiles
	$(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) .data staticfiles

# Benchmarks (bench/README.md): BENCH_ARGS="--scale small" or "points.expiry --scale full".
.PHONY: bench
# The checkout benchmark drives the server with wrk (Debian's), installed here when missing; the journey
# through HAProxy needs haproxy, checkout through PgBouncer pgbouncer.
bench: $(STAMP) haproxy pgbouncer
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	$(PY) -m bench $(BENCH_ARGS)
