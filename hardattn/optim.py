"""The optimizer: an optax chain and learning-rate schedule from the config.

Config fields (`config.optimizer`): learning_rate, schedule ('constant' |
'cosine' | 'warmup_cosine' | 'warmup_stable_cosine'), warmup_steps,
decay_fraction (warmup_stable_cosine: the last fraction of the steps, over
which the rate decays), grad_clip_norm (0 = off), weight_decay (0 = Adam,
> 0 = AdamW).
"""

import ml_collections
import optax

from hardattn import errors

SCHEDULES = ('constant', 'cosine', 'warmup_cosine', 'warmup_stable_cosine')


def learning_rate_schedule(config: ml_collections.ConfigDict,
                           num_train_steps: int) -> optax.Schedule:
  """The schedule named by config.schedule."""
  lr = config.learning_rate
  if config.schedule == 'constant':
    return optax.constant_schedule(lr)
  if config.schedule == 'cosine':
    return optax.cosine_decay_schedule(lr, max(1, num_train_steps))
  if config.schedule == 'warmup_cosine':
    return optax.warmup_cosine_decay_schedule(
        0.0, lr, config.warmup_steps, max(num_train_steps,
                                          config.warmup_steps + 1))
  if config.schedule == 'warmup_stable_cosine':
    # Warm-up, the full rate, then a cosine to zero over the last
    # decay_fraction of the steps ("warmup-stable-decay"; decision, issue
    # 17: on Sort-of-CLEVR the answers' reading is learned late, and a
    # cosine over all steps has lowered the rate by then).
    if not 0 < config.decay_fraction <= 1:
      raise errors.UserError('config.optimizer.decay_fraction must be in '
                             f'(0, 1], got {config.decay_fraction!r}.')
    steps = max(1, num_train_steps)
    decay = max(1, round(steps * config.decay_fraction))
    start = max(config.warmup_steps, steps - decay)
    return optax.join_schedules(
        [optax.linear_schedule(0.0, lr, config.warmup_steps),
         optax.constant_schedule(lr),
         optax.cosine_decay_schedule(lr, max(1, steps - start))],
        [config.warmup_steps, start])
  raise errors.UserError(f'config.optimizer.schedule must be one of '
                         f'{SCHEDULES}, got {config.schedule!r}.')


def create_optimizer(config: ml_collections.ConfigDict,
                     num_train_steps: int) -> optax.GradientTransformation:
  """Adam (or AdamW), optionally after global-norm gradient clipping."""
  schedule = learning_rate_schedule(config, num_train_steps)
  parts = []
  if config.grad_clip_norm > 0:
    parts.append(optax.clip_by_global_norm(config.grad_clip_norm))
  if config.weight_decay > 0:
    parts.append(optax.adamw(schedule, weight_decay=config.weight_decay))
  else:
    parts.append(optax.adam(schedule))
  return optax.chain(*parts)
