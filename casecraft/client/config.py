"""Where `casecraft login` keeps tokens: one private file per user, a token per server.

``$XDG_CONFIG_HOME/casecraft/tokens.json`` (default ``~/.config/casecraft/``),
the directory 0700 and the file 0600 whatever the umask. ``CASECRAFT_TOKEN``
in the environment takes precedence over the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from casecraft.base.errors import InputError


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/casecraft`` or ``~/.config/casecraft``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "casecraft"


def tokens_file() -> Path:
    return config_dir() / "tokens.json"


def normalise(url: str) -> str:
    """A server URL as a key: scheme and host lower-cased, no trailing slash.

    Raises:
        InputError: not an http(s) URL.
    """
    text = url.strip().rstrip("/")
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest:
        raise InputError("--server {url!r} is not an http(s) URL, e.g. https://grid.example.org", url=url)
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{slash}{path}"


def _read() -> dict[str, Any]:
    path = tokens_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InputError("cannot read {path}: {reason}; remove it and run `casecraft login` again", path=str(path),
                         reason=str(exc)) from None
    return data if isinstance(data, dict) else {}


def _write(data: dict[str, Any]) -> None:
    directory = config_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    path = tokens_file()
    tmp = path.with_name(f".tokens.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def stored(server: str) -> dict[str, Any] | None:
    """The login stored for a server (``{"token", "person"}``), or None."""
    entry = _read().get(normalise(server))
    return entry if isinstance(entry, dict) and entry.get("token") else None


def store(server: str, token: str, person: str) -> Path:
    """Keep a server's token (replacing an earlier one); the file's path."""
    data = _read()
    data[normalise(server)] = {"token": token, "person": person}
    _write(data)
    return tokens_file()


def forget(server: str) -> bool:
    """Drop a server's token; whether there was one."""
    data = _read()
    if data.pop(normalise(server), None) is None:
        return False
    _write(data)
    return True


def token_for(server: str) -> str | None:
    """The token to use with a server: ``$CASECRAFT_TOKEN``, else the stored one."""
    env = os.environ.get("CASECRAFT_TOKEN")
    if env:
        return env.strip()
    entry = stored(server)
    return str(entry["token"]) if entry else None


__all__ = ["config_dir", "forget", "normalise", "store", "stored", "token_for", "tokens_file"]
