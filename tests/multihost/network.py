"""Two "hosts" on one machine: Linux network namespaces, each joined to the root by a veth pair.

Each host gets a /30 of its own in 10.231.0.0/16 (a range no distribution or cloud uses by
default): the root side holds ``.1`` (or ``.5``), where the private Postgres and Redis listen, and
the namespace holds the other end. Nothing else on the machine gets an address or a route: the
test creates every namespace and link itself, and ``remove`` deletes them all.
"""

import contextlib
import ipaddress
import os
import random
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field

PREFIX = ipaddress.ip_network("10.231.0.0/16")


def ip(*args: str) -> str:
    """Run ``ip ARGS``; its output. ``CalledProcessError`` (with iproute2's message) on failure."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise subprocess.CalledProcessError(
            done.returncode, ["ip", *args], done.stdout, done.stderr
        )
    return done.stdout


def namespaces_missing() -> str | None:
    """Why this machine cannot build network namespaces, or None when it can."""
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    if shutil.which("ip") is None:
        return "iproute2's ip command is not installed"
    probe = f"gyprobe{uuid.uuid4().hex[:6]}"
    try:
        ip("netns", "add", probe)
    except subprocess.CalledProcessError as exc:
        return f"ip netns add failed ({exc.stderr.strip()})"
    ip("netns", "del", probe)
    return None


@dataclass
class Host:
    """One namespace: its name, its root-side link and the two ends' addresses."""

    namespace: str
    root_link: str
    root_address: str  # where the host reaches the databases
    address: str  # the host's own address, inside its namespace

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside this host's namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def cut(self) -> None:
        """Take the host's only link down, as an unplugged cable: its packets go nowhere."""
        ip("link", "set", self.root_link, "down")


@dataclass
class Hosts:
    """Namespaces made by ``build``; ``remove`` deletes whatever of them exists."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    hosts: list[Host] = field(default_factory=list)

    def build(self, count: int) -> list[Host]:
        """``count`` hosts, each a namespace with a veth pair up and addressed."""
        subnets = list(free_subnet(count * 4).subnets(new_prefix=30))
        for index in range(count):
            name = f"gy{self.tag}{chr(ord('a') + index)}"  # interface names: 15 bytes at most
            root_end, host_end = list(subnets[index].hosts())
            host = Host(f"{name}-ns", f"{name}0", str(root_end), str(host_end))
            self.hosts.append(host)
            ip("netns", "add", host.namespace)
            ip("link", "add", host.root_link, "type", "veth", "peer", "name", f"{name}1")
            ip("link", "set", f"{name}1", "netns", host.namespace)
            ip("addr", "add", f"{root_end}/30", "dev", host.root_link)
            ip("link", "set", host.root_link, "up")
            inside = ["netns", "exec", host.namespace, "ip"]
            ip(*inside, "addr", "add", f"{host_end}/30", "dev", f"{name}1")
            ip(*inside, "link", "set", f"{name}1", "up")
            ip(*inside, "link", "set", "lo", "up")
        return self.hosts

    def remove(self) -> None:
        """Delete every namespace and root-side link made (deleting one end removes the pair)."""
        for host in self.hosts:
            for args in (("link", "del", host.root_link), ("netns", "del", host.namespace)):
                with contextlib.suppress(subprocess.CalledProcessError):  # never made, or gone
                    ip(*args)
        self.hosts.clear()


def free_subnet(size: int) -> ipaddress.IPv4Network:
    """A block of ``size`` addresses in PREFIX that no interface of the machine overlaps."""
    taken = [
        ipaddress.ip_interface(word).network
        for line in ip("-4", "-o", "addr", "show").splitlines()
        for word in line.split()[3:4]
    ]
    prefix = 32 - (size - 1).bit_length()
    blocks = list(PREFIX.subnets(new_prefix=prefix))
    for block in random.sample(blocks, len(blocks)):
        if not any(block.overlaps(network) for network in taken):
            return block
    raise RuntimeError(f"no free /{prefix} left in {PREFIX}")
