"""The versioned model store: signed packages, atomic activation, rollback.

Layout under the daemon's root (a contract: the console, the installers and recovery rely on it)::

    models/<name>/<version>/   immutable once imported: manifest.json, manifest.sig, model files
    active/<name>              symlink to the active version, swapped by rename
    history/<name>.jsonl       append-only, fsync'd activation log
    state/<name>.json          committed version, previous version, security floor, pins, trial
    incoming/                  resumable uploads, hashed before import; abandoned ones removed
    config/                    store.json (policy, retention, hooks) and trusted_keys/

Nothing is ever half-deployed: every file is fsync'd before it is renamed into place and its
directory is fsync'd after; leftovers of an interrupted step are cleaned at start-up.
"""
