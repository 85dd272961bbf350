"""What every part of the harness shares: where things go under build/, the timestamped log
line, and running a command that must succeed."""

import os
import subprocess
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/e2e
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, "build")
LOGS = os.path.join(BUILD, "e2e-logs")
WORK = os.path.join(BUILD, "e2e-work")

MIB = 1 << 20
T0 = time.monotonic()


def say(msg):
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


# modprobe, depmod and kexec live in /usr/sbin, which a user's PATH may lack.
os.environ["PATH"] = os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"


def sh(cmd, **kw):
    """Runs a command, failing loudly with its output."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if r.returncode != 0:
        raise SystemExit(f"e2e: command failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout}")
    return r.stdout
