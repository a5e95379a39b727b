"""Scale benchmark of ``dmi-gnn prepare`` on a synthetic Last.fm-1K-sized log.

Generates a LastFM-like TSV in the exact raw layout of
``userid-timestamp-artid-artname-traid-traname.tsv`` (no header, TAB, each user's plays in
reverse time order as in the real file): ~1,000 users, 45,000 artists with Zipf popularity,
runs of plays of the same artist, plays a few minutes apart with pauses of hours to days
between listening sessions, about 3 % of rows without artist id. Then it runs the ``lastfm``
recipe and the ``generic`` recipe (same sessionisation and filters through the generic
options) on it, each in a child process so that its own peak RSS (VmHWM) is measured, and
prints one JSON line.

Usage::

    python experiments/benchmark_prepare.py --rows 20000000 --repeats 3
    python experiments/benchmark_prepare.py --rows 200000 --keep /tmp/lastfm-like.tsv

Generation time is not part of the measured seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

REPO = Path(__file__).resolve().parents[1]
CHUNK_ROWS = 1_000_000


def _ids(rng: np.random.Generator, count: int) -> pa.Array:
    """``count`` MusicBrainz-like ids (36-character UUID strings)."""
    raw = rng.integers(0, 2**63, size=(count, 2), dtype=np.int64)
    hexes = (f"{a:016x}{b:016x}" for a, b in raw.tolist())
    return pa.array([f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" for h in hexes])


def generate(path: Path, rows: int, users: int = 1000, artists: int = 45_000, seed: int = 0):
    """Write a LastFM-1K-like TSV with ``rows`` plays to ``path``."""
    rng = np.random.default_rng(seed)
    artist_ids = _ids(rng, artists)
    artist_names = pa.array([f"Artist {i}" for i in range(artists)])
    tracks = 200_000
    track_ids = _ids(rng, tracks)
    track_names = pa.array([f"Track {i}" for i in range(tracks)])
    popularity = 1.0 / np.arange(1, artists + 1) ** 1.0
    popularity /= popularity.sum()
    weights = rng.lognormal(0.0, 1.0, users)
    per_user = np.maximum(1, np.round(weights / weights.sum() * rows)).astype(np.int64)
    per_user[-1] += rows - per_user.sum()
    if per_user[-1] < 1:
        raise ValueError("too few rows for the number of users")
    user_names = [f"user_{u + 1:06d}" for u in range(users)]
    write = pcsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
    start_2005 = 1_104_537_600
    with pcsv.CSVWriter(
        path,
        pa.schema([(n, pa.string()) for n in ("u", "t", "a", "an", "tr", "tn")]),
        write_options=write,
    ) as writer:
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        for user, count in enumerate(per_user):
            gaps = rng.uniform(150, 400, count)
            pauses = rng.random(count) < 0.06
            gaps[pauses] = rng.exponential(86_400.0, int(pauses.sum())) + 3_600.0
            times = start_2005 + rng.integers(0, 2 * 365 * 86_400) + np.cumsum(gaps)
            times = times.astype(np.int64)[::-1]  # the real file lists plays newest first
            artist = rng.choice(artists, size=count, p=popularity)
            repeat = rng.random(count) < 0.55
            repeat[0] = False
            index = np.where(repeat, 0, np.arange(count))
            np.maximum.accumulate(index, out=index)
            artist = artist[index]  # runs of the same artist, as albums are played through
            track = rng.integers(0, tracks, count)
            no_artist = rng.random(count) < 0.03
            stamps = pc.strftime(pa.array(times, pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%SZ")
            artist_column = artist_ids.take(pa.array(artist))
            artist_column = pc.if_else(pa.array(no_artist), "", artist_column)
            batch = pa.record_batch(
                [
                    pa.array([user_names[user]] * count),
                    stamps,
                    artist_column,
                    artist_names.take(pa.array(artist)),
                    track_ids.take(pa.array(track)),
                    track_names.take(pa.array(track)),
                ],
                names=["u", "t", "a", "an", "tr", "tn"],
            )
            pending.append(batch)
            pending_rows += count
            if pending_rows >= CHUNK_ROWS:
                writer.write_table(pa.Table.from_batches(pending))
                pending, pending_rows = [], 0
        if pending:
            writer.write_table(pa.Table.from_batches(pending))


LASTFM_NAMES = "userid,timestamp,artid,artname,traid,traname"


def recipe_arguments(name: str, data: Path, output: Path) -> list[str]:
    """The ``prepare`` arguments of one benchmarked recipe."""
    common = ["--input", str(data), "--output", str(output), "--quiet"]
    if name == "lastfm":
        return ["lastfm", *common]
    return [
        "generic",
        *common,
        "--delimiter",
        "tab",
        "--no-header",
        "--column-names",
        LASTFM_NAMES,
        "--user-column",
        "userid",
        "--item-column",
        "artid",
        "--time-column",
        "timestamp",
        "--id-type",
        "str",
        "--session-gap",
        "28800",
        "--remove-immediate-repeats",
        "--truncate-session-length",
        "20",
        "--top-items",
        "40000",
        "--iterate-filters",
        "--test-fraction",
        "0.2",
    ]


def _child(argv: list[str]) -> None:
    """Run one preparation in this process and print seconds and peak RSS as JSON."""
    sys.path.insert(0, str(REPO))
    started = time.perf_counter()
    from datamodules.preprocess.cli import prepare_main

    code = prepare_main(argv)
    seconds = time.perf_counter() - started
    peak_kib = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak_kib = int(line.split()[1])
    print(json.dumps({"exit": code, "seconds": seconds, "peak_rss_mib": peak_kib / 1024}))


def run_once(name: str, data: Path, workdir: Path) -> dict:
    """One child-process run of recipe ``name``; its output directory is removed after."""
    output = workdir / f"out-{name}"
    command = [sys.executable, __file__, "--child", *recipe_arguments(name, data, output)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO)
    shutil.rmtree(output, ignore_errors=True)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stdout}\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["exit"] != 0:
        raise RuntimeError(f"{name} exited with {result['exit']}:\n{done.stderr}")
    return result


def main(argv: list[str] | None = None) -> None:
    """Generate the log (unless ``--data`` names one), run both recipes, print JSON."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        _child(argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, help="use this TSV instead of generating one")
    parser.add_argument("--keep", type=Path, help="write the generated TSV here and keep it")
    parser.add_argument("--recipes", default="lastfm,generic")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="benchmark-prepare-"))
    try:
        data = args.data
        generate_seconds = None
        if data is None:
            data = args.keep or workdir / "lastfm-like.tsv"
            started = time.perf_counter()
            generate(data, args.rows)
            generate_seconds = time.perf_counter() - started
        with open(data, "rb") as handle:
            rows = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 24), b""))
        results = {}
        for name in args.recipes.split(","):
            runs = [run_once(name, data, workdir) for _ in range(args.repeats)]
            seconds = [r["seconds"] for r in runs]
            results[name] = {
                "seconds": [round(s, 2) for s in seconds],
                "median_seconds": round(statistics.median(seconds), 2),
                "peak_rss_mib": round(max(r["peak_rss_mib"] for r in runs), 1),
            }
        print(
            json.dumps(
                {
                    "rows": rows,
                    "file_mib": round(data.stat().st_size / 2**20, 1),
                    "generate_seconds": None
                    if generate_seconds is None
                    else round(generate_seconds, 1),
                    "results": results,
                }
            )
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
