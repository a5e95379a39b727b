"""Moving parameters (and gradients) between DMIGNNNet and the published DMI-GNN code.

The published code (``MICLab-Rec/DMI-GNN``, ``model.py`` / ``aggregator.py``) names its
parameters ``embedding.weight``, ``pos_embedding.weight``, ``local_agg.a_0..a_3``,
``agg_gcn_<i>.w_1/w_2/w_3``, ``w_1``, ``w_2``, ``glu1.weight`` and ``glu1.bias``; it also
declares ``local_agg.bias``, ``agg_gcn_<i>.bias``, ``glu2.weight`` and
``linear_transform.weight`` that the computation never uses. The layouts of
:class:`~dmi_gnn.nn.DMIGNNNet` were chosen so that every used tensor maps by a reshape at most:

=============================  ==============================================================
reference name                 ours
=============================  ==============================================================
``embedding.weight``           ``embedding.weight``
``pos_embedding.weight``       ``interest_extractor.position_embedding.weight``
``local_agg.a_<r>`` (d, 1)     ``local_aggregator.edge_attention[r]`` (row of (4, d))
``agg_gcn_<i>.w_1`` (d+1, d)   ``global_aggregators.<i>.attention_weight``
``agg_gcn_<i>.w_2`` (d, 1)     ``global_aggregators.<i>.attention_vector`` (d,)
``agg_gcn_<i>.w_3`` (2d, d)    ``global_aggregators.<i>.output_weight``
``w_1`` (2d, d)                ``interest_extractor.readout_weight`` ([p ; h] order kept)
``w_2`` (d, U)                 ``interest_extractor.query``
``glu1.weight`` / ``.bias``    ``interest_extractor.gate.weight`` / ``.bias``
=============================  ==============================================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dmi_gnn.nn.network import DMIGNNNet

__all__ = [
    "REFERENCE_UNUSED",
    "load_reference_parameters",
    "reference_gradients",
    "reference_parameters",
]

#: Parameters the published code declares but never uses (they never get a gradient).
REFERENCE_UNUSED: tuple[str, ...] = (
    "local_agg.bias",
    "glu2.weight",
    "linear_transform.weight",
)
_UNUSED_PATTERN = re.compile(r"agg_gcn_\d+\.bias")


def _is_unused(name: str) -> bool:
    return name in REFERENCE_UNUSED or bool(_UNUSED_PATTERN.fullmatch(name))


def _slots(net: DMIGNNNet) -> dict[str, tuple[Tensor, Any, tuple[int, ...]]]:
    """Reference name -> (our parameter, index into it or None, the reference's shape)."""
    d, u = net.embedding_dim, net.num_interests
    extractor = net.interest_extractor
    slots: dict[str, tuple[Tensor, Any, tuple[int, ...]]] = {
        "embedding.weight": (net.embedding.weight, None, (net.num_items + 1, d)),
        "pos_embedding.weight": (
            extractor.position_embedding.weight,
            None,
            (extractor.max_positions, d),
        ),
        "w_1": (extractor.readout_weight, None, (2 * d, d)),
        "w_2": (extractor.query, None, (d, u)),
        "glu1.weight": (extractor.gate.weight, None, tuple(extractor.gate.weight.shape)),
        "glu1.bias": (extractor.gate.bias, None, tuple(extractor.gate.bias.shape)),
    }
    for r in range(4 if net.local_aggregator is not None else 0):
        slots[f"local_agg.a_{r}"] = (net.local_aggregator.edge_attention, r, (d, 1))
    for i, aggregator in enumerate(net.global_aggregators):
        slots[f"agg_gcn_{i}.w_1"] = (aggregator.attention_weight, None, (d + 1, d))
        slots[f"agg_gcn_{i}.w_2"] = (aggregator.attention_vector, None, (d, 1))
        slots[f"agg_gcn_{i}.w_3"] = (aggregator.output_weight, None, (2 * d, d))
    return slots


@torch.no_grad()
def load_reference_parameters(
    net: DMIGNNNet, params: Mapping[str, np.ndarray | Tensor], strict: bool = True
) -> None:
    """Copy the published code's parameters into ``net``.

    Args:
        net: the network; its shapes must match (``embedding_dim``, ``num_interests``,
            ``num_items + 1`` rows, ``max_positions`` rows of the positional table, ``hop``
            global aggregators, ``positional="multi"``).
        params: reference name -> array. The unused names (:data:`REFERENCE_UNUSED`,
            ``agg_gcn_<i>.bias``) are ignored.
        strict: if True, every used reference parameter must be present and no unknown name
            may appear.

    If ``net`` learns a readout bias ``b3`` (absent from the reference), it is set to 0, so that
    the loaded network computes what the reference computes.

    Raises:
        KeyError: for a missing or unknown name (``strict``).
        ValueError: for a shape mismatch.
    """
    slots = _slots(net)
    unknown = [n for n in params if n not in slots and not _is_unused(n)]
    missing = [n for n in slots if n not in params]
    if strict and (unknown or missing):
        raise KeyError(
            f"load_reference_parameters: missing {missing}, unknown {unknown} "
            f"(net: embedding_dim={net.embedding_dim}, num_interests={net.num_interests}, "
            f"hop={net.hop})"
        )
    for name, (parameter, index, shape) in slots.items():
        if name not in params:
            continue
        value = params[name]
        if not torch.is_tensor(value):
            value = torch.as_tensor(np.asarray(value))
        if tuple(value.shape) != shape:
            raise ValueError(
                f"load_reference_parameters: {name} has shape {tuple(value.shape)}, "
                f"expected {shape} for this network"
            )
        value = value.to(device=parameter.device, dtype=parameter.dtype)
        if index is None:
            parameter.copy_(value.reshape(parameter.shape))
        else:
            parameter[index].copy_(value.reshape(parameter[index].shape))
    if net.interest_extractor.readout_bias is not None:
        net.interest_extractor.readout_bias.zero_()


def _export(net: DMIGNNNet, use_grad: bool) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for name, (parameter, index, shape) in _slots(net).items():
        tensor = parameter.grad if use_grad else parameter.detach()
        if tensor is None:
            continue
        if index is not None:
            tensor = tensor[index]
        out[name] = tensor.reshape(shape).clone()
    return out


def reference_parameters(net: DMIGNNNet) -> dict[str, Tensor]:
    """``net``'s parameters under the published code's names and shapes (detached copies)."""
    return _export(net, use_grad=False)


def reference_gradients(net: DMIGNNNet) -> dict[str, Tensor]:
    """``net``'s gradients under the published code's names and shapes.

    Parameters whose ``.grad`` is ``None`` are left out (like the reference's unused ones).
    """
    return _export(net, use_grad=True)
