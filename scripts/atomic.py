"""Write outputs so a reader never sees half a file: temp file, then rename."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from rtl_gen.config import ConfigError
from rtl_gen.emit import plain_mode


@contextmanager
def atomic_path(target: str | os.PathLike):
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    The parent folder must exist (FileNotFoundError naming it otherwise) and be
    writable, and ``target`` must not be a folder (ConfigError); on any
    exception the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"output folder {parent} does not exist")
    if target.is_dir():
        raise ConfigError(f"output {target} is a folder: give a file path")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
    except OSError as e:
        raise ConfigError(f"output {target}: cannot write in {parent} ({e.strerror})") from None
    os.close(fd)
    try:
        plain_mode(tmp)
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
