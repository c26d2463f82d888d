"""Putting edge-runtime on a robot over SSH: the preflight look, the install, the offline wheelhouse."""
