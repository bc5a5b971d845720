"""``hypernas --import MODULE``: a user's module (a dotted name or a ``.py`` file) imported before the
command runs, so that what it registers (:func:`hypernas.register_op`) is known to the command.

The modules are also passed on to the processes a command starts (campaign workers, the processes
of a distributed search) through the environment variable :data:`ENV`.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

from hypernas.errors import ConfigError

ENV = "HYPERNAS_IMPORT"


def import_user_modules(names: list[str] | None) -> None:
    """Import every module of ``names`` and of ``$HYPERNAS_IMPORT`` once, then record them all there."""
    todo = [n for n in os.environ.get(ENV, "").split(os.pathsep) if n] + list(names or [])
    done: list[str] = []
    for name in todo:
        key = str(Path(name).resolve()) if name.endswith(".py") else name
        if key not in done:
            _import(key)
            done.append(key)
    if done:
        os.environ[ENV] = os.pathsep.join(done)


def _import(name: str) -> None:
    try:
        if name.endswith(".py"):
            path = Path(name)
            if not path.is_file():
                raise ConfigError(f"--import {name}: no such file; give a .py file or an importable module")
            module_name = f"hypernas_user_{path.stem}"
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[module_name]
                raise
        elif name in sys.modules:  # run again (a command called twice in one process)
            importlib.reload(sys.modules[name])
        else:
            importlib.import_module(name)
    except ConfigError:
        raise
    except ModuleNotFoundError as exc:
        raise ConfigError(f"--import {name}: {exc}; give a .py file or a module on the Python path") from None
    except Exception as exc:  # the user's code: one line, the fix is theirs
        raise ConfigError(f"--import {name} failed: {exc.__class__.__name__}: {exc}") from None
