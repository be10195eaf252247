# Every target installs what it needs into .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench sysdeps bytecode clean

# .venv/.installed-demo: the package and its runtime dependencies (what `make demo` needs);
# .venv/.installed: plus the test extras (pytest, hypothesis, opensim) for `make test`.
DEMO_STAMP := $(VENV)/.installed-demo

$(DEMO_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $(DEMO_STAMP)

$(STAMP): pyproject.toml $(DEMO_STAMP)
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# Debian packages: Qt's (offscreen and on-screen X11 rendering) for the demo; plus headless
# Chromium for the tests' report checks; plus Xvfb for `make bench` (the dashboard bench runs
# under a virtual X server too).
QT_DEBS := libegl1 libxkbcommon0 libxcb-cursor0 libgl1 libfontconfig1 libdbus-1-3 \
	libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0 libxkbcommon-x11-0
DEBS ?= $(QT_DEBS) chromium

# The package's bytecode, as a regular (non-editable) pip install writes it: an editable install
# leaves it to the first import, and with PYTHONDONTWRITEBYTECODE set none is ever written, so
# every `imu` process would compile ~50 modules again (0.15-0.3 s). Only missing or stale files
# are compiled.
bytecode: $(DEMO_STAMP)
	@$(BIN)/python -m compileall -q imu calibration gui >/dev/null

sysdeps:
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  need=""; for p in $(DEBS); do \
	    dpkg -s $$p >/dev/null 2>&1 || need="$$need $$p"; done; \
	  if [ -n "$$need" ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null) \
	    || echo "warning: could not install$$need (offscreen Qt / report checks may be skipped or fail)"; fi; \
	fi

demo: $(DEMO_STAMP) bytecode
	@$(MAKE) --no-print-directory sysdeps DEBS="$(QT_DEBS)"
	$(BIN)/imu demo

test: $(STAMP) bytecode sysdeps
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

bench: $(STAMP) bytecode
	@$(MAKE) --no-print-directory sysdeps DEBS="$(QT_DEBS) xvfb"
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
	find imu calibration gui -name __pycache__ -type d -prune -exec rm -rf {} +
