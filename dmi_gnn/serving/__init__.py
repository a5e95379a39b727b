"""Serving DMI-GNN: an HTTP service with dynamic batching, and an ONNX export that runs without
PyTorch.

One job per module:

* :mod:`~dmi_gnn.serving.adapter`: the ONE place that knows a model's internals (how to get the
  interest vectors ``(B, U, d)`` and the candidate table ``(N, d)`` of a loaded checkpoint);
* :mod:`~dmi_gnn.serving.torch_backend`: a checkpoint as a serving backend (PyTorch);
* :mod:`~dmi_gnn.serving.onnx_runner`: an export directory as a backend (numpy + onnxruntime,
  no torch import);
* :mod:`~dmi_gnn.serving.export`: ``dmi-gnn export`` (checkpoint -> export directory);
* :mod:`~dmi_gnn.serving.numpy_batching`, :mod:`~dmi_gnn.serving.vocabulary`: the batch and the
  vocabulary rebuilt in numpy and plain Python for the export;
* :mod:`~dmi_gnn.serving.topk`: exact blocked top-K of eq. 6 (max over interests) in numpy;
* :mod:`~dmi_gnn.serving.recommender`: raw ids in, raw ids and scores out (``predict``'s
  conventions), over any backend;
* :mod:`~dmi_gnn.serving.requests`: validation of one ``POST /recommend`` body;
* :mod:`~dmi_gnn.serving.batcher`: the dynamic batching queue;
* :mod:`~dmi_gnn.serving.app`: the FastAPI application; :mod:`~dmi_gnn.serving.server`:
  ``dmi-gnn serve``.

This package imports nothing at import time, so ``onnx_runner`` stays free of torch.
"""
