"""Memory: peak RSS while one step's photos are prepared one after another.

Twenty photos of about 20 MiB each (39 MP, noisy, so that JPEG cannot shrink them; half of
them taken sideways, every one with GPS in its EXIF) are generated once into a folder, then
a fresh process prepares them the way a step does: each file checked, decoded, re-encoded and
staged to disk (:class:`casecraft.attachments.Staging`), then every staged file read back one at
a time as the database insert would. Printed: RSS after imports, RSS after each file, the peak
(``ru_maxrss``), seconds per file. Figures, not a timed test.

    python -m bench.attachments [--count 20] [--dir /tmp/casecraft-bench-photos]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

WIDTH, HEIGHT, QUALITY = 7200, 5400, 89


def generate(folder: Path, count: int) -> None:
    """Write ``count`` distinct photos of about 20 MiB into ``folder`` (kept for the next run)."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    wanted = [folder / f"photo{i:02d}.jpg" for i in range(count)]
    if all(p.exists() for p in wanted):
        return
    base = Image.linear_gradient("L").resize((WIDTH, HEIGHT))
    photo = Image.merge("RGB", [Image.blend(base, Image.effect_noise((WIDTH, HEIGHT), s), 0.5) for s in (40, 50, 60)])
    for i, path in enumerate(wanted):
        ImageDraw.Draw(photo).rectangle((10 * i, 10 * i, 10 * i + 200, 10 * i + 200), fill=(i * 12, 90, 200))
        exif = Image.Exif()
        exif[0x0112] = 6 if i % 2 else 1
        exif[0x8825] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 17.0)}
        buf = io.BytesIO()
        photo.save(buf, "JPEG", quality=QUALITY, exif=exif)
        path.write_bytes(buf.getvalue())


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_mb(reset: bool = False) -> float:
    """The peak RSS (VmHWM) since the last reset; Linux resets it on writing 5 to clear_refs."""
    with open("/proc/self/status") as f:
        peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1000
    if reset:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    return peak


def measure(folder: Path) -> None:
    """Prepare every photo in ``folder`` in this process and print the figures."""
    from casecraft.attachments import Staging

    paths = sorted(folder.glob("photo*.jpg"))
    print(f"{len(paths)} photos, {sum(p.stat().st_size for p in paths) / 2**20:.0f} MiB in all, "
          f"{WIDTH}x{HEIGHT} ({WIDTH * HEIGHT / 1e6:.1f} MP), half turned by EXIF orientation 6")
    print(f"RSS after imports: {rss_mb():.0f} MB")
    start = time.perf_counter()
    peaks = {True: 0.0, False: 0.0}
    with Staging() as staging:
        for path in paths:
            t = time.perf_counter()
            peak_mb(reset=True)
            item = staging.add_path(path)
            turned = item.width < item.height
            peaks[turned] = max(peaks[turned], peak_mb())
            print(f"  {path.name}: {path.stat().st_size / 2**20:5.1f} MiB -> {item.attachment.size / 2**20:5.1f} MiB "
                  f"{item.width}x{item.height}  {time.perf_counter() - t:4.1f} s  peak {peak_mb():4.0f} MB, "
                  f"RSS after {rss_mb():4.0f} MB")
        stored = 0
        for item in staging.items:  # what the transaction does: one file's bytes at a time
            stored += len(item.read())
    total = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000
    print(f"peak RSS over a file: {peaks[False]:.0f} MB upright, {peaks[True]:.0f} MB turned by EXIF")
    print(f"peak RSS (ru_maxrss): {peak:.0f} MB; {total:.1f} s for {len(paths)} photos "
          f"({total / len(paths):.2f} s each); {stored / 2**20:.0f} MiB staged and read back")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/casecraft-bench-photos"))
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_only:
        measure(args.dir)
        return
    generate(args.dir, args.count)
    # a fresh process, so that the peak is the preparing's and not the generating's
    subprocess.run([sys.executable, "-m", "bench.attachments", "--measure-only", "--dir", str(args.dir)], check=True)


if __name__ == "__main__":
    main()
