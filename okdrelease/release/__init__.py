"""Reading release images: ``info``, ``extract`` and release diffs (spec §5, §6)."""

from __future__ import annotations

from okdrelease.openshift.metadata import CincinnatiMetadata
from okdrelease.release.read import ReleaseInfo, ReleaseTag, load_release

__all__ = ["CincinnatiMetadata", "ReleaseInfo", "ReleaseTag", "load_release"]
