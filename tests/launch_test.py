"""launch/tpu_vm.py and launch/gpu.sh, without a cloud, a TPU or a GPU.

--dry-run output is checked command by command; real runs use fake gcloud,
git and python executables that record their arguments; the scripts that
tpu_vm.py runs on a worker are run here in a temporary $HOME.
"""

import json
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TPU_VM = os.path.join(REPO, 'launch', 'tpu_vm.py')
GPU_SH = os.path.join(REPO, 'launch', 'gpu.sh')
CONFIG = 'configs/sort_of_clevr_han_rn.py'
BASE = ['--name=t', '--zone=us-central2-b', '--bucket=gs://bkt',
        f'--config={CONFIG}', '--workdir=workdirs/han_rn']
NO_GCLOUD = {'PATH': '/nonexistent', 'HOME': '/nonexistent'}


def _tpu_vm(*args, env=None):
  return subprocess.run([sys.executable, TPU_VM, *args], capture_output=True,
                        text=True, timeout=30, env=env or NO_GCLOUD)


def _dry_run(*args):
  result = _tpu_vm('--dry-run', *BASE, *args)
  assert result.returncode == 0, result.stderr
  return [shlex.split(line) for line in result.stdout.splitlines()]


def _remote(argv):
  """(worker, script) of a `gcloud ... tpu-vm ssh` command."""
  assert argv[:5] == ['gcloud', 'compute', 'tpus', 'tpu-vm', 'ssh'], argv
  flags = dict(a.split('=', 1) for a in argv[6:] if a.startswith('--'))
  return flags['--worker'], flags['--command']


def _words(script):
  """A shell script's words, `;`, `&&`, `|` and `&` split off."""
  lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
  lexer.whitespace_split = True
  return list(lexer)


def _train_args(argv):
  """The hardattn.main command line inside the training launch command."""
  _, script = _remote(argv)
  words = _words(script)
  inner = words[words.index('-c') + 1]
  words = _words(inner)
  start = words.index('hardattn.main') - 2
  return words[start:words.index(';', start)]


def _fake_executable(path, code):
  path.write_text(f'#!{sys.executable}\n{code}')
  path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_dry_run_v4_8_prints_every_step():
  cmds = _dry_run('--accelerator_type=v4-8', '--config.num_train_steps=100')
  assert cmds[0] == [
      'gcloud', 'compute', 'tpus', 'tpu-vm', 'create', 't',
      '--accelerator-type=v4-8', '--version=tpu-ubuntu2204-base',
      '--zone=us-central2-b']
  assert cmds[1][:4] == ['git', '-C', REPO, 'archive']
  assert cmds[1][-1] == 'HEAD'
  tarball = cmds[1][-2].removeprefix('--output=')
  assert cmds[2] == ['gcloud', 'compute', 'tpus', 'tpu-vm', 'scp', tarball,
                     't:hardattn-src.tar.gz', '--worker=all',
                     '--zone=us-central2-b']
  (w3, install), (w4, mount), (w5, sync) = map(_remote, cmds[3:6])
  assert w3 == w4 == w5 == 'all'
  assert 'tar -xzf $HOME/hardattn-src.tar.gz' in install
  assert 'uv venv -q --python=3.12 $HOME/hardattn-venv' in install
  assert ("pip install -q --python=$HOME/hardattn-venv/bin/python "
          "-e $HOME/hardattn 'jax[tpu]'") in install
  assert ('gcsfuse --implicit-dirs --rename-dir-limit=200000 '
          '--metadata-cache-ttl-secs=0 bkt /gcs/bkt') in mount
  assert ('gcloud storage rsync -r gs://bkt/tensorflow_datasets '
          '$HOME/tensorflow_datasets') in sync
  worker, launch = _remote(cmds[6])
  assert worker == 'all' and 'setsid nohup bash -c' in launch
  assert _train_args(cmds[6]) == [
      '$HOME/hardattn-venv/bin/python', '-m', 'hardattn.main',
      f'--config={CONFIG}', '--workdir=/gcs/bkt/workdirs/han_rn',
      '--distributed', '--config.num_train_steps=100']
  worker, follow = _remote(cmds[7])
  assert worker == '0' and 'tail' in follow
  assert len(cmds) == 8


def test_dry_run_multi_host_spot_prepare_delete():
  cmds = _dry_run('--accelerator_type=v4-32', '--spot', '--project=p',
                  '--prepare=sort_of_clevr', '--delete_after',
                  '--create_args=--network=n --labels=a=b',
                  '--config.batch_size=320')
  assert cmds[0][4:] == ['create', 't', '--accelerator-type=v4-32',
                         '--version=tpu-ubuntu2204-base', '--spot',
                         '--network=n', '--labels=a=b',
                         '--zone=us-central2-b', '--project=p']
  assert all('--project=p' in c for c in cmds if c[0] == 'gcloud')
  ssh = [_remote(c) for c in cmds if c[4:5] == ['ssh']]
  workers = [w for w, _ in ssh]
  # install, mount, prepare (worker 0), sync, train: all workers but one.
  assert workers == ['all', 'all', '0', 'all', 'all', '0']
  prepare = ssh[2][1]
  assert ('hardattn.prepare --dataset=sort_of_clevr '
          '--data_dir=$HOME/tensorflow_datasets') in prepare
  assert ('gcloud storage rsync -r $HOME/tensorflow_datasets/sort_of_clevr '
          'gs://bkt/tensorflow_datasets/sort_of_clevr') in prepare
  assert _train_args(cmds[-3])[-2:] == ['--distributed',
                                        '--config.batch_size=320']
  assert cmds[-1] == ['gcloud', 'compute', 'tpus', 'tpu-vm', 'delete', 't',
                      '--quiet', '--zone=us-central2-b', '--project=p']


@pytest.mark.parametrize('accelerator, runtime', [
    ('v5litepod-8', 'v2-alpha-tpuv5-lite'), ('v5litepod-32',
                                             'v2-alpha-tpuv5-lite'),
    ('v5p-8', 'v2-alpha-tpuv5'), ('v6e-8', 'v2-alpha-tpuv6e')])
def test_dry_run_picks_runtime_by_generation(accelerator, runtime):
  create = _dry_run(f'--accelerator_type={accelerator}')[0]
  assert f'--version={runtime}' in create
  assert _dry_run(f'--accelerator_type={accelerator}',
                  '--runtime_version=mine')[0][7] == '--version=mine'


def test_dry_run_existing_vm_from_a_git_url():
  cmds = _dry_run('--existing', '--repo_url=https://example.com/h a.git',
                  '--repo_ref=v1', '--detach', '--data_from_bucket')
  assert [c[4] for c in cmds] == ['ssh'] * 3  # install, mount, train
  _, launch = _remote(cmds[2])
  assert 'export HARDATTN_DATA_DIR=/gcs/bkt/tensorflow_datasets' in launch
  _, install = _remote(cmds[0])
  words = _words(install)
  assert ['git', 'clone', '-q', 'https://example.com/h a.git',
          '$HOME/hardattn'] == words[words.index('clone') - 1:][:5]
  assert 'git -C $HOME/hardattn checkout -q v1' in install


def test_overrides_survive_both_shells(tmp_path):
  """The launch command, run by bash here, passes each override intact."""
  if not (shutil.which('setsid') and shutil.which('timeout')):
    pytest.skip('needs setsid and timeout (util-linux, coreutils)')
  odd = "--config.note=it's \"a\" $HOME; `x` \\ * ?"
  cmds = _dry_run('--accelerator_type=v4-8', odd, '--config.seed=3')
  _, launch = _remote(cmds[6])
  _, follow = _remote(cmds[7])
  record = tmp_path / 'argv.json'
  home = tmp_path / 'home'
  (home / 'hardattn').mkdir(parents=True)
  (home / 'hardattn-venv' / 'bin').mkdir(parents=True)
  _fake_executable(home / 'hardattn-venv' / 'bin' / 'python', (
      'import json, os, sys\n'
      f'json.dump([sys.argv[1:], os.environ["HARDATTN_DATA_DIR"]], '
      f'open({str(record)!r}, "w"))\n'
      'print("step 1 of 1")\n'
      'sys.exit(3)\n'))
  gcs = str(tmp_path / 'gcs') + '/'
  env = dict(os.environ, HOME=str(home))

  def worker(script):
    return subprocess.run(['bash', '-c', script.replace('/gcs/', gcs)],
                          capture_output=True, text=True, timeout=20, env=env)

  started = worker(launch)
  assert started.returncode == 0, started.stderr
  assert 'training started' in started.stdout
  followed = worker(follow)
  assert followed.returncode == 3  # the training's status
  assert 'step 1 of 1' in followed.stdout
  argv, data_dir = json.loads(record.read_text())
  assert argv == ['-m', 'hardattn.main', f'--config={CONFIG}',
                  f'--workdir={gcs}bkt/workdirs/han_rn', '--distributed',
                  odd, '--config.seed=3']
  assert data_dir == f'{home}/tensorflow_datasets'
  logs = os.listdir(f'{gcs}bkt/workdirs/han_rn/logs')
  assert len(logs) == 1 and logs[0].startswith('train-')


def test_a_second_launch_is_refused_and_sigterm_stops_the_first(tmp_path):
  if not (shutil.which('setsid') and shutil.which('timeout')):
    pytest.skip('needs setsid and timeout (util-linux, coreutils)')
  cmds = _dry_run('--accelerator_type=v4-8')
  (_, launch), (_, follow) = _remote(cmds[6]), _remote(cmds[7])
  home = tmp_path / 'home'
  (home / 'hardattn').mkdir(parents=True)
  (home / 'hardattn-venv' / 'bin').mkdir(parents=True)
  ready = tmp_path / 'ready'
  _fake_executable(home / 'hardattn-venv' / 'bin' / 'python', (
      'import signal, sys, time\n'
      'signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n'
      f'open({str(ready)!r}, "w").close()\n'
      'time.sleep(20)\n'))
  env = dict(os.environ, HOME=str(home))

  def worker(script):
    return subprocess.run(
        ['bash', '-c', script.replace('/gcs/', str(tmp_path / 'gcs') + '/')],
        capture_output=True, text=True, timeout=20, env=env)

  assert worker(launch).returncode == 0
  pid = int((home / 'hardattn-run' / 'train.pid').read_text())
  try:
    second = worker(launch)
    assert second.returncode == 1
    assert 'training already runs on' in second.stderr
    assert f'kill -TERM -- -{pid}' in second.stderr
    while not ready.exists():
      time.sleep(0.05)
    os.killpg(pid, signal.SIGTERM)  # as the message says
    assert worker(follow).returncode == 0  # hardattn.main's status
  finally:
    try:
      os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
      pass


@pytest.mark.parametrize('args, message', [
    (['--zone=z', '--config=c.py', '--workdir=w'], '--bucket'),
    (BASE[:1] + BASE[2:] + ['--accelerator_type=v4-8'], '--zone'),
    (BASE, '--accelerator_type is required'),
    (BASE + ['--accelerator_type=v4_8'], 'expected e.g. v4-8'),
    (BASE + ['--accelerator_type=v9-8'], '--runtime_version'),
    (BASE + ['--accelerator_type=v4-8', '--foo=1'], "'--foo=1'"),
    (BASE + ['--accelerator_type=v4-8', '--config.seed'], '--config.key='),
    (BASE + ['--accelerator_type=v4-8', '--spot', '--preemptible'],
     'not allowed with'),
    (BASE + ['--accelerator_type=v4-8', '--detach', '--delete_after'],
     'exclude each other'),
    (BASE + ['--accelerator_type=v4-8', '--workdir=gs://other/w'],
     'not in --bucket=bkt'),
    (BASE + ['--accelerator_type=v4-8', '--workdir=../w'], "'../w'"),
    (BASE + ['--accelerator_type=v4-8', '--config=configs/nope.py:x'],
     "no file 'configs/nope.py'"),
    (BASE + ['--accelerator_type=v4-8', '--name=Bad_Name'], '--name'),
    (BASE + ['--accelerator_type=v4-8', '--repo_ref=v1'], '--repo_url'),
])
def test_bad_flags_are_usage_errors(args, message):
  result = _tpu_vm('--dry-run', *args)
  assert result.returncode == 2
  assert result.stdout == ''
  assert message in result.stderr.splitlines()[-1], result.stderr


def test_missing_gcloud_is_a_one_line_error():
  result = _tpu_vm(*BASE, '--accelerator_type=v4-8')
  assert result.returncode == 1
  assert result.stdout == ''
  lines = result.stderr.splitlines()
  assert len(lines) == 1 and lines[0].startswith('error: gcloud is not on '
                                                 'PATH'), result.stderr


def _fake_tools(tmp_path, fail_verb=''):
  """PATH with gcloud and git that log their arguments; gcloud FAIL_VERB
  exits 7."""
  bin_dir = tmp_path / 'bin'
  bin_dir.mkdir()
  log = tmp_path / 'calls.jsonl'
  for tool in ('gcloud', 'git'):
    _fake_executable(bin_dir / tool, (
        'import json, sys\n'
        f'open({str(log)!r}, "a").write(json.dumps(sys.argv) + "\\n")\n'
        f'sys.exit(7 if sys.argv[4:5] == [{fail_verb!r}] else 0)\n'))

  def calls():
    return [json.loads(line) for line in log.read_text().splitlines()]

  return dict(NO_GCLOUD, PATH=str(bin_dir)), calls


def test_runs_the_dry_run_commands_in_order(tmp_path):
  env, calls = _fake_tools(tmp_path)
  args = [*BASE, '--accelerator_type=v4-8', '--prepare=spatial',
          '--delete_after', '--config.seed=1']
  result = _tpu_vm(*args, env=env)
  assert result.returncode == 0, result.stderr
  ran = [[os.path.basename(c[0]), *c[1:]] for c in calls()]
  ran = [c for c in ran if c[1:3] != ['-C', REPO] or c[3] != 'status']
  assert ran == _dry_run(*args[len(BASE):])
  assert '[10/10] delete the TPU VM' in result.stderr


def test_a_failed_step_stops_with_a_one_line_error(tmp_path):
  env, calls = _fake_tools(tmp_path, fail_verb='ssh')
  result = _tpu_vm(*BASE, '--accelerator_type=v4-8', env=env)
  assert result.returncode == 1
  assert [c[4] for c in calls() if 'gcloud' in c[0]] == [
      'create', 'scp', 'ssh']  # nothing after the failed install
  last = result.stderr.splitlines()[-1]
  assert last.startswith('error: step 4 (install on every worker) failed '
                         'with status 7; the VM t is kept'), result.stderr
  assert 'gcloud compute tpus tpu-vm delete t --quiet' in last


def _gpu_sh(*args, **env):
  base = {k: v for k, v in os.environ.items()
          if k != 'CUDA_VISIBLE_DEVICES' and not k.startswith('XLA_PYTHON')}
  return subprocess.run(['bash', GPU_SH, *args], capture_output=True,
                        text=True, timeout=30, env=dict(base, **env))


def test_gpu_dry_run_prints_env_and_command():
  result = _gpu_sh(CONFIG, 'workdirs/g', '--gpus=0,1', '--dry-run',
                   '--config.batch_size=320', '--config.note=a b',
                   PYTHON='no-such-python')
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert lines[0] == f'cd {REPO}'
  assert 'export CUDA_VISIBLE_DEVICES=0,1' in lines
  assert 'export XLA_PYTHON_CLIENT_MEM_FRACTION=0.9' in lines
  assert shlex.split(lines[-1]) == [
      'python3', '-m', 'hardattn.main', f'--config={CONFIG}',
      '--workdir=workdirs/g', '--config.batch_size=320', '--config.note=a b']


@pytest.mark.parametrize('args', [[CONFIG], [CONFIG, '--gpus=0'],
                                  [CONFIG, 'w', '--gpus=x']])
def test_gpu_bad_arguments(args):
  result = _gpu_sh(*args)
  assert result.returncode == 2
  assert result.stderr.startswith(('usage:', 'error: --gpus'))


def test_gpu_checks_for_a_gpu_then_execs_main(tmp_path):
  python = tmp_path / 'python'
  record = tmp_path / 'argv.json'
  _fake_executable(python, (
      'import json, os, sys\n'
      'if sys.argv[1] == "-c":\n'
      '  print(os.environ["FAKE_BACKEND"])\n'
      'else:\n'
      f'  json.dump([sys.argv[1:], os.environ["CUDA_VISIBLE_DEVICES"]], '
      f'open({str(record)!r}, "w"))\n'))
  no_gpu = _gpu_sh(CONFIG, 'w', PYTHON=str(python), FAKE_BACKEND='cpu 1')
  assert no_gpu.returncode == 1
  assert 'JAX sees no GPU' in no_gpu.stderr
  assert 'jax[cuda13]' in no_gpu.stderr
  two = _gpu_sh(CONFIG, 'w', '--gpus=2,3', '--config.seed=1',
                PYTHON=str(python), FAKE_BACKEND='gpu 2')
  assert two.returncode == 0, two.stderr
  assert 'divisible by 2' in two.stderr
  assert json.loads(record.read_text()) == [
      ['-m', 'hardattn.main', f'--config={CONFIG}', '--workdir=w',
       '--config.seed=1'], '2,3']
