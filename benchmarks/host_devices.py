"""Splitting the host CPU into XLA devices, for the benchmark scripts.

Must run before JAX is imported: XLA reads XLA_FLAGS when it starts.
"""

import os


def split_host_cpu(devices: int) -> None:
  """Makes XLA present the host CPU as `devices` devices (if more than 1).

  Also raises XLA's 40 s CPU collective timeout: on a busy machine one
  device thread can wait longer than that for the other at an all-reduce.
  """
  if devices > 1:
    os.environ['XLA_FLAGS'] = (
        os.environ.get('XLA_FLAGS', '') +
        f' --xla_force_host_platform_device_count={devices}'
        ' --xla_cpu_collective_call_terminate_timeout_seconds=600')
