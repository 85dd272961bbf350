"""The debian-* scenarios: a real Debian 12 root (debootstrap, systemd as PID 1, Debian's kernel
and the initramfs update-initramfs built in it) on a virtio disk, with warmboot installed as a
user would have it. The base root is built once per machine (debian_base.py), each run's image
from it (debian_image.py). The guest side is guest/debian/: warmboot-e2e.service runs the stage
once multi-user.target is reached and powers off through systemd.

Registered in scenarios.SCENARIOS (main imports this module after scenarios), so they run after
the initramfs scenarios, in the order defined here.
"""

import re
import subprocess
import types

from .checks import Checks, check_guest_pass
from .common import say
from .debian_base import base_root
from .debian_image import build_image
from .qemu import KERNEL_PROBLEM_RE
from .scenarios import scenario

PMEM_REGION_BYTES = 528 << 20  # memmap=528M!2032M


def step_ok(c, boot, name, **want):
    """The guest's step `name` was marked ok, with the given field values; returns its fields."""
    e = boot.step(name)
    c.expect(e is not None and e.get("ok") == "1", f"{name}: step marked ok ({e})")
    e = e or {}
    for k, v in want.items():
        c.expect(e.get(k) == v, f"{name}: {k}={e.get(k)!r}, expected {v!r}")
    return e


def check_shutdown(c, q, image):
    """systemd powered the machine off cleanly: its system-shutdown hook ran, the kernel
    powered down, QEMU exited by itself, no kernel problem on the console after the guest's
    last kernel log, and the root file system is clean (no journal to replay, fsck finds
    nothing)."""
    b = q.boot
    hook = b.step("shutdown-hook")
    c.expect(hook is not None and hook.get("verb") == "poweroff",
             f"systemd-shutdown ran its hooks for a poweroff: {hook}")
    lines = [line for _, line in b.lines]
    c.expect(any("reboot: Power down" in line for line in lines), "the kernel powered down")
    c.expect(q.killed_by is None and q.exit_code == 0,
             f"QEMU ended by itself (exit {q.exit_code}, killed: {q.killed_by})")
    last_dump = max((i for i, line in enumerate(lines) if "WB-E2E-DMESG-END" in line), default=0)
    late = [line.strip() for line in lines[last_dump:]
            if KERNEL_PROBLEM_RE.search(line) and "WB-E2E" not in line]
    c.expect(not late, f"no kernel problem on the console during the shutdown: {late[:5]}")
    r = subprocess.run(["e2fsck", "-fn", image.disk], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    c.expect(r.returncode == 0,
             f"e2fsck -fn of the root after the power-off: exit {r.returncode}: "
             f"{r.stdout.strip()[-400:]}")


def ndctl_region(doc):
    """region0 from `ndctl list -RN` (a region object, or {"regions": [...]})."""
    if isinstance(doc, dict) and "regions" in doc:
        return next((r for r in doc["regions"] if r.get("dev") == "region0"), {})
    return doc if isinstance(doc, dict) else {}


@scenario
def scenario_debian_boot(env):
    """Boots the real root to multi-user.target: systemd running with no failed unit, the
    legacy pmem region there (ndctl), warmbootd socket-activated by `warmboot api status`, a
    clean power-off."""
    c = Checks("debian-boot")
    base = base_root()
    image = build_image(base, env.programs, env.args.build_dir)
    c.kernel = types.SimpleNamespace(release=image.release, suite=f"{base.meta['suite']} root")
    q = env.debian("debian-boot", image, "debian-boot")
    b = q.run()
    check_guest_pass(c, b)
    sd = step_ok(c, b, "systemd", multi_user="active")
    # ndctl-monitor.service fails on legacy pmem (no DIMMs to monitor; guest/debian/
    # scenarios.sh): the only failed unit allowed, and only with the state it causes.
    c.expect((sd.get("state"), sd.get("failed")) in
             (("running", "none"), ("degraded", "ndctl-monitor.service")),
             f"systemd: state {sd.get('state')!r} with failed units {sd.get('failed')!r}")
    boot = step_ok(c, b, "boot", init="systemd")
    c.expect(boot.get("kernel") == image.release,
             f"boot: kernel {boot.get('kernel')!r}, expected the root's {image.release!r}")
    region = step_ok(c, b, "pmem-region")
    c.expect(region.get("size") == str(PMEM_REGION_BYTES),
             f"pmem-region: size {region.get('size')}, expected {PMEM_REGION_BYTES}")
    nd = ndctl_region(c.doc(b, "ndctl-list", rc=0))
    c.expect(nd.get("dev") == "region0" and nd.get("namespaces"),
             f"ndctl list -RN: region0 with a namespace: {nd}")
    sock = step_ok(c, b, "warmbootd-socket", socket="active")
    c.expect(sock.get("service") != "active",
             f"warmbootd not running before the first connection (service={sock.get('service')})")
    st = c.doc(b, "api-status", rc=0)
    c.expect(st.get("ok") is True, f"api status: ok ({st})")
    step_ok(c, b, "warmbootd-started", service="active")
    facts = b.step("facts") or {}
    check_shutdown(c, q, image)

    # Where the time went: the base root (once per machine), this run's image, the boot.
    seen = b.step("boot")
    say("debian-boot: base root " + (f"built in {base.meta['build_seconds']:.0f} s (once per "
                                     f"machine)" if base.built_now else "cached")
        + f"; image {image.seconds:.0f} s; QEMU start to the test unit "
        + (f"{seen['host_t']:.0f} s" if seen else "-")
        + f"; guest: systemd started {sd.get('userspace_t')} s after the kernel (kernel + "
        f"initramfs), multi-user.target at {sd.get('multi_user_t')} s; "
        f"QEMU {q.seconds:.0f} s in all")
    say(f"debian-boot: noticed: /run is {facts.get('run_fs')}, kexec_loaded="
        f"{facts.get('kexec_loaded')}, `systemctl --dry-run kexec` exit "
        f"{facts.get('systemctl_kexec_dry_run_rc')}; at systemd-shutdown's end: "
        + " ".join(f"{k}={v}" for k, v in (b.step("shutdown-hook") or {}).items()
                   if k in ("run_fs", "root", "kexec_loaded")))
    for _, line in b.lines:
        if re.match(r"(systemd-analyze|systemctl --dry-run kexec|known failed unit)", line):
            say(f"debian-boot: guest: {line.strip()}")
    return c, [q]
