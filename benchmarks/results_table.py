r"""Markdown rows for the README results tables, from runs' eval histories.

  python benchmarks/results_table.py workdirs/sort_of_clevr_*
  python benchmarks/results_table.py --step=5000 workdirs/sort_of_clevr_han_rn

Each workdir's `eval_history.jsonl` (one line per eval of hardattn.main)
gives, at its last eval or at `--step`, the step, the accuracy per question
group (columns in the dataset's order), the training wall-clock and the
fraction of cells kept (for soft attention: the effective fraction,
exp(entropy) / cells); the accuracy curves are printed below the table.
Rows are named by workdir, so two runs of one model stay apart.
"""

import argparse
import json
import os
import sys


def groups(entry: dict) -> list[tuple[str, float]]:
  """(group, accuracy) in table order; older reports lack a 'table'."""
  if 'table' in entry:
    return [tuple(row) for row in entry['table']]
  by_type = entry['accuracy_by_type']
  return [('overall', entry['accuracy'])] + [
      (k, v) for k, v in by_type.items() if '/' not in k]


def read(workdir: str, step: int | None) -> tuple[dict, list[dict]] | None:
  """(the eval at `step` or the last one, the history up to it)."""
  path = os.path.join(workdir, 'eval_history.jsonl')
  if not os.path.exists(path):
    print(f'(no eval_history.jsonl in {workdir})', file=sys.stderr)
    return None
  with open(path) as f:
    history = [json.loads(line) for line in f if line.strip()]
  if step is not None:
    history = [h for h in history if h['step'] <= step]
    if not history or history[-1]['step'] != step:
      print(f'(no eval at step {step} in {workdir})', file=sys.stderr)
      return None
  return history[-1], history


def main(argv):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--step', type=int, default=None,
                      help='report this eval step (default: the last)')
  parser.add_argument('workdirs', nargs='+')
  args = parser.parse_args(argv)
  runs = [(os.path.basename(os.path.normpath(w)), read(w, args.step))
          for w in args.workdirs]
  runs = [(name, r) for name, r in runs if r is not None]
  if not runs:
    return
  columns = [g for g, _ in groups(runs[0][1][0])]
  print('| run | model | steps | train wall-clock | '
        + ' | '.join(columns) + ' | cells kept |')
  print('|---|---|---|---|' + '---|' * len(columns) + '---|')
  for name, (last, _) in runs:
    accs = dict(groups(last))
    cells = ' | '.join(f'{100 * accs[c]:.1f}' if c in accs else '-'
                       for c in columns)
    print(f"| {name} | {last['model']} | {last['step']:,} | "
          f"{last['train_wall_clock_s'] / 60:.1f} min | {cells} | "
          f"{100 * last['fraction_kept']:.0f}% |")
  for name, (_, history) in runs:
    kinds = [g for g, _ in groups(history[0])][1:]
    print(f"\n{name}: step (seconds) {' / '.join(kinds)}")
    print('  ' + ', '.join(
        f"{h['step']} ({h['train_wall_clock_s']:.0f} s) "
        + '/'.join(f'{100 * a:.0f}' for _, a in groups(h)[1:])
        for h in history))


if __name__ == '__main__':
  main(sys.argv[1:])
