"""Texts of the ``dmi-gnn`` command: its description, the subcommands, the help group titles.

Imports nothing heavy: ``dmi-gnn --help`` prints :func:`top_level_help` without torch.
"""

from __future__ import annotations

from dmi_gnn import __version__

DESCRIPTION = (
    "DMI-GNN (Dynamic Multi-Interest GNN, Lv, Liu and Xu, AAAI 2025) for session-based "
    "recommendation: train, evaluate and serve it on benchmark, synthetic or your own click data."
)

#: One line per subcommand, in the order they are listed.
SUBCOMMANDS: dict[str, str] = {
    "fit": (
        "train a model: evaluate every epoch, keep the best checkpoint on --checkpoint.monitor, "
        "then test it once"
    ),
    "validate": "evaluate a checkpoint on the validation set (--ckpt_path)",
    "test": "evaluate a checkpoint on the test set (--ckpt_path)",
    "predict": "recommend the next items for every session of --data.predict_file (--ckpt_path)",
    "prepare": "turn a raw click log into a processed dataset (dmi-gnn prepare --help)",
    "serve": "serve recommendations over HTTP from a checkpoint or an export (--ckpt_path)",
    "export": "export a checkpoint to ONNX + numpy files that run without PyTorch (--ckpt_path)",
}

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")
SERVING_SUBCOMMANDS = ("serve", "export")

#: Help group titles by config section (Lightning's docstrings would be cut mid-sentence).
GROUP_TITLES: dict[str, str] = {
    "model": "--model.*: DMI-GNN hyper-parameters (dmi_gnn.DMIGNN)",  # see model_title
    "data": "--data.*: the dataset, its split and batches (datamodules.SessionDataModule)",
    "checkpoint": (
        "--checkpoint.*: which checkpoints are kept (ModelCheckpoint); --checkpoint.monitor is "
        "the selection metric"
    ),
    "early_stopping": "--early_stopping.*: stop when the selection metric stops improving",
    "prediction_writer": "--prediction_writer.*: the predict output file",
    "step_seeding": "--step_seeding.*: per-step seeding (exact resumes)",
    "epoch_summary": "--epoch_summary.*: one line of metrics per epoch on stdout",
    "trainer": "--trainer.*: the Lightning Trainer (devices, epochs, precision, loggers, ...)",
}

EPILOG = (
    "Runs: --trainer.default_root_dir is an experiment folder; each fresh run writes into a new "
    "version_N inside it (--run_dir DIR picks the exact directory). --ckpt_path last resumes the "
    "newest run there that has checkpoints/last.ckpt. User errors print one line and exit with "
    "status 2; --debug (or DMI_GNN_DEBUG=1) shows their traceback."
)


def model_title(name: str, path: str, names: list[str]) -> str:
    """The help title of the ``--model.*`` group of model ``name``."""
    return (
        f"--model.*: {name} options ({path}); --model NAME picks the model "
        f"(default DMIGNN): {', '.join(names)}"
    )


def usage(subcommand: str) -> str:
    """A short usage line (the generated one lists all 150 options)."""
    checkpoint = " [--ckpt_path FILE|RUN_DIR|last]"
    return (
        f"dmi-gnn {subcommand} [--config FILE] [--model NAME] [--model.NAME VALUE ...] "
        "[--data.NAME VALUE ...] "
        f"[--trainer.NAME VALUE ...]{checkpoint} [--run_dir DIR] [options]"
    )


def top_level_help() -> str:
    """What ``dmi-gnn --help`` prints."""
    width = max(len(name) for name in SUBCOMMANDS)
    commands = "\n".join(f"  {name:<{width}}  {text}" for name, text in SUBCOMMANDS.items())
    return (
        "usage: dmi-gnn [-h] [--version] [--debug] "
        "{fit,validate,test,predict,prepare,serve,export} ...\n\n"
        f"{DESCRIPTION}\n\n"
        f"commands:\n{commands}\n\n"
        "options:\n"
        "  -h, --help  show this help and exit (dmi-gnn COMMAND --help: a command's options)\n"
        "  --version   print the version and exit\n"
        "  --debug     show the traceback of user errors too (or set DMI_GNN_DEBUG=1)\n\n"
        "examples:\n"
        "  dmi-gnn fit --config experiments/quickstart.yaml\n"
        "  dmi-gnn fit --config experiments/quickstart.yaml --ckpt_path last\n"
        "  dmi-gnn test --ckpt_path runs/quickstart/version_0/checkpoints/last.ckpt\n"
        "  dmi-gnn predict --ckpt_path runs/quickstart/version_0/checkpoints/last.ckpt "
        "--data.predict_file sessions.jsonl\n\n"
        f"{EPILOG}\n"
    )


def version_text() -> str:
    """What ``dmi-gnn --version`` prints."""
    return f"dmi-gnn {__version__}\n"
