"""The benchmark registry: where each published split comes from, pinned by commit and sha256.

Every file is downloaded from ``raw.githubusercontent.com`` at a fixed commit, so a URL can never
silently change content; the sha256 is checked on every load anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from datamodules.errors import DataUnavailableError

TRAIN_SESSIONS_FILE = "all_train_seq.txt"
TEST_PAIRS_FILE = "test.txt"

GCE_GNN_COMMIT = "212575302e42d64b8cf0b9ffe1b71b0db398d5be"
DMI_GNN_COMMIT = "f2a8a5e409ceb2ed7a2dfcca1e2ee76c10c9d7c6"

GCE_GNN_CITATION = (
    "Ziyang Wang, Wei Wei, Gao Cong, Xiao-Li Li, Xian-Ling Mao, Minghui Qiu. Global Context "
    "Enhanced Graph Neural Networks for Session-based Recommendation. SIGIR 2020."
)
DMI_GNN_CITATION = (
    "Yuxuan Lv, Zhengyang Liu, Xiaofei Xu. Dynamic Multi-Interest Graph Neural Network for "
    "Session-based Recommendation. AAAI 2025."
)


def github_raw_url(owner_repo: str, commit: str, path: str) -> str:
    """The ``raw.githubusercontent.com`` URL of ``path`` in ``owner_repo`` at ``commit``."""
    return f"https://raw.githubusercontent.com/{owner_repo}/{commit}/{path}"


@dataclass(frozen=True)
class RemoteFile:
    """A downloadable file: a URL pinned to a commit and the sha256 of its content."""

    url: str
    sha256: str


@dataclass(frozen=True)
class Benchmark:
    """A registered benchmark split.

    Attributes:
        name: registry key (``--data.dataset`` value).
        files: file name -> where to get it. The GCE-GNN pickle layout: ``all_train_seq.txt``
            (chronological full train sessions) and ``test.txt`` (augmented test pairs).
        num_items: item count ``N``; ids are ``1..N``.
        min_prefix_length: augmentation rule; 1 = every prefix, 2 = prefixes of length >= 2.
        citation: the paper that published the split.
        provenance: one line on where the files come from.
        unavailable: why the split cannot be loaded (None when it can).
    """

    name: str
    files: dict[str, RemoteFile] = field(hash=False)
    num_items: int
    min_prefix_length: int
    citation: str
    provenance: str
    unavailable: str | None = None

    def require_available(self) -> None:
        """Raise :class:`DataUnavailableError` with the explanation if the split is unavailable."""
        if self.unavailable is not None:
            raise DataUnavailableError(f"dataset {self.name!r}: {self.unavailable}")


def _gcegnn_files(folder: str, train_sha256: str, test_sha256: str) -> dict[str, RemoteFile]:
    repo = "CCIIPLab/GCE-GNN"
    return {
        TRAIN_SESSIONS_FILE: RemoteFile(
            github_raw_url(repo, GCE_GNN_COMMIT, f"datasets/{folder}/{TRAIN_SESSIONS_FILE}"),
            train_sha256,
        ),
        TEST_PAIRS_FILE: RemoteFile(
            github_raw_url(repo, GCE_GNN_COMMIT, f"datasets/{folder}/{TEST_PAIRS_FILE}"),
            test_sha256,
        ),
    }


_RETAILROCKET_REPO = "MICLab-Rec/DMI-GNN"

BENCHMARKS: dict[str, Benchmark] = {
    benchmark.name: benchmark
    for benchmark in (
        Benchmark(
            name="tmall",
            files=_gcegnn_files(
                "Tmall",
                "40219a3222bc575e7061bd665c6dcaa4af3c37a8f8975868689ae0375b765d9c",
                "7813a743324943488c37efa35b511ec649dfcd7697f28f33dcb3d18420d3da5d",
            ),
            num_items=40_727,
            min_prefix_length=1,
            citation=GCE_GNN_CITATION,
            provenance="Tmall (IJCAI-15) split made by GCE-GNN's process_tmall.py; the same "
            "files ship with DMI-GNN.",
        ),
        Benchmark(
            name="diginetica",
            files=_gcegnn_files(
                "diginetica",
                "55694865221c682aaa9df6cd5a4ddccff5de902334df5605c5767ee464e11365",
                "b2b81f9cb22feb2174feeb3e678b9de5e41ff1653bf23cdaf9046e5404f002ff",
            ),
            num_items=43_097,
            min_prefix_length=1,
            citation=GCE_GNN_CITATION,
            provenance="Diginetica (CIKM Cup 2016) split made by SR-GNN's preprocess.py, as "
            "shipped by GCE-GNN.",
        ),
        Benchmark(
            name="nowplaying",
            files=_gcegnn_files(
                "Nowplaying",
                "963019b0853b49273f81ba591b30be600194f74f71f11e8fc4cf549591416052",
                "2c51533a05683877c7e696506a410f13216d93886466fd83c3153166829bfcb9",
            ),
            num_items=60_416,
            min_prefix_length=1,
            citation=GCE_GNN_CITATION,
            provenance="Nowplaying split made by GCE-GNN's process_nowplaying.py.",
        ),
        Benchmark(
            name="retailrocket",
            files={
                name: RemoteFile(
                    github_raw_url(
                        _RETAILROCKET_REPO, DMI_GNN_COMMIT, f"datasets/RetailRocket/{name}"
                    ),
                    sha256,
                )
                for name, sha256 in (
                    (
                        TRAIN_SESSIONS_FILE,
                        "dcb31faa5037c527b516b4d8e3aa6d81b81549e45f4ead3b02ca99c6ecd67181",
                    ),
                    (
                        TEST_PAIRS_FILE,
                        "212345e160a899fb64451aa1288407fdf65816e8c128905bd98784bce1256c85",
                    ),
                )
            },
            num_items=36_968,
            min_prefix_length=2,
            citation=DMI_GNN_CITATION,
            provenance="RetailRocket (Kaggle) split shipped with the official DMI-GNN code; "
            "prefixes of length >= 2 (the MTD rule); some train sessions are longer than 200.",
        ),
        Benchmark(
            name="lastfm",
            files={},
            num_items=38_615,
            min_prefix_length=1,
            citation=DMI_GNN_CITATION,
            provenance="Last.fm-1K artists, LESSR preprocessing (8 h sessions, repeats removed, "
            "cut to 20, top 40,000 artists, last 20% of sessions as test).",
            unavailable=(
                "the DMI-GNN LastFM train split is not publicly available (only the LESSR test "
                "split is, in github moksh98/HG-GNN datasets/lastfm/test.txt, which cannot be "
                "trained on). Regenerate the whole split from the raw Last.fm-1K TSV "
                "(userid-timestamp-artid-artname-traid-traname.tsv from "
                "http://ocelma.net/MusicRecommendationDataset/lastfm-1K.html, non-commercial "
                "use only) with `dmi-gnn prepare lastfm --input TSV --output DIR`, then train "
                "with `--data.dataset DIR`."
            ),
        ),
    )
}


def get_benchmark(name: str) -> Benchmark:
    """The registered benchmark ``name``; an unknown name lists the valid ones."""
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise DataUnavailableError(
            f"unknown benchmark {name!r}; registered: {', '.join(sorted(BENCHMARKS))}"
        ) from None
