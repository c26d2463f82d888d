"""Stored JSON settings files of the daemon, read one way: a file that cannot be used (not
JSON, not UTF-8, text with a lone surrogate, values the daemon refuses) is moved aside as
``NAME.bad`` so nothing a person wrote is lost, the daemon runs on the defaults, and the
:class:`ConfigProblem` it leaves says which file, why, and the command that sets it again. The
health ``settings`` check shows every such problem until the setting is saved again.

A file whose defaults would be unsafe (``store.json`` holds the restart hook a deploy needs)
is not moved: it is reported the same way, naming what stays refused until it is fixed.

Every file is versioned the same way: :func:`save` writes ``{"version": N, ...settings}``, and
reading takes the settings of a file of format N or older (a file without the key, written
before it existed, is format 1); a file written by a newer runtime is unusable, said so in words.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple, TypeVar

from device_runtime import fileio
from device_runtime.protocol import ProtocolError

log = logging.getLogger("edge_runtime.config")

T = TypeVar("T")
MAX_DEPTH = 32
VERSION_KEY = "version"


@dataclass(frozen=True)
class ConfigProblem:
    path: str  # the file as the daemon found it
    what: str  # for people: "alert thresholds"
    reason: str  # why it cannot be used
    fix: str  # the command (or edit) that makes it usable again
    kept: str = ""  # where the bad file is now: "moved to ….bad", or why it stayed
    blocking: str = ""  # what stays refused until it is fixed; "" when the defaults are in use

    @property
    def message(self) -> str:
        if self.blocking:
            return "the %s in %s cannot be used (%s): %s until it is fixed" % (
                self.what, self.path, self.reason, self.blocking)
        return "the %s in %s cannot be used (%s): the file was %s, using the default %s" % (
            self.what, self.path, self.reason, self.kept, self.what)


def read_object(path: str) -> Optional[Dict[str, Any]]:
    """The JSON object in ``path``; None when there is no file. ValueError names what is
    wrong with the contents; OSError when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("not UTF-8 text (byte %d)" % (exc.start + 1)) from None  # counted from 1, as editors do
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError("not valid JSON: %s" % exc) from None
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object, found %s" % type(data).__name__)
    bad = unencodable(data, "")
    if bad is not None:
        raise ValueError("%s is not valid Unicode text (it holds a lone surrogate)" % bad)
    return data


def unencodable(value: Any, where: str, depth: int = 0) -> Optional[str]:
    """Where in ``value`` a string (or key) holds a lone surrogate, which no file, log or child
    process can take (JSON's ``\\ud800`` escape makes one); None when there is none."""
    if depth > MAX_DEPTH:
        return where or "the file"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where or "the file"
        return None
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = unencodable(item, "%s[%d]" % (where, i), depth + 1)
            if found is not None:
                return found
    if isinstance(value, dict):
        for key, item in value.items():
            name = "%s.%s" % (where, key) if where else str(key)
            if unencodable(key, "", depth + 1) is not None:
                return "a key of %s" % (where or "the file")
            found = unencodable(item, name, depth + 1)
            if found is not None:
                return found
    return None


def reason_of(exc: BaseException) -> str:
    if isinstance(exc, ProtocolError):
        return exc.message
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


def quarantine(path: str, what: str, reason: str, fix: str) -> ConfigProblem:
    """Move ``path`` to ``path.bad`` (the newest bad one is kept) and log what happened."""
    bad = path + ".bad"
    try:
        os.replace(path, bad)
        kept = "moved to %s" % bad
    except OSError as exc:
        kept = "left in place (%s)" % (exc.strerror or exc)
    problem = ConfigProblem(path, what, reason, fix, kept)
    log.error("%s. Set it again: %s", problem.message, fix)
    return problem


def settings_of(data: Dict[str, Any], version: int) -> Dict[str, Any]:
    """The settings in a stored object of format ``version`` or older, without the version key;
    ValueError for a format this runtime cannot read."""
    found = data.get(VERSION_KEY, 1)
    if isinstance(found, bool) or not isinstance(found, int) or found < 1:
        raise ValueError('"%s" is %s; expected a whole number from 1' % (VERSION_KEY, json.dumps(found)))
    if found > version:
        raise ValueError("a newer edge-runtime wrote it (settings format %d; this one reads format %d and "
                         "older): install that edge-runtime on this device again, or save the settings anew"
                         % (found, version))
    return {key: value for key, value in data.items() if key != VERSION_KEY}


def load(path: str, what: str, fix: str, parse: Callable[[Dict[str, Any]], T], version: int = 1
         ) -> Tuple[Optional[T], Optional[ConfigProblem]]:
    """``parse`` of the stored settings (None when there is no file), or None and the problem
    after moving an unusable file aside. ``parse`` raises ValueError or ProtocolError to refuse."""
    try:
        data = read_object(path)
        return (None if data is None else parse(settings_of(data, version))), None
    except (OSError, ValueError, TypeError, ProtocolError) as exc:
        return None, quarantine(path, what, reason_of(exc), fix)


def save(path: str, settings: Dict[str, Any], version: int = 1, mode: int = 0o644) -> None:
    """Write ``settings`` as format ``version``: its folder made if missing, the file replaced
    atomically and durably (:mod:`device_runtime.fileio`)."""
    fileio.make_dirs(os.path.dirname(path))
    text = json.dumps(dict(settings, **{VERSION_KEY: version}), indent=2, sort_keys=True) + "\n"
    fileio.write_atomic(path, text.encode("utf-8"), mode)
