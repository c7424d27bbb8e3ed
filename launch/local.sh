#!/usr/bin/env bash
# Runs a config on this machine: on a CPU-only host the cores are split into
# XLA devices (the batch is sharded over them; XLA runs each convolution on
# about one core otherwise); on a GPU/TPU host JAX's devices are used as is.
#
#   launch/local.sh configs/sort_of_clevr_han_rn.py workdirs/han_rn [--config.key=value ...]
#
# CPU_DEVICES=N overrides the number of CPU devices (default: the largest power
# of two <= cores, at most 8).
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 CONFIG WORKDIR [--config.key=value ...]" >&2
  exit 2
fi
config=$1 workdir=$2
shift 2
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
[[ -x $python ]] || python=python3
if ! "$python" -c 'import jax, sys; sys.exit(jax.default_backend() != "cpu")' 2>/dev/null; then
  exec "$python" -m hardattn.main --config="$config" --workdir="$workdir" "$@"
fi
# A power of two (at most 8, at most the cores), so batch sizes divide evenly.
cores=$(nproc) devices=1
while (( devices * 2 <= cores && devices < 8 )); do devices=$(( devices * 2 )); done
devices=${CPU_DEVICES:-$devices}
# The timeout: on a busy host one device thread can wait over XLA's default
# 40 s for the other at an all-reduce, which aborts the process.
export XLA_FLAGS="${XLA_FLAGS:-} --xla_force_host_platform_device_count=$devices \
--xla_cpu_collective_call_terminate_timeout_seconds=600"
exec "$python" -m hardattn.main --config="$config" --workdir="$workdir" "$@"
