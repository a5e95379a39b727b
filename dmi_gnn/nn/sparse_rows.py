"""Rows of a sparse-matrix product ``(A @ x)[rows]`` without a dense ``N x N`` matrix."""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

__all__ = ["row_normalised_csr", "sparse_rows_matmul"]


def row_normalised_csr(
    indices: Tensor, weights: Tensor, size: int, transpose: bool = False
) -> tuple[Tensor, Tensor, Tensor]:
    r"""CSR parts of the row-normalised :math:`\mathbf{D}^{-1}\mathbf{A}` (or its transpose's).

    Row ``i`` is divided by its sum (rows without an entry stay empty). With ``transpose`` the
    matrix is :math:`\mathbf{A}^\top` first, i.e. :math:`\mathbf{D}_{col}^{-1}\mathbf{A}^\top`
    (MGIR's ``graph_out``); without, :math:`\mathbf{D}_{row}^{-1}\mathbf{A}` (``graph_in``).

    Args:
        indices: ``(2, nnz)`` int64 ``(row, column)`` pairs of a square matrix, no duplicates.
        weights: ``(nnz,)`` positive weights.
        size: the number of rows (and columns).
        transpose: normalise :math:`\mathbf{A}^\top` instead of :math:`\mathbf{A}`.

    Returns:
        ``(crow_indices (size + 1,), col_indices (nnz,), values (nnz,))``, columns sorted per row.
    """
    rows, cols = (indices[1], indices[0]) if transpose else (indices[0], indices[1])
    order = torch.argsort(rows * size + cols)
    rows, cols, values = rows[order], cols[order], weights[order].to(torch.float32)
    sums = torch.zeros(size, dtype=values.dtype, device=values.device).index_add_(0, rows, values)
    values = values / sums[rows]
    counts = torch.bincount(rows, minlength=size)
    crow = torch.zeros(size + 1, dtype=torch.int64, device=rows.device)
    crow[1:] = torch.cumsum(counts, 0)
    return crow, cols.contiguous(), values.contiguous()


def sparse_rows_matmul(
    crow: Tensor, col: Tensor, values: Tensor, x: Tensor, rows: Tensor | None = None
) -> Tensor:
    r"""``(A @ x)[rows]`` for a CSR matrix ``A`` given by its parts (all rows if ``rows`` is None).

    With ``rows``, only the stored entries of those rows are gathered into a small CSR matrix
    ``(M, C)`` (index work ``O(nnz(A[rows]))``), which is what one GNN layer needs for the items
    of one batch; without, the whole matrix. Either way one sparse-dense product, differentiable
    in ``x``; no ``nnz x d`` intermediate is built.

    Args:
        crow, col, values: CSR parts of ``A`` ``(R, C)``: ``(R + 1,)``, ``(nnz,)``, ``(nnz,)``.
        x: ``(C, d)``.
        rows: ``(M,)`` int64 row ids, or None.

    Returns:
        ``(M, d)`` (or ``(R, d)``).
    """
    if rows is None:
        return _csr_matmul(crow, col, values.to(x.dtype), x)
    start = crow[rows]
    count = crow[rows + 1] - start
    sub_crow = torch.zeros(rows.numel() + 1, dtype=crow.dtype, device=crow.device)
    sub_crow[1:] = torch.cumsum(count, 0)
    owner = torch.repeat_interleave(torch.arange(rows.numel(), device=rows.device), count)
    entry = start[owner] + torch.arange(owner.numel(), device=rows.device) - sub_crow[owner]
    return _csr_matmul(sub_crow, col[entry], values[entry].to(x.dtype), x)


def _csr_matmul(crow: Tensor, col: Tensor, values: Tensor, x: Tensor) -> Tensor:
    with warnings.catch_warnings():  # "sparse CSR support is in beta": used as documented
        warnings.simplefilter("ignore", UserWarning)
        matrix = torch.sparse_csr_tensor(crow, col, values, size=(crow.numel() - 1, x.shape[0]))
    return torch.sparse.mm(matrix, x)
