"""The model store: versioned models, signed packages, uploads, activation and rollback, and
the files jobs take (same records as store uploads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from device_runtime.protocol.core import Empty, Method, Record, _record

# ---------------------------------------------------------------------------------------------
# Model store: versioned models, signed packages, activation and rollback (device_runtime/store).

TOPIC_STORE = "store"  # data: StoreAction, on every step of an import / activation / rollback
STORE_ACTION_RUNNING = "running"
STORE_ACTION_SUCCEEDED = "succeeded"
STORE_ACTION_FAILED = "failed"
# Raw bytes per upload chunk: base64 of it stays well under MAX_FRAME_BYTES.
STORE_UPLOAD_CHUNK = 512 * 1024


@_record
@dataclass
class StoreModelRef(Record):
    name: str


@_record
@dataclass
class StoreVersion(Record):
    version: str
    status: List[str] = field(default_factory=list)  # active, previous, trial, failed, pinned, corrupt
    reason: str = ""  # why it failed or is flagged corrupt
    created: str = ""
    author: str = ""
    precision: str = ""
    backend: str = ""
    size_bytes: int = 0
    signer: Optional[str] = None  # key id; None: unsigned
    security_counter: int = 0
    imported: float = 0.0


@_record
@dataclass
class StoreModel(Record):
    name: str
    active: Optional[str] = None
    previous: Optional[str] = None
    floor: int = 0
    versions: int = 0
    pinned: List[str] = field(default_factory=list)
    failed: List[str] = field(default_factory=list)
    corrupt: List[str] = field(default_factory=list)
    # The active version's ONNX file as the device names it (through the active/ link), for jobs
    # that run the deployed model (commissioning's smoke test, thermal load).
    active_model_path: Optional[str] = None


@_record
@dataclass
class StoreModels(Record):
    models: List[StoreModel] = field(default_factory=list)
    policy: str = ""


@_record
@dataclass
class StoreVersions(Record):
    name: str
    versions: List[StoreVersion] = field(default_factory=list)  # newest first
    active: Optional[str] = None
    previous: Optional[str] = None
    floor: int = 0


@_record
@dataclass
class StoreHistoryQuery(Record):
    name: str
    limit: int = 200


@_record
@dataclass
class StoreHistoryEntry(Record):
    t: float
    id: str
    action: str  # import, deploy, activate, rollback, pin, unpin
    result: str  # started, committed, rolled_back, failed, interrupted, imported, changed
    who: str = ""
    from_version: Optional[str] = None
    to_version: Optional[str] = None
    why: str = ""
    detail: str = ""


@_record
@dataclass
class StoreHistory(Record):
    name: str
    entries: List[StoreHistoryEntry] = field(default_factory=list)  # oldest first


@_record
@dataclass
class StoreImport(Record):
    """Import a package already on the device (an upload in incoming/, or a local path)."""

    path: str
    activate: bool = False  # deploy: import, then activate
    who: str = ""
    why: str = ""
    allow_downgrade: bool = False
    force: bool = False  # go past a held inhibit lock after the wait (audited)
    wait_s: Optional[float] = None


@_record
@dataclass
class StoreActivate(Record):
    name: str
    version: str
    who: str = ""
    why: str = ""
    allow_downgrade: bool = False
    force: bool = False
    wait_s: Optional[float] = None


@_record
@dataclass
class StoreRollback(Record):
    name: str
    to: Optional[str] = None  # None: the previous committed version
    who: str = ""
    why: str = ""
    force: bool = False
    wait_s: Optional[float] = None


@_record
@dataclass
class StoreActionRef(Record):
    id: str


@_record
@dataclass
class StoreAction(Record):
    """A store action running on the device's store worker; pushed on TOPIC_STORE as it goes."""

    id: str
    kind: str  # import, deploy, activate, rollback, remove
    state: str  # running, succeeded, failed
    stage: str = ""
    progress: float = 0.0
    name: Optional[str] = None
    version: Optional[str] = None
    previous: Optional[str] = None
    result: Optional[str] = None  # committed, rolled_back, failed, unchanged, imported
    message: str = ""  # what happened and what to do, in words
    code: Optional[str] = None  # the store's refusal code when it failed
    notes: List[str] = field(default_factory=list)
    steps_s: Dict[str, float] = field(default_factory=dict)
    started: float = 0.0
    finished: Optional[float] = None


@_record
@dataclass
class StoreRemove(Record):
    """Remove one stored version, or a whole model (``version`` None). Removing the active version
    needs ``confirm_active`` set to it: the operator saw which version stops being active."""

    name: str
    version: Optional[str] = None
    confirm_active: Optional[str] = None
    who: str = ""
    why: str = ""


@_record
@dataclass
class StorePin(Record):
    name: str
    version: str
    who: str = ""


@_record
@dataclass
class StoreKey(Record):
    public_key: str  # "ed25519 <base64> [comment]"
    who: str = ""


@_record
@dataclass
class StoreKeyInfo(Record):
    key_id: str
    public_key: str
    comment: str = ""


@_record
@dataclass
class StoreKeys(Record):
    keys: List[StoreKeyInfo] = field(default_factory=list)


@_record
@dataclass
class StorePolicy(Record):
    """The device's store settings. Hooks are set in the device's config file only."""

    policy: str  # "require-signature" or "allow-unsigned"
    keep: int
    restart_hook: List[str] = field(default_factory=list)
    health_hook: List[str] = field(default_factory=list)
    health_grace_s: float = 30.0
    inhibit_path: str = ""
    inhibit_wait_s: float = 60.0


@_record
@dataclass
class StorePolicyUpdate(Record):
    policy: Optional[str] = None
    keep: Optional[int] = None
    who: str = ""


@_record
@dataclass
class StoreUploadBegin(Record):
    sha256: str  # of the whole package; it names the upload, so a retry resumes it
    size: int
    filename: str = ""
    # Unpack, check and load a big package while it arrives (a deploy). False for a file only
    # pushed for later (edgectl push): nothing but the upload runs on the device.
    stage: bool = True
    # Protocol 3: ``sha256`` is a name the sender chose (64 hex digits), and the package's own
    # sha256 comes with ``store.upload.finish`` (StoreUploadFinish.sha256): the sender hashes the
    # bytes as it sends them and the device as they arrive. Older daemons ignore it: send it only
    # to a daemon of DIGEST_AT_END_PROTOCOL_VERSION or newer.
    digest_at_end: bool = False


@_record
@dataclass
class StoreUploadChunk(Record):
    id: str
    offset: int
    data: str  # base64, at most STORE_UPLOAD_CHUNK raw bytes


@_record
@dataclass
class StoreUploadFinish(Record):
    """Finish an upload: the device hashes what arrived and keeps it only when the sha256 matches."""

    id: str
    # The package's sha256, for an upload begun with digest_at_end (protocol 3); it must match
    # the name of any other upload. The finished file is incoming/<sha256>.tar.gz either way.
    sha256: Optional[str] = None


@_record
@dataclass
class StoreUploadState(Record):
    id: str
    offset: int  # bytes the device holds; send from here
    size: int
    path: Optional[str] = None  # set once finished and hashed: pass it to store.import
    # The partial file on the device: a client with file access there (SFTP over the same SSH
    # login) may append to it directly instead of sending chunks; finish hashes it all the same.
    part: Optional[str] = None


STORE_MODELS = Method("store.models", Empty, StoreModels)
STORE_VERSIONS = Method("store.versions", StoreModelRef, StoreVersions)
STORE_HISTORY = Method("store.history", StoreHistoryQuery, StoreHistory)
STORE_IMPORT = Method("store.import", StoreImport, StoreAction, changes_state=True, audit="import")
STORE_ACTIVATE = Method("store.activate", StoreActivate, StoreAction, changes_state=True, audit="activate")
STORE_ROLLBACK = Method("store.rollback", StoreRollback, StoreAction, changes_state=True, audit="rollback")
STORE_ACTION = Method("store.action", StoreActionRef, StoreAction)
STORE_PIN = Method("store.pin", StorePin, StoreVersions, changes_state=True, audit="pin")
STORE_UNPIN = Method("store.unpin", StorePin, StoreVersions, changes_state=True, audit="unpin")
# result "removed"; its message names what went
STORE_REMOVE = Method("store.remove", StoreRemove, StoreAction, changes_state=True, audit="remove")
STORE_KEYS_LIST = Method("store.keys.list", Empty, StoreKeys)
STORE_KEYS_TRUST = Method("store.keys.trust", StoreKey, StoreKeyInfo, changes_state=True, audit="trust key", admin=True)
STORE_POLICY_GET = Method("store.policy.get", Empty, StorePolicy)
STORE_POLICY_SET = Method("store.policy.set", StorePolicyUpdate, StorePolicy, changes_state=True, audit="config",
                          admin=True)
STORE_UPLOAD_BEGIN = Method("store.upload.begin", StoreUploadBegin, StoreUploadState, changes_state=True,
                            audit="upload")
# (STORE_UPLOAD_CHUNK is the chunk size above; the method takes the suffix.)
STORE_UPLOAD_CHUNK_METHOD = Method("store.upload.chunk", StoreUploadChunk, StoreUploadState, changes_state=True)
STORE_UPLOAD_FINISH = Method("store.upload.finish", StoreUploadFinish, StoreUploadState, changes_state=True)
# Files for jobs (models, calibration data, golden cases), same records as store uploads.
FILES_BEGIN = Method("files.begin", StoreUploadBegin, StoreUploadState, changes_state=True, audit="send file")
FILES_CHUNK = Method("files.chunk", StoreUploadChunk, StoreUploadState, changes_state=True)
FILES_FINISH = Method("files.finish", StoreActionRef, StoreUploadState, changes_state=True)


@_record
@dataclass
class StoreModelUsage(Record):
    name: str
    bytes: int  # every stored version of the model
    versions: int


@_record
@dataclass
class IncomingEntry(Record):
    """An upload in incoming/: ``partial`` (resumable: send it again to go on) or ``received``
    (whole, not imported yet, e.g. refused until its signer's key is trusted)."""

    id: str  # the upload id (the package's sha256)
    kind: str  # "partial" or "received"
    bytes: int  # on disk now
    size: int  # the whole upload's size (0: unknown)
    age_s: float  # since it was last touched
    filename: str = ""


@_record
@dataclass
class StoreUsage(Record):
    """``edgectl df``: the store's share of its disk."""

    total_bytes: int  # the file system holding the store
    free_bytes: int
    reserve_bytes: int  # kept free after an import or upload
    models: List[StoreModelUsage] = field(default_factory=list)
    incoming: List[IncomingEntry] = field(default_factory=list)
    incoming_max_age_s: float = 0.0  # an upload untouched this long is removed


STORE_DF = Method("store.df", Empty, StoreUsage)
# id: an upload in incoming/
STORE_INCOMING_REMOVE = Method("store.incoming.remove", StoreActionRef, StoreUsage, changes_state=True,
                               audit="remove upload")
