# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench emulator clean dist
PYI ?= $(BIN)/pyinstaller

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	@test -f engine.toml || $(BIN)/engine init
	$(BIN)/engine run --config engine.toml

# coverage floors: the pure core (engine/) 95 %, the shell and the web (actors/, web/) 92 %
test: $(STAMP)
	$(BIN)/python -m pytest --cov --cov-report= tests
	$(BIN)/coverage report --include='engine/*' --skip-covered --fail-under=95
	$(BIN)/coverage report --include='actors/*,web/*' --skip-covered --fail-under=92

# the single-file executable (PyInstaller one-file, Linux x86-64): dist/engine
dist: $(STAMP)
	@test -x $(PYI) || { echo "make dist needs PyInstaller: $(BIN)/pip install -e '.[dist]'" \
	  "(pyinstaller==6.22.3)" >&2; exit 1; }
	$(PYI) --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller \
	  ops/dist/engine.spec
	@ls -l dist/engine

bench: $(STAMP)
	$(BIN)/python -m ops.bench

emulator: $(STAMP)
	$(BIN)/python -m tests.emulator --port 9443

clean:
	rm -rf $(VENV) *.egg-info
