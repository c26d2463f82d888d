"""Test stand-in for ``tensorrt`` inside job worker processes (see ../README.md)."""

import os

from tests.support.trt_fakes import make_trt

globals().update(vars(make_trt(os.environ.get("FAKE_TENSORRT_VERSION", "10.3.0"))))
