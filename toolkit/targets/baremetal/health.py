"""Whether the bare-metal app answers: every process of every app host, asked on its own host.

Asked over SSH on the host itself (``127.0.0.1:<port><health_path>``), as the app role's own
health wait does: no name, certificate or route from the operator's machine is needed, and a
process that answers there is one its proxies reach.
"""

from __future__ import annotations

import concurrent.futures
import shlex
import time

from toolkit import ssh
from toolkit.errors import CheckFailed
from toolkit.spec import LoadedSpec
from toolkit.targets.baremetal.fleet import read_fleet
from toolkit.targets.baremetal.inventory import InventoryHost

# Prints each port's HTTP status (0: no answer), once every port answers 200 or time is up.
PROBE = r"""
import sys, time, urllib.request, urllib.error
path, deadline, ports = sys.argv[1], time.monotonic() + float(sys.argv[2]), sys.argv[3:]
def status(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0
while True:
    seen = {port: status(port) for port in ports}
    if all(code == 200 for code in seen.values()) or time.monotonic() > deadline:
        sys.stdout.write(" ".join(f"{port}={code}" for port, code in seen.items()) + "\n")
        break
    time.sleep(0.1)
"""


def wait_app_healthy(loaded: LoadedSpec, timeout: float = 30.0) -> dict[str, float]:
    """Seconds until each app host's processes all answered 200; ``CheckFailed`` naming the rest."""
    fleet = read_fleet(loaded, every_group=False)
    app_hosts = [host for host in fleet.hosts.values() if "app" in host.groups]
    if not app_hosts:
        raise CheckFailed(f"inventory {fleet.inventory} has no host in group app")
    app = loaded.spec.app
    command = "python3 -c " + " ".join(shlex.quote(part) for part in (
        PROBE, app.health_path, str(timeout), *(str(port) for port in app.ports)))
    started = time.monotonic()

    def ask(host: InventoryHost) -> tuple[str, str, float]:
        client = ssh.connect(host.address, user=host.user or fleet.ssh.user, key_file=fleet.ssh.key_file,
                             known_hosts=fleet.ssh.known_hosts, port=host.port)
        try:
            result = ssh.run(client, command, timeout=timeout + 15)
        finally:
            client.close()
        return host.name, result.stdout.strip() or result.stderr.strip()[-300:], time.monotonic() - started

    with concurrent.futures.ThreadPoolExecutor(len(app_hosts)) as pool:
        answers = list(pool.map(ask, app_hosts))
    unhealthy = [f"{name}: {seen}" for name, seen, _ in answers
                 if not seen or any(not part.endswith("=200") for part in seen.split())]
    if unhealthy:
        raise CheckFailed(f"the app does not answer {app.health_path} with 200 within {timeout:.0f} s: "
                          + "; ".join(unhealthy))
    return {name: round(seconds, 3) for name, _, seconds in answers}
