"""Every file the command line writes goes through :func:`output`.

An output path is checked before any work is done, and refused (InputError,
exit 2, nothing written) when it is:

* the live database, its ``-wal``, ``-shm`` or ``-journal`` file, or inside the
  attachment folder (``casecraft-data`` beside an SQLite file, ``$CASECRAFT_DATA``);
* one of the command's own input files;
* an existing file, unless the command was given ``--force`` (a device or pipe never);
* a folder (``-o .``), or a path in a folder that is missing or not writable.

The file is written in a private (0700) staging folder beside the target and
renamed into place: a crash or an error never leaves a partial file under the
final name, and the file is 0600 whatever the umask. Without ``--force`` the
rename refuses to replace a file that appeared meanwhile.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from casecraft.base.errors import InputError

FILE_MODE = 0o600
DIR_MODE = 0o700
DB_COMPANIONS = ("-wal", "-shm", "-journal")
DATA_DIR_NAME = "casecraft-data"
SQLITE_MAGIC = b"SQLite format 3\x00"


def _db_url(db: str | None) -> str:
    if db:
        return db
    from casecraft.store.db import default_url

    return default_url()


def database_file(db: str | None) -> Path | None:
    """The SQLite file behind a database URL (``None``: the default), absolute; None for a server or memory."""
    url = _db_url(db)
    scheme, sep, rest = url.partition(":///")
    if not sep or scheme.split("+")[0] != "sqlite":
        return None
    path = rest.split("?", 1)[0]
    if not path or path == ":memory:" or path.startswith("file:"):
        return None  # file: URIs and memory databases have no plain path to protect
    return Path(os.path.abspath(os.path.expanduser(path)))


def data_dirs(db: str | None) -> list[Path]:
    """Every folder that may hold the attachments of this database (all are protected).

    ``$CASECRAFT_DATA`` if set; ``casecraft-data`` beside an SQLite file; for a
    database server, ``./casecraft-data``.
    """
    dirs = []
    env = os.environ.get("CASECRAFT_DATA")
    if env:
        dirs.append(Path(os.path.abspath(os.path.expanduser(env))))
    file = database_file(db)
    dirs.append(file.parent / DATA_DIR_NAME if file else Path(os.path.abspath(DATA_DIR_NAME)))
    return dirs


def require_database(db: str | None) -> None:
    """Refuse to go on when an SQLite database file does not exist (so none is created by mistake).

    Read-only commands call this before opening the database: a mistyped
    ``--db`` must not leave an empty database behind.

    Raises:
        InputError: the SQLite file does not exist.
    """
    file = database_file(db)
    if file is not None and not file.exists():
        raise InputError("no database at {path!r}: check --db (or CASECRAFT_DB), or create it with "
                         "`casecraft init`", path=str(file))


def _same(a: Path, b: Path) -> bool:
    """Same file: by resolved name, or (both existing) by inode, which also catches hard links."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _inside(path: Path, folder: Path) -> bool:
    for p in {path, Path(os.path.realpath(path))}:
        for f in {folder, Path(os.path.realpath(folder))}:
            if p == f or p.is_relative_to(f):
                return True
    return False


KEY_ENV = "CASECRAFT_SEAL_KEY_FILE"  # casecraft.audit.seal.KEY_ENV: not imported, every command starts here
STANDING: list[str] = []
"""This command's standing inputs, never written over even with ``--force``: the workflow file and the
organisation file beside it, the seal key named by the environment (set by :func:`standing_inputs`)."""


def standing_inputs(workflow: str | None) -> None:
    """Remember the files every command of this run reads (see :data:`STANDING`)."""
    wf = Path(workflow) if workflow else Path("workflows.yaml")
    STANDING[:] = [str(wf), str(wf.with_name("organisation.yaml"))]
    if os.environ.get(KEY_ENV):
        STANDING.append(os.environ[KEY_ENV])


def check_output(path: str | os.PathLike[str], *, db: str | None = None, force: bool = False,
                 inputs: Sequence[str | os.PathLike[str]] = (), what: str = "the file") -> Path:
    """Check that ``path`` may be written; returns it absolute. Writes nothing.

    Args:
        path: the file the operator named.
        db: the database URL the command runs on (``None``: ``$CASECRAFT_DB`` or the default).
        force: replace an existing file.
        inputs: the command's input files, which are never overwritten.
        what: what the file is, for messages ("the backup", "the reject file").

    Raises:
        InputError: the path is the database, its journal, in the attachment folder,
            an input, a folder, in a missing or read-only folder, or exists without ``force``.
    """
    shown = os.fspath(path)
    if not shown.strip():
        raise InputError("give a file name to write")
    target = Path(os.path.abspath(os.path.expanduser(shown)))
    live = database_file(db)
    if live is not None:
        if _same(target, live):
            raise InputError("refusing to write {path!r}: it is the live database; choose another file name",
                             path=shown)
        for suffix in DB_COMPANIONS:
            if _same(target, Path(f"{live}{suffix}")):
                raise InputError("refusing to write {path!r}: it is the live database's {part} file; "
                                 "choose another file name", path=shown, part=suffix[1:])
    for folder in data_dirs(db):
        if _inside(target, folder):
            raise InputError("refusing to write {path!r}: it is inside the attachment folder {folder!r}; "
                             "write it somewhere else", path=shown, folder=str(folder))
    for given in (*inputs, *STANDING):
        if _same(target, Path(os.path.abspath(given))):
            raise InputError("refusing to write {path!r}: it is the command's input file; choose another "
                             "file name", path=shown)
    if target.is_dir():
        raise InputError("{path!r} is a folder: name a file inside it, e.g. {example!r}",
                         path=shown, example=os.path.join(shown, "output" + Path(shown).suffix))
    folder = target.parent
    if not folder.exists():
        raise InputError("cannot write {what} {path!r}: folder {folder!r} does not exist; create it first or "
                         "choose another folder", what=what, path=shown, folder=str(folder))
    if not folder.is_dir():
        raise InputError("cannot write {what} {path!r}: {folder!r} is not a folder", what=what, path=shown,
                         folder=str(folder))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError("cannot write {what} {path!r}: folder {folder!r} is not writable; choose another folder",
                         what=what, path=shown, folder=str(folder))
    if target.exists() and not target.is_file():  # a device, a pipe, a socket: never replaced
        raise InputError("cannot write {what} {path!r}: it is not a regular file; choose another file name",
                         what=what, path=shown)
    if os.path.lexists(target) and not force:
        raise InputError("{path!r} already exists: add --force to replace it, or choose another file name",
                         path=shown)
    return target


@contextmanager
def output(path: str | os.PathLike[str], *, db: str | None = None, force: bool = False,
           inputs: Sequence[str | os.PathLike[str]] = (), what: str = "the file") -> Iterator[Path]:
    """Write one output file safely: check it, let the caller write a staging copy, move it into place.

    Yields a path with the same name inside a private staging folder beside the
    target; the caller writes (or, e.g. a reject file with nothing to reject,
    does not write) it there. When the block ends without an exception the file
    is made 0600 and renamed onto ``path``; on any exception nothing is left.

        with files.output(out, db=state(ctx).db, force=force) as tmp:
            write_csv(report, tmp)

    Args:
        path, db, force, inputs, what: as for :func:`check_output`, which runs first.

    Raises:
        InputError: :func:`check_output` refused the path, or the file could not be written.
    """
    target = check_output(path, db=db, force=force, inputs=inputs, what=what)
    shown = os.fspath(path)
    try:
        import shutil  # here: every command reads this module as it starts; only writing needs these
        import tempfile

        staging = Path(tempfile.mkdtemp(prefix=f".{target.name[:40]}.", suffix=".part", dir=target.parent))
    except OSError as exc:
        raise InputError("cannot write {what} {path!r}: {reason}", what=what, path=shown,
                         reason=exc.strerror or str(exc)) from None
    try:
        os.chmod(staging, DIR_MODE)  # mkdtemp makes it 0700 already; say so whatever the platform
        tmp = staging / target.name
        yield tmp
        if os.path.lexists(tmp):
            _publish(tmp, target, shown, force, what)
    except OSError as exc:
        raise InputError("cannot write {what} {path!r}: {reason}; nothing was written", what=what, path=shown,
                         reason=exc.strerror or str(exc)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _publish(tmp: Path, target: Path, shown: str, force: bool, what: str) -> None:
    if not stat.S_ISREG(os.lstat(tmp).st_mode):
        raise InputError("cannot write {what} {path!r}: the writer did not produce a file", what=what, path=shown)
    os.chmod(tmp, FILE_MODE)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    if force:
        if target.is_dir():
            raise InputError("{path!r} is a folder: give a file name inside it", path=shown)
        os.replace(tmp, target)
    else:
        try:
            os.link(tmp, target)  # fails if the name was taken meanwhile: never clobber without --force
        except FileExistsError:
            raise InputError("{path!r} already exists: add --force to replace it, or choose another file name",
                             path=shown) from None
        except OSError:  # a file system without hard links
            if os.path.lexists(target):
                raise InputError("{path!r} already exists: add --force to replace it, or choose another "
                                 "file name", path=shown) from None
            os.replace(tmp, target)
    _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def demo_database(path: str | os.PathLike[str] = "casecraft-demo.db", *, live: str | None = None) -> str:
    """Clear the demo's own SQLite file (and its journals) and return its URL.

    The demo recreates its database on each run. This refuses a path that is the
    live database (``live``: the URL in use, default ``$CASECRAFT_DB`` or the
    default) or in its attachment folder, a folder, and a file that is not an
    SQLite database, so the demo never removes anything else.

    Raises:
        InputError: the path is not the demo's to remove.
    """
    shown = os.fspath(path)
    target = Path(os.path.abspath(shown))
    check_output(target, db=live, force=True)
    if target.exists():
        with open(target, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
        if head and head != SQLITE_MAGIC:
            raise InputError("{path!r} exists and is not a casecraft database: move it away, or give the demo "
                             "a database with --db", path=shown)
    for suffix in ("", *DB_COMPANIONS):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{target}"


__all__ = ["FILE_MODE", "DIR_MODE", "check_output", "data_dirs", "database_file", "demo_database", "output",
           "require_database"]
