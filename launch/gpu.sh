#!/usr/bin/env bash
# Runs a config on this host's GPUs: one process drives all of them, and each
# batch is sharded over them on the `data` mesh axis, so config.batch_size
# (and eval_batch_size, and batch_size / questions_per_image) must be
# divisible by the number of GPUs.
#
#   launch/gpu.sh CONFIG WORKDIR [--gpus=0,1] [--dry-run] [--config.k=v ...]
#
# CONFIG and WORKDIR are relative to the repository root (as in
# launch/local.sh). --gpus picks GPUs (CUDA_VISIBLE_DEVICES; default: all).
# --dry-run prints the environment and the command, and runs nothing. Other
# flags go to hardattn.main. PYTHON overrides the interpreter (default:
# .venv/bin/python, else python3). Rerunning on the same workdir resumes.
#
# Memory: JAX reserves XLA_PYTHON_CLIENT_MEM_FRACTION of each GPU's memory at
# start (JAX's default 0.75; 0.9 here, for a host that does nothing else).
# Set XLA_PYTHON_CLIENT_PREALLOCATE=false to allocate as needed instead (for
# a GPU shared with other processes; slower, may fragment).
set -euo pipefail

usage="usage: $0 CONFIG WORKDIR [--gpus=0,1] [--dry-run] [--config.k=v ...]"
if [[ $# -lt 2 || $1 == -* || $2 == -* ]]; then
  echo "$usage" >&2
  exit 2
fi
config=$1 workdir=$2
shift 2
gpus='' dry_run=0 flags=()
for arg in "$@"; do
  case $arg in
    --gpus=*) gpus=${arg#--gpus=} ;;
    --dry-run | --dry_run) dry_run=1 ;;
    *) flags+=("$arg") ;;
  esac
done
if [[ -n $gpus && ! $gpus =~ ^[0-9]+(,[0-9]+)*$ ]]; then
  echo "error: --gpus=$gpus: expected GPU indices such as 0,1" >&2
  exit 2
fi

cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
[[ -x $python ]] || command -v "$python" >/dev/null || python=python3

if [[ -n $gpus ]]; then
  export CUDA_VISIBLE_DEVICES=$gpus
fi
export XLA_PYTHON_CLIENT_MEM_FRACTION=${XLA_PYTHON_CLIENT_MEM_FRACTION:-0.9}
cmd=("$python" -m hardattn.main --config="$config" --workdir="$workdir"
     ${flags[@]+"${flags[@]}"})

# Shell-quotes $1 where needed (printf %q escapes even commas).
quote() {
  if [[ $1 =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then
    printf '%s' "$1"
  else
    printf '%q' "$1"
  fi
}

if (( dry_run )); then
  echo "cd $(quote "$PWD")"
  for var in CUDA_VISIBLE_DEVICES XLA_PYTHON_CLIENT_MEM_FRACTION \
      XLA_PYTHON_CLIENT_PREALLOCATE XLA_PYTHON_CLIENT_ALLOCATOR XLA_FLAGS; do
    if [[ -n ${!var+x} ]]; then
      echo "export $var=$(quote "${!var}")"
    fi
  done
  line=''
  for word in "${cmd[@]}"; do
    line+="${line:+ }$(quote "$word")"
  done
  echo "$line"
  exit 0
fi

if ! backend=$("$python" -c \
    'import jax; print(jax.default_backend(), jax.local_device_count())' \
    2>/dev/null); then
  echo "error: $python cannot import jax; install the package first" \
       "(python -m pip install -e . \"jax[cuda13]\")" >&2
  exit 1
fi
read -r platform count <<< "$backend"
if [[ $platform != gpu ]]; then
  echo "error: JAX sees no GPU (backend: $platform). Install its CUDA build:" \
       "$python -m pip install -U \"jax[cuda13]\" (or \"jax[cuda12]\" where" \
       "the NVIDIA driver predates CUDA 13; see nvidia-smi)." >&2
  exit 1
fi
echo "$count GPU(s): config.batch_size must be divisible by $count." >&2
exec "${cmd[@]}"
