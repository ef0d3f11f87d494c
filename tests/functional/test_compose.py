"""docker-compose.yml and Dockerfile: three hosts of one network file (issue 6).

There is no Docker daemon here, so the compose file is checked by reading it: three services
of one image, each its own address on a user-defined bridge network, the network file mounted
read-only, each `--connect`ing to the other two, ports published. Then the very command lines
it declares run as plain `powchain` processes on 127.0.0.1, rewriting only hosts and ports
(container address -> 127.0.0.1 and a free port) and mounted paths (-> files of this test):
they must form a full mesh, and node1's mining must reach every node.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from .framework import NodeProcess, TestFramework, free_port, sync_blocks, wait_until
from .netfile_nodes import add_command_node, connected, create_network

pytestmark = [pytest.mark.functional, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"


def load_services() -> tuple[dict[str, Any], dict[str, Any]]:
    doc = yaml.safe_load(COMPOSE.read_text())
    return doc["services"], doc


def flag_values(command: list[str], flag: str) -> list[str]:
    return [command[i + 1] for i, arg in enumerate(command[:-1]) if arg == flag]


def only(command: list[str], flag: str) -> str:
    values = flag_values(command, flag)
    assert len(values) == 1, f"{flag} given {len(values)} times in {command}"
    return values[0]


def address(service: dict[str, Any]) -> str:
    (settings,) = service["networks"].values()
    return str(settings["ipv4_address"])


def mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """container path -> (host path or volume name, mode)."""
    found = {}
    for volume in service["volumes"]:
        source, target, *mode = volume.split(":")
        found[target] = (source, mode[0] if mode else "rw")
    return found


def test_dockerfile_runs_powchain_on_python_311() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert stages and set(stages) == {"python:3.11-slim"}
    assert re.search(r"^RUN pip wheel .* \.$", text, re.MULTILINE)  # pip installs this project
    assert re.search(r"^RUN pip install .*/wheels/\*\.whl", text, re.MULTILINE)
    assert 'ENTRYPOINT ["powchain"]' in text
    assert re.search(r"^EXPOSE 48744 48745$", text, re.MULTILINE)


def test_compose_declares_three_hosts_of_one_network_file() -> None:
    services, doc = load_services()
    assert len(services) == 3
    (network_name,) = doc["networks"]
    network = doc["networks"][network_name]
    assert network["driver"] == "bridge"
    subnet = ipaddress.ip_network(network["ipam"]["config"][0]["subnet"])
    ips = {name: address(s) for name, s in services.items()}
    assert len(set(ips.values())) == 3
    assert all(ipaddress.ip_address(ip) in subnet for ip in ips.values())
    files, host_ports = set(), []
    for name, service in services.items():
        assert service["build"] == "." and service["image"] == "powchain:latest"
        command = service["command"]
        assert command[0] == "node"
        container_file = only(command, "--network-file")
        host_file, mode = mounts(service)[container_file]
        assert mode == "ro", f"{name}: the network file must be mounted read-only"
        files.add(host_file)
        datadir = only(command, "--datadir")
        assert datadir in mounts(service), f"{name}: the datadir must be a volume"
        p2p_port = only(command, "--p2p").rpartition(":")[2]
        others = {f"{ip}:{p2p_port}" for other, ip in ips.items() if other != name}
        assert set(flag_values(command, "--connect")) == others
        published = [str(p).split(":") for p in service["ports"]]
        # P2P on every interface of the host, the API only on its loopback
        p2p = [p for p in published if p[-1] == p2p_port]
        api = [p for p in published if p[-1] == only(command, "--api").rpartition(":")[2]]
        assert len(p2p) == 1 and len(p2p[0]) == 2, f"{name}: publish the P2P port"
        assert len(api) == 1 and api[0][0] == "127.0.0.1", f"{name}: API on loopback only"
        host_ports += [p2p[0][0], api[0][1]]
    assert len(set(host_ports)) == 6, "each node has its own host ports"
    assert len(files) == 1, "every node reads the same network file"
    assert any("--mine" in s["command"] for s in services.values())


def rewrite(
    command: list[str],
    service: dict[str, Any],
    ports: dict[str, tuple[int, int]],
    by_address: dict[str, str],
    paths: dict[str, Path],
    name: str,
) -> list[str]:
    """The command with container addresses, ports and mounted paths made local."""
    local = {target: paths[source] for target, (source, _) in mounts(service).items()}
    out = []
    for flag, arg in zip(["", *command[:-1]], command, strict=True):
        if flag == "--p2p":
            arg = f"127.0.0.1:{ports[name][0]}"
        elif flag == "--api":
            arg = f"127.0.0.1:{ports[name][1]}"
        elif flag == "--connect":
            host, _, port = arg.rpartition(":")
            peer = by_address[host]
            assert port == only(load_services()[0][peer]["command"], "--p2p").rpartition(":")[2]
            arg = f"127.0.0.1:{ports[peer][0]}"
        elif arg in local:
            arg = str(local[arg])
        out.append(arg)
    return out


def test_compose_nodes_run_as_local_processes(framework: TestFramework) -> None:
    log = framework.log
    tmp = framework.tmp_path
    services, _ = load_services()

    log.info("Create the network file the compose file mounts (2-s blocks)")
    network, _ = create_network(tmp / "network.toml", "compose", "--block-time", "2")

    log.info("Give each service a local port pair and data directory in place of its host")
    names = sorted(services)
    ports = {name: (free_port(), free_port()) for name in names}
    by_address = {address(services[name]): name for name in names}
    paths: dict[str, Path] = {}  # mount source -> local path
    for name in names:
        for source, _mode in mounts(services[name]).values():
            is_file = source.endswith(".toml")
            paths[source] = tmp / "network.toml" if is_file else tmp / f"volume-{source}"

    log.info("Start the three command lines the compose file declares")
    nodes: dict[str, NodeProcess] = {}
    for name in names:
        command = rewrite(services[name]["command"], services[name], ports, by_address, paths, name)
        p2p, api = ports[name]
        datadir = Path(only(command, "--datadir"))
        assert datadir.is_relative_to(tmp)
        nodes[name] = add_command_node(framework, command, datadir, p2p_port=p2p, api_port=api)

    log.info("Each node is connected to the other two")

    def mesh() -> bool:
        for name, node in nodes.items():
            seen = {p.get("listen_port") for p in connected(node)}
            if not {ports[other][0] for other in names if other != name} <= seen:
                return False
        return True

    wait_until(mesh, 90, 0.3, "a full mesh of the compose nodes")
    for node in nodes.values():
        status = node.status()
        assert (status["network"], status["chain_id"]) == ("compose", network.params.chain_id)

    log.info("The mining node's blocks reach every node")
    wait_until(lambda: all(n.height >= 2 for n in nodes.values()), 120, 0.5, "height 2 everywhere")
    sync_blocks(list(nodes.values()))
