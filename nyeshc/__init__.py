"""nyeshc: a compiler that turns a screenplay (.nysh) into a film."""

import time as _time

__version__ = "0.2.0"


def _age_at_import() -> float:
    """Seconds this process had already run when this package was imported: the interpreter's
    own start-up. Read from ``/proc`` (Linux); 0 where there is none (macOS), where the clock
    then starts here, before any of nyeshc's imports."""
    try:
        with open("/proc/self/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()  # after "(comm)", which may hold spaces
        with open("/proc/uptime", "rb") as fh:
            uptime = float(fh.read().split()[0])
        import os

        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22, starttime, in clock ticks after boot
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0
    age = uptime - started
    return age if 0.0 <= age < 60.0 else 0.0  # a clock that disagrees with itself: trust neither


#: :func:`time.perf_counter` at the start of this process (see :func:`_age_at_import`); the
#: command line's timings (``wrote … in X s``) count from here, as a stopwatch started with the
#: command would.
PROCESS_STARTED = _time.perf_counter() - _age_at_import()
