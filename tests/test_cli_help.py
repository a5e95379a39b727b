"""``dmi-gnn --help``, ``dmi-gnn COMMAND --help`` and flag errors: our texts, fast, one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dmi_gnn import cli_cache
from dmi_gnn.cli import main
from dmi_gnn.cli_flags import check_model_values, flag_names, model_values
from dmi_gnn.errors import HyperparameterError

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = str(ROOT / "experiments" / "quickstart.yaml")
#: Runs ``main(argv)`` and prints whether torch or Lightning got imported on the way.
PROBE = (
    "import sys; from dmi_gnn.cli import main\n"
    "try:\n    code = main(sys.argv[1:])\nexcept SystemExit as done:\n    code = done.code\n"
    "heavy = sorted(m for m in ('torch', 'lightning') if m in sys.modules)\n"
    "print('IMPORTED', heavy, 'CODE', code)\n"
)


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    """An empty user cache directory (the parser facts are rebuilt); help 100 columns wide."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "100")
    return tmp_path / "xdg"


def probe(args: list[str], cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(cache), "COLUMNS": "100"}
    command = [sys.executable, "-c", PROBE, *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_top_level_help_is_ours_lists_every_command_and_imports_no_torch(tmp_path):
    """Issue 12.4: "Lightning Trainer command line tool", no ``prepare``, cut descriptions."""
    done = probe(["--help"], tmp_path)
    assert "IMPORTED [] CODE 0" in done.stdout
    assert "Lightning Trainer" not in done.stdout
    assert done.stdout.startswith("usage: dmi-gnn ")
    commands = done.stdout.split("commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [line.split()[0] for line in commands] == [
        "fit",
        "validate",
        "test",
        "predict",
        "prepare",
        "serve",
        "export",
    ]
    assert all(line.rstrip()[-1] not in ",(" for line in commands)  # nothing cut mid-sentence


def test_subcommand_help_puts_model_and_data_first_and_is_cached(cache_home, capsys):
    """Issue 12.4: 1,012 lines, the model's options after line 500, 6 s per --help."""
    with pytest.raises(SystemExit) as done:
        main(["fit", "--help"])  # builds the parser and fills the cache
    assert done.value.code == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    first = {
        section: next(i for i, line in enumerate(lines) if line.startswith(f"  --{section}."))
        for section in ("model", "data", "checkpoint", "trainer")
    }
    assert first["model"] < 80 and first["model"] < first["data"] < first["trainer"]
    assert first["checkpoint"] < first["trainer"]
    assert lines[0].startswith("usage: dmi-gnn fit [--config FILE]") and len(lines[0]) < 200
    assert "Lightning Trainer command line tool" not in text
    assert "--model.num_interests" in text and "--run_dir" in text
    warm = probe(["fit", "--help"], cache_home)  # answered from the cache this call filled
    assert "IMPORTED [] CODE 0" in warm.stdout
    options = {word for line in lines for word in line.split() if word.startswith("--")}
    assert options == {
        w for line in warm.stdout.splitlines() for w in line.split() if w.startswith("--")
    }


@pytest.mark.slow
def test_cached_help_is_exactly_the_parsers_help(tmp_path):
    fresh = tmp_path / "fresh"  # new processes: what pytest imported does not count
    cold = probe(["fit", "--help"], fresh)
    assert "IMPORTED ['lightning', 'torch'] CODE 0" in cold.stdout
    warm = probe(["fit", "--help"], fresh)
    assert "IMPORTED [] CODE 0" in warm.stdout
    assert warm.stdout.replace("IMPORTED []", "") == cold.stdout.replace(
        "IMPORTED ['lightning', 'torch']", ""
    )


@pytest.mark.parametrize("warm", [False, True], ids=["cold-cache", "warm-cache"])
@pytest.mark.parametrize(
    ("flag", "suggestion"),
    [("--model.num_interest", "--model.num_interests"), ("--model.num_intrests", "")],
)
def test_an_unknown_or_abbreviated_flag_is_one_line(cache_home, capsys, warm, flag, suggestion):
    """Issue 12.5: a prefix was accepted; a typo printed 136 lines of usage first."""
    if warm:
        with pytest.raises(SystemExit):
            main(["fit", "--help"])
        capsys.readouterr()
    assert main(["fit", "--config", QUICKSTART, flag, "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"dmi-gnn fit: error: unknown option {flag}; did you mean ")
    assert "--model.num_interests" in err[0] and suggestion in err[0]


def test_nested_keys_of_class_options_are_not_flagged(cache_home, capsys):
    with pytest.raises(SystemExit) as done:
        main(["fit", "--config", QUICKSTART, "--trainer.logger.help", "CSVLogger"])
    assert done.value.code == 0
    assert "--trainer.logger.save_dir" in capsys.readouterr().out


def test_an_unknown_command_suggests_the_closest():
    assert main(["fitt"]) == 2


def test_flag_parsing_helpers():
    argv = ["--model.eta=-3", "--model.beta", "-0.5", "--trainer.callbacks+=X", "-c", "f.yaml"]
    assert flag_names(argv) == ["--model.eta", "--model.beta", "--trainer.callbacks"]
    assert model_values(argv) == {"eta": -3, "beta": -0.5}
    assert model_values(["--model.metric_ks", "[5, 10]"]) == {"metric_ks": [5, 10]}
    with pytest.raises(HyperparameterError, match="eta must be > 0"):
        check_model_values(argv)
    check_model_values(["--model.lr", "1e-3", "--model.semantics", "paper"])
    with pytest.raises(HyperparameterError, match="semantics must be one of"):
        check_model_values(["--model.semantics", "paprr"])


def test_the_cache_key_follows_the_terminal_width_and_the_sources(monkeypatch, tmp_path):
    first = cli_cache.cache_key()
    monkeypatch.setenv("COLUMNS", "57")
    assert cli_cache.cache_key() != first
    monkeypatch.setattr(cli_cache, "_sources_digest", lambda: "edited")
    assert cli_cache.cache_key() != first


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "--data.batch_size", "-5"], "--data.batch_size must be an int >= 1, got -5"),
        (["fit", "--data.val_fraction=1"], "--data.val_fraction must be in [0, 1), got 1"),
        (["fit", "--ckpt_path", "last"], "--ckpt_path last: no run under runs/default"),
        (["test", "--ckpt_path", "nosuch.ckpt"], "--ckpt_path nosuch.ckpt: no such file"),
    ],
)
def test_common_user_errors_fail_before_importing_torch(tmp_path, args, message):
    code = (
        "import sys\nfrom dmi_gnn.cli import main\n"
        f"status = main({args!r})\n"
        "print(status, 'torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.split() == ["2", "False"], done.stderr[-2000:]
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())  # nothing written
