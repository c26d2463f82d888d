"""Fetch every zoo model into the cache before the tests run: ``python -m tests.zoo.fetch``."""

from __future__ import annotations

import sys

from tests.zoo import ZOO, ZooFetchError, cache_dir


def main() -> int:
    failed = 0
    for model in ZOO:
        try:
            path = model.path()
        except ZooFetchError as error:
            failed += 1
            print(f"zoo: {model.name}: {error}", file=sys.stderr)
            continue
        print(f"zoo: {model.name}: {path.stat().st_size} bytes")
    if failed:
        print(f"zoo: {failed} of {len(ZOO)} models could not be fetched into {cache_dir()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
