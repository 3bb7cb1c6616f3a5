"""The layer stack: one reader for every command. Layers read from the top down into the files and
directories under a prefix (``FileEntry``), OCI whiteouts and upper entries replacing lower paths
applied (``read_stack``, ``extract_prefix``, ``read_top_down``), or the same rules over entries read
before (``compose_stack``, for layer indexes).

The layers' entries come from ``oci.layerread``; this module decides only which of them the stack holds.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import BinaryIO

import attrs

from okdrelease._repr import value_repr
from okdrelease.oci.layerlimits import LayerLimits
from okdrelease.oci.layerread import LayerEntry, LayerSource, normal_prefix, read_source, walk_entries

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"


@attrs.frozen(slots=True)
class FileEntry:
    """A file or directory kept from a layer stack: path (prefix stripped), data, mtime, tar mode."""

    __repr__ = value_repr

    path: str
    data: bytes = attrs.field(repr=False)
    mtime: float
    mode: int
    is_dir: bool = False

    @property
    def is_file(self) -> bool:
        """True for a regular file."""
        return not self.is_dir


def _label(names: Sequence[str] | None, index: int) -> str | None:
    if names is not None and index < len(names):
        return names[index]
    return None


def _kept(entry: LayerEntry) -> FileEntry:
    data = entry.read() if entry.is_file else b""
    return FileEntry(entry.path, data, entry.mtime, entry.mode, is_dir=entry.is_dir)


def extract_prefix(
    layers: Sequence[LayerSource],
    prefix: str,
    *,
    names: Sequence[str] | None = None,
    limits: LayerLimits | None = None,
) -> dict[str, FileEntry]:
    """The files and directories under ``prefix`` once the layers are applied bottom→top (OCI whiteouts).

    ``.wh.NAME`` removes NAME from lower layers and from its own layer's earlier entries (oc applies a
    layer in order), ``.wh..wh..opq`` hides the lower children of its
    directory, other ``.wh..wh.*`` entries are skipped; names outside the prefix are filtered first
    (as oc does for operator images); a name repeated in one layer keeps its last entry.
    """
    options = StackOptions(last_in_layer=True, limits=limits or LayerLimits())
    return read_stack(layers, prefix, names=names, options=options)


def read_top_down(
    layers: Sequence[LayerSource],
    prefix: str,
    wanted: Iterable[str] | None = None,
    *,
    names: Sequence[str] | None = None,
    limits: LayerLimits | None = None,
) -> dict[str, FileEntry]:
    """Every path under ``prefix`` once, topmost first, whiteouts not honoured (oc's ``--from-release``).

    With ``wanted`` reading stops as soon as every wanted path has been found and only those are
    returned; the layer being read is still read to its end so its digest is checked.
    """
    want = frozenset(wanted) if wanted is not None else None
    options = StackOptions(whiteouts=False, wanted=want, limits=limits or LayerLimits())
    return read_stack(layers, prefix, names=names, options=options)


#: Called with every entry of every layer (``name`` is the raw tar name) and the layer's label;
#: raise to refuse the stack. ``extract`` plugs its safety checks here.
EntryHook = Callable[["LayerEntry", "str | None"], None]


@attrs.define
class _Hidden:
    """What the layers above the one being read did to the tree: deletions and replacements."""

    __repr__ = value_repr

    whiteouts: set[str] = attrs.Factory(set)
    opaque: set[str] = attrs.Factory(set)
    nondirs: set[str] = attrs.Factory(set)
    dirs: set[str] = attrs.Factory(set)

    def hides(self, path: str, is_dir: bool) -> bool:
        """True when an upper layer deleted or replaced ``path`` of a lower layer."""
        if not (self.whiteouts or self.opaque or self.nondirs):  # nothing deleted above (a top layer)
            return not is_dir and path in self.dirs
        if path in self.whiteouts or path in self.nondirs or "" in self.opaque:
            return True
        if not is_dir and path in self.dirs:
            return True
        return any(p in self.whiteouts or p in self.opaque or p in self.nondirs for p in _parents(path))

    def merge(self, other: _Hidden) -> None:
        """Add what one more layer did (applied after the layer was read)."""
        self.whiteouts |= other.whiteouts
        self.opaque |= other.opaque
        self.nondirs |= other.nondirs
        self.dirs |= other.dirs

    def record(self, path: str, is_dir: bool) -> None:
        """An entry of this layer: it and its parents exist here."""
        self.dirs.update(_parents(path))
        (self.dirs if is_dir else self.nondirs).add(path)


def _parents(path: str) -> Iterator[str]:
    """The ancestors of a cleaned path, nearest first; the root of an absolute name (``/``) is none."""
    parent = posixpath.dirname(path)
    while parent and parent != "/":
        yield parent
        parent = posixpath.dirname(parent)


@attrs.frozen
class StackOptions:
    """How a layer stack is read.

    ``top_only``: only the last layer (``info``); ``whiteouts``: honour ``.wh.`` entries and upper
    entries replacing lower paths (else every path is reported once, topmost first, as oc's
    ``new --from-release`` does); ``outside_prefix``: entries above the prefix (``.wh.<prefix>``, a
    root opaque marker, a file at the prefix) hide it too (a release's payload; oc filters operator
    images' names first, so not there); ``last_in_layer``: a name repeated inside one layer keeps its
    last entry (what unpacking a tar does) instead of the first; ``wanted``: stop reading once these
    paths are found (first-in-layer only).
    """

    __repr__ = value_repr

    top_only: bool = False
    whiteouts: bool = True
    outside_prefix: bool = False
    last_in_layer: bool = False
    wanted: frozenset[str] | None = None
    limits: LayerLimits = LayerLimits()


def _whiteout(path: str) -> tuple[str, str] | None:
    """("opaque", dir) or ("remove", path) for a whiteout entry, ("meta", "") for other .wh..wh. names."""
    parent, base = posixpath.split(path)
    if base == WHITEOUT_OPAQUE:
        return "opaque", parent
    if base.startswith(WHITEOUT_META_PREFIX):
        return "meta", ""
    if base.startswith(WHITEOUT_PREFIX):
        return "remove", posixpath.join(parent, base[len(WHITEOUT_PREFIX) :])
    return None


def read_stack(
    layers: Sequence[LayerSource],
    prefix: str,
    *,
    names: Sequence[str] | None = None,
    options: StackOptions = StackOptions(),
    on_entry: EntryHook | None = None,
) -> dict[str, FileEntry]:
    """Read a layer stack from the top down; return the regular files and directories under ``prefix``.

    Paths have the prefix stripped; the dict is in discovery order (topmost layer first). Each
    layer is a stream or an opener (opened lazily, closed after use); ``names`` label errors. A
    layer that is read is read to its end, so a verifying stream checks its digest; a layer whose
    bytes did not match is read again from its start where its source can (``RestartableSource``),
    what the failed attempt found forgotten.
    """
    wanted_prefix = normal_prefix(prefix)
    found: dict[str, FileEntry] = {}
    upper = _Hidden()
    indexes = range(len(layers) - 1, -1, -1)
    for index in indexes if not options.top_only else indexes[:1]:
        if options.wanted is not None and options.wanted.issubset(found):
            break
        name = _label(names, index)
        layer = _StackLayer(name, wanted_prefix, options, on_entry, upper, found)
        found, hidden = read_source(layers[index], layer.read)
        upper.merge(hidden)
    return found


@attrs.frozen
class _StackLayer:
    """One layer of ``read_stack``: read into a copy of what the layers above found, so that an
    attempt that fails (and is started again) leaves nothing behind."""

    __repr__ = value_repr

    name: str | None
    prefix: str
    options: StackOptions
    on_entry: EntryHook | None
    upper: _Hidden
    above: dict[str, FileEntry]

    def read(self, stream: BinaryIO) -> tuple[dict[str, FileEntry], _Hidden]:
        """(what the stack holds with this layer added, what this layer hides below it)."""
        found = dict(self.above)
        scope = "" if self.options.outside_prefix else self.prefix

        def walk(entries: Iterator[LayerEntry]) -> _Hidden:
            return _walk(entries, self.name, self.prefix, self.options, self.on_entry, self.upper, found)

        hidden = walk_entries(
            stream, scope, walk, name=self.name, limits=self.options.limits, keep_prefix=self.prefix
        )
        return found, hidden


def compose_stack(
    layer_entries: Sequence[Iterable[LayerEntry]], options: StackOptions = StackOptions(last_in_layer=True)
) -> dict[str, FileEntry]:
    """The same stack rules over entries already read (bottom layer first, paths below the prefix)."""
    found: dict[str, FileEntry] = {}
    upper = _Hidden()
    for depth, entries in enumerate(reversed(layer_entries)):
        bottom = depth == len(layer_entries) - 1  # what it hides hides nothing: not recorded
        upper.merge(_walk(entries, None, "", options, None, upper, found, record=not bottom))
    return found


def _walk(
    entries: Iterable[LayerEntry],
    name: str | None,
    prefix: str,
    options: StackOptions,
    on_entry: EntryHook | None,
    upper: _Hidden,
    found: dict[str, FileEntry],
    record: bool = True,
) -> _Hidden:
    """One layer, top-down, into ``found``; return what it hides below it (merged into ``upper`` once the
    layer is done: whiteouts and replacements hide lower layers only). ``record`` False: the bottom
    layer, whose entries' replacements of lower paths are not recorded (there are none)."""
    layer = _Hidden()
    this_layer: set[str] = set()
    added: dict[str, str] = {}  # this layer's entries in found: tar path -> key
    for entry in entries:
        if on_entry is not None:
            on_entry(entry, name)
        full = entry.path
        if options.outside_prefix and full in ("", "."):
            continue
        kind = _whiteout(full) if options.whiteouts else None
        if kind is not None:
            _note_whiteout(layer, kind, full)
            if kind[0] == "remove":
                _drop_earlier(found, this_layer, added, kind[1])
            continue
        if options.whiteouts:
            if record:  # what this layer does to lower ones holds even where it is hidden
                layer.record(full, entry.is_dir)
            if upper.hides(full, entry.is_dir):
                continue
        path = full[len(prefix) :] if options.outside_prefix and full.startswith(prefix) else full
        in_prefix = not options.outside_prefix or (full.startswith(prefix) and bool(path))
        if not in_prefix or entry.type not in ("file", "dir") or not path:
            continue
        if path in found and not (options.last_in_layer and path in this_layer):
            continue
        if options.wanted is not None and path not in options.wanted:
            continue
        found[path] = _kept(entry) if path == entry.path else attrs.evolve(_kept(entry), path=path)
        this_layer.add(path)
        added[full] = path
        if options.wanted is not None and not options.last_in_layer and options.wanted.issubset(found):
            break
    return layer


def _drop_earlier(
    found: dict[str, FileEntry], this_layer: set[str], added: dict[str, str], target: str
) -> None:
    """A whiteout also removes what its own layer wrote before it (oc and docker apply a layer in order)."""
    for full in [f for f in added if f == target or f.startswith(target + "/")]:
        path = added.pop(full)
        found.pop(path, None)
        this_layer.discard(path)


def _note_whiteout(layer: _Hidden, kind: tuple[str, str], full: str) -> None:
    what, path = kind
    if what == "opaque":
        layer.opaque.add(path)
    elif what == "remove":
        layer.whiteouts.add(path)
