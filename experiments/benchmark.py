"""Speed benchmark: a model's training/evaluation throughput against the scoring bound.

Prints ONE JSON line with training and evaluation samples/s, the scoring-only bound for the
same shapes measured in the same run (forward + backward of scoring all items with U interest
vectors and cross-entropy for training; forward scoring for evaluation), the ratio to it, peak
memory, the time to prepare the data (cold and cached), and the software/hardware context.
Every figure is the median over ``--repeats`` timed blocks of ``--steps`` steps after
``--warmup`` steps.

The bound uses the model's own scoring path (candidate embeddings, eq. 6, max over interests),
fed random interest vectors: it is the part of the step no implementation can avoid, so
everything above it is overhead.

Any model of the family: the configs are the ``dmi-gnn`` command's (``--config`` repeatable, in
order; ``model: class_path:`` or ``--model NAME`` picks the model, DMI-GNN by default;
``--data.*``/``--model.*`` override them like on the command line). The bound is measured for
neural models whose network has ``score`` (the contract of ``dmi_gnn/nn/networks``); a
non-parametric model reports its index build time instead of training steps::

    python experiments/benchmark.py --config experiments/tmall.yaml \\
        --data.data_dir ../shared/data/tmall-gcegnn
    python experiments/benchmark.py --config experiments/data/tmall.yaml \\
        --config experiments/models/pop.yaml --data.data_dir ../shared/data/tmall-gcegnn
    python experiments/benchmark.py --device cuda --batch-size 1024 --precision bf16-mixed
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datamodules import SessionBatch, SessionDataModule  # noqa: E402
from dmi_gnn.cli_models import choose_model  # noqa: E402
from dmi_gnn.models import model_class  # noqa: E402
from dmi_gnn.nn.scoring import resolve_chunk_size  # noqa: E402
from dmi_gnn.nonparametric_recommender import NonparametricRecommender  # noqa: E402
from dmi_gnn.recommender import SessionRecommender  # noqa: E402


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, dict, dict]:
    """The options, and the model and data arguments of the configs and overrides.

    ``args.model`` is the registered model name (as ``dmi-gnn`` resolves it).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--config", action="append", help="repeatable, as for dmi-gnn; default tmall.yaml"
    )
    parser.add_argument("--model", default=None, help="a registered model name")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the config's")
    parser.add_argument("--eval-batch-size", type=int, default=None)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per repeat")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument(
        "--memory-passes", type=int, default=3, help="passes over the batches to watch memory"
    )
    parser.add_argument(
        "--precision", default="32", choices=["32", "bf16-mixed", "16-mixed"], help="autocast"
    )
    parser.add_argument("--tf32", action="store_true", help="allow TF32 matmuls (CUDA)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="items per scoring block (= --model.scoring_chunk_size)",
    )
    args, rest = parser.parse_known_args(argv)
    overrides: dict[str, dict[str, Any]] = {"model": {}, "data": {}}
    it = iter(rest)
    for token in it:
        key, _, value = token.partition("=")
        if not value:
            value = next(it)
        section, _, name = key.lstrip("-").partition(".")
        if section not in overrides or not name:
            parser.error(f"unknown option {token}")
        overrides[section][name] = yaml.safe_load(value)
    configs = args.config or [str(ROOT / "experiments" / "tmall.yaml")]
    cli = [a for c in configs for a in ("--config", c)]
    choice = choose_model(cli + (["--model", args.model] if args.model else []))
    model_args: dict[str, Any] = {}
    data_args: dict[str, Any] = {}
    for value in choice.argv[1::2]:  # the configs, flattened as dmi-gnn reads them
        config = yaml.safe_load(Path(value).read_text() if Path(value).is_file() else value)
        model_args.update(config.get("model") or {})
        data_args.update(config.get("data") or {})
    args.model = choice.name
    args.config = configs
    return args, {**model_args, **overrides["model"]}, {**data_args, **overrides["data"]}


def timed(function, synchronize) -> float:
    synchronize()
    start = time.perf_counter()
    function()
    synchronize()
    return time.perf_counter() - start


def median_rate(samples: list[float], size: int) -> float:
    return size / statistics.median(samples)


def prepare_data(
    data_args: dict, features: frozenset[str]
) -> tuple[SessionDataModule, float, float]:
    """Cold preparation (empty cache) and cached preparation (a second module), in seconds."""
    cache = tempfile.mkdtemp(prefix="dmi-gnn-bench-")
    data_args = {**data_args, "cache_dir": cache}
    start = time.perf_counter()
    cold = SessionDataModule(**data_args)
    cold.use_features(features)
    cold.prepare_data()
    cold.setup("fit")
    cold_seconds = time.perf_counter() - start
    start = time.perf_counter()
    warm = SessionDataModule(**data_args)
    warm.use_features(features)
    warm.prepare_data()
    warm.setup("fit")
    cached_seconds = time.perf_counter() - start
    return warm, cold_seconds, cached_seconds


def batches(dataset, batch_size: int, count: int, device: torch.device) -> list[SessionBatch]:
    """``count`` batches cut from the head of ``dataset`` (shuffled once, fixed), on device."""
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(dataset), generator=generator)
    out = []
    for step in range(count):
        index = order[(step * batch_size) % len(dataset) :][:batch_size]
        out.append(dataset.__getitems__(index.tolist()).to_device(device))
    return out


def current_memory_mib(cuda: bool, device: torch.device) -> float:
    """Memory in use now: allocated CUDA memory, or the process's resident set on CPU."""
    if cuda:
        return torch.cuda.memory_allocated(device) / 2**20
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def memory_across_passes(train_step, inputs, passes: int, cuda: bool, device) -> list[float]:
    """Memory after each of ``passes`` passes over the same training batches (must not grow)."""
    out = []
    for _ in range(passes):
        for batch in inputs:
            train_step(batch)
        out.append(round(current_memory_mib(cuda, device), 1))
    return out


def recommend_latency(
    model: SessionRecommender, datamodule: SessionDataModule, device, calls: int = 200
):
    """Seconds per ``recommend([session], k=20)`` call on real test prefixes (raw ids in/out)."""
    model.eval()
    test = datamodule.test_dataset
    sessions = [
        test.flat[start : start + length].tolist()
        for start, length in zip(
            test.starts[:calls].tolist(), test.lengths[:calls].tolist(), strict=False
        )
    ]
    raw = [datamodule.vocabulary.decode(session) for session in sessions]
    for session in raw[:10]:
        model.recommend([session], k=20)
    times = []
    for session in raw:
        start = time.perf_counter()
        model.recommend([session], k=20)
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args, model_args, data_args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if args.tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    synchronize = torch.cuda.synchronize if cuda else (lambda: None)
    if args.batch_size:
        data_args["batch_size"] = args.batch_size
    batch_size = data_args.get("batch_size", 100)
    eval_batch_size = args.eval_batch_size or batch_size

    cls = model_class(args.model)
    datamodule, cold_seconds, cached_seconds = prepare_data(data_args, cls.FEATURES)
    if args.chunk_size:
        model_args["scoring_chunk_size"] = args.chunk_size
    torch.manual_seed(0)
    model = cls(num_items=datamodule.num_items, **model_args)
    start = time.perf_counter()
    model.adopt_data(datamodule)  # the global graph, or a non-parametric index
    adopt_seconds = time.perf_counter() - start
    model.to(device)
    if isinstance(model, NonparametricRecommender):
        return benchmark_index(args, model, datamodule, device, adopt_seconds, eval_batch_size)
    if args.compile:
        model.net = torch.compile(model.net, dynamic=True)
    optimizer = model.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    autocast = (
        torch.autocast(
            device.type, dtype=torch.bfloat16 if "bf16" in args.precision else torch.float16
        )
        if args.precision != "32"
        else contextlib.nullcontext()
    )
    scaler = torch.amp.GradScaler(device.type, enabled=args.precision == "16-mixed")
    total = args.warmup + args.steps * args.repeats
    train = batches(datamodule.train_dataset, batch_size, total, device)
    evaluation = batches(datamodule.test_dataset, eval_batch_size, total, device)
    hp = model.hparams

    def train_step(batch: SessionBatch) -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss = model.training_loss(batch)
            loss = loss["loss"] if isinstance(loss, dict) else loss
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    metrics = model.test_metrics.to(device)

    @torch.no_grad()
    def eval_step(batch: SessionBatch) -> None:
        with autocast:
            scores = model.scores(batch)
        metrics.update(scores.float(), batch.targets)

    # The bound: the model's own scoring path on random interests of the same shapes.
    dim, interests = hp.embedding_dim, hp.get("num_interests", 1)
    bound_inputs = [
        torch.randn(batch_size, interests, dim, device=device, requires_grad=True) for _ in range(4)
    ]
    bound_targets = [b.targets for b in train[:4]]

    def bound_train(step: int) -> None:
        with autocast:
            scores = model.net.score(bound_inputs[step % 4])
            loss = F.cross_entropy(scores.float(), bound_targets[step % 4] - 1)
        loss.backward()

    eval_inputs = [t[:eval_batch_size].detach() for t in bound_inputs]

    @torch.no_grad()
    def bound_eval(step: int) -> None:
        with autocast:
            model.net.score(eval_inputs[step % 4])

    def measure(step_function, inputs) -> list[float]:
        for i in range(args.warmup):
            step_function(inputs[i])
        times = []
        position = args.warmup
        for _ in range(args.repeats):
            chunk = inputs[position : position + args.steps]
            position += args.steps
            times.append(timed(lambda chunk=chunk: [step_function(x) for x in chunk], synchronize))
        return times

    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    model.train()
    train_times = measure(train_step, train)
    bound_train_times = measure(bound_train, list(range(total)))
    model.eval()
    eval_times = measure(eval_step, evaluation)
    bound_eval_times = measure(bound_eval, list(range(total)))

    latencies = recommend_latency(model, datamodule, device)
    model.train()
    memory_by_pass = memory_across_passes(train_step, train, args.memory_passes, cuda, device)

    train_rate = median_rate(train_times, batch_size * args.steps)
    bound_train_rate = median_rate(bound_train_times, batch_size * args.steps)
    eval_rate = median_rate(eval_times, eval_batch_size * args.steps)
    bound_eval_rate = median_rate(bound_eval_times, eval_batch_size * args.steps)
    if cuda:
        peak = torch.cuda.max_memory_allocated(device) / 2**20
        device_name = torch.cuda.get_device_name(device)
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        device_name = platform.processor() or platform.machine()
    result = {
        "config": args.config,
        "model": args.model,
        "dataset": datamodule.info.name,
        "num_items": datamodule.num_items,
        "train_samples": len(datamodule.train_dataset),
        "device": device_name,
        "batch_size": batch_size,
        "eval_batch_size": eval_batch_size,
        "num_interests": interests,
        "precision": args.precision,
        "tf32": args.tf32,
        "compile": args.compile,
        "chunk_size": resolve_chunk_size(model.net.scorer.chunk_size, device),
        "train_samples_per_s": round(train_rate, 1),
        "train_bound_samples_per_s": round(bound_train_rate, 1),
        "train_ratio_to_bound": round(train_rate / bound_train_rate, 3),
        "eval_samples_per_s": round(eval_rate, 1),
        "eval_bound_samples_per_s": round(bound_eval_rate, 1),
        "eval_ratio_to_bound": round(eval_rate / bound_eval_rate, 3),
        "train_epoch_s_estimate": round(len(datamodule.train_dataset) / train_rate, 1),
        "test_eval_s_estimate": round(len(datamodule.test_dataset) / eval_rate, 2),
        "recommend_top20_latency_ms_median": round(statistics.median(latencies) * 1000, 2),
        "recommend_top20_latency_ms_p90": round(
            sorted(latencies)[int(0.9 * len(latencies))] * 1000, 2
        ),
        "memory_after_each_pass_mib": memory_by_pass,
        "peak_memory_mib": round(peak, 1),
        "peak_memory_kind": "cuda max_memory_allocated" if cuda else "process max RSS",
        "data_prepare_cold_s": round(cold_seconds, 3),
        "data_prepare_cached_s": round(cached_seconds, 3),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "steps": args.steps,
        "repeats": args.repeats,
    }
    print(json.dumps(result))
    return result


def benchmark_index(args, model, datamodule, device, build_seconds, eval_batch_size) -> dict:
    """A non-parametric model: index build time, evaluation rate, ``recommend`` latency."""
    evaluation = batches(
        datamodule.test_dataset, eval_batch_size, args.steps * args.repeats, device
    )
    model.eval()
    start = time.perf_counter()
    with torch.no_grad():
        for batch in evaluation:
            model.test_metrics.update(model.scores(batch).float(), batch.targets)
    eval_rate = len(evaluation) * eval_batch_size / (time.perf_counter() - start)
    start = time.perf_counter()
    with torch.no_grad():
        for batch in all_batches(datamodule.test_dataset, eval_batch_size, device):
            model.scores(batch)
    test_seconds = time.perf_counter() - start
    latencies = recommend_latency(model, datamodule, device)
    result = {
        "config": args.config,
        "model": args.model,
        "dataset": datamodule.info.name,
        "num_items": datamodule.num_items,
        "fit_sessions": datamodule.train_sessions_count,
        "index_build_s": round(build_seconds, 3),
        "eval_samples_per_s": round(eval_rate, 1),
        "test_pass_s": round(test_seconds, 2),
        "test_samples": len(datamodule.test_dataset),
        "recommend_top20_latency_ms_median": round(statistics.median(latencies) * 1000, 2),
        "recommend_top20_latency_ms_p90": round(
            sorted(latencies)[int(0.9 * len(latencies))] * 1000, 2
        ),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(result))
    return result


def all_batches(dataset, batch_size: int, device):
    """Every sample of ``dataset`` in order, ``batch_size`` at a time, on ``device``."""
    for start in range(0, len(dataset), batch_size):
        indices = list(range(start, min(start + batch_size, len(dataset))))
        yield dataset.__getitems__(indices).to_device(device)


if __name__ == "__main__":
    main()
