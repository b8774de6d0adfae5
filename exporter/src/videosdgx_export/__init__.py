"""Exports diffusers checkpoints to VideosDGX's ONNX model folders and proves them against PyTorch."""
