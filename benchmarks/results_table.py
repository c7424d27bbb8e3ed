r"""Markdown rows for the README results table, from runs' eval reports.

  python benchmarks/results_table.py workdirs/sort_of_clevr_*

Each workdir's `eval_report.json` (written by hardattn.main at its last eval)
gives the step, accuracies and training wall-clock; `eval_history.jsonl`
gives the accuracy curve, printed below the table.
"""

import json
import os
import sys


def main(workdirs):
  print('| model | steps | train wall-clock | test accuracy | non-relational '
        '| relational | cells kept |')
  print('|---|---|---|---|---|---|---|')
  curves = []
  for workdir in workdirs:
    path = os.path.join(workdir, 'eval_report.json')
    if not os.path.exists(path):
      print(f'(no eval_report.json in {workdir})', file=sys.stderr)
      continue
    with open(path) as f:
      r = json.load(f)
    by_type = r['accuracy_by_type']
    print(f"| {r['model']} | {r['step']:,} | {r['train_wall_clock_s'] / 60:.1f}"
          f" min | {100 * r['accuracy']:.1f} | "
          f"{100 * by_type.get('non_relational', float('nan')):.1f} | "
          f"{100 * by_type.get('relational', float('nan')):.1f} | "
          f"{100 * r['fraction_kept']:.0f}% |")
    with open(os.path.join(workdir, 'eval_history.jsonl')) as f:
      history = [json.loads(line) for line in f]
    curves.append((r['model'], [
        (h['step'], h['train_wall_clock_s'], h['accuracy_by_type'].get(
            'relational'), h['accuracy_by_type'].get('non_relational'))
        for h in history]))
  for model, points in curves:
    print(f'\n{model}: step (seconds) non-relational / relational')
    print('  ' + ', '.join(f'{s} ({t:.0f} s) {100 * n:.0f}/{100 * rel:.0f}'
                          for s, t, rel, n in points))


if __name__ == '__main__':
  main(sys.argv[1:])
