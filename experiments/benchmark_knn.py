"""Speed benchmark of the non-neural floor: Pop, S-POP, SKNN and V-SKNN on a GCE-GNN split.

Fits each index on ``all_train_seq.txt`` (every training session; the CLI fits on the fit split
only) and scores the published ``test.txt`` prefixes as the datamodule serves them (the pairs as
given, reversed and 0-padded by :func:`datamodules.batching.gather_reversed_prefixes`). It
times, as medians over ``--repeats``:

* ``fit_s``: building the index;
* ``test_pass_s``: every test prefix through ``scores`` and a top-``K`` in batches of
  ``--batch-size`` (what evaluation and ``recommend`` do); HR@K and MRR@K (pessimistic ties:
  an item scored equal to the target ranks ahead of it) come as a sanity check, untimed;
* ``one_session_ms``: one prefix (``B = 1``) through ``scores`` and top-``K``, the median over
  ``--single`` prefixes drawn at random.

Prints one JSON line per method. Run with ``OMP_NUM_THREADS=1`` for figures that do not depend
on how busy the other core is::

    OMP_NUM_THREADS=1 python experiments/benchmark_knn.py --data-dir ../shared/data/tmall-gcegnn
    python experiments/benchmark_knn.py --methods vsknn --vsknn k=200 sample_size=2000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datamodules.batching import gather_reversed_prefixes  # noqa: E402
from datamodules.pickles import read_test_pairs, read_train_sessions  # noqa: E402
from dmi_gnn.nonparametric import SKNN, VSKNN, Pop, SPop  # noqa: E402

METHODS = {"pop": Pop, "spop": SPop, "sknn": SKNN, "vsknn": VSKNN}


def parse_options(pairs: list[str]) -> dict[str, object]:
    """``["k=100", "sampling=random", "remind=false"]`` -> typed keyword options."""
    options: dict[str, object] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise SystemExit(f"option {pair!r}: expected NAME=VALUE")
        lowered = text.lower()
        if lowered in ("true", "false"):
            options[name] = lowered == "true"
            continue
        for kind in (int, float):
            try:
                options[name] = kind(text)
                break
            except ValueError:
                pass
        else:
            options[name] = text
    return options


def load(data_dir: Path):
    """Training sessions (lists of arrays), ``N`` and the test prefixes as flat tensors."""
    probe = read_train_sessions(data_dir / "all_train_seq.txt", num_items=2**62)
    num_items = int(probe.items.max())
    test = read_test_pairs(data_dir / "test.txt", num_items)
    sessions = np.split(probe.items, probe.offsets[1:-1])
    flat = torch.from_numpy(test.flat)
    return sessions, num_items, flat, test


def test_pass(index, flat, test, batch_size: int, top: int) -> tuple[float, float, float]:
    """Seconds for every test prefix through ``scores`` + top-K, and HR@K, MRR@K.

    Only batching, ``scores`` and ``torch.topk`` are timed. The metrics are computed after the
    clock stops, with pessimistic ties: the target's rank counts every item scored >= it.
    """
    starts, lengths = torch.from_numpy(test.starts), torch.from_numpy(test.lengths)
    targets = torch.from_numpy(test.targets) - 1
    hits = reciprocal = seconds = 0.0
    for start in range(0, len(test), batch_size):
        stop = start + batch_size
        begin = time.perf_counter()
        items, mask = gather_reversed_prefixes(flat, starts[start:stop], lengths[start:stop])
        scores = index.scores(items, mask)
        torch.topk(scores, top, dim=1)
        seconds += time.perf_counter() - begin
        target_score = scores.gather(1, targets[start:stop, None])
        rank = (scores >= target_score).sum(1)
        hits += float((rank <= top).sum())
        reciprocal += float(torch.where(rank <= top, 1.0 / rank, 0.0).sum())
    return seconds, 100 * hits / len(test), 100 * reciprocal / len(test)


def one_session_ms(index, flat, test, count: int, top: int, seed: int = 0) -> float:
    """Median milliseconds of one prefix through ``scores`` + top-K."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(test), size=min(count, len(test)), replace=False)
    starts, lengths = torch.from_numpy(test.starts), torch.from_numpy(test.lengths)
    times = []
    for pick in picks:
        items, mask = gather_reversed_prefixes(
            flat, starts[pick : pick + 1], lengths[pick : pick + 1]
        )
        begin = time.perf_counter()
        torch.topk(index.scores(items, mask), top, dim=1)
        times.append(time.perf_counter() - begin)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared/data/tmall-gcegnn")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--single", type=int, default=200, help="prefixes for one_session_ms")
    for name in METHODS:
        parser.add_argument(f"--{name}", nargs="*", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)

    sessions, num_items, flat, test = load(args.data_dir)
    for name in args.methods:
        options = parse_options(getattr(args, name))
        fits, passes = [], []
        for _ in range(args.repeats):
            begin = time.perf_counter()
            index = METHODS[name](num_items, **options).fit(sessions)
            fits.append(time.perf_counter() - begin)
            seconds, hr, mrr = test_pass(index, flat, test, args.batch_size, args.top)
            passes.append(seconds)
        record = {
            "method": name,
            "options": index.options(),
            "data": str(args.data_dir.name),
            "train_sessions": len(sessions),
            "test_prefixes": len(test),
            "fit_s": round(statistics.median(fits), 3),
            "test_pass_s": round(statistics.median(passes), 2),
            "test_pass_all_s": [round(s, 2) for s in passes],
            "one_session_ms": round(one_session_ms(index, flat, test, args.single, args.top), 2),
            f"HR@{args.top}": round(hr, 2),
            f"MRR@{args.top}": round(mrr, 2),
            "torch_threads": torch.get_num_threads(),
        }
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
