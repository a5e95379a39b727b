"""Load benchmark of ``dmi-gnn serve``: p50/p99 latency and throughput at concurrency 1, 8, 32.

For each catalogue the script writes a random-weights checkpoint (the hyper-parameters of
``experiments/tmall.yaml``: d = 100, U = 5; random weights cost exactly what trained ones cost),
starts ``dmi-gnn serve`` on it as a subprocess on a free localhost port, and sends a fixed
number of ``POST /recommend`` requests (k = 20) from ``C`` keep-alive connections, each sending
its next request when the previous answer is in, after a warm-up. Every answer is checked
(status 200, 20 items). Catalogues:

* ``tmall``: Tmall's 40,727 items with its global graph, and the test prefixes of
  ``../shared/data/tmall-gcegnn`` as the sessions (random sessions of Tmall's lengths when the
  data is absent, said in the output);
* ``1m``: a synthetic catalogue of 1,000,000 items, a random global graph, random sessions of
  Tmall's lengths.

``--backend onnx`` serves the ``dmi-gnn export`` of the same checkpoint instead (no torch in
the server). The client is a small asyncio HTTP/1.1 client (httpx costs more CPU per request
than the server on a 2-core machine, which would measure the client). Prints one JSON line per
run and a Markdown table at the end. Bounded: ``--requests`` per run, and a run stops after
``--timeout`` seconds.

Usage::

    python experiments/benchmark_serve.py                        # both catalogues, torch
    python experiments/benchmark_serve.py --catalogue tmall --backend onnx --requests 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dmi_gnn.serving.server import IMPLEMENTATIONS  # noqa: E402

TMALL_ITEMS = 40_727
MILLION = 1_000_000
#: Tmall's prefix lengths are 1..39 with mean about 5 (the sessions' mean is about 6.4).
LENGTHS = np.array(
    [1] * 30
    + [2] * 20
    + [3] * 13
    + [4] * 9
    + [5] * 7
    + [6] * 5
    + [8] * 5
    + [11] * 5
    + [16] * 4
    + [25] * 2
)


def tmall_model_config() -> dict:
    import yaml

    config = yaml.safe_load((ROOT / "experiments" / "tmall.yaml").read_text())
    return dict(config["model"])


def shared_tmall() -> Path | None:
    base = Path(os.environ.get("DMI_GNN_SHARED_DATA", ROOT.parent / "shared" / "data"))
    folder = base / "tmall-gcegnn"
    return folder if (folder / "test.txt").is_file() else None


def save_checkpoint(model, path: Path) -> None:
    """A checkpoint ``DMIGNN.load_from_checkpoint`` reads, without a Trainer."""
    import lightning as L
    import torch

    torch.save(
        {
            "state_dict": model.state_dict(),
            "hyper_parameters": dict(model.hparams),
            "pytorch-lightning_version": L.__version__,
        },
        path,
    )


def build_catalogue(name: str, folder: Path, seed: int) -> tuple[Path, list[list[int]], str]:
    """A random-weights checkpoint and the request sessions of one catalogue."""
    import torch

    from datamodules.graph import GlobalGraph
    from dmi_gnn import DMIGNN

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    config = tmall_model_config()
    sessions: list[list[int]] = []
    source = "random sessions of Tmall-like lengths"
    data_dir = shared_tmall() if name == "tmall" else None
    num_items = TMALL_ITEMS if name == "tmall" else MILLION
    model = DMIGNN(num_items=num_items, **config)
    if data_dir is not None:
        from datamodules import SessionDataModule

        data = SessionDataModule(
            dataset="tmall", data_dir=str(data_dir), download=False, protocol="paper"
        )
        data.setup("test")
        model.set_global_graph(data.global_graph)
        test = data.test_dataset
        order = rng.permutation(len(test))
        for index in order[:20_000].tolist():
            start, length = int(test.starts[index]), int(test.lengths[index])
            sessions.append(test.flat[start : start + length].tolist())
        source = f"Tmall test prefixes ({data_dir})"
    else:
        k = config.get("num_neighbors", 12)
        neighbors = rng.integers(1, num_items + 1, size=(num_items + 1, k))
        weights = rng.integers(1, 10, size=(num_items + 1, k))
        degree = np.full(num_items + 1, k)
        neighbors[0], weights[0], degree[0] = 0, 0, 0
        model.set_global_graph(GlobalGraph(neighbors=neighbors, weights=weights, degree=degree))
        for _ in range(20_000):
            length = int(rng.choice(LENGTHS))
            sessions.append(rng.integers(1, num_items + 1, size=length).tolist())
    path = folder / f"{name}.ckpt"
    save_checkpoint(model, path)
    return path, sessions, source


def start_server(source: Path, args: argparse.Namespace) -> tuple[subprocess.Popen, str, int]:
    flag = "--export_dir" if source.is_dir() else "--ckpt_path"
    command = [sys.executable, "-m", "dmi_gnn", "serve", flag, str(source), "--port", "0"]
    command += ["--threads", str(args.threads), "--max_batch", str(args.max_batch)]
    command += ["--max_wait_ms", str(args.max_wait_ms), "--retrieval", args.retrieval]
    command += ["--http", args.http, "--loop", args.loop, "--workers", str(args.workers)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 600
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the server stopped: {process.stderr.read()}")
        found = re.search(r"listening on http://([^:]+):(\d+)", line)
        if found:
            return process, found.group(1), int(found.group(2))
    raise RuntimeError("the server did not start in 600 s")


def stop_server(process: subprocess.Popen) -> int:
    process.terminate()
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


async def _connection(host: str, port: int, bodies: list[bytes], latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for body in bodies:
            request = (
                b"POST /recommend HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body)
            ) + body
            started = time.perf_counter()
            writer.write(request)
            status = await reader.readline()
            length = 0
            while True:
                header = await reader.readline()
                if header in (b"\r\n", b""):
                    break
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            answer = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if b" 200 " not in status or len(json.loads(answer)["items"]) != 20:
                raise RuntimeError(f"bad answer {status!r} {answer[:200]!r}")
    finally:
        writer.close()


async def _load(host: str, port: int, bodies: list[bytes], concurrency: int) -> list[float]:
    latencies: list[float] = []
    shares = [bodies[i::concurrency] for i in range(concurrency)]
    await asyncio.gather(*(_connection(host, port, share, latencies) for share in shares))
    return latencies


def health(host: str, port: int) -> dict:
    import urllib.request

    with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=30) as answer:
        return json.loads(answer.read())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(coroutine):
    """Run the client on uvloop when it is installed (less client CPU on a shared machine)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def measure(host: str, port: int, sessions, concurrency: int, args, pid: int) -> dict:
    rng = np.random.default_rng(concurrency)
    picks = rng.integers(0, len(sessions), size=args.requests + args.warmup)
    bodies = [json.dumps({"session": sessions[i], "k": 20}).encode() for i in picks]
    _run(asyncio.wait_for(_load(host, port, bodies[: args.warmup], concurrency), args.timeout))
    before = health(host, port)
    cpu_before, client_before = cpu_seconds(pid), time.process_time()
    started = time.perf_counter()
    latencies = _run(
        asyncio.wait_for(_load(host, port, bodies[args.warmup :], concurrency), args.timeout)
    )
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_before
    client_cpu = time.process_time() - client_before
    after = health(host, port)
    batches = after["batches"] - before["batches"]
    latencies_ms = np.array(latencies) * 1e3
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "p50_ms": round(float(np.percentile(latencies_ms, 50)), 2),
        "p99_ms": round(float(np.percentile(latencies_ms, 99)), 2),
        "mean_ms": round(float(latencies_ms.mean()), 2),
        "sessions_per_s": round(len(latencies) / elapsed, 1),
        "server_cpu_ms_per_request": round(cpu * 1e3 / len(latencies), 3),
        "client_cpu_ms_per_request": round(client_cpu * 1e3 / len(latencies), 3),
        "mean_batch": round((after["requests"] - before["requests"]) / max(batches, 1), 2),
        "retrieval": after.get("retrieval", "exact"),
        "server": after.get("server", ""),
    }


def export_checkpoint(ckpt: Path, folder: Path) -> Path:
    from dmi_gnn.serving.export import export

    output = folder / f"{ckpt.stem}-export"
    export(ckpt, output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalogue", choices=("tmall", "1m", "both"), default="both")
    parser.add_argument("--backend", choices=("torch", "onnx", "both"), default="torch")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated levels")
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per level")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="dmi-gnn serve --threads")
    parser.add_argument("--workers", type=int, default=2, help="dmi-gnn serve --workers")
    parser.add_argument("--max_batch", type=int, default=64)
    parser.add_argument("--max_wait_ms", type=float, default=2.0)
    parser.add_argument(
        "--retrieval",
        choices=("exact", "ann", "auto"),
        default="auto",
        help="dmi-gnn serve --retrieval (auto: exact at Tmall size, the ivfpq index at 1M)",
    )
    for option, (fast, fallback, what) in IMPLEMENTATIONS.items():
        parser.add_argument(
            f"--{option}", choices=("auto", fast, fallback), default="auto", help=f"serve's {what}"
        )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per level")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workdir", default=None, help="where checkpoints go (default: a temp dir)"
    )
    args = parser.parse_args(argv)
    levels = [int(level) for level in args.concurrency.split(",")]
    catalogues = ["tmall", "1m"] if args.catalogue == "both" else [args.catalogue]
    backends = ["torch", "onnx"] if args.backend == "both" else [args.backend]
    context = {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }
    rows = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
        for catalogue in catalogues:
            built = time.perf_counter()
            ckpt, sessions, source = build_catalogue(catalogue, Path(folder), args.seed)
            print(
                f"# {catalogue}: random weights, {source}, built in "
                f"{time.perf_counter() - built:.1f} s",
                flush=True,
            )
            for backend in backends:
                served = ckpt if backend == "torch" else export_checkpoint(ckpt, Path(folder))
                process, host, port = start_server(served, args)
                try:
                    for level in levels:
                        row = {
                            "catalogue": catalogue,
                            "backend": backend,
                            **measure(host, port, sessions, level, args, process.pid),
                            "threads": args.threads,
                            "workers": args.workers,
                            **context,
                        }
                        row["load_average"] = [round(x, 2) for x in os.getloadavg()]
                        rows.append(row)
                        print(json.dumps(row), flush=True)
                finally:
                    code = stop_server(process)
                    if code != 0:
                        print(f"# the server exited with status {code}", flush=True)
    print(
        "\n| catalogue | backend | retrieval | server | threads × workers | C | p50 ms | p99 ms "
        "| sessions/s | mean batch | server CPU ms / request | client CPU ms / request |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['catalogue']} | {row['backend']} | {row['retrieval']} | {row['server']} "
            f"| {row['threads']} × {row['workers']} | {row['concurrency']} | {row['p50_ms']} "
            f"| {row['p99_ms']} "
            f"| {row['sessions_per_s']:,.0f} | {row['mean_batch']} "
            f"| {row['server_cpu_ms_per_request']} | {row['client_cpu_ms_per_request']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
