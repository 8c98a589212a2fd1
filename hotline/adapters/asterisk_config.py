"""Render asterisk_conf/*.j2 into the runtime configuration Asterisk reads.

Nothing in Asterisk is configured by hand: the templates take the province
settings, the generated secrets and the transfer directory. Rendering is
deterministic and writes only files whose content changed.
"""
from __future__ import annotations

import os
import subprocess
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import jinja2

from hotline.adapters.ami.accounts import ACCOUNTS as AMI_ACCOUNTS
from hotline.domain.errors import ConfigError
from hotline.domain.numbers import OUTBOUND_PATTERNS
from hotline.domain.vocabulary import QUEUE_NAME

TEMPLATES = Path(__file__).resolve().parents[2] / "asterisk_conf"
SYSTEM_DATA_DIR = Path("/usr/share/asterisk")   # astdatadir of the Debian package (as Asterisk sees it)
QUEUE_LANGUAGE = "vi"       # the callers' language in the queue: sounds/vi/queue-*.wav, digits/*
BANNER = "Rendered by `hotline up` from asterisk_conf/{name}.j2 — do not edit; edit the template or the settings."


def dtls_certificate(dest_dir: Path) -> dict[str, str]:
    """The self-signed certificate of the softphones' DTLS-SRTP, made once beside the configuration.

    Browsers do not check it against an authority: they pin its fingerprint from the SDP, which the
    signalling (WebSocket, behind TLS in production) protects.
    """
    cert, key = dest_dir / "dtls.pem", dest_dir / "dtls.key"
    if not (cert.exists() and key.exists()):
        dest_dir.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-days", "3650", "-subj", "/CN=hotline-1022 softphones",
                            "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
        except FileNotFoundError:
            raise ConfigError(cert, None, "openssl is missing: the softphones' DTLS certificate cannot be made",
                              "install it (apt-get install openssl; scripts/bootstrap does) and run again") from None
        except subprocess.CalledProcessError as exc:
            raise ConfigError(cert, None, f"openssl failed: {exc.stderr.decode(errors='replace')[-300:]}",
                              "check that the configuration directory is writable") from None
        os.chmod(key, 0o640)
    return {"dtls_cert": str(cert), "dtls_key": str(key)}


def render(settings: Any, secrets: Any, directory: Any, dest_dir: Path, clock_offset: float = 0.0,
           templates: Path = TEMPLATES, operators: Sequence[Any] = (), only: Collection[str] = ()) -> Path:
    """Write every ``templates/*.conf.j2`` into ``dest_dir``; return the path of asterisk.conf.

    Args:
        operators: the operators' endpoints (objects with ``name``, ``display_name``, ``contact``),
            e.g. ``OperatorService.endpoints()``.
        only: render just these files (``{"pjsip.conf"}``); default all.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    context = {
        "settings": settings,
        "secrets": secrets,
        "desks": [a for a in directory.entries if a.desk.endpoint],
        "transfer_desks": transfer_desks(directory),
        "conf_dir": str(dest_dir),
        "state_dir": str(settings.paths.state_dir),
        "prompts_dir": str(prompts_dir(settings)),
        "clock_offset": int(round(clock_offset)),
        "voicemail_max": int(settings.voicemail.max_seconds),
        "queue_name": QUEUE_NAME,
        "operators": list(operators),
        "outbound_patterns": OUTBOUND_PATTERNS,
        "callback_dial": settings.callback.dial.replace("{number}", "${OUT_NUMBER}"),
        "callback_caller_id": settings.callback_caller_id,
        "ami_accounts": AMI_ACCOUNTS,
        **dtls_certificate(dest_dir),
        "data_dir": str(data_dir(settings)),
    }
    for template in sorted(templates.glob("*.conf.j2")):
        name = template.name.removesuffix(".j2")
        if only and name not in only:
            continue
        text = env.get_template(template.name).render(banner=BANNER.format(name=name), **context)
        _write_if_changed(dest_dir / name, text)
    _link_recording_spool(Path(settings.paths.state_dir), Path(settings.paths.recordings_root))
    _link_data_dir(settings)
    return dest_dir / "asterisk.conf"


def transfer_desks(directory: Any) -> list[dict[str, str]]:
    """The extensions of [hotline-desk-transfer]: one per directory entry, with its dial string."""
    from hotline.services.transfers import transfer_exten
    return [{"exten": transfer_exten(a.kind, a.code), "kind": a.kind, "code": a.code, "dial": a.desk.dial}
            for a in directory.entries]


def data_dir(settings: Any) -> Path:
    """This instance's astdatadir: the package's data, plus the hotline's own sounds/vi."""
    return Path(settings.paths.state_dir) / "asterisk-data"


def sounds_dir(settings: Any, language: str = QUEUE_LANGUAGE) -> Path:
    """Where the hotline's sounds in ``language`` are rendered (Asterisk finds them as sounds/<language>)."""
    return Path(settings.paths.state_dir) / "sounds" / language


def _link_data_dir(settings: Any) -> None:
    """Build ``<state_dir>/asterisk-data``: links to the package's data dir (hold music, sounds/en,
    documentation...) and ``sounds/vi`` -> ``<state_dir>/sounds/vi``.

    A data dir per instance, not a link inside the shared Asterisk root, so that two instances
    sharing one root (tests beside a running hotline) each play their own rendered sounds.
    Link targets are paths as Asterisk sees them (inside its root, when it runs in one).
    """
    root_view = Path(settings.asterisk.root) / SYSTEM_DATA_DIR.relative_to("/")
    system = root_view if root_view.is_dir() else SYSTEM_DATA_DIR
    data = data_dir(settings)
    (data / "sounds").mkdir(parents=True, exist_ok=True)
    entries = {p.name for p in system.iterdir()} if system.is_dir() else {"moh", "documentation", "rest-api"}
    for name in sorted(entries - {"sounds"}):
        _ensure_link(data / name, SYSTEM_DATA_DIR / name)
    system_sounds = system / "sounds"
    languages = {p.name for p in system_sounds.iterdir()} if system_sounds.is_dir() else {"en"}
    for name in sorted(languages - {QUEUE_LANGUAGE}):
        _ensure_link(data / "sounds" / name, SYSTEM_DATA_DIR / "sounds" / name)
    own = sounds_dir(settings)
    own.mkdir(parents=True, exist_ok=True)
    _ensure_link(data / "sounds" / QUEUE_LANGUAGE, own)


def _ensure_link(link: Path, target: Path) -> None:
    if link.is_symlink():
        if Path(os.readlink(link)) == target:
            return
        link.unlink()
    elif link.exists():
        raise RuntimeError(f"{link} is not a link: remove it (it is rebuilt by `hotline render-config`)")
    link.symlink_to(target)


def _link_recording_spool(state_dir: Path, recordings_root: Path) -> None:
    """ARI stores recordings under <astspooldir>/recording: point that at the recordings root,
    so a caller's message lands beside the call's recording (YYYY/MM/DD/<call id>.voicemail.wav)."""
    spool = state_dir / "spool"
    spool.mkdir(parents=True, exist_ok=True)
    link = spool / "recording"
    if link.is_symlink() and Path(os.readlink(link)) == recordings_root:
        return
    if link.is_dir() and not link.is_symlink():
        if any(link.iterdir()):
            raise RuntimeError(f"{link} holds files: move them under {recordings_root} and delete the folder")
        link.rmdir()
    elif link.is_symlink():
        link.unlink()
    recordings_root.mkdir(parents=True, exist_ok=True)
    link.symlink_to(recordings_root)


def prompts_dir(settings: Any) -> Path:
    """Where the rendered 8 kHz prompts live (played by absolute path)."""
    return Path(settings.paths.state_dir) / "prompts"


def _write_if_changed(path: Path, text: str) -> None:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o640)
    if path.exists():   # keep the group Asterisk reads it with (set when Asterisk starts)
        st = path.stat()
        os.chown(tmp, st.st_uid, st.st_gid)
    os.replace(tmp, path)
