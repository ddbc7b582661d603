"""The command line's way to a server: the URL, the stored or given token, the refusals it can say up front."""

from __future__ import annotations

from casecraft.base.errors import InputError, PermissionDenied
from casecraft.client import config
from casecraft.client.engine import RemoteEngine


def connect(server: str, *, at: str | None = None) -> RemoteEngine:
    """A :class:`RemoteEngine` for ``server`` with the token of ``casecraft login`` or ``CASECRAFT_TOKEN``.

    Raises:
        InputError: a bad URL, or ``--at`` (the server records the time of each step itself).
        PermissionDenied (``unauthenticated``): no token for this server.
    """
    url = config.normalise(server)
    if at:
        raise InputError("--at/CASECRAFT_NOW does not apply over the server: it records the time of each step "
                         "itself; back-filling is an admin's act in direct database mode")
    token = config.token_for(url)
    if not token:
        raise PermissionDenied("no token for {server}: run `casecraft --server {server} login`, or set "
                               "CASECRAFT_TOKEN", server=url, error_code="unauthenticated")
    return RemoteEngine(url, token)


__all__ = ["connect"]
