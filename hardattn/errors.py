"""Errors that name a user mistake; `main` prints them without a traceback."""


class UserError(Exception):
  """A problem with the user's input: config, data, or workdir.

  The message must say what was wrong, where it was looked for, and how to
  fix it. `hardattn.main` logs it and exits with status 1.
  """


class DatasetNotFoundError(UserError):
  """A prepared dataset is missing or incomplete."""


class NonFiniteLossError(UserError):
  """Training produced a non-finite loss; the last good checkpoint is kept."""
