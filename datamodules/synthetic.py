"""A built-in synthetic session dataset with multi-interest structure (``dataset="synthetic"``).

The generator, step by step (all draws from ``numpy.random.default_rng(seed)``):

1. **Items and interests.** Items ``1..num_items`` are shuffled and cut into ``num_interests``
   groups of (almost) equal size: the latent interests. The shuffled order inside a group is the
   interest's *chain*: item ``c[i]``'s natural successors are ``c[i + 1]``, ``c[i + 2]``, ...
   (cyclically).
2. **Popularity.** Each item gets a Zipf weight ``1 / rank ** zipf_exponent`` (ranks in random
   order); an interest's weight is the sum of its items' weights.
3. **Session length.** ``max(2, 1 + ceil(exp(N(0.95, 1.35 ** 2))))``, redrawn while above
   ``max_session_length`` (40): like Tmall's train sessions (mean about 6.4, a quarter of length
   2, heavy right tail, at most 40).
4. **Interests of a session.** ``1 + Binomial(3, p)`` interests with
   ``p = clip((length - 2) / 20, 0.05, 0.9)`` (1 to 4, more for longer sessions), drawn without
   replacement in proportion to the interest weights.
5. **Clicks.** The first click's interest is the session's first interest. Each later click
   keeps the interest of the most recent click with probability ``stay_probability``, returns to
   the interest of the click before it with probability ``recall_probability``, and otherwise
   picks one of the session's interests uniformly (a recency-biased positional pattern). Within
   the chosen interest, with probability ``chain_probability`` the item is a successor of that
   interest's last item in this session (1, 2 or 3 steps along the chain with probabilities
   0.6/0.3/0.1); otherwise (and for an interest's first click) it is drawn by popularity among
   the interest's items.

The first ``num_train_sessions`` sessions are the chronological train sessions and the next
``num_test_sessions`` the test sessions; they then go through the same pipeline as real data
(augmentation with every prefix, last-fraction validation, global graph from the fit sessions).
A model that tracks a session's interests and recent clicks beats item popularity by a wide
margin (see ``tests/datamodules/test_synthetic.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datamodules.processed import Sessions, offsets_from_lengths

_LENGTH_LOG_MEAN, _LENGTH_LOG_STD = 0.95, 1.35
_CHAIN_STEPS, _CHAIN_STEP_PROBABILITIES = np.array([1, 2, 3]), np.array([0.6, 0.3, 0.1])
_MAX_SESSION_INTERESTS = 4


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of the synthetic generator (see the module docstring)."""

    num_items: int = 1000
    num_interests: int = 25
    num_train_sessions: int = 6000
    num_test_sessions: int = 1000
    max_session_length: int = 40
    zipf_exponent: float = 1.0
    stay_probability: float = 0.6
    recall_probability: float = 0.2
    chain_probability: float = 0.6
    seed: int = 0

    def validate(self) -> None:
        """Raise ValueError naming the first bad parameter."""
        checks = [
            ("num_items", self.num_items >= 2, ">= 2"),
            ("num_interests", 1 <= self.num_interests <= self.num_items, "in 1..num_items"),
            ("num_train_sessions", self.num_train_sessions >= 1, ">= 1"),
            ("num_test_sessions", self.num_test_sessions >= 1, ">= 1"),
            ("max_session_length", self.max_session_length >= 2, ">= 2"),
            ("zipf_exponent", self.zipf_exponent >= 0, ">= 0"),
            ("stay_probability", 0 <= self.stay_probability <= 1, "in [0, 1]"),
            ("recall_probability", 0 <= self.recall_probability <= 1, "in [0, 1]"),
            (
                "stay_probability + recall_probability",
                self.stay_probability + self.recall_probability <= 1,
                "<= 1",
            ),
            ("chain_probability", 0 <= self.chain_probability <= 1, "in [0, 1]"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise ValueError(f"synthetic {name} must be {rule}, got {self}")


@dataclass
class SyntheticSessions:
    """Generated sessions and the latent structure behind them.

    Shapes:
        item_interest: ``(num_items + 1,)`` int64, the interest of each item (-1 for item 0).
    """

    train: Sessions
    test: Sessions
    item_interest: np.ndarray


def _session_lengths(rng: np.random.Generator, count: int, longest: int) -> np.ndarray:
    lengths = np.zeros(count, dtype=np.int64)
    todo = np.arange(count)
    while len(todo):
        draw = np.exp(rng.normal(_LENGTH_LOG_MEAN, _LENGTH_LOG_STD, size=len(todo)))
        candidate = np.maximum(1 + np.ceil(draw), 2).astype(np.int64)
        ok = candidate <= longest
        lengths[todo[ok]] = candidate[ok]
        todo = todo[~ok]
    return lengths


def generate_synthetic(config: SyntheticConfig) -> SyntheticSessions:
    """Generate train and test sessions (see the module docstring)."""
    config.validate()
    rng = np.random.default_rng(config.seed)
    num_items, num_interests = config.num_items, config.num_interests

    chain = rng.permutation(np.arange(1, num_items + 1))  # interests are contiguous runs
    bounds = np.linspace(0, num_items, num_interests + 1).round().astype(np.int64)
    interest_start, interest_size = bounds[:-1], np.diff(bounds)
    interest_of_slot = np.repeat(np.arange(num_interests), interest_size)
    item_interest = np.full(num_items + 1, -1, dtype=np.int64)
    item_interest[chain] = interest_of_slot
    slot_of_item = np.zeros(num_items + 1, dtype=np.int64)
    slot_of_item[chain] = np.arange(num_items)

    popularity = 1.0 / rng.permutation(np.arange(1, num_items + 1)) ** config.zipf_exponent
    slot_weight = popularity[chain - 1]
    cumulative = np.cumsum(slot_weight)
    interest_end_mass = cumulative[bounds[1:] - 1]
    interest_start_mass = interest_end_mass - np.add.reduceat(slot_weight, interest_start)
    interest_weight = interest_end_mass - interest_start_mass

    count = config.num_train_sessions + config.num_test_sessions
    lengths = _session_lengths(rng, count, config.max_session_length)
    p_more = np.clip((lengths - 2) / 20, 0.05, 0.9)
    interests_per_session = np.minimum(
        1 + rng.binomial(_MAX_SESSION_INTERESTS - 1, p_more), num_interests
    )
    # Weighted sampling without replacement: the top keys of log(w) + Gumbel noise.
    keys = np.log(interest_weight)[None, :] + rng.gumbel(size=(count, num_interests))
    session_interests = np.argsort(-keys, axis=1)[:, :_MAX_SESSION_INTERESTS]

    def popular_item(interest: np.ndarray) -> np.ndarray:
        mass = interest_start_mass[interest] + rng.random(len(interest)) * interest_weight[interest]
        slot = np.searchsorted(cumulative, mass, side="right")
        slot = np.clip(slot, interest_start[interest], bounds[interest + 1] - 1)
        return chain[slot]

    width = int(lengths.max())
    clicks = np.zeros((count, width), dtype=np.int64)
    slot_used = np.zeros((count, width), dtype=np.int64)  # which of the session's interests
    last_item = np.zeros((count, _MAX_SESSION_INTERESTS), dtype=np.int64)
    rows = np.arange(count)
    for t in range(width):
        active = rows[lengths > t]
        if t == 0:
            chosen = np.zeros(len(active), dtype=np.int64)
        else:
            draw = rng.random(len(active))
            previous = slot_used[active, t - 1]
            before = slot_used[active, t - 2] if t >= 2 else previous
            uniform = (rng.random(len(active)) * interests_per_session[active]).astype(np.int64)
            chosen = np.where(
                draw < config.stay_probability,
                previous,
                np.where(
                    draw < config.stay_probability + config.recall_probability, before, uniform
                ),
            )
        interest = session_interests[active, chosen]
        items = popular_item(interest)
        last = last_item[active, chosen]
        follow = (last > 0) & (rng.random(len(active)) < config.chain_probability)
        if follow.any():
            step = rng.choice(_CHAIN_STEPS, size=int(follow.sum()), p=_CHAIN_STEP_PROBABILITIES)
            start = interest_start[interest[follow]]
            offset = (slot_of_item[last[follow]] - start + step) % interest_size[interest[follow]]
            items[follow] = chain[start + offset]
        clicks[active, t] = items
        slot_used[active, t] = chosen
        last_item[active, chosen] = items

    valid = np.arange(width)[None, :] < lengths[:, None]
    offsets = offsets_from_lengths(lengths)
    sessions = Sessions(items=clicks[valid], offsets=offsets)
    split = config.num_train_sessions

    def part(start: int, stop: int) -> Sessions:
        window = offsets[start : stop + 1]
        return Sessions(items=sessions.items[window[0] : window[-1]], offsets=window - window[0])

    return SyntheticSessions(
        train=part(0, split), test=part(split, count), item_interest=item_interest
    )
