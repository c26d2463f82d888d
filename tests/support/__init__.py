"""What more than one test module needs: real daemons, sshd worlds, package builders, raw protocol clients,
simulated labs, TensorRT fakes and the pages the GUI tests open.

Test modules and conftest files import from here and from nowhere else under ``tests``; no test module
imports from another test module or from a conftest (tests/test_support_imports.py checks it). Pytest
fixtures stay in conftest files, which import what they build from here. The one other package tests
import from is ``tests.zoo``: the model zoo's catalogue and data, not a test's helper, so it stays where it is.
"""
