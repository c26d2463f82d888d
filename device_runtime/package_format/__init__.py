"""The model package format, shared by the daemon and the console: the manifest, versions,
tensor shapes, signatures, the tar layout and its streaming hash, the warm-up plan, and the
store's error codes. It imports nothing of the daemon (only the standard library, the protocol
and :mod:`device_runtime.fileio`), so the console builds and checks packages with the very code
the device uses to accept them."""
