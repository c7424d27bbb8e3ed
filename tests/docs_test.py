"""README.md and docs/*.md: their commands parse and their links resolve.

The shell blocks' command lines are checked without data or training:
`python -m hardattn.*` lines are parsed by the program's own flags (config
files, presets and `--config.key=value` overrides included,
tests/parse_commands.py); scripts under benchmarks/ and launch/ exist and
know every flag given; every `configs/X.py[:preset]` named anywhere loads;
`make` targets exist; `python -c` lines run. Relative links (and their
`#anchors`) must point at files (and headings) that exist.
"""

import collections
import glob
import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from hardattn import cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = [os.path.join(REPO, 'README.md')] + sorted(
    glob.glob(os.path.join(REPO, 'docs', '*.md')))
PYTHONS = ('python', 'python3', '.venv/bin/python')
CONFIG_RE = re.compile(r'configs/\w+\.py(?::[\w=.,]+)?')
LINK_RE = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')


def _rel(path):
  return os.path.relpath(path, REPO)


def shell_blocks(path):
  """(line number, text) of each ```sh / ```bash block of a markdown file."""
  blocks, lines, start, language = [], None, 0, ''
  with open(path) as f:
    for number, line in enumerate(f, 1):
      fence = re.match(r'^```(\w*)\s*$', line)
      if fence and lines is None:
        lines, start, language = [], number, fence.group(1)
      elif fence:
        if language in ('sh', 'bash'):
          blocks.append((start, ''.join(lines)))
        lines = None
      elif lines is not None:
        lines.append(line)
  return blocks


def commands():
  """[(where, [tokens])] of every command in the docs' shell blocks."""
  out = []
  for path in DOCS:
    for start, text in shell_blocks(path):
      for i, line in enumerate(text.replace('\\\n', ' ').splitlines()):
        tokens = shlex.split(line, comments=True)
        command = []
        for token in tokens + [';']:
          if token in (';', '&&', '||', '|'):
            if command:
              out.append((f'{_rel(path)}:{start + 1 + i}', command))
            command = []
          else:
            command.append(token)
  cleaned = []
  for where, tokens in out:
    while tokens and re.match(r'^\w+=', tokens[0]):  # VAR=value command
      tokens = tokens[1:]
    if tokens and tokens[0] != 'export':
      cleaned.append((where, tokens))
  return cleaned


def _kind(tokens):
  if tokens[0] in PYTHONS and len(tokens) > 2 and tokens[1] == '-m':
    return 'module' if tokens[2].startswith('hardattn.') else None
  if tokens[0] in PYTHONS and len(tokens) > 1 and tokens[1] == '-c':
    return 'snippet'
  if tokens[0] in PYTHONS and len(tokens) > 1 and tokens[1].endswith('.py'):
    return 'script'
  if tokens[0].startswith(('launch/', 'benchmarks/')):
    return 'script'
  if tokens[0] == 'make':
    return 'make'
  return None


COMMANDS = commands()
BY_KIND = collections.defaultdict(list)
for _where, _tokens in COMMANDS:
  BY_KIND[_kind(_tokens)].append((_where, _tokens))


def test_the_docs_have_commands_of_every_kind():
  assert {'module', 'script', 'make', 'snippet'} <= set(BY_KIND)
  modules = {tokens[2] for _, tokens in BY_KIND['module']}
  assert {'hardattn.main', 'hardattn.prepare', 'hardattn.predict',
          'hardattn.export', 'hardattn.compare'} <= modules


def test_hardattn_commands_parse_with_their_own_flags():
  by_module = collections.defaultdict(list)
  for where, tokens in BY_KIND['module']:
    by_module[tokens[2]].append((where, tokens[3:]))
  result = subprocess.run(
      [sys.executable, os.path.join('tests', 'parse_commands.py')],
      input=json.dumps({module: [args for _, args in lines]
                        for module, lines in by_module.items()}),
      cwd=REPO, capture_output=True, text=True, timeout=300,
      env=dict(os.environ, JAX_PLATFORMS='cpu'))
  assert result.returncode == 0, result.stderr[-3000:]
  errors = json.loads(result.stdout.strip().splitlines()[-1])
  failures = [f'{where}: python -m {module} {shlex.join(args)}\n  {e}'
              for module, lines in sorted(by_module.items())
              for (where, args), e in zip(lines, errors[module]) if e]
  assert not failures, '\n'.join(failures)


def test_scripts_exist_and_know_their_flags():
  failures = []
  for where, tokens in BY_KIND['script']:
    script = tokens[1] if tokens[0] in PYTHONS else tokens[0]
    path = os.path.join(REPO, script)
    if not os.path.isfile(path):
      failures.append(f'{where}: no such script {script}')
      continue
    source = open(path).read()
    for arg in tokens[1:]:
      name = arg.split('=', 1)[0]
      if not name.startswith('--') or name.startswith('--config.'):
        continue  # positional, or an override passed on to hardattn.main
      if (f"'{name}'" not in source and f'{name})' not in source and
          f'{name} ' not in source and f'{name}=' not in source):
        failures.append(f'{where}: {script} has no flag {name}')
  assert not failures, '\n'.join(failures)


def _config_specs():
  """Every configs/X.py[:preset] the docs name, with where."""
  specs = {}
  for path in DOCS:
    with open(path) as f:
      for number, line in enumerate(f, 1):
        for spec in CONFIG_RE.findall(line):
          specs.setdefault(spec, f'{_rel(path)}:{number}')
  for _, tokens in BY_KIND['script']:
    for arg in tokens:  # benchmarks/train_step.py --configs=a,b:preset
      if arg.startswith('--configs='):
        for name in arg.split('=', 1)[1].split(','):  # as train_step.py
          base, _, preset = name.partition(':')
          if not os.path.exists(os.path.join(REPO, 'configs', base + '.py')):
            base = 'sort_of_clevr_' + base
          specs.setdefault(f'configs/{base}.py' + (f':{preset}' if preset
                                                   else ''), arg)
  return specs


def test_every_named_config_and_preset_loads():
  specs = _config_specs()
  assert 'configs/clevr_han_rn.py:cpu' in specs
  failures = []
  for spec, where in sorted(specs.items()):
    try:
      cli.load_config(os.path.join(REPO, spec))
    except Exception as e:  # pylint: disable=broad-except
      failures.append(f'{where}: {spec}: {e}')
  assert not failures, '\n'.join(failures)


def test_make_targets_exist():
  with open(os.path.join(REPO, 'Makefile')) as f:
    targets = set(re.findall(r'^([\w-]+):', f.read(), re.MULTILINE))
  for where, tokens in BY_KIND['make']:
    named = [t for t in tokens[1:] if '=' not in t]
    assert set(named) <= targets, f'{where}: {shlex.join(tokens)}'


def test_python_snippets_run(tmp_path):
  snippets = {tuple(tokens): where for where, tokens in BY_KIND['snippet']}
  for tokens, where in snippets.items():
    result = subprocess.run([sys.executable, *tokens[1:]], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f'{where}:\n{result.stderr[-2000:]}'


def _anchors(path):
  """GitHub's anchors of a markdown file's headings."""
  anchors = set()
  in_code = False
  with open(path) as f:
    for line in f:
      if line.startswith('```'):
        in_code = not in_code
      heading = re.match(r'^#+\s+(.*?)\s*$', line)
      if heading and not in_code:
        text = re.sub(r'[^\w\- ]', '', heading.group(1).lower())
        anchors.add(text.replace(' ', '-'))
  return anchors


@pytest.mark.parametrize('path', DOCS, ids=_rel)
def test_relative_links_resolve(path):
  failures = []
  with open(path) as f:
    text = f.read()
  for target in LINK_RE.findall(text):
    if re.match(r'^[a-z]+:', target):  # https:, mailto:
      continue
    file_part, _, anchor = target.partition('#')
    linked = (os.path.normpath(os.path.join(os.path.dirname(path), file_part))
              if file_part else path)
    if not os.path.exists(linked):
      failures.append(f'{target}: no such file')
    elif anchor and anchor not in _anchors(linked):
      failures.append(f'{target}: no heading #{anchor} in {_rel(linked)}')
  assert not failures, f'{_rel(path)}:\n' + '\n'.join(failures)


def test_readme_fits_on_a_few_screens():
  with open(os.path.join(REPO, 'README.md')) as f:
    assert len(f.readlines()) <= 250, 'move the details into docs/'
