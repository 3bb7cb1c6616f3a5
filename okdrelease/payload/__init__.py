"""Release payload: inputs, image-references, release metadata, operator manifests and the release build."""
