"""Kamailio's rendered configuration is one Debian's Kamailio accepts, and says what the cluster needs; each node's
settings are the shared ones with its own addresses (tooling/system/cluster.py)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hotline.adapters.kamailio_config import Edge, dispatcher_list, render
from hotline.config.settings import load_settings
from tooling.system.cluster import NODE_PROCESSES, edge, node_specs, nodes
from tooling.system.supervisor import ProcessSpec


def _edge(tmp_path: Path) -> Edge:
    return Edge(address="10.22.0.1", port=5060, nodes=["10.22.0.11:5060", "10.22.0.12:5060"],
                trusted=["127.0.0.1", "10.22.0.11", "10.22.0.12"], per_second=20, state_dir=tmp_path)


def test_kamailio_accepts_the_rendered_configuration(tmp_path: Path) -> None:
    config = render(_edge(tmp_path))
    checked = subprocess.run(["kamailio", "-c", "-f", str(config)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr[-2000:]
    assert "udp: 10.22.0.1 [10.22.0.1]:5060" in checked.stdout + checked.stderr


def test_the_softphones_websocket_lets_in_the_console_s_pages_only(tmp_path: Path) -> None:
    from dataclasses import replace
    edge_ws = replace(_edge(tmp_path), ws_port=5066, origins=["http://127.0.0.1:8090", "https://console.example.gov.vn"])
    config = render(edge_ws)
    checked = subprocess.run(["kamailio", "-c", "-f", str(config)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr[-2000:]
    assert "tcp: 10.22.0.1 [10.22.0.1]:5066" in checked.stdout + checked.stderr
    text = config.read_text()
    assert ('if (!($hdr(Origin) == "http://127.0.0.1:8090" || $hdr(Origin) == "https://console.example.gov.vn"))'
            in text)
    assert "ws_handle_handshake()" in text and "fix_nated_register();" in text and "handle_ruri_alias();" in text
    assert 'modparam("usrloc", "handle_lost_tcp", 1)' in text and "disable_tcp" not in text
    assert edge_ws.websocket_url == "ws://10.22.0.1:5066"
    # no WebSocket at all without a port; never one open to every page
    plain = render(_edge(tmp_path)).read_text()
    assert "disable_tcp=yes" in plain and "websocket.so" not in plain and "xhttp" not in plain
    with pytest.raises(ValueError, match="origins"):
        replace(_edge(tmp_path), ws_port=5066)
    with pytest.raises(ValueError, match="not an origin"):
        replace(_edge(tmp_path), ws_port=5066, origins=['http://x" || 1 == 1'])


def test_the_configuration_probes_the_nodes_and_limits_untrusted_sources(tmp_path: Path) -> None:
    text = render(_edge(tmp_path)).read_text()
    assert 'modparam("dispatcher", "ds_ping_interval", 1)' in text
    assert "class=4" not in text and "code=408" not in text     # a time-out never counts as an answer
    assert 'modparam("pike", "reqs_density_per_unit", 40)' in text      # 20 per second, 2 s units
    # trusted by address over UDP only; a request inside a call must come from a node or go to one (no open relay)
    assert 'if ($proto == "udp" && $si == "127.0.0.1") return;' in text
    assert 'if ($proto == "udp" && $si == "10.22.0.12") return;' in text
    assert 'if (!route(FROM_NODE) && !route(TO_NODE_HOP)) {' in text
    assert 'if ($var(hop) == "10.22.0.11") return 1;' in text
    assert "record_route();" in text and 'ds_select_dst("1", "4")' in text
    listed = (tmp_path / "kamailio" / "dispatcher.list").read_text()
    assert listed == dispatcher_list(["10.22.0.11:5060", "10.22.0.12:5060"])
    assert "1 sip:10.22.0.11:5060 4 0 duid=node1\n1 sip:10.22.0.12:5060 4 0 duid=node2\n" in listed


def test_each_node_is_the_shared_settings_with_its_own_addresses(tmp_path: Path) -> None:
    shared = load_settings(env={"HOTLINE_STATE_DIR": str(tmp_path),
                                "HOTLINE_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/x"})
    a, b = nodes(tmp_path)
    settings_b = load_settings(env={"HOTLINE_STATE_DIR": str(tmp_path), **b.env(shared, [a, b])})
    assert settings_b.cluster.node == "b" and settings_b.sip.bind == "10.22.0.12"
    assert settings_b.cluster.peers == [f"a@10.22.0.11:{shared.sip.port}"]
    assert settings_b.cluster.registrar == f"10.22.0.1:{shared.sip.port}"
    assert settings_b.asterisk.http_bind == settings_b.asterisk.ami_bind == "10.22.0.12"
    assert settings_b.asterisk.ami_permit == ["10.22.0.1"] and settings_b.agi.bind == "10.22.0.1"
    assert settings_b.agi.port == shared.agi.port + 2 and a.env(shared)["HOTLINE_AGI_PORT"] == str(shared.agi.port + 1)
    assert settings_b.asterisk.system_name == f"{shared.asterisk.system_name}-b"
    assert settings_b.database.url == shared.database.url          # one database
    assert settings_b.paths.state_dir == tmp_path / "nodes" / "b"
    the_edge = edge(shared, [a, b])
    assert the_edge.nodes == [f"10.22.0.11:{shared.sip.port}", f"10.22.0.12:{shared.sip.port}"]
    specs = [ProcessSpec(name, ["x"]) for name in ("ari_app", "agi", "monitor", "worker", "console")]
    named = node_specs(specs, b, {"HOTLINE_NODE": "b"})
    assert [s.name for s in named] == [f"{n}-b" for n in NODE_PROCESSES]
    assert all(s.env["HOTLINE_NODE"] == "b" for s in named)


def test_the_ami_lets_in_only_the_permitted_address(tmp_path: Path) -> None:
    from hotline.adapters.asterisk_config import render as render_asterisk
    from hotline.config.secrets import load_or_create_secrets
    from hotline.domain.directory import load_directory
    settings = load_settings(env={"HOTLINE_STATE_DIR": str(tmp_path), "HOTLINE_AMI_PERMIT": "10.22.0.1, 10.0.0.12"})
    render_asterisk(settings, load_or_create_secrets(tmp_path), load_directory(settings.paths.directory),
                    tmp_path / "asterisk", only={"manager.conf"})
    manager = (tmp_path / "asterisk" / "manager.conf").read_text()
    assert "permit = 10.22.0.1/255.255.255.255" in manager and "permit = 10.0.0.12/255.255.255.255" in manager
    assert "permit = 127.0.0.1" not in manager


def test_registrar_accounts_are_digest_hashes() -> None:
    from hotline.adapters.kamailio_db import db_postgres_url, ha1, kamailio_database_url
    assert ha1("Mufasa", "Circle Of Life", "testrealm@host.com") == "939e7578ed9e3c518a452acee763bce9"  # RFC 2617
    url = kamailio_database_url("postgresql://hotline:s3cret@db.example:5433/hotline")
    assert url == "postgresql://hotline:s3cret@db.example:5433/hotline_kamailio"
    assert db_postgres_url(url) == "postgres://hotline:s3cret@db.example:5433/hotline_kamailio"


@pytest.mark.postgres
def test_registrar_tables_made_once_and_accounts_replaced(postgres_url: str) -> None:
    from sqlalchemy import create_engine, text

    from hotline.adapters.kamailio_db import REALM, ensure_schema, ha1, kamailio_database_url, write_subscribers
    from tests.support.db import fresh_postgres
    url = fresh_postgres(kamailio_database_url(postgres_url))
    assert ensure_schema(url) is True and ensure_schema(url) is False
    assert write_subscribers(url, [("op-lan", "pw1"), ("desk-d01", "pw2")]) == 2
    assert write_subscribers(url, [("op-lan", "pw3")]) == 1
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT username, ha1, password FROM subscriber")).all()
        tables = set(conn.execute(text("SELECT table_name FROM version")).scalars())
    engine.dispose()
    assert rows == [("op-lan", ha1("op-lan", "pw3", REALM), "")]     # never the password itself
    assert {"location", "subscriber"} <= tables


def test_a_node_exchanges_device_states_with_its_peers_only(tmp_path: Path) -> None:
    from hotline.adapters.asterisk_config import render as render_asterisk
    from hotline.config.secrets import load_or_create_secrets
    from hotline.domain.directory import load_directory
    env = {"HOTLINE_STATE_DIR": str(tmp_path), "HOTLINE_NODE": "a", "HOTLINE_SIP_BIND": "10.22.0.11",
           "HOTLINE_CLUSTER_PEERS": "b@10.22.0.12:5060", "HOTLINE_REGISTRAR": "10.22.0.1:5060"}
    settings = load_settings(env=env)
    render_asterisk(settings, load_or_create_secrets(tmp_path), load_directory(settings.paths.directory),
                    tmp_path / "asterisk", only={"pjsip.conf", "asterisk.conf"})
    pjsip = (tmp_path / "asterisk" / "pjsip.conf").read_text()
    assert "server_uri = sip:node-a@10.22.0.12:5060" in pjsip and "match = 10.22.0.12" in pjsip
    assert "device_state_filter = ^PJSIP/" in pjsip and "event_asterisk-devicestate = node-b" in pjsip
    assert "contact = sip:desk-d01@10.22.0.1:5060" in pjsip       # the desks ring through Kamailio
    assert f"entityid = {settings.cluster.entity_id}" in (tmp_path / "asterisk" / "asterisk.conf").read_text()
    assert settings.cluster.entity_id != load_settings(env={**env, "HOTLINE_NODE": "b"}).cluster.entity_id
    single = load_settings(env={"HOTLINE_STATE_DIR": str(tmp_path / "one")})
    render_asterisk(single, load_or_create_secrets(tmp_path), load_directory(single.paths.directory),
                    tmp_path / "one", only={"pjsip.conf"})
    assert "outbound-publish" not in (tmp_path / "one" / "pjsip.conf").read_text()


@pytest.mark.postgres
def test_kamailio_s_role_reads_the_accounts_and_nothing_of_the_hotline(postgres_url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import ProgrammingError

    from hotline.adapters.kamailio_db import ensure_role, ensure_schema, kamailio_database_url, write_subscribers
    from tests.support.db import fresh_postgres
    url = fresh_postgres(kamailio_database_url(postgres_url))
    ensure_schema(url)
    write_subscribers(url, [("op-lan", "pw1")])
    own = ensure_role(url, "a-generated-password")
    assert own.startswith("postgresql://hotline_kamailio:a-generated-password@")
    engine = create_engine(own.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM subscriber")).scalar() == 1
            assert conn.execute(text("SELECT table_version FROM version WHERE table_name = 'location'")).scalar()
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO location (ruid, username, contact) VALUES ('r1', 'op-lan', 'sip:x')"))
        with pytest.raises(ProgrammingError), engine.begin() as conn:
            conn.execute(text("DELETE FROM subscriber"))       # the accounts are the hotline's to write
    finally:
        engine.dispose()


def test_a_node_rings_the_console_s_softphone_through_kamailio(tmp_path: Path) -> None:
    """A web operator's endpoint on a node: WebRTC still, but over UDP to Kamailio, where the browser registered
    over its WebSocket; without Kamailio's WebSocket (port 0), the browser registers with the node itself."""
    import re

    from hotline.adapters.asterisk_config import render as render_asterisk
    from hotline.config.secrets import load_or_create_secrets
    from hotline.domain.directory import load_directory
    from hotline.services.operators import OperatorEndpoint

    web = [OperatorEndpoint("op-web-hoa", "Trần Thị Hoa", None, "web")]
    env = {"HOTLINE_STATE_DIR": str(tmp_path), "HOTLINE_NODE": "a", "HOTLINE_SIP_BIND": "10.22.0.11",
           "HOTLINE_CLUSTER_PEERS": "b@10.22.0.12:5060", "HOTLINE_REGISTRAR": "10.22.0.1:5060"}

    def endpoint(settings_env: dict[str, str], folder: str) -> str:
        settings = load_settings(env=settings_env)
        render_asterisk(settings, load_or_create_secrets(tmp_path), load_directory(settings.paths.directory),
                        tmp_path / folder, operators=web, only={"pjsip.conf"})
        pjsip = (tmp_path / folder / "pjsip.conf").read_text()
        return "\n".join(re.findall(r"^\[op-web-hoa\].*?(?=^\[|\Z)", pjsip, flags=re.M | re.S))
    root = Path(__file__).resolve().parents[2]
    shipped = re.sub(r'^(flow|directory|prompts_dir) = "', rf'\1 = "{root}/',
                     (root / "province.toml").read_text(encoding="utf-8"), flags=re.M)
    with_ws = tmp_path / "ws.toml"
    with_ws.write_text(shipped.replace("[cluster]\n", "[cluster]\nwebsocket_port = 5066\n", 1), encoding="utf-8")
    on_node = endpoint({**env, "HOTLINE_SETTINGS": str(with_ws)}, "node")
    assert "[op-web-hoa](operator-webrtc)" in on_node and "transport = transport-udp" in on_node
    assert "contact = sip:op-web-hoa@10.22.0.1:5060" in on_node
    own = endpoint(env, "own")          # the default: no WebSocket at Kamailio
    assert "transport = transport-udp" not in own and "contact =" not in own


def test_every_node_gets_one_set_of_ami_passwords(tmp_path: Path) -> None:
    """The console beside node a logs in to node b's AMI with its own account: `hotline cluster up` makes every
    account's password before the nodes copy secrets.toml (one node making its own would refuse the other's)."""
    import tomllib

    from hotline.adapters.ami.accounts import ACCOUNTS
    from hotline.cli.cluster import _phone_accounts
    shared = load_settings(env={"HOTLINE_STATE_DIR": str(tmp_path)})
    _phone_accounts(shared)
    saved = tomllib.loads((tmp_path / "secrets.toml").read_text())
    assert set(saved["ami"]) >= {a.name for a in ACCOUNTS}


@pytest.mark.postgres
def test_kamailio_for_a_real_server_takes_a_desk_s_registration(postgres_url: str, tmp_path: Path) -> None:
    """`hotline cluster kamailio` on the Kamailio server: the files it writes run Debian's Kamailio, which takes
    a desk phone's REGISTER with the password of the shared secrets.toml (its accounts were written to the
    registrar's tables) and refuses a wrong one; the commands to run Kamailio and the gate are printed."""
    import contextlib
    import os
    import re
    import signal
    import sys
    import time

    from hotline.adapters.kamailio_db import kamailio_database_url
    from hotline.config.secrets import load_or_create_secrets
    from tests.support.db import fresh_postgres
    from tests.support.sip_register import register
    from tooling.sipp.process import free_udp_port
    root = Path(__file__).resolve().parents[2]
    sip, ws, phone = free_udp_port(), free_udp_port(), free_udp_port()
    shipped = re.sub(r'^(flow|directory|prompts_dir) = "', rf'\1 = "{root}/',
                     (root / "province.toml").read_text(encoding="utf-8"), flags=re.M)
    settings = tmp_path / "province.toml"
    settings.write_text(shipped.replace("[cluster]\n", f"[cluster]\nwebsocket_port = {ws}\n"
                                        'softphone_origins = ["https://console.example.gov.vn"]\n', 1),
                        encoding="utf-8")
    url = fresh_postgres(postgres_url.rsplit("/", 1)[0] + "/hotline_kamailio_cli")
    fresh_postgres(kamailio_database_url(url))
    tmp_path.chmod(0o755)
    env = {**os.environ, "HOTLINE_SETTINGS": str(settings), "HOTLINE_STATE_DIR": str(tmp_path / "state"),
           "HOTLINE_DATABASE_URL": url}
    bad = subprocess.run([sys.executable, "-m", "hotline.cli.main", "cluster", "kamailio", "--listen", "127.0.0.1",
                          "--node", "a@10.0.0.11:5060"], cwd=root, env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "--listen '127.0.0.1' is not HOST:PORT" in bad.stderr, bad.stderr
    done = subprocess.run([sys.executable, "-m", "hotline.cli.main", "cluster", "kamailio", "--listen",
                           f"127.0.0.1:{sip}", "--node", "a@10.0.0.11:5060", "--node", "b@10.0.0.12:5060"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "hotline cluster gate --node a@10.0.0.11:5060 --node b@10.0.0.12:5060" in done.stdout
    assert f"the softphones' WebSocket at ws://127.0.0.1:{ws} for https://console.example.gov.vn" in done.stdout
    folder = tmp_path / "state" / "kamailio"
    assert (folder / "dispatcher.list").read_text().count(" 4 0 duid=") == 2      # both nodes, disabled at first
    assert oct((folder / "kamailio.cfg").stat().st_mode & 0o777) == "0o600"
    argv = done.stdout.split("it drops to the user kamailio): ", 1)[1].split("\n", 1)[0].split()
    kamailio = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        secrets = load_or_create_secrets(tmp_path / "state")
        status = 0
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and status != 200:     # Kamailio starting: no answer yet
            with contextlib.suppress(TimeoutError):
                status = register("desk-d01", secrets.endpoint_password("desk-d01"), ("127.0.0.1", phone),
                                  ("127.0.0.1", sip), timeout=1.0)
            assert kamailio.poll() is None, kamailio.stderr.read().decode(errors="replace")[-2000:] \
                if kamailio.stderr else ""
        assert status == 200, status
        assert register("desk-d01", "not-the-password", ("127.0.0.1", phone), ("127.0.0.1", sip)) == 401
    finally:
        os.killpg(kamailio.pid, signal.SIGTERM)
        kamailio.wait(timeout=20)
