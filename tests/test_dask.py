"""The same partial aggregation on a real dask.distributed cluster (worker processes over TCP on
loopback) gives what the local run gives: one task per text file and per Parquet row group,
merged on the cluster."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

distributed = pytest.importorskip("distributed")

from monitorlens.analysis.stream import aggregate  # noqa: E402
from monitorlens.store import convert  # noqa: E402

from test_partials import SAMPLES, assert_same  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None) as c:
        yield c


def test_dask_equals_local(cluster, tmp_path: Path) -> None:
    convert(SAMPLES["grammar"], tmp_path / "g.parquet")
    table = pq.read_table(tmp_path / "g.parquet")
    pq.write_table(table.replace_schema_metadata(pq.read_metadata(tmp_path / "g.parquet").metadata),
                   tmp_path / "grammar.parquet", row_group_size=20)
    sources = [SAMPLES["incident"], SAMPLES["calm"], tmp_path / "grammar.parquet"]
    local = aggregate(sources, workers=0)
    remote = aggregate(sources, scheduler=cluster.scheduler_address)
    assert_same(local.analysis(), remote.analysis())
    assert remote.nodes().equals(local.nodes())
    assert remote.slots().equals(local.slots())
    assert remote.analysis().overview.events == sum(local.nodes()["count"])


def test_dask_with_a_client(cluster) -> None:
    with distributed.Client(cluster) as client:
        remote = aggregate(SAMPLES["grammar"], scheduler=client)
        assert client.status == "running"  # a Client given is the caller's: left open
    assert_same(aggregate(SAMPLES["grammar"], workers=0).analysis(), remote.analysis())


def test_cli_scheduler(cluster, capsys) -> None:
    """``summary --scheduler`` prints what ``summary`` prints."""
    import json

    from monitorlens.cli import main

    assert main(["summary", str(SAMPLES["incident"]), "--json"]) == 0
    here = json.loads(capsys.readouterr().out)
    assert main(["summary", str(SAMPLES["incident"]), "--json", "--scheduler", cluster.scheduler_address]) == 0
    there = json.loads(capsys.readouterr().out)
    assert here == there and here["events"] > 5000


def test_cli_scheduler_with_client_list_names(cluster, capsys) -> None:
    """``--clients`` on the cluster: each task names its blocks by time, as here."""
    import json

    from monitorlens.cli import main

    folder = SAMPLES["incident"].parent
    argv = ["summary", str(SAMPLES["incident"]), "--clients", str(folder / "clients.log.gz"), "--json",
            "--since", "2026-11-25T21:25:10Z"]
    for extra in ([], ["--client", "web-1", "--client", "lua"]):
        assert main([*argv, *extra]) == 0
        here = json.loads(capsys.readouterr().out)
        assert main([*argv, *extra, "--scheduler", cluster.scheduler_address]) == 0
        there = json.loads(capsys.readouterr().out)
        assert here == there and "clientlist" in here
        assert any(a["named"] for a in here["applications"]) and any(c["name"] for c in here["clients"])
