"""``dmi-gnn serve``: the HTTP service on uvicorn, from a checkpoint or an export directory.

Why FastAPI + uvicorn rather than LitServe: the service is one model in one process with one
queue, and the rules for bad requests (each its own 4xx and message, a size limit that holds for
chunked bodies) need the raw request; FastAPI gives that with a small, widely used stack
(Starlette, uvicorn) and is already a dependency of LitServe itself. LitServe's own batching
runs the model in worker processes fed through queues, which on a 2-core machine costs a copy
and a process hop per request and makes SIGTERM handling and error statuses less direct.

``--port 0`` picks a free port; the line ``dmi-gnn serve: listening on http://HOST:PORT`` says
which, once the model is loaded. SIGTERM and Ctrl-C stop taking connections, answer the
requests already received, and exit with status 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger("dmi_gnn.serving")

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: uvicorn's pluggable parts: option -> (the fast module, its fallback, what it is)
IMPLEMENTATIONS = {
    "http": ("httptools", "h11", "HTTP parser"),
    "loop": ("uvloop", "asyncio", "event loop"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dmi-gnn serve",
        description=(
            'Serve recommendations over HTTP: POST /recommend {"session": [raw ids, oldest '
            'first], "k": 20, "exclude": [...]} -> {"unknown", "items", "scores"}; '
            "GET /health. Concurrent requests are batched."
        ),
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--ckpt_path", help="a checkpoint file (or an export directory)")
    source.add_argument("--export_dir", help="a directory written by dmi-gnn export (no torch)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port (0: a free one)")
    parser.add_argument("--max_batch", type=int, default=64, help="requests per model pass")
    parser.add_argument(
        "--max_wait_ms",
        type=float,
        default=2.0,
        help="how long a batch may wait for requests being read (a lone request never waits)",
    )
    parser.add_argument("--max_queue", type=int, default=4096, help="queued requests (then 503)")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="model passes that may run at once, each in its own thread with --threads "
        "compute threads (2: one batch computes while the next is formed; on 2 cores this "
        "takes Tmall from about 930 to 1,190 sessions/s at 32 concurrent clients)",
    )
    parser.add_argument("--max_body_bytes", type=int, default=1 << 20)
    parser.add_argument("--max_session_items", type=int, default=1000)
    parser.add_argument("--max_exclude_items", type=int, default=1000)
    parser.add_argument("--max_k", type=int, default=1000)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="compute threads of the model pass (torch, onnxruntime, BLAS); the event loop "
        "has its own",
    )
    parser.add_argument(
        "--retrieval",
        default="auto",
        choices=("exact", "ann", "auto"),
        help="exact: score every item; ann: a faiss index, U searches merged by the max over "
        "interests; auto: ann from --ann_threshold items",
    )
    parser.add_argument("--ann_index", default="ivfpq", choices=("ivfpq", "ivf", "hnsw", "flat"))
    parser.add_argument("--ann_threshold", type=int, default=200_000, help="auto: ann from here")
    parser.add_argument(
        "--ann_nprobe", type=int, default=None, help="IVF cells scanned (ivfpq 512, ivf 64)"
    )
    parser.add_argument(
        "--ann_refine", type=int, default=4, help="ivfpq: candidates per k rescored exactly"
    )
    parser.add_argument("--ann_ef_search", type=int, default=128, help="HNSW search list")
    for option, (fast, fallback, what) in IMPLEMENTATIONS.items():
        parser.add_argument(
            f"--{option}",
            default="auto",
            choices=("auto", fast, fallback),
            help=f"{what}: {fast} (C; the serve extra installs it) or {fallback}; auto: "
            f"{fast} when installed",
        )
    parser.add_argument("--log_level", default="warning", choices=("debug", "info", "warning"))
    parser.add_argument("--access_log", action="store_true", help="log every request")
    return parser


def _check(args: argparse.Namespace) -> None:
    from dmi_gnn.errors import ConfigError

    for name in (
        "max_batch",
        "max_queue",
        "max_body_bytes",
        "max_session_items",
        "max_k",
        "workers",
    ):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.max_exclude_items < 0 or args.max_wait_ms < 0 or args.threads < 1:
        raise ConfigError("--max_exclude_items and --max_wait_ms must be >= 0, --threads >= 1")
    for name in ("ann_threshold", "ann_nprobe", "ann_refine", "ann_ef_search"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise ConfigError(f"--{name} must be >= 1, got {getattr(args, name)}")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be in 0..65535, got {args.port}")


def resolve_implementation(choice: str, fast: str, fallback: str) -> str:
    """``fast`` (a module name) for ``auto`` when it is importable, else ``fallback``; an
    explicit ``fast`` that is not installed is a :class:`~dmi_gnn.errors.ConfigError`."""
    import importlib.util

    from dmi_gnn.errors import ConfigError

    installed = importlib.util.find_spec(fast) is not None
    if choice == fast and not installed:
        raise ConfigError(f"{fast} is not installed: pip install -e '.[serve]' (or {fallback})")
    if choice == "auto":
        return fast if installed else fallback
    return choice


def _limit_threads(threads: int) -> None:
    """Cap BLAS/OpenMP pools before numpy or torch start them (only if not yet imported)."""
    if "numpy" not in sys.modules:
        for name in _THREAD_VARIABLES:
            os.environ[name] = str(threads)


def load_backend(args: argparse.Namespace):
    """The backend named by ``--ckpt_path`` (file or export directory) or ``--export_dir``."""
    from dmi_gnn.serving.onnx_runner import FILES

    source = Path(args.export_dir or args.ckpt_path)
    if args.export_dir or (source.is_dir() and (source / FILES["metadata"]).is_file()):
        from dmi_gnn.serving.onnx_runner import OnnxBackend

        return OnnxBackend(source, threads=args.threads)
    if source.is_dir():
        from dmi_gnn.errors import ConfigError

        raise ConfigError(
            f"--ckpt_path {source}: a directory, but not an export (no metadata.json)"
        )
    import torch

    torch.set_num_threads(args.threads)
    from dmi_gnn.serving.torch_backend import TorchBackend

    return TorchBackend.from_checkpoint(str(source))


def build_retrieval(backend, args: argparse.Namespace):
    """``--retrieval`` over the backend's candidate table (an ANN index is built here)."""
    from dmi_gnn.serving.ann_index import AnnOptions
    from dmi_gnn.serving.retrieval import make_retrieval

    options = AnnOptions(
        kind=args.ann_index,
        nprobe=args.ann_nprobe,
        refine=args.ann_refine,
        ef_search=args.ann_ef_search,
    )
    return make_retrieval(backend.table_t, args.retrieval, options, args.ann_threshold)


def _listen(host: str, port: int) -> socket.socket:
    from dmi_gnn.errors import ConfigError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only then,
    # and without it a response written in two parts waits for a delayed ACK (40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.listen(2048)
    return sock


def serve_main(argv: Sequence[str]) -> int:
    """``dmi-gnn serve``; returns the exit status (2 for a user error)."""
    from dmi_gnn.cli_errors import is_user_error, one_line

    args = build_parser().parse_args(list(argv))
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        _check(args)
        _limit_threads(args.threads)
        from dmi_gnn.serving.onnx_runner import ExportError

        try:
            backend = load_backend(args)
        except ExportError as error:
            from dmi_gnn.errors import ConfigError

            raise ConfigError(str(error)) from None
        retrieval = build_retrieval(backend, args)
        http, loop = (
            resolve_implementation(getattr(args, option), fast, fallback)
            for option, (fast, fallback, _) in IMPLEMENTATIONS.items()
        )
        sock = _listen(args.host, args.port)
    except Exception as error:
        if not is_user_error(error):
            raise
        sys.stderr.write(one_line(error, "serve") + "\n")
        return 2

    import uvicorn

    from dmi_gnn.serving.app import create_app
    from dmi_gnn.serving.requests import Limits

    limits = Limits(
        max_body_bytes=args.max_body_bytes,
        max_session_items=args.max_session_items,
        max_exclude_items=args.max_exclude_items,
        max_k=args.max_k,
        default_k=min(getattr(backend, "top_k", 20) or 20, backend.num_items, args.max_k),
    )
    app = create_app(
        backend,
        limits,
        max_batch=args.max_batch,
        max_wait=args.max_wait_ms / 1000.0,
        max_queue=args.max_queue,
        retrieval=retrieval,
        server_stack=f"uvicorn {http} {loop}",
        workers=args.workers,
    )
    config = uvicorn.Config(
        app,
        http=http,
        loop=loop,
        log_level=args.log_level,
        access_log=args.access_log,
        timeout_graceful_shutdown=10,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(
        f"dmi-gnn serve: {backend.description}; retrieval {retrieval.description}; "
        f"uvicorn with {http} and {loop}",
        flush=True,
    )
    print(f"dmi-gnn serve: listening on http://{shown}:{port}", flush=True)
    stopped_by: list[str] = []

    def _note(signum: int, frame: object) -> None:
        # uvicorn re-raises the signal it shut down on, after restoring these handlers.
        stopped_by.append(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, _note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    reason = f" ({stopped_by[0]})" if stopped_by else ""
    print(f"dmi-gnn serve: stopped{reason}", flush=True)
    return 0
