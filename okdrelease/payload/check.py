"""The lenient manifest sanity check oc runs on operator manifests (spec §3.9, Appendix C): which files
are checked, each distinct file's verdict decided once per run (once ever with a store) and the
failure worded as oc words it.

Verdicts are decided by ``okdrelease.payload.checkyaml`` (libyaml for the common pass, the go-yaml-like
pure-Python loader for every other outcome), loaded with PyYAML only when a verdict must be decided.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from okdrelease.errors import ReleaseError

log = logging.getLogger(__name__)

CHECKED_SUFFIXES = (".json", ".yml", ".yaml")


def manifest_problem(data: bytes) -> str | None:
    """Why ``data`` fails oc's sanity check (the text after ``<file>: ``), or None when it passes
    (:func:`okdrelease.payload.checkyaml.manifest_problem`)."""
    from okdrelease.payload.checkyaml import manifest_problem as decide

    return decide(data)


def is_checked(filename: str) -> bool:
    """Whether oc checks a file with this name (``.json``, ``.yml``, ``.yaml``)."""
    return filename.endswith(CHECKED_SUFFIXES)


#: Names the rules a verdict is decided by (:func:`manifest_problem` and the loaders it uses). Both
#: kinds of verdict key carry it: bump it whenever a file's verdict or its words could change, so
#: verdicts remembered by an earlier version are not used (2: '?' in a plain flow scalar refused,
#: '%YAML 1.1#c' accepted, keys nested deep worded, as go-yaml does; 3: the line of an error at the
#: end of a text without a final line break, and a bad hexadecimal escape, worded as go-yaml does;
#: 4: the document decoded as go-yaml decodes it (scalars by go-yaml's resolution and tags, merge
#: keys, aliases) and converted to JSON, directives and a surrogate's escape read as go-yaml reads them;
#: 5: an alias told from its anchor by its place (go-yaml's aliasing count, merges item by item), and
#: an underscore between digits after a leading '.' in a float, as go-yaml and Go's ParseFloat do;
#: 6: a timestamp's comma before its fraction of a second, and its offset's range, as Go's time.Parse;
#: 7: a flow collection with no key-capable token inside, ``{}``, ``[]`` or ``{? : a}``, is no simple key,
#: as in go-yaml 2.4: ``did not find expected key`` where it stands for a key; 8: a document nested
#: thousands of levels through aliases decoded as go-yaml decodes it, not refused at Python's recursion
#: limit; 9: tabs read as go-yaml 2.4 reads them, as blanks inside and after a plain scalar's words, after a
#: block scalar's header and after a tag, and refused in indentation in its words; a block scalar's
#: indicators and a tag worded as go-yaml words them; a byte-order mark ending a text counted in its line;
#: 10: a syntax error found by reading only the text near it (gocompat.yamlregion), so a document nested
#: past the pure loader's composing before it is worded as go-yaml words the error, not as too deep;
#: 11: a byte go-yaml's reader refuses (invalid UTF-8, a control character) refused only where go-yaml
#: reads it, in 512-byte reads (one far after the first document passes), and worded as go-yaml words
#: each kind of invalid UTF-8 (gocompat.yamlreader), not always as an invalid leading octet); 12: go-yaml
#: v2's escapes in double-quoted scalars (``\/`` refused, ``\'`` read as ``'``: libyaml and PyYAML read them
#: the other way round); 13: tags as go-yaml v2 reads them where libyaml differs (',' right after a tag in
#: a flow collection, %-escapes checked by their octets' bit patterns only, in go-yaml's words); 14: a ':'
#: before ',[]{}' in a flow collection kept in the plain scalar, as go-yaml keeps it; 15: a syntax error after an
#: explicit '? key' read again from a simple key, not from the explicit key's scalar; 16: a simple key
#: checked where go-yaml checks it (when its token reaches the parser, and at the end of a text inside a
#: flow collection opened where a key goes), so its refusal names go-yaml's line; 17: no stale key swept
#: before a token, so a character that starts no token is refused first, as go-yaml refuses it.
VERDICT_RULES = "rules-17"


def content_key(data: bytes) -> str:
    """The key a verdict is remembered under: :data:`VERDICT_RULES` and the content's ``sha256:`` digest."""
    return f"{VERDICT_RULES}:sha256:{hashlib.sha256(data).hexdigest()}"


#: Names the way files are derived from their source in :func:`source_key` (a change of it would
#: give a source's files other content under the same names: it must then change too).
SOURCE_FORMAT = "files-v1"


def source_key(source: str, name: str) -> str:
    """The key of the verdict of file ``name`` of a set derived from ``source``, content named by
    digest (for operator manifests: the digests of the layers they are read from, and the directory).

    The source fixes the content of each of its files, so a warm run finds the verdicts of a set
    without hashing a file; the key stays content-addressed.
    """
    return f"{SOURCE_FORMAT}:{VERDICT_RULES}:{source}:{name}"


class VerdictStore(Protocol):
    """Where verdicts outlive a run (``okdrelease.cache.Cache`` is one): keyed by content.

    A key is a file's content digest (:func:`content_key`), or for a file of a set whose source is
    named by digest, the source and the file's name (:func:`source_key`). Verdicts are remembered
    together, one entry per set of files (an operator's), so a run reads and writes one entry per
    operator rather than one per file.
    """

    def get_verdicts(self, keys: Sequence[str]) -> dict[str, str | None] | None:
        """The verdicts remembered together for exactly the content digests ``keys``, or None."""
        ...

    def put_verdicts(self, verdicts: Mapping[str, str | None]) -> None:
        """Remember ``verdicts`` (content digest -> problem) together."""
        ...


class ManifestChecker:
    """Verdicts by content: each distinct file checked once per run (and once ever with a store).

    Thread-safe; :meth:`precheck_files` may run in fetching threads as files arrive, :meth:`check` then
    only looks the verdict up, so errors are still raised in payload order. Verdicts are held by the
    content itself (Python keeps a bytes object's hash), and the verdicts of a set prechecked with a
    ``source`` by the very bytes objects passed (held, so their ids stay theirs): looking those up
    hashes nothing. The store's keys are the sets' source keys (:func:`source_key`), else content
    digests (:func:`content_key`), computed only when there is a store.
    """

    def __init__(
        self, store: VerdictStore | None = None, decide: Callable[[bytes], str | None] | None = None
    ):
        """``store`` keeps verdicts across runs; ``decide`` defaults to :func:`manifest_problem`."""
        self._store = store
        self._decide = decide or manifest_problem
        self._lock = threading.Lock()
        self._verdicts: dict[bytes, str | None] = {}
        #: id(data) -> (data, verdict) for the files of sets prechecked with a source.
        self._held: dict[int, tuple[bytes, str | None]] = {}
        # Parsing holds the GIL: more than two at once only adds the memory of their node trees.
        self._parsing = threading.BoundedSemaphore(2)

    def precheck_files(self, files: Iterable[tuple[str, bytes]], source: str | None = None) -> None:
        """Decide the verdicts of a set of files now (e.g. an operator's, while other images are fetched).

        With a store, the set's verdicts are read (or written) as one entry, keyed by ``source`` and
        the files' names when given: ``source`` names by digest what fixes the content of every file
        of the set under its name (see :func:`source_key`), so no file is hashed.
        """
        checked = [(name, data) for name, data in files if is_checked(name)]
        if source is not None and self._store is not None:
            self._precheck_source(self._store, source, checked)
            return
        contents = list(dict.fromkeys(data for _, data in checked))
        with self._lock:
            known = {data: self._verdicts[data] for data in contents if data in self._verdicts}
        if len(known) == len(contents):
            return
        if self._store is None:
            self._by_content(contents, known)
            return
        found = self._through_store(self._store, contents, known)
        with self._lock:
            self._verdicts.update(found)

    def _by_content(
        self, contents: Sequence[bytes], known: Mapping[bytes, str | None]
    ) -> dict[bytes, str | None]:
        """The verdicts of ``contents``: ``known`` ones, the others decided now; remembered by content."""
        found = {data: known[data] if data in known else self._decided(data) for data in contents}
        with self._lock:
            self._verdicts.update(found)
        return found

    def _precheck_source(self, store: VerdictStore, source: str, files: list[tuple[str, bytes]]) -> None:
        """The verdicts of a set with a source: the store's entry for its source keys, else decided
        (by content, as without a store) and stored; held by the files' bytes objects."""
        with self._lock:
            if all(id(data) in self._held for _, data in files):
                return
        by_key = {source_key(source, name): data for name, data in files}
        stored = store.get_verdicts(sorted(by_key))
        if stored is None:
            contents = list(dict.fromkeys(by_key.values()))
            with self._lock:
                known = {data: self._verdicts[data] for data in contents if data in self._verdicts}
            found = self._by_content(contents, known)
            stored = {key: found[data] for key, data in by_key.items()}
            store.put_verdicts(stored)
        self.hold((data, stored[key]) for key, data in by_key.items())

    def hold(self, verdicts: Iterable[tuple[bytes, str | None]]) -> None:
        """Take verdicts decided before (``(data, problem)``, e.g. recorded with a resolution), held by
        the very bytes objects passed, as :meth:`precheck_files` holds a set's."""
        with self._lock:
            self._held.update((id(data), (data, problem)) for data, problem in verdicts)

    def _decided(self, data: bytes) -> str | None:
        with self._parsing:
            return self._decide(data)

    def _through_store(
        self, store: VerdictStore, contents: list[bytes], known: Mapping[bytes, str | None]
    ) -> dict[bytes, str | None]:
        """The verdicts of ``contents`` from the store's entry for the set, else decided and stored."""
        by_key = {content_key(data): data for data in contents}
        keys = sorted(by_key)
        stored = store.get_verdicts(keys)
        if stored is None:
            stored = {}
            for key in keys:
                data = by_key[key]
                stored[key] = known[data] if data in known else self._decided(data)
            store.put_verdicts(stored)
        return {by_key[key]: stored[key] for key in keys}

    def problem(self, filename: str, data: bytes) -> str | None:
        """The verdict for one file (None for files oc does not check)."""
        if not is_checked(filename):
            return None
        with self._lock:
            held = self._held.get(id(data))
            if held is not None and held[0] is data:
                return held[1]
            if data in self._verdicts:
                return self._verdicts[data]
        self.precheck_files(((filename, data),))
        with self._lock:
            return self._verdicts[data]

    def precheck(self, filename: str, data: bytes) -> None:
        """Decide a file's verdict now (e.g. while other images are still being fetched)."""
        self.problem(filename, data)

    def check(self, display_name: str, filename: str, data: bytes) -> None:
        """Raise ReleaseError (oc's wording) if a checked file is not a Kubernetes object."""
        problem = self.problem(filename, data)
        if problem is not None:
            raise ReleaseError(f"{display_name}: {problem}")
        log.debug("manifest %s passed the sanity check", display_name)


def check_manifest(display_name: str, filename: str, data: bytes) -> None:
    """Raise ReleaseError (oc's wording) if a ``.json``/``.yml``/``.yaml`` file is not a Kubernetes object.

    ``display_name`` is ``<tag>/<file>``; files with other extensions are not checked.
    """
    if not is_checked(filename):
        return
    problem = manifest_problem(data)
    if problem is not None:
        raise ReleaseError(f"{display_name}: {problem}")
    log.debug("manifest %s passed the sanity check", display_name)
