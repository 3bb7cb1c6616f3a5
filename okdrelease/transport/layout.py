"""OCI image layout store: the Repository interface over ``oci-layout``, ``index.json`` and ``blobs/``.

Many images live in one layout; the ``org.opencontainers.image.ref.name`` annotation of an
``index.json`` entry is the tag. Manifests are stored byte-exact, Docker-typed ones included.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, BinaryIO

from okdrelease.errors import DigestMismatchError, LayoutError, NotFoundError
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import VerifyingReader, new_hasher, sha256_digest, validate_digest, verify_bytes
from okdrelease.oci.model import AnyManifest, Descriptor, Index, parse_manifest
from okdrelease.transport.base import Repository

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
_CHUNK = 1 << 20


class LayoutRepository:
    """An OCI image layout directory; thread-safe."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = False) -> None:
        """Open the layout at ``path``; with ``create`` an empty layout is made when missing."""
        self.path = Path(path)
        self._lock = threading.Lock()
        layout_file = self.path / LAYOUT_FILE
        if not layout_file.is_file():
            if not create:
                raise LayoutError(f"{self.path} is not an OCI image layout (no {LAYOUT_FILE} file)")
            try:
                (self.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
                self._atomic_write(layout_file, b'{"imageLayoutVersion":"1.0.0"}')
                if not (self.path / INDEX_FILE).exists():
                    self._write_index({"schemaVersion": 2, "manifests": []})
            except OSError as err:
                raise LayoutError(f"cannot create OCI layout {self.path}: {err.strerror}") from err
        try:
            version = json.loads(layout_file.read_bytes()).get("imageLayoutVersion")
        except (OSError, ValueError, AttributeError) as err:
            raise LayoutError(f"{layout_file} is not a valid oci-layout file: {err}") from err
        if not isinstance(version, str) or not version.startswith("1."):
            raise LayoutError(f"{layout_file}: unsupported imageLayoutVersion {version!r}")

    def __repr__(self) -> str:
        return f"LayoutRepository({str(self.path)!r})"

    @property
    def display(self) -> str:
        """``oci:<path>``."""
        return f"oci:{self.path}"

    # -- index.json -------------------------------------------------------------------------

    def _read_index(self) -> dict[str, Any]:
        path = self.path / INDEX_FILE
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return {"schemaVersion": 2, "manifests": []}
        except (OSError, ValueError) as err:
            raise LayoutError(f"{path} is not a valid OCI index: {err}") from err
        if not isinstance(data, dict) or not isinstance(data.get("manifests", []), list):
            raise LayoutError(f"{path} is not a valid OCI index")
        return data

    def _write_index(self, data: dict[str, Any]) -> None:
        data.setdefault("schemaVersion", 2)
        data.setdefault("mediaType", mt.OCI_INDEX)
        self._atomic_write(self.path / INDEX_FILE, json.dumps(data, indent=2).encode() + b"\n")

    def _atomic_write(self, target: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def entries(self) -> list[Descriptor]:
        """Every ``index.json`` entry, in order."""
        return [Descriptor.from_dict(d) for d in self._read_index().get("manifests", [])]

    def list_tags(self) -> list[str]:
        """Ref names in index order."""
        return [d.ref_name for d in self.entries() if d.ref_name]

    # -- manifests --------------------------------------------------------------------------

    def resolve(self, reference: str) -> Descriptor:
        """The index entry for a ref name, or a descriptor for a stored digest."""
        if reference.startswith("sha256:"):
            for desc in self.entries():
                if desc.digest == reference:
                    return desc
            raw = self.read_blob(reference)
            manifest = parse_manifest(raw, digest=reference)
            return Descriptor(manifest.media_type, reference, len(raw))
        matches = [d for d in self.entries() if d.ref_name == reference]
        if not matches:
            raise NotFoundError(f"{self.display}: no image with ref name {reference!r}", reference=reference)
        return matches[-1]

    def get_manifest(self, reference: str) -> AnyManifest:
        """Read a manifest or index by ref name or digest; bytes verified."""
        desc = self.resolve(reference)
        raw = self.read_blob(desc.digest, desc.size)
        media_type = desc.media_type or None
        return parse_manifest(raw, media_type, digest=desc.digest)

    def put_manifest(self, raw: bytes, media_type: str, tag: str | None = None) -> str:
        """Store manifest bytes; when tagged, add or replace the index entry for that ref name."""
        digest = sha256_digest(raw)
        self.put_blob(raw, digest, len(raw))
        if tag is None:
            return digest
        entry: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": len(raw)}
        manifest = parse_manifest(raw, media_type, digest=digest)
        if not isinstance(manifest, Index):
            platform = self._platform_of(manifest)
            if platform:
                entry["platform"] = platform
        entry["annotations"] = {REF_NAME: tag}
        with self._lock:
            index = self._read_index()
            kept = [m for m in index.get("manifests", []) if (m.get("annotations") or {}).get(REF_NAME) != tag]
            kept.append(entry)
            index["manifests"] = kept
            self._write_index(index)
        return digest

    def _platform_of(self, manifest: Any) -> dict[str, str] | None:
        try:
            config = json.loads(self.read_blob(manifest.config.digest, manifest.config.size))
        except (NotFoundError, ValueError, DigestMismatchError):
            return None
        if not isinstance(config, dict) or not config.get("os"):
            return None
        platform = {"architecture": str(config.get("architecture", "")), "os": str(config["os"])}
        if config.get("variant"):
            platform["variant"] = str(config["variant"])
        return platform

    # -- blobs ------------------------------------------------------------------------------

    def _blob_path(self, digest: str) -> Path:
        validate_digest(digest)
        algorithm, _, hex_part = digest.partition(":")
        return self.path / "blobs" / algorithm / hex_part

    def has_blob(self, digest: str) -> bool:
        """True when ``blobs/<alg>/<hex>`` exists."""
        return self._blob_path(digest).is_file()

    def open_blob(self, digest: str, size: int | None = None) -> BinaryIO:
        """Open a blob; the stream raises DigestMismatchError at EOF when the bytes are wrong."""
        path = self._blob_path(digest)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - returned to the caller
        except FileNotFoundError as err:
            raise NotFoundError(f"{self.display}: blob {digest} not found", reference=digest) from err
        return VerifyingReader(handle, digest, f"blob {digest} in {self.display}", size)  # type: ignore[return-value]

    def read_blob(self, digest: str, size: int | None = None) -> bytes:
        """Read a whole blob, verified."""
        path = self._blob_path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError as err:
            raise NotFoundError(f"{self.display}: blob {digest} not found", reference=digest) from err
        if size is not None and len(data) != size:
            raise DigestMismatchError(
                f"content of blob {digest} in {self.display} has {len(data)} bytes, expected {size}"
            )
        return verify_bytes(data, digest, f"blob {digest} in {self.display}")

    def put_blob(self, source: BinaryIO | bytes, digest: str, size: int | None = None) -> None:
        """Write a blob through a temp file, verifying it; nothing is left behind on mismatch."""
        target = self._blob_path(digest)
        if target.is_file():
            if not isinstance(source, (bytes, bytearray)):
                return
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        stream: BinaryIO = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
        hasher = new_hasher(digest)
        written = 0
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    chunk = stream.read(_CHUNK)
                    if not chunk:
                        break
                    hasher.update(chunk)
                    out.write(chunk)
                    written += len(chunk)
            actual = f"{digest.partition(':')[0]}:{hasher.hexdigest()}"
            if actual != digest:
                raise DigestMismatchError(
                    f"blob written to {self.display} does not match its digest {digest} (got {actual})"
                )
            if size is not None and written != size:
                raise DigestMismatchError(
                    f"blob {digest} written to {self.display} has {written} bytes, expected {size}"
                )
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def mount_blob(self, digest: str, source: Repository) -> bool:
        """True when the blob is present, or hard-linked from another layout on the same filesystem."""
        if self.has_blob(digest):
            return True
        if not isinstance(source, LayoutRepository) or not source.has_blob(digest):
            return False
        target = self._blob_path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source._blob_path(digest), target)
        except FileExistsError:
            return True
        except OSError:
            return False
        return True
