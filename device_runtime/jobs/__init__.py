"""Jobs on the device: SQLite persistence, a scheduler, worker processes and the job kinds.

The daemon keeps only the bookkeeping (``store``, ``scheduler``, ``service``); every job runs in
a child process (``worker``) so onnx, onnxruntime and TensorRT never enter the daemon's memory.
"""
