"""The target device: measured per-operation latency tables, latency prediction and the device's
complexity vector s_device (``latency``), the best architecture of a family for a latency budget
(``select``) and the chosen network exported to ONNX, pt2 or TorchScript (``export``)."""
