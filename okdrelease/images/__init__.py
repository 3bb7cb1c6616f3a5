"""Reading images, shared by every command: the one resolver and its per-run cache (``images.resolve``).

Neutral ground: ``payload/`` (building) and ``release/`` (reading) both import it; it imports neither.
"""
