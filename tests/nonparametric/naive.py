"""Naive pure-Python Pop, S-POP, SKNN and V-SKNN, written from the definitions, for the tests.

Sessions and prefixes here are lists in time order (oldest click first). ``priority[n]`` is a
training session's sampling priority (its list index for "recent" sampling); larger = kept
first, and it breaks similarity ties. Every loop is over plain Python sets and dicts.
"""

from __future__ import annotations

import math


def popularity(sessions, num_items, top_n, support):
    """``{item: supp / (1 + supp)}`` for the ``top_n`` most supported (ties: smaller id)."""
    supp = dict.fromkeys(range(1, num_items + 1), 0)
    for session in sessions:
        for item in session if support == "clicks" else set(session):
            supp[item] += 1
    ranked = sorted(supp, key=lambda i: (-supp[i], i))
    kept = ranked if top_n == 0 else ranked[:top_n]
    return {i: supp[i] / (supp[i] + 1) for i in kept}


def pop_scores(prefix, sessions, num_items, top_n=100, support="clicks"):
    term = popularity(sessions, num_items, top_n, support)
    return [term.get(i, 0.0) for i in range(1, num_items + 1)]


def spop_scores(prefix, sessions, num_items, top_n=100, support="clicks"):
    term = popularity(sessions, num_items, top_n, support)
    return [prefix.count(i) + term.get(i, 0.0) for i in range(1, num_items + 1)]


def _sample(prefix, sessions, priority, sample_size):
    items = set(prefix)
    candidates = [n for n, session in enumerate(sessions) if items & set(session)]
    if sample_size and len(candidates) > sample_size:
        candidates = sorted(candidates, key=lambda n: priority[n], reverse=True)[:sample_size]
    return candidates


def _top_k(similarities, priority, k):
    positive = [(n, s) for n, s in similarities if s > 0]
    positive.sort(key=lambda pair: (pair[1], priority[pair[0]]), reverse=True)
    return positive[:k]


def _normalised(scores, num_items, normalize):
    top = max(scores.values(), default=0.0)
    if normalize and top > 0:
        scores = {i: s / top for i, s in scores.items()}
    return [scores.get(i, 0.0) for i in range(1, num_items + 1)]


def sknn_scores(
    prefix,
    sessions,
    num_items,
    priority,
    k,
    sample_size,
    similarity="cosine",
    remind=False,
    pop_boost=0.0,
    normalize=True,
):
    a = set(prefix)
    similarities = []
    for n in _sample(prefix, sessions, priority, sample_size):
        b = set(sessions[n])
        shared = len(a & b)
        if similarity == "cosine":
            sim = shared / math.sqrt(len(a) * len(b))
        elif similarity == "jaccard":
            sim = shared / len(a | b)
        else:
            sim = 2 * shared / (len(a) + len(b))
        similarities.append((n, sim))
    neighbours = _top_k(similarities, priority, k)
    scores = {}
    for n, sim in neighbours:
        for item in set(sessions[n]):
            scores[item] = scores.get(item, 0.0) + sim
    if remind:
        for count, item in enumerate(prefix[-3:], start=1):
            scores[item] = (scores.get(item, 0.0) + 5) * 5 + count / 100
    if pop_boost > 0:
        holders = {}
        for n, _ in neighbours:
            for item in set(sessions[n]):
                holders[item] = holders.get(item, 0) + 1
        most = max(holders.values(), default=0)
        for item, count in holders.items():
            scores[item] += pop_boost * count / most
    return _normalised(scores, num_items, normalize)


def position_weight(weighting, count, length):
    """session-rec's weight of the ``count``-th click (1-based, time order) of ``length``."""
    back = length - count
    return {
        "same": 1.0,
        "linear": max(0.0, 1 - 0.1 * back),
        "div": count / length,
        "log": 1 / math.log10(back + 1.7),
        "quadratic": (count / length) ** 2,
    }[weighting]


def step_decay(weighting, step):
    return {
        "same": 1.0,
        "linear": max(0.0, 1 - 0.1 * step),
        "div": 1 / step,
        "log": 1 / math.log10(step + 1.7),
        "quadratic": 1 / (step * step),
    }[weighting]


def vsknn_scores(
    prefix,
    sessions,
    num_items,
    priority,
    k,
    sample_size,
    weighting="div",
    weighting_score="div",
    idf_weighting=0.0,
    remind=True,
    normalize=True,
):
    weight = {}
    for count, item in enumerate(prefix, start=1):  # a later click overwrites an earlier one
        weight[item] = position_weight(weighting, count, len(prefix))
    clicks = {}
    for session in sessions:
        for item in session:
            clicks[item] = clicks.get(item, 0) + 1
    similarities = []
    for n in _sample(prefix, sessions, priority, sample_size):
        shared = sorted(set(prefix) & set(sessions[n]))
        similarities.append((n, sum(weight[i] for i in shared) / len(weight)))
    scores = {}
    for n, sim in _top_k(similarities, priority, k):
        held = set(sessions[n])
        step = next(s for s, item in enumerate(reversed(prefix), start=1) if item in held)
        decay = step_decay(weighting_score, step)
        for item in held:
            if not remind and item in weight:
                continue
            idf = math.log(len(sessions) / clicks[item])
            scores[item] = scores.get(item, 0.0) + (sim + sim * idf * idf_weighting) * decay
    return _normalised(scores, num_items, normalize)
