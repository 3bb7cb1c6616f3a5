"""Which TLS files apply to a host (``--certificate-authority``, a cert dir, ``certs.d/HOST``), the
TLS context built from them, and how to get past a verification failure."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal

from okdrelease.errors import RegistryError
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.wire import load_system_trust, name_mismatch

#: What a host is to a client, which decides the TLS files it gets (``tls_files``): a registry the
#: user named, the token server a registry's own challenge names as its realm, or another host a
#: registry names (an upload ``Location``, a redirect target).
HostRole = Literal["registry", "token server", "other"]


def tls_files(
    host: str, options: TransportOptions, *, role: HostRole = "registry"
) -> tuple[list[str], list[tuple[str, str]]]:
    """Return (CA files, client (cert, key) pairs) that apply to ``host`` in ``role``.

    Every host trusts ``--certificate-authority`` and the cert dir's (skopeo's
    ``--src-cert-dir``/``--dest-cert-dir``) or else ``certs.d/HOST``'s CAs (a cert dir's CAs are
    trusted for every host of its side, as ``--certificate-authority`` is). A registry is offered
    the same directory's client pairs, and so is a token server its challenge names: the user's
    credentials go to that realm already, skopeo's token requests carry the cert dir's certificate,
    and a cert dir replaces certs.d, so without it a token server behind mutual TLS could not be
    reached. Another host (``other``) is offered ``certs.d/HOST``'s own pairs alone, never a cert
    dir's: those are the registries' (and their token servers'). Errors about a host other than a
    registry do not name it (its caller does).
    """
    owner = f" for registry {host}" if role == "registry" else ""
    cas: list[str] = [options.ca_file] if options.ca_file else []
    clients: list[tuple[str, str]] = []
    directories = (
        [Path(options.cert_dir)] if options.cert_dir else [Path(b) / host for b in options.certs_dirs]
    )
    for directory in directories:
        if not directory.is_dir():
            if options.cert_dir:
                raise RegistryError(f"certificate directory {directory}{owner} does not exist", registry=host)
            continue
        cas.extend(str(p) for p in sorted(directory.glob("*.crt")))
        if options.cert_dir and role == "other":
            continue
        for cert in sorted(directory.glob("*.cert")):
            key = cert.with_suffix(".key")
            if not key.exists():
                raise RegistryError(f"client certificate {cert}{owner} has no key {key.name}", registry=host)
            clients.append((str(cert), str(key)))
        for key in sorted(directory.glob("*.key")):
            if not key.with_suffix(".cert").exists():
                raise RegistryError(f"key {key}{owner} has no client certificate", registry=host)
    return cas, clients


def tls_context(
    host: str, options: TransportOptions, *, role: HostRole = "registry"
) -> ssl.SSLContext | None:
    """The TLS context of ``https://HOST/`` in ``role``: the system's trust with ``ca_file`` and the
    cert dir's or ``certs.d/HOST``'s CAs and client certificates (``tls_files`` says which apply), or
    None when none apply (the HTTP client's default trust). RegistryError when a file cannot be loaded."""
    cas, clients = tls_files(host, options, role=role)
    if not cas and not clients:
        return None
    owner = f" for registry {host}" if role == "registry" else ""
    from okdrelease.regularfile import check_loadable

    context = ssl.create_default_context()
    load_system_trust(context)
    for ca in cas:
        try:
            check_loadable(ca)
            context.load_verify_locations(cafile=ca)
        except (OSError, ssl.SSLError) as err:
            raise RegistryError(f"cannot load CA file {ca}{owner}: {err}", registry=host) from None
    for cert, key in clients:
        try:
            check_loadable(cert)
            check_loadable(key)
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as err:
            raise RegistryError(
                f"cannot load client certificate {cert}{owner}: {err}", registry=host
            ) from None
    return context


def check_host(host: str) -> None:
    """Refuse a registry ``host[:port]`` that no URL can name (a port outside 1-65535, an empty name)."""
    name, sep, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    if not sep:
        name, port = host, ""
    if not name or (sep and not (port.isdigit() and 0 < int(port) < 65536)):
        raise RegistryError(
            f"invalid registry address {host}: the port must be a number from 1 to 65535", registry=host
        )


def trust_advice(reason: str, host: str, cert_dir: str | None = None) -> str:
    """How to get past the TLS verification failure ``reason`` (``wire.tls_reason``) of ``host``, a
    host the user did not name as a registry (a name mismatch: its CA is trusted, the certificate
    names other hosts; else: trust its CA, in the cert dir when there is one, or opt out)."""
    if name_mismatch(reason):
        return (
            "its certificate is for other host names: use a name it holds, or mark the host insecure"
            f" (--insecure-registry {host}) to accept it"
        )
    where = f"the certificate directory {cert_dir}" if cert_dir else f"certs.d/{host}"
    return (
        f"trust its CA with --certificate-authority or {where}, or mark it insecure"
        f" (--insecure-registry {host}) if it serves an untrusted certificate"
    )
