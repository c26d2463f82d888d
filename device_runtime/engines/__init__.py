"""Inference engines: TensorRT plan/adapter layer, trtexec command builder and log parser."""
