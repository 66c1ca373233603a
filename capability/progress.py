"""Progress on long work: a tqdm bar on stderr when stderr is a terminal, otherwise one line
per stage when it ends (so logs stay readable). Library calls show nothing unless asked."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["stage"]


@contextmanager
def stage(desc: str, total: int | None = None, unit: str = "step", *,
          enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A stage of work; yields ``advance(n=1)``.

    On a terminal: a tqdm bar when ``total`` is known (none otherwise: the stage's own bars,
    e.g. sampling's, show instead). Not on a terminal: ``capability: DESC: N UNITs in S s``
    when the stage ends, or ``capability: DESC: stopped after S s`` when an error or an
    interruption ends it (the error's own message follows). ``enabled=False``: nothing at
    all."""
    done = [0]
    if not enabled:
        yield lambda n=1: None
        return
    start = time.perf_counter()
    bar = None
    if sys.stderr.isatty() and total is not None:
        import shutil

        from tqdm import tqdm

        # A terminal that reports 0 columns (a bare pseudo-terminal) gets 80, not no bar.
        bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False,
                   ncols=shutil.get_terminal_size((80, 24)).columns)

    def advance(n: int = 1) -> None:
        done[0] += n
        if bar is not None:
            bar.update(n)

    finished = False
    try:
        yield advance
        finished = True
    finally:
        if bar is not None:
            # The last updates may fall within tqdm's 0.1 s between redraws: draw the final
            # count before the bar is cleared.
            bar.refresh()
            bar.close()
        if not sys.stderr.isatty():
            seconds = time.perf_counter() - start
            count = f"{done[0]} {unit}{'s' if done[0] != 1 else ''} " if done[0] else ""
            line = f"{count}in {seconds:.1f} s" if finished else f"stopped after {seconds:.1f} s"
            print(f"capability: {desc}: {line}", file=sys.stderr, flush=True)
