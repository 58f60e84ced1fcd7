"""CLIENT LIST as people save and paste it: prompts, log heads, program output, wraps; and old and new servers."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

import monitorlens
from monitorlens.errors import InputError
from monitorlens.read import clientlist as cl
from monitorlens.read.files import detect_kind, open_binary
from monitorlens.read.schema import rejects
from monitorlens.store import ingest, load_connections, load_snapshots
from monitorlens.testing import RedisServer

ROOT = Path(__file__).resolve().parents[1]
PASTES = ROOT.parent / "shared" / "wild-pastes" / "clientlist"
needs_pastes = pytest.mark.skipif(not PASTES.is_dir(), reason="shared/wild-pastes is not beside the repo")


def kind_of(data: bytes, name: str = "x.txt") -> str:
    f = io.BytesIO(data)
    f.name = name  # type: ignore[attr-defined]
    with open_binary(f) as opened:
        return detect_kind(opened)


@needs_pastes
@pytest.mark.parametrize("name", [
    "01-redis-770-2.4.11-crashlog.txt",  # "[29474] 12 Nov 00:00:01 # addr=..." first
    "05-redis-1176-2.6-pubsub.txt",
    "23-redis-8.x-io-thread-prompt.txt",  # "127.0.0.1:6379> client list" first
    "25-azure-classic-numops-result-prefix.txt",  # "Type = BulkString", then "Result = id=..."
    "29-7.0-proxychains-prompts.txt",
    "33-3.x-monitor-client-gt-prompt.txt",  # "> client list" first
])
def test_ingest_detects_client_lists_behind_prompts_and_prefixes(name: str, tmp_path: Path) -> None:
    data = (PASTES / name).read_bytes()
    assert kind_of(data, name) == "clients"
    out = tmp_path / "c.parquet"
    prov = ingest(PASTES / name, out)
    assert prov.kind == "clients" and prov.events > 0


@needs_pastes
def test_a_crash_report_prefix_and_a_program_output_prefix_are_read() -> None:
    crash = cl.read_client_list(PASTES / "01-redis-770-2.4.11-crashlog.txt")
    first = crash.iloc[0]
    assert (first["addr"], first["flags"], first["cmd"], first["client_type"]) == ("10.20.48.19:46556", "S", "sync", "replica")
    assert len(crash) == (PASTES / "01-redis-770-2.4.11-crashlog.txt").read_bytes().count(b"addr=")
    azure = cl.read_client_list(PASTES / "25-azure-classic-numops-result-prefix.txt")
    assert azure.id.tolist()[:2] == [9469, 9470] and azure.name.tolist()[0] == "DESKTOP-AAAAAA"
    assert rejects(azure).reason.tolist() == ["unrecognized"]  # "Type = BulkString", counted


@needs_pastes
def test_subscribers_before_5_0_have_no_p_flag() -> None:
    df = cl.read_client_list(PASTES / "05-redis-1176-2.6-pubsub.txt")
    subscribers = df[(df["sub"] > 0) | (df["psub"] > 0)]
    assert len(subscribers) > 0 and (subscribers["flags"] == "N").all()
    assert (subscribers.client_type == "pubsub").all()
    assert (df.loc[(df["sub"] == 0) & (df["psub"] == 0), "client_type"] == "normal").all()
    patterns = cl.read_client_list(PASTES / "09-redis-1939-2.8-long-names-colons.txt")
    assert patterns.loc[patterns.psub == 1, "client_type"].eq("pubsub").all()


@needs_pastes
@pytest.mark.parametrize("name, lines", [
    ("03-redis-1145-2.6.6-redacted-wrapped.txt", [1]),  # "... omem=0 events=r" / " cmd=select"
    ("27-monitor-client-redacted-wrapped-indented.txt", [1]),  # the half with omem=2129300608 is cut off
])
def test_a_client_line_cut_by_a_paste_is_rejected_not_kept_half(name: str, lines: list[int]) -> None:
    df = cl.read_client_list(PASTES / name)
    rej = rejects(df)
    assert rej.loc[rej.reason == "incomplete", "line"].tolist() == lines
    assert df.cmd.notna().all() and df.omem.notna().all()
    assert lines[0] not in df.line.tolist()


def test_valkey_unix_addresses_join_monitor_sources() -> None:
    """Valkey 8+ lists a unix client as addr=[<path>:0]:0; MONITOR (Redis and Valkey) prints
    unix:<path>. A real server gives the MONITOR line and the socket path; Valkey is not
    installable here, so its CLIENT LIST line is written by hand from that path."""
    from monitorlens.analysis.clientlist import attach_names

    with RedisServer() as server:
        path = server.unix_path
        monitor = server.client().connection_pool.get_connection()
        monitor.send_command("MONITOR")
        assert monitor.read_response() in (b"OK", "OK")
        server.client(via="unix").set("k", "v")
        line = monitor.read_response()
        monitor.disconnect()
    line = line.decode() if isinstance(line, bytes) else line
    events = monitorlens.read_monitor([line.encode()])
    assert events.client.tolist() == [f"unix:{path}"]
    valkey = (f"id=7 addr=[{path}:0]:0 laddr=[{path}:0]:0 fd=9 name=worker age=3 idle=0 flags=U db=0 sub=0 "
              "psub=0 ssub=0 multi=-1 watch=0 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 "
              "oll=0 omem=0 tot-mem=1800 events=r cmd=set user=default redir=-1 resp=2 lib-name= lib-ver= "
              "io-thread=0 tot-net-in=1 tot-net-out=1 tot-cmds=1").encode()
    taken = int(events.ts[0].timestamp()) + 1  # a snapshot just after the event, the client 3 s old
    snap = cl.read_client_list(io.BytesIO(b"# %d\n" % taken + valkey + b"\n"))
    assert (snap.addr_kind[0], snap.host[0], snap.monitor_source[0]) == ("unix", path, f"unix:{path}")
    assert cl.addr_parts(snap.addr[0], True)[3] == f"unix:{path}"
    named = attach_names(events, snap)
    assert named["name"].tolist() == ["worker"]


@pytest.mark.parametrize("data", [b"", b"garbage\nmore garbage\n", b"Type = BulkString\n"])
def test_an_unusable_clients_file_is_an_error(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "clients.log"
    path.write_bytes(data)
    with pytest.raises(InputError, match="no row of CLIENT LIST snapshots"):
        load_snapshots(path)
    with pytest.raises(InputError, match="no row of connection counts"):
        load_connections(path)
    from monitorlens.cli import main

    capture = ROOT / "sample_captures" / "grammar" / "monitor.txt"
    assert main(["summary", str(capture), "--clients", str(path)]) == 1


def test_a_real_client_list_with_a_prompt_reads_like_without() -> None:
    """What redis-cli prints interactively (a prompt line, then the list) reads as the list alone."""
    from monitorlens.live import client_list_bytes

    with RedisServer() as server:
        named = server.client(client_name="app-1")
        named.ping()
        listed = client_list_bytes(server.client())
        named.close()
    plain = cl.read_client_list(io.BytesIO(listed))
    prompted = cl.read_client_list(io.BytesIO(b"127.0.0.1:6379> client list\n" + listed))
    assert kind_of(b"127.0.0.1:6379> client list\n" + listed) == "clients"
    assert prompted.drop(columns="line").equals(plain.drop(columns="line"))
    assert "app-1" in set(plain.name)
    assert isinstance(pd.Series(plain.id).iloc[0], (int,)) or plain.id.dtype == "Int64"
