"""A GRU over reversed, padded prefixes (NARM's and GRU4Rec's session encoder)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["GRUEncoder", "reverse_prefixes"]


def reverse_prefixes(values: Tensor, lengths: Tensor) -> Tensor:
    """Reverse the first ``lengths[b]`` entries of every row (dim 1); padding stays in place.

    Turns reversed prefixes (position 0 = most recent) into chronological ones and back (it is
    its own inverse). Entries past the length are zero in the result.

    Shapes:
        - **input:** values :math:`(B, L, ...)`, lengths :math:`(B,)`.
        - **output:** :math:`(B, L, ...)`.
    """
    length = values.shape[1]
    positions = torch.arange(length, device=values.device)
    lengths = lengths.to(values.device).unsqueeze(1)
    index = (lengths - 1 - positions).clamp_(min=0)
    real = positions < lengths
    index = index.view(*index.shape, *([1] * (values.dim() - 2))).expand_as(values)
    out = values.gather(1, index)
    return out * real.view(*real.shape, *([1] * (values.dim() - 2))).to(out.dtype)


class GRUEncoder(nn.Module):
    r"""A GRU (Cho et al., 2014) run over each prefix in chronological order.

    GRU4Rec (Hidasi et al., ICLR 2016, §3.1) and NARM's global and local encoders (Li et al.,
    CIKM 2017, §3.2-3.3) encode a session with

    .. math::
        \mathbf{r}_t = \sigma(\mathbf{W}_r \mathbf{x}_t + \mathbf{U}_r \mathbf{h}_{t-1}), \quad
        \mathbf{z}_t = \sigma(\mathbf{W}_z \mathbf{x}_t + \mathbf{U}_z \mathbf{h}_{t-1}), \quad
        \hat{\mathbf{h}}_t = \tanh(\mathbf{W} \mathbf{x}_t
            + \mathbf{r}_t \odot \mathbf{U} \mathbf{h}_{t-1}), \quad
        \mathbf{h}_t = (1 - \mathbf{z}_t) \odot \hat{\mathbf{h}}_t
            + \mathbf{z}_t \odot \mathbf{h}_{t-1},

    from :math:`\mathbf{h}_0 = 0` (with :class:`torch.nn.GRU`'s biases). The input comes
    **reversed** (position 0 = the most recent click, the batch contract); the encoder runs the
    GRU from the oldest click to the newest (packed, so padding is never read) and returns the
    states reversed again: position 0 of the output is the final state
    :math:`\mathbf{h}_l`. With ``num_layers > 1`` the layers are stacked, with ``dropout``
    between them (as :class:`torch.nn.GRU`).

    Args:
        input_dim (int): size of the input vectors.
        hidden_dim (int): GRU state size.
        num_layers (int, optional): stacked GRU layers. (default: :obj:`1`)
        dropout (float, optional): dropout between stacked layers. (default: :obj:`0.`)

    Shapes:
        - **input:** inputs :math:`(B, L, d_{in})` reversed, lengths :math:`(B,)` (>= 1).
        - **output:** states :math:`(B, L, d_h)` reversed (zeros at padding); the final state
          is ``states[:, 0]``.
    """

    def __init__(
        self, input_dim: int, hidden_dim: int, num_layers: int = 1, dropout: float = 0.0
    ) -> None:
        super().__init__()
        for name, value in (
            ("input_dim", input_dim),
            ("hidden_dim", hidden_dim),
            ("num_layers", num_layers),
        ):
            if value < 1:
                raise ValueError(f"GRUEncoder: {name} must be >= 1, got {value}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"GRUEncoder: dropout must be in [0, 1], got {dropout}")
        self.input_dim = input_dim
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.dropout = dropout
        self.gru = nn.GRU(
            input_dim,
            hidden_dim,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from ``uniform(-1/sqrt(d_h), 1/sqrt(d_h))`` (torch's GRU)."""
        bound = 1.0 / math.sqrt(self.hidden_dim)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def forward(self, inputs: Tensor, lengths: Tensor) -> Tensor:
        """Encode reversed prefixes.

        Args:
            inputs: ``(B, L, d_in)`` reversed input vectors.
            lengths: ``(B,)`` prefix lengths, each in ``1..L``.

        Returns:
            The reversed GRU states ``(B, L, d_h)``; ``[:, 0]`` is the final state.
        """
        length = inputs.shape[1]
        lengths_cpu = lengths.detach().to("cpu", torch.int64)
        if lengths_cpu.numel() and (lengths_cpu.min() < 1 or lengths_cpu.max() > length):
            raise ValueError(
                f"GRUEncoder: lengths must lie in 1..{length}, got "
                f"{int(lengths_cpu.min())}..{int(lengths_cpu.max())}"
            )
        chronological = reverse_prefixes(inputs, lengths)
        packed = pack_padded_sequence(
            chronological, lengths_cpu, batch_first=True, enforce_sorted=False
        )
        states, _ = self.gru(packed)
        states, _ = pad_packed_sequence(states, batch_first=True, total_length=length)
        return reverse_prefixes(states, lengths)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.input_dim}, {self.hidden_dim}, "
            f"num_layers={self.num_layers}, dropout={self.dropout})"
        )
