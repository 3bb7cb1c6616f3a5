"""OCI and Docker image model: media types, descriptors, manifests, configs and layers."""
