"""Image labels and image-stream annotations OpenShift release tooling reads and writes (spec §1.4, §3.7.3)."""

from __future__ import annotations

#: Any non-empty value marks an image as an operator whose /manifests go into the payload (Q19).
OPERATOR_LABEL = "io.openshift.release.operator"
#: The release image's name, set on the release image config.
RELEASE_LABEL = "io.openshift.release"
#: The digest of the base image a release image was built on.
BASE_DIGEST_LABEL = "io.openshift.release.base-image-digest"
COMMIT_ID = "io.openshift.build.commit.id"
COMMIT_REF = "io.openshift.build.commit.ref"
SOURCE_LOCATION = "io.openshift.build.source-location"
#: Labels copied from each component image onto its tag (in this order).
COMMIT_LABELS = (COMMIT_ID, COMMIT_REF, SOURCE_LOCATION)
BUILD_VERSIONS = "io.openshift.build.versions"
BUILD_VERSION_DISPLAY_NAMES = "io.openshift.build.version-display-names"
#: Tag annotation: the tag was given by a SRC=DST mapping.
OVERRIDE_ANNOTATION = "io.openshift.release.override"
#: Stream annotation: the release was built from this release with overrides.
FROM_RELEASE_ANNOTATION = "release.openshift.io/from-release"
