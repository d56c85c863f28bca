"""Catalogues: Python files whose ``CASES`` list the claims to check (``proofs/``),
and the case a witness names as its source (docs/theory.md §5).

Importing a catalogue file runs it; only paths the user names are imported (a
witness's source only with ``trust``, :func:`symlip.verify.replay`).
"""
from __future__ import annotations

import functools
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from symlip.core.messages import first_line
from symlip.search.claims import Case, SelfCheckingCase

__all__ = ["LoadedCase", "load_cases", "source_case"]


@dataclass(frozen=True)
class LoadedCase:
    """A :class:`Case` with the file it came from and its index there."""

    case: Case
    source: str
    index: int


def load_cases(paths: Sequence[str | Path]) -> list[LoadedCase]:
    """Collect the ``CASES`` of every Python module in ``paths`` (files or folders,
    searched recursively; files starting with ``_`` are skipped).

    ``CASES`` is a list or tuple of cases, or a function returning one.  Raises
    ``ValueError``, naming the file, for a path that does not exist, a folder
    with no catalogue files, a module that cannot be imported (syntax error,
    an exception while it runs), a module without ``CASES``, a ``CASES`` that
    is not a list (or whose function raises), or an entry that is neither a
    :class:`Case` nor a :class:`~symlip.training.moment_claims.MomentCase` (a
    statistical claim on SGD, docs/theory.md §7).
    """
    files: list[Path] = []
    for p in paths:
        if not isinstance(p, (str, Path)) or not str(p).strip():
            raise ValueError(f"a catalogue path must be a non-empty file or folder name; got {p!r}")
        path = Path(p)
        if not path.exists():
            raise ValueError(f"no such file or folder: {str(p)!r}")
        if path.is_dir():
            found = sorted(f for f in path.rglob("*.py")
                           if not any(part.startswith(("_", ".")) for part in f.relative_to(path).parts))
            if not found:
                raise ValueError(f"no cases found in {str(p)!r}: the folder holds no catalogue .py files "
                                 "(names starting with '_' or '.' are skipped)")
            files.extend(found)
        elif path.suffix == ".py":
            files.append(path)
        else:
            raise ValueError(f"{str(p)!r} is not a Python file or a folder")
    out: list[LoadedCase] = []
    seen: set[Path] = set()
    for f in files:
        f = f.resolve()
        if f in seen:
            continue
        seen.add(f)
        module = _import_file(f)
        cases = getattr(module, "CASES", None)
        if cases is None:
            raise ValueError(f"{f} defines no CASES (a list of symlip.Case)")
        if callable(cases):
            try:
                cases = cases()
            except (Exception, SystemExit) as exc:
                raise ValueError(f"{f}: CASES() raised {type(exc).__name__}: {first_line(exc)}") from exc
        if not isinstance(cases, (list, tuple)):
            raise ValueError(f"{f}: CASES is a {type(cases).__name__}; expected a list of symlip.Case "
                             "(or a function returning one)")
        for k, c in enumerate(cases):
            if not isinstance(c, (Case, SelfCheckingCase)):
                raise ValueError(f"{f}: CASES[{k}] is a {type(c).__name__}, not a symlip.Case "
                                 f"or a symlip.MomentCase")
            out.append(LoadedCase(case=c, source=_display_path(f), index=k))
    return out


def source_case(source: str | None, claim: str, base: str | Path | None = None) -> Any:
    """Import a witness's recorded source ``FILE::INDEX`` (this runs the file) and return the
    case at that index, which must carry the claim ``claim`` (``ValueError`` otherwise)."""
    if not source or "::" not in source:
        raise ValueError(f"witness field 'source' {source!r} does not name a catalogue case (FILE::INDEX)")
    path, _, index = source.rpartition("::")
    if not index.isdigit():
        raise ValueError(f"witness field 'source' {source!r}: the case index {index!r} is not a number")
    cases = load_cases([_find_source(path, base)])
    match = [c.case for c in cases if c.index == int(index) and c.case.claim.name == claim]
    if not match:
        raise ValueError(f"claim {claim!r} is no longer case {index} of {path}")
    return match[0]


def _find_source(path: str, base: str | Path | None) -> str:
    if Path(path).exists() or base is None:
        return path
    for folder in [Path(base).resolve(), *Path(base).resolve().parents]:
        if (folder / path).exists():
            return str(folder / path)
    return path


def _display_path(f: Path) -> str:
    try:
        return str(f.relative_to(Path.cwd()))
    except ValueError:
        return str(f)


@functools.lru_cache(maxsize=None)
def _import_file(path: Path) -> Any:
    """Import a catalogue file as a module (cached; its folder's parents may hold
    sibling helpers, so the file's folder is importable while it runs)."""
    name = "_symlip_catalogue_" + "_".join(path.with_suffix("").parts[-3:]).replace("-", "_").replace(".", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover
        raise ValueError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = str(path.parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # a catalogue's sys.exit() must not end the checker either
        sys.modules.pop(name, None)
        raise ValueError(f"importing {path} failed: {type(exc).__name__}: {first_line(exc)}") from exc
    finally:
        if added:
            sys.path.remove(folder)
    return module
