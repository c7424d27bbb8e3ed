"""The progress line: speed, and an ETA that counts the evals still to come."""

from absl import logging
import pytest

from hardattn import writers


class FakeClock:

  def __init__(self):
    self.now = 100.0

  def __call__(self):
    return self.now


@pytest.fixture
def clock(monkeypatch):
  fake = FakeClock()
  monkeypatch.setattr(writers.time, 'perf_counter', fake)
  return fake


@pytest.fixture
def lines(monkeypatch):
  logged = []
  monkeypatch.setattr(logging, 'info',
                      lambda fmt, *args: logged.append(fmt % args))
  return logged


@pytest.mark.parametrize('step, left', [
    (1, 3), (3, 3), (4, 3), (5, 2), (8, 2), (9, 1), (10, 1)])
def test_evals_left_counts_every_multiple_and_the_end(step, left):
  # 10 steps, an eval every 4: after steps 4, 8 and 10.
  assert writers.Progress(10, 2, 0, eval_every_steps=4).evals_left(
      step) == left


def test_evals_left_when_the_end_is_a_multiple():
  progress = writers.Progress(8, 2, 0, eval_every_steps=4)
  assert [progress.evals_left(s) for s in (1, 4, 5, 8)] == [2, 2, 1, 1]
  assert writers.Progress(8, 2, 0).evals_left(1) == 0


def test_eta_adds_the_latest_eval_duration_per_eval_left(clock, lines):
  progress = writers.Progress(1000, 64, 0, eval_every_steps=250)
  clock.now += 50.0  # 100 steps at 2 steps/s
  progress.log(100, {'train/loss': 1.5})
  # 900 steps at 2/s; the 4 evals (250, 500, 750, 1000) not timed yet.
  assert progress.eta_seconds(100, 2.0) == 450.0
  assert 'ETA 00:07:30 + 4 eval(s) not timed yet' in lines[-1]
  assert '128.0 examples/s' in lines[-1] and 'loss 1.5000' in lines[-1]

  clock.now += 75.0  # steps 100..250 at 2 steps/s
  with progress.timing_eval(250):
    clock.now += 100.0  # the eval at step 250
  clock.now += 25.0  # 50 more steps: the eval's 100 s are not train time
  progress.log(300, {})
  # 700 steps at 2/s, then 3 evals of 100 s.
  assert progress.eta_seconds(300, 2.0) == 350.0 + 300.0
  assert 'ETA 00:10:50 with 3 eval(s) of 100 s' in lines[-1]
  assert '2.00 steps/s' in lines[-1]


def test_eta_past_a_day_shows_days(clock, lines):
  progress = writers.Progress(1_400_000, 64, 0, eval_every_steps=25_000)
  clock.now += 250.0  # 500 steps at 2 steps/s
  with progress.timing_eval(500):
    clock.now += 100.0
  clock.now += 250.0
  progress.log(1000, {})
  # 1,399,000 steps at 2/s = 699,500 s, and 56 evals of 100 s.
  assert progress.eta_seconds(1000, 2.0) == 699_500.0 + 5_600.0
  assert 'ETA 8d 03:51:40 with 56 eval(s) of 100 s' in lines[-1]


def test_format_duration():
  assert writers.format_duration(0) == '00:00:00'
  assert writers.format_duration(3661.4) == '01:01:01'
  assert writers.format_duration(86400 * 2 + 59) == '2d 00:00:59'
