"""`--help` for the absl commands: the module's doc and its own flags, exit status 0.

absl's own --help exits 1 (a failure to scripts and CI) and lists every library's flags.
"""
import sys

from absl import flags


def exit_if_asked(argv, module, extra=""):
  """Prints the help of `module` (a module object) and exits 0 if argv asks for help."""
  if any(a in ("--help", "-h", "--helpfull") for a in argv[1:]):
    print(module.__doc__)
    print(flags.FLAGS.module_help(module))
    if extra:
      print(extra)
    sys.exit(0)
