"""warmboot's end-to-end VM test: real kernels, real pmem, real kexec, under QEMU (TCG).

Run through tests/e2e/run, which installs what it needs first. See tests/e2e/README.md.
"""

import argparse
import os
import time
import traceback

from .build import binaries
from .checks import check_kernel_logs
from .common import BUILD, LOGS, WORK, say
from .initramfs import build_initramfs
from .kernel import DEFAULT_SUITE, SUITES, fetch_kernel
from .machines import Env
from .report import print_reports, print_summary, print_timeline, tail_log
from .scenarios import SCENARIOS
from . import debian_scenarios  # noqa: F401  registers the debian-* scenarios, after the others
from . import debian_warm  # noqa: F401  registers debian-warm, after the other debian-* ones


def main():
    ap = argparse.ArgumentParser(prog="tests/e2e/run", description=__doc__)
    ap.add_argument("scenarios", nargs="*", help=f"scenarios to run (default all: "
                                                 f"{' '.join(SCENARIOS)})")
    ap.add_argument("--build-dir", default=os.path.join(BUILD, "e2e-build"),
                    help="where warmboot is built (Release)")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    ap.add_argument("--mib", type=int, default=int(os.environ.get("WB_E2E_MIB", "256")),
                    help="MiB of random state in happy/powercut (default 256)")
    ap.add_argument("--files", type=int, default=int(os.environ.get("WB_E2E_FILES", "3000")),
                    help="small files in happy (default 3000)")
    ap.add_argument("--quick", action="store_true", help="an eighth of the state sizes")
    ap.add_argument("--kexec", choices=["auto", "tools", "warmboot"], default="auto",
                    help="how the guest kexecs (default: warmboot's own when it has one)")
    ap.add_argument("--boot-timeout", type=int, default=300,
                    help="seconds one kernel may take from boot to its next (default 300)")
    ap.add_argument("--run-timeout", type=int, default=900, help="seconds per QEMU run")
    ap.add_argument("--cut-delay", type=float, default=0.5,
                    help="powercut: seconds between the provisional header and the kill")
    ap.add_argument("--loglevel", type=int, default=4, help="guest console loglevel")
    ap.add_argument("--kernel-suite", choices=SUITES, default=DEFAULT_SUITE,
                    help="the Debian suite whose kernel the guest boots (default bookworm: "
                         "Debian 12's own)")
    args = ap.parse_args()
    names = args.scenarios or list(SCENARIOS)
    for n in names:
        if n not in SCENARIOS:
            ap.error(f"unknown scenario {n!r}; known: {' '.join(SCENARIOS)}")
    os.makedirs(LOGS, exist_ok=True)
    os.makedirs(WORK, exist_ok=True)

    programs = binaries(args.build_dir, build=not args.no_build)
    kernel = fetch_kernel(args.kernel_suite)
    initrd = build_initramfs(kernel, programs)
    env = Env(args, kernel, initrd, programs)

    results = {}  # name -> (ok, seconds, failures, the kernel it booted)
    for n in names:
        say(f"=== scenario {n}")
        t = time.monotonic()
        try:
            c, runs = SCENARIOS[n](env)
        except Exception as e:  # a harness bug must not hide the other scenarios
            traceback.print_exc()
            results[n] = (False, time.monotonic() - t, [f"harness error: {e}"], kernel)
            continue
        check_kernel_logs(c, runs)
        booted = c.kernel or kernel
        print_timeline(n, runs, booted)
        print_reports(n, runs)
        ok = not c.failures
        if not ok:
            for q in runs:
                tail_log(q)
        results[n] = (ok, time.monotonic() - t, c.failures, booted)
        say(f"=== scenario {n}: {'PASS' if ok else 'FAIL'} ({c.passed} checks passed, "
            f"{len(c.failures)} failed, {time.monotonic() - t:.0f} s)")

    print_summary(results)
    return 0 if all(r[0] for r in results.values()) else 1
