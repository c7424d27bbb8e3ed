#!/usr/bin/env python3
r"""Trains a hardattn config on a Cloud TPU VM: one host or a multi-host slice.

  launch/tpu_vm.py --name=han-rn --zone=us-central2-b --accelerator_type=v4-8 \
      --bucket=my-bucket --config=configs/sort_of_clevr_han_rn.py \
      --workdir=workdirs/han_rn [--spot] [--prepare=sort_of_clevr] \
      [--existing] [--detach] [--delete_after] [--dry-run] \
      [--config.key=value ...]

Runs these gcloud commands from this machine (--dry-run prints them, one a
line, in order, and runs nothing):
  1. create the TPU VM (skipped with --existing);
  2. copy this repository's committed HEAD (`git archive`) to every worker,
     or clone --repo_url there;
  3. install it on every worker: a Python 3.12 venv (made by uv, as the TPU
     images' Python is 3.10) at ~/hardattn-venv with `pip install -e .` and
     jax[tpu];
  4. mount the bucket with gcsfuse at /gcs/BUCKET on every worker;
  5. with --prepare: generate that dataset on worker 0 and upload it to
     gs://BUCKET/tensorflow_datasets;
  6. copy gs://BUCKET/tensorflow_datasets to every worker's
     ~/tensorflow_datasets, as local disk reads fast (with --data_from_bucket
     training reads /gcs/BUCKET/tensorflow_datasets instead);
  7. start `python -m hardattn.main --config=CONFIG
     --workdir=/gcs/BUCKET/WORKDIR --distributed [--config.key=value ...]` on
     every worker, detached from the ssh session (setsid nohup), logging to
     ~/hardattn-run/train.log; at the end the log is also copied to
     WORKDIR/logs/ in the bucket;
  8. follow worker 0's log until training ends, exiting with its status
     (Ctrl-C stops following, not training; skipped with --detach);
  9. with --delete_after: delete the VM, whatever the training's status.

The workdir is in the bucket, shared by all workers (orbax writes one
checkpoint from all of them) and kept when the VM goes: rerunning the same
command resumes from the latest checkpoint. A Spot or preemptible VM that was
preempted must be deleted and created again (rerun without --existing); one
that is still up takes --existing. A VM that already runs training refuses a
second one.
"""

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Software versions by TPU generation (cloud.google.com/tpu/docs/runtimes).
RUNTIMES = {
    'v2': 'tpu-ubuntu2204-base',
    'v3': 'tpu-ubuntu2204-base',
    'v4': 'tpu-ubuntu2204-base',
    'v5litepod': 'v2-alpha-tpuv5-lite',
    'v5p': 'v2-alpha-tpuv5',
    'v6e': 'v2-alpha-tpuv6e',
}
GENERATED_DATASETS = ('sort_of_clevr', 'spatial')

# Paths on the workers ($HOME is expanded there).
SRC = '$HOME/hardattn'
VENV = '$HOME/hardattn-venv'
RUN = '$HOME/hardattn-run'
DATA = '$HOME/tensorflow_datasets'
TARBALL = 'hardattn-src.tar.gz'  # in the workers' home directories
# gcsfuse: orbax renames a checkpoint's temporary directory when it is done,
# which gcsfuse refuses unless allowed (--rename-dir-limit: the most files a
# renamed directory may hold); --implicit-dirs shows directories made by
# gcloud storage; no metadata cache, so every worker sees the others' files.
GCSFUSE_FLAGS = ('--implicit-dirs --rename-dir-limit=200000 '
                 '--metadata-cache-ttl-secs=0')


def parse_args(argv: list[str]) -> argparse.Namespace:
  """Flags, plus --config.key=value overrides in `args.overrides`."""
  parser = argparse.ArgumentParser(
      prog='launch/tpu_vm.py', allow_abbrev=False,
      description='Train a hardattn config on a Cloud TPU VM (see the module '
      'docstring). Extra --config.key=value flags go to hardattn.main.')
  add = parser.add_argument
  add('--name', default='hardattn', help='TPU VM name (default: hardattn).')
  add('--zone', required=True, help='e.g. us-central2-b (v4), us-west4-a.')
  add('--project', help='GCP project (default: gcloud config).')
  add('--accelerator_type', '--accelerator-type',
      help='e.g. v4-8, v5litepod-8, v4-32 (required unless --existing).')
  add('--runtime_version', '--runtime-version',
      help='TPU software version (default: by generation, '
      + ', '.join(f'{k}: {v}' for k, v in RUNTIMES.items()) + ').')
  capacity = parser.add_mutually_exclusive_group()
  capacity.add_argument('--spot', action='store_true',
                        help='Create a Spot VM (cheaper, preemptible).')
  capacity.add_argument('--preemptible', action='store_true',
                        help='Create a preemptible VM.')
  add('--create_args', '--create-args', default='',
      help='More flags for `tpu-vm create`, e.g. "--network=N '
      '--service-account=SA".')
  add('--existing', action='store_true',
      help='Use the VM NAME as it is (do not create it).')
  add('--bucket', required=True,
      help='GCS bucket (name or gs://name) holding the workdir and data.')
  add('--config', required=True,
      help='Config file in the repository, with an optional :preset.')
  add('--workdir', required=True,
      help='Workdir: a path in the bucket (or gs://BUCKET/path).')
  add('--data_prefix', '--data-prefix', default='tensorflow_datasets',
      help='Prepared datasets in the bucket (default: tensorflow_datasets).')
  add('--data_from_bucket', '--data-from-bucket', action='store_true',
      help='Read the datasets through the gcsfuse mount instead of copying '
      'them to local disk: slower, for data bigger than the disk (VQA\'s '
      'ResNet grids are about 90 GB).')
  add('--prepare', choices=GENERATED_DATASETS,
      help='Generate this dataset on worker 0 and upload it to the bucket.')
  add('--repo_url', '--repo-url',
      help='git clone this URL on the workers instead of copying the local '
      'repository.')
  add('--repo_ref', '--repo-ref', help='Branch, tag or commit (--repo_url).')
  add('--python', default='3.12', help='Python version of the venv.')
  add('--jax', default='jax[tpu]',
      help='JAX requirement to install (default: jax[tpu]; setup.py bounds '
      'the version).')
  add('--detach', action='store_true',
      help='Start training and return; do not follow the log.')
  add('--delete_after', '--delete-after', action='store_true',
      help='Delete the VM when training ends (successful or not).')
  add('--dry-run', '--dry_run', dest='dry_run', action='store_true',
      help='Print the commands, one a line, and run nothing.')
  args, extra = parser.parse_known_args(argv)

  args.overrides = []
  for item in extra:
    if not re.fullmatch(r'--config\.[A-Za-z_][\w.]*=.*', item, re.DOTALL):
      parser.error(f'unrecognized argument {item!r} (overrides are '
                   '--config.key=value)')
    args.overrides.append(item)
  if not re.fullmatch(r'[a-z]([-a-z0-9]{0,61}[a-z0-9])?', args.name):
    parser.error(f'--name={args.name!r}: lowercase letters, digits and '
                 'hyphens, starting with a letter')
  args.bucket = args.bucket.removeprefix('gs://').rstrip('/')
  if not re.fullmatch(r'[a-z0-9][-a-z0-9._]{1,220}[a-z0-9]', args.bucket):
    parser.error(f'--bucket={args.bucket!r} is not a bucket name')
  args.workdir = _bucket_path(parser, args.workdir, args.bucket, 'workdir')
  args.data_prefix = _bucket_path(parser, args.data_prefix, args.bucket,
                                  'data_prefix')
  if args.accelerator_type is None and not args.existing:
    parser.error('--accelerator_type is required (unless --existing)')
  if args.accelerator_type is not None:
    match = re.fullmatch(r'(v\d+[a-z]*)-(\d+)', args.accelerator_type)
    if not match:
      parser.error(f'--accelerator_type={args.accelerator_type!r}: expected '
                   'e.g. v4-8, v5litepod-8, v6e-8')
    if args.runtime_version is None and not args.existing:
      args.runtime_version = RUNTIMES.get(match.group(1))
      if args.runtime_version is None:
        parser.error(f'no default software version for {match.group(1)}: '
                     'pass --runtime_version (see '
                     'https://cloud.google.com/tpu/docs/runtimes)')
  if args.detach and args.delete_after:
    parser.error('--detach and --delete_after exclude each other (the VM '
                 'would be deleted while training)')
  if args.repo_ref and not args.repo_url:
    parser.error('--repo_ref goes with --repo_url')
  if not args.repo_url:
    config_file = args.config.split(':', 1)[0]
    if not os.path.isfile(os.path.join(ROOT, config_file)):
      parser.error(f'--config: no file {config_file!r} in {ROOT}')
  if not re.fullmatch(r'3\.\d+', args.python):
    parser.error(f'--python={args.python!r}: expected e.g. 3.12')
  return args


def _bucket_path(parser: argparse.ArgumentParser, path: str, bucket: str,
                 flag: str) -> str:
  """A path in the bucket, given as such, as gs://BUCKET/path or /gcs/..."""
  for prefix in ('gs://', '/gcs/'):
    if path.startswith(prefix):
      owner, _, path = path[len(prefix):].partition('/')
      if owner != bucket:
        parser.error(f'--{flag}: {prefix}{owner}/... is not in --bucket='
                     f'{bucket}')
  path = path.strip('/')
  if not path or '..' in path.split('/') or not re.fullmatch(
      r'[\w.=:+,@/-]+', path):
    parser.error(f'--{flag}={path!r}: expected a path such as '
                 'workdirs/han_rn (letters, digits, ._-=:+,@/)')
  return path


def _gcloud(args: argparse.Namespace, verb: str, *rest: str) -> list[str]:
  cmd = ['gcloud', 'compute', 'tpus', 'tpu-vm', verb, *rest,
         f'--zone={args.zone}']
  if args.project:
    cmd.append(f'--project={args.project}')
  return cmd


def _ssh(args: argparse.Namespace, worker: str, script: str) -> list[str]:
  return _gcloud(args, 'ssh', args.name, f'--worker={worker}',
                 f'--command={script}')


def _and(*commands: str) -> str:
  return ' && '.join(commands)


def _check_idle() -> str:
  """Stops a worker's script if a training run is alive there.

  The run's pid file holds its wrapper shell's pid, which setsid made the
  leader of a process group holding hardattn.main: `kill -TERM -- -PID`
  reaches both.
  """
  pid = f'{RUN}/train.pid'
  return (f'if [ -f {pid} ] && kill -0 "$(cat {pid})" 2>/dev/null && '
          f'grep -qa hardattn "/proc/$(cat {pid})/cmdline"; then '
          'echo "error: training already runs on $(hostname) '
          f'(pid $(cat {pid})); stop it (a checkpoint is saved) with: '
          f'kill -TERM -- -$(cat {pid})" >&2; '
          'exit 1; fi')


def tarball_path(args: argparse.Namespace) -> str:
  return os.path.join(tempfile.gettempdir(), f'hardattn-{args.name}.tar.gz')


def steps(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
  """(description, argv) of every command, in order."""
  out = []
  if not args.existing:
    capacity = (['--spot'] if args.spot else []) + (
        ['--preemptible'] if args.preemptible else [])
    out.append(('create the TPU VM', _gcloud(
        args, 'create', args.name,
        f'--accelerator-type={args.accelerator_type}',
        f'--version={args.runtime_version}', *capacity,
        *shlex.split(args.create_args))))

  if args.repo_url:
    fetch = _and(f'rm -rf {SRC}',
                 f'git clone -q {shlex.quote(args.repo_url)} {SRC}')
    if args.repo_ref:
      fetch = _and(fetch,
                   f'git -C {SRC} checkout -q {shlex.quote(args.repo_ref)}')
  else:
    tarball = tarball_path(args)
    out.append(('archive the committed repository',
                ['git', '-C', ROOT, 'archive', '--format=tar.gz',
                 f'--output={tarball}', 'HEAD']))
    out.append(('copy it to every worker',
                _gcloud(args, 'scp', tarball, f'{args.name}:{TARBALL}',
                        '--worker=all')))
    fetch = _and(f'rm -rf {SRC}', f'mkdir -p {SRC}',
                 f'tar -xzf $HOME/{TARBALL} -C {SRC}')
  uv = '$HOME/.local/bin/uv'
  install = _and(
      _check_idle(), fetch,
      f'{{ [ -x {uv} ] || curl -LsSf https://astral.sh/uv/install.sh | '
      'INSTALLER_NO_MODIFY_PATH=1 sh; }',
      f'{{ [ -x {VENV}/bin/python ] || {uv} venv -q --python={args.python} '
      f'{VENV}; }}',
      f'{uv} pip install -q --python={VENV}/bin/python -e {SRC} '
      f'{shlex.quote(args.jax)}',
      f'{VENV}/bin/python -c "import hardattn, jax; '
      'print(\'installed: jax\', jax.__version__)"')
  out.append(('install on every worker', _ssh(args, 'all', install)))

  mount_dir = f'/gcs/{args.bucket}'
  keyring = '/usr/share/keyrings/cloud.google.asc'
  get_gcsfuse = _and(
      f'curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg | '
      f'sudo tee {keyring} >/dev/null',
      f'echo "deb [signed-by={keyring}] https://packages.cloud.google.com/apt'
      ' gcsfuse-$(lsb_release -cs) main" | '
      'sudo tee /etc/apt/sources.list.d/gcsfuse.list >/dev/null',
      'sudo apt-get -o DPkg::Lock::Timeout=600 update -qq',
      'sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq gcsfuse')
  mount = _and(
      f'{{ command -v gcsfuse >/dev/null || {{ {get_gcsfuse}; }}; }}',
      f'sudo mkdir -p {mount_dir}',
      f'sudo chown "$(id -u):$(id -g)" {mount_dir}',
      f'{{ mountpoint -q {mount_dir} || gcsfuse {GCSFUSE_FLAGS} '
      f'{args.bucket} {mount_dir}; }}')
  out.append((f'mount gs://{args.bucket} at {mount_dir} on every worker',
              _ssh(args, 'all', mount)))

  data_url = f'gs://{args.bucket}/{args.data_prefix}'
  if args.prepare:
    prepare = _and(
        f'cd {SRC}',
        f'{VENV}/bin/python -m hardattn.prepare --dataset={args.prepare} '
        f'--data_dir={DATA}',
        f'gcloud storage rsync -r {DATA}/{args.prepare} '
        f'{data_url}/{args.prepare}')
    out.append((f'prepare {args.prepare} on worker 0 and upload it',
                _ssh(args, '0', prepare)))
  if args.data_from_bucket:
    data_dir = f'{mount_dir}/{args.data_prefix}'
  else:
    data_dir = DATA
    sync = _and(
        f'mkdir -p {DATA}',
        f'if gcloud storage ls {data_url} >/dev/null 2>&1; then '
        f'gcloud storage rsync -r {data_url} {DATA}; '
        f'else echo "no {data_url}: no data to copy"; fi')
    out.append(('copy the data to every worker', _ssh(args, 'all', sync)))

  workdir = f'{mount_dir}/{args.workdir}'
  train = f'{VENV}/bin/python ' + shlex.join([
      '-m', 'hardattn.main', f'--config={args.config}',
      f'--workdir={workdir}', '--distributed', *args.overrides])
  # The wrapper outlives a `kill -TERM` of its process group (its trap runs
  # once hardattn.main, which saves a checkpoint on SIGTERM, has exited), to
  # copy the log and record the exit status.
  wrapper = '; '.join([
      f'echo $$ > {RUN}/train.pid',
      'trap true TERM',
      train,
      'rc=$?',
      f'mkdir -p {workdir}/logs',
      f'timeout 300 cp {RUN}/train.log '
      f'{workdir}/logs/train-$(date +%Y%m%d-%H%M%S)-$(hostname).log',
      f'echo $rc > {RUN}/train.exit',
      'exit $rc'])
  launch = _and(
      _check_idle(), f'mkdir -p {RUN}',
      f'rm -f {RUN}/train.pid {RUN}/train.exit', f'cd {SRC}',
      f'export HARDATTN_DATA_DIR={data_dir}',
      f'{{ setsid nohup bash -c {shlex.quote(wrapper)} > {RUN}/train.log '
      '2>&1 < /dev/null & }',
      f'for _ in $(seq 100); do [ -s {RUN}/train.pid ] && break; '
      'sleep 0.1; done',
      f'echo "training started on $(hostname), pid $(cat {RUN}/train.pid), '
      'log ~/hardattn-run/train.log"')
  out.append(('start training on every worker', _ssh(args, 'all', launch)))
  if not args.detach:
    out.append(("follow worker 0's log", follow_command(args)))
  if args.delete_after:
    out.append(('delete the TPU VM',
                _gcloud(args, 'delete', args.name, '--quiet')))
  return out


def follow_command(args: argparse.Namespace) -> list[str]:
  """Shows worker 0's log until training ends; exits with its status.

  Training has ended when its wrapper wrote train.exit or is gone (killed).
  """
  return _ssh(args, '0', '; '.join([
      f'tail -n +1 -f {RUN}/train.log & tail=$!',
      f'while [ ! -f {RUN}/train.exit ] && '
      f'kill -0 "$(cat {RUN}/train.pid)" 2>/dev/null; do sleep 0.5; done',
      'sleep 0.2', 'kill $tail',
      f'exit "$(cat {RUN}/train.exit 2>/dev/null || echo 1)"']))


class LaunchError(Exception):
  """A one-line reason to stop."""


def _delete_hint(args: argparse.Namespace) -> str:
  return shlex.join(_gcloud(args, 'delete', args.name, '--quiet'))


def _check_tools(args: argparse.Namespace) -> None:
  if shutil.which('gcloud') is None:
    raise LaunchError('gcloud is not on PATH: install the Google Cloud CLI '
                      '(https://cloud.google.com/sdk/docs/install) and run '
                      '`gcloud init`')
  if not args.repo_url and shutil.which('git') is None:
    raise LaunchError('git is not on PATH (needed to copy the repository; or '
                      'pass --repo_url)')


def run(args: argparse.Namespace) -> int:
  """Runs the steps; returns the exit status.

  Raises:
    LaunchError: a tool is missing or a step failed.
  """
  _check_tools(args)
  if not args.repo_url:
    status = subprocess.run(
        ['git', '-C', ROOT, 'status', '--porcelain', '--untracked-files=no'],
        capture_output=True, text=True, check=False)
    if status.stdout.strip():
      print('warning: uncommitted changes are not copied (git archive HEAD); '
            'commit them to train them.', file=sys.stderr)
  todo = steps(args)
  vm_up = args.existing
  for i, (what, cmd) in enumerate(todo, 1):
    print(f'[{i}/{len(todo)}] {what}', file=sys.stderr, flush=True)
    try:
      subprocess.run(cmd, check=True)
    except KeyboardInterrupt:
      if what.startswith('follow'):
        print('Stopped following; training goes on. Follow again with: '
              + shlex.join(follow_command(args)), file=sys.stderr)
      return 130
    except subprocess.CalledProcessError as e:
      if not what.startswith('follow'):
        kept = (f'; the VM {args.name} is kept: fix and rerun with '
                f'--existing, or delete it: {_delete_hint(args)}'
                if vm_up else '')
        raise LaunchError(f'step {i} ({what}) failed with status '
                          f'{e.returncode}{kept}') from None
      if args.delete_after:
        print(f'[{len(todo)}/{len(todo)}] delete the TPU VM', file=sys.stderr)
        if subprocess.run(todo[-1][1], check=False).returncode:
          print(f'error: could not delete the VM: {_delete_hint(args)}',
                file=sys.stderr)
      raise LaunchError(
          f'training ended with status {e.returncode} (255: the connection '
          f'to worker 0 was lost); logs: gs://{args.bucket}/{args.workdir}'
          '/logs/') from None
    vm_up = vm_up or what.startswith('create')
  if args.detach:
    print('Training runs detached. Follow worker 0 with: '
          + shlex.join(follow_command(args)), file=sys.stderr)
  return 0


def main(argv: list[str]) -> int:
  args = parse_args(argv)
  if args.dry_run:
    for _, cmd in steps(args):
      print(shlex.join(cmd))
    return 0
  try:
    return run(args)
  except LaunchError as e:
    print(f'error: {e}', file=sys.stderr)
    return 1


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
