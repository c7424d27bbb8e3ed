# The README's commands. `make demo` is the main job, `make test` the suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
WORKDIR ?= workdirs/sort_of_clevr_han_rn
# XLA on CPU runs each convolution on about one core: splitting the host into
# two devices (the batch is sharded over them) uses both cores of a laptop.
# On a busy machine one device thread can wait over XLA's default 40 s for the
# other at an all-reduce, which aborts the process: allow 10 minutes.
CPU_DEVICES ?= 2
export XLA_FLAGS ?= --xla_force_host_platform_device_count=$(CPU_DEVICES) \
  --xla_cpu_collective_call_terminate_timeout_seconds=600

.PHONY: venv demo test bench clean

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# Prepares Sort-of-CLEVR (if missing), trains HAN+RN, evaluates, and writes
# summaries, checkpoints, eval_report.json and pictures into $(WORKDIR).
demo: venv
	$(PY) -m hardattn.main --config=configs/sort_of_clevr_han_rn.py \
	  --workdir=$(WORKDIR) $(ARGS)

# The tests set their own fake devices (tests/conftest.py).
test: venv
	XLA_FLAGS= $(PY) -m pytest tests -q -n 2 --durations=10

# Every benchmark (about 30 minutes on a 2-core CPU): writes BENCHMARKS.md
# and benchmarks/cost_vs_cells.png.
bench: venv
	XLA_FLAGS= $(PY) benchmarks/suite.py --devices=$(CPU_DEVICES)

clean:
	rm -rf $(VENV) *.egg-info
