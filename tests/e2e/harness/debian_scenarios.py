"""The debian-* scenarios: a real Debian 12 root (debootstrap, systemd as PID 1, Debian's kernel
and the initramfs update-initramfs built in it) on a virtio disk, with warmboot installed as a
user would have it. The base root is built once per machine (debian_base.py), each run's image
from it (debian_image.py). The guest side is guest/debian/: warmboot-e2e.service runs the stage
once multi-user.target is reached and powers off through systemd.

Registered in scenarios.SCENARIOS (main imports this module after scenarios), so they run after
the initramfs scenarios, in the order defined here.
"""

import glob
import os
import re
import subprocess
import types
import uuid

from .checks import Checks, check_guest_pass
from .common import say
from .debian_base import base_root
from .debian_image import build_image
from .machines import PMEM_RAM_KB
from .qemu import KERNEL_PROBLEM_RE
from .scenarios import scenario

PMEM_REGION_BYTES = 528 << 20  # memmap=528M!2032M
# (state, failed units) of a boot that went well. ndctl-monitor.service fails on legacy pmem (no
# DIMMs to monitor; guest/debian/scenarios.sh), and may do so just after `systemctl
# is-system-running --wait` said "running" and before the failed units are listed.
SYSTEMD_OK = (("running", "none"), ("degraded", "ndctl-monitor.service"),
              ("running", "ndctl-monitor.service"))


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
    qemu_ended = q.killed_by is None and q.exit_code == 0
    # The kernel's last console line can be lost as QEMU exits at the power-off (seen once in
    # 50-odd runs, 2026-12-06): QEMU ending by itself after the poweroff hook is the same proof.
    c.expect(any("reboot: Power down" in line for line in lines) or qemu_ended,
             "the kernel powered down")
    c.expect(qemu_ended, f"QEMU ended by itself (exit {q.exit_code}, killed: {q.killed_by})")
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
             SYSTEMD_OK,
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

    # The same root on a machine without persistent memory: installed, it changes nothing and
    # says so (the postinst, when the builder has none either; the initramfs at every boot).
    host_pmem = any(os.path.exists(p) for p in ("/sys/firmware/acpi/tables/NFIT",
                                                 "/sys/bus/platform/devices/e820_pmem")) or \
        bool(glob.glob("/sys/bus/nd/devices/region*"))
    if not host_pmem:
        c.expect("installed but idle: its units stay inactive" in image.installed,
                 f"postinst on a machine without pmem says so: {image.installed}")
    q2 = env.debian("debian-boot-nopmem", image, "debian-boot", extra="wbe2e.stage=2",
                    pmem=False)
    b2 = q2.run()
    check_guest_pass(c, b2)
    sd2 = step_ok(c, b2, "systemd", multi_user="active")
    c.expect((sd2.get("state"), sd2.get("failed")) in SYSTEMD_OK,
             f"no pmem: systemd state {sd2.get('state')!r}, failed {sd2.get('failed')!r}")
    idle = step_ok(c, b2, "nopmem")
    units = {k: v for k, v in idle.items() if k.startswith("warmboot")}
    c.expect(len(units) == 6 and set(units.values()) == {"inactive"} and
             idle.get("condition") == "no",
             f"no pmem: every warmboot unit inactive by its conditions: {idle}")
    c.expect(idle.get("boot_json") == "0" and idle.get("history") == facts.get("history") and
             idle.get("nd_devices") == "0",
             f"no pmem: nothing restored or recorded (boot.json {idle.get('boot_json')}, history "
             f"{idle.get('history')} lines as before: {facts.get('history')})")
    (_, line2), _ = initramfs_line(b2)
    c.expect(line2 is not None and "no persistent memory on this machine" in line2,
             f"no pmem: the initramfs said so in one line: {line2!r}")
    check_shutdown(c, q2, image)

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
    return c, [q, q2]


# What the package's initramfs-tools hook puts into the initramfs (lsinitramfs lists paths
# without the leading slash; the modules by file name, compressed or not).
INITRAMFS_FILES = ["usr/bin/warmboot", "usr/lib/warmboot/wait-pmem", "etc/warmboot/warmboot.conf",
                   "scripts/local-premount/warmboot"]
INITRAMFS_MODULES = ["libnvdimm", "nd_pmem", "nd_btt", "dax_pmem", "device_dax", "kmem",
                     "nd_e820", "nfit"]
# The namespace boot 2's configuration names: there is none of that name.
MISSING_NAMESPACE = "namespace9.9"


def initramfs_line(boot):
    """The boot script's one line on the console, from "warmboot: " on (initramfs-tools' own
    "Begin: Running /scripts/local-premount ... " may precede it on the same line), if it came
    before systemd's first line; its index among the console's lines, and systemd's first."""
    lines = [line.strip() for _, line in boot.lines]
    first_systemd = next((i for i, line in enumerate(lines)
                          if line.startswith("Welcome to") or "systemd[1]" in line), len(lines))
    for i, line in enumerate(lines[:first_systemd]):
        m = re.match(r"(?:Begin: Running /scripts/local-premount \.\.\. )?(warmboot: .*)", line)
        if m:
            return (i, m.group(1)), first_systemd
    return (None, None), first_systemd


def unit_lines(boot):
    lines = [line.strip() for _, line in boot.lines]
    try:
        a = lines.index("WB-E2E-UNIT-LINE-BEGIN")
        b = lines.index("WB-E2E-UNIT-LINE-END", a)
    except ValueError:
        return []
    return lines[a + 1:b]


def check_restore_units(c, b, run, unit, history_lines):
    """The unit's state and one line, the state target, the history's length."""
    u = step_ok(c, b, "restore-units", target="active")
    c.expect((u.get("unit"), u.get("exit")) == unit,
             f"{run}: warmboot-restore.service (ActiveState, exit) {(u.get('unit'), u.get('exit'))}"
             f", expected {unit}")
    c.expect(u.get("history_lines") == str(history_lines),
             f"{run}: {u.get('history_lines')} lines in boots.jsonl, expected {history_lines}")
    lines = unit_lines(b)
    c.expect(len(lines) == 1, f"{run}: the unit said one line: {lines}")
    return u, (lines[0] if lines else "")


@scenario
def scenario_debian_cold(env):
    """A cold boot of the real root with the .deb installed: the initramfs-tools hook put warmboot
    into the initramfs, its script restored before the root was mounted (nothing to restore: the
    pmem became System RAM, 4 blocks online Movable), warmboot-restore.service found that and
    only recorded the boot (cold), warmboot-state.target active. Then a boot whose configuration
    names a namespace that does not exist and whose command line names an image: both restores
    fail, the boot completes, the boot is recorded failed-warm with the reason."""
    c = Checks("debian-cold")
    base = base_root()
    image = build_image(base, env.programs, env.args.build_dir, name="debian-cold")
    c.kernel = types.SimpleNamespace(release=image.release, suite=f"{base.meta['suite']} root")
    listed = image.initramfs_files
    for f in INITRAMFS_FILES:
        c.expect(f in listed, f"lsinitramfs: {f} in the initramfs")
    for m in INITRAMFS_MODULES:
        c.expect(any(re.search(rf"/{m}\.ko(\.\w+)?$", p) for p in listed),
                 f"lsinitramfs: module {m} in the initramfs")

    # Boot 1: cold.
    q1 = env.debian("debian-cold-1", image, "debian-cold")
    b1 = q1.run()
    check_guest_pass(c, b1)
    sd1 = step_ok(c, b1, "systemd", multi_user="active")
    c.expect((sd1.get("state"), sd1.get("failed")) in
             SYSTEMD_OK,
             f"boot 1: systemd state {sd1.get('state')!r}, failed units {sd1.get('failed')!r}")
    (i, line), first_systemd = initramfs_line(b1)
    c.expect(line is not None and line.startswith("warmboot: cold boot: this boot's command line "
                                                  "names no image; restore nothing-to-restore"),
             f"boot 1: the initramfs said on the console, before systemd started, that it "
             f"restored nothing on a cold boot: {line!r}")
    c.expect(line is not None and "the pmem is System RAM" in line and "exit 0" in line,
             f"boot 1: the initramfs gave the pmem to System RAM: {line!r}")
    r = c.doc(b1, "restore-report", rc=0)
    c.expect((r.get("ran_in"), r.get("outcome"), r.get("memory_returned")) ==
             ("initramfs", "nothing-to-restore", True),
             f"boot 1: restore.json (ran_in, outcome, memory_returned) "
             f"{(r.get('ran_in'), r.get('outcome'), r.get('memory_returned'))}")
    rec = c.doc(b1, "boot-record", rc=0)
    c.expect(rec.get("type") == "cold" and rec.get("reason") ==
             "this boot's command line names no image",
             f"boot 1: boot.json type {rec.get('type')!r}, reason {rec.get('reason')!r}")
    c.expect(rec.get("history", "").startswith("appended to /var/lib/warmboot/boots.jsonl"),
             f"boot 1: the unit appended the history: {rec.get('history')!r}")
    st = c.doc(b1, "status", rc=0)
    dev = st.get("device", {})
    c.expect(dev.get("mode") == "system-ram" and dev.get("blocks_online") == 4 and
             dev.get("blocks_total") == 4,
             f"boot 1: status: mode {dev.get('mode')!r}, {dev.get('blocks_online')} of "
             f"{dev.get('blocks_total')} blocks online, expected 4 of 4")
    zones = {blk.get("zone") for blk in dev.get("blocks", [])}
    c.expect(zones == {"Movable"}, f"boot 1: blocks in zones {zones}, want Movable")
    c.expect((st.get("boot") or {}).get("type") == "cold", f"boot 1: status boot {st.get('boot')}")
    u1, unit1 = check_restore_units(c, b1, "boot 1", ("active", "0"), 1)
    c.expect(unit1.startswith("warmboot: cold boot: ") and
             "this boot's restore already ran (in the initramfs, nothing-to-restore): nothing "
             "to do" in unit1,
             f"boot 1: the unit said it had nothing to do: {unit1!r}")
    hist = c.doc(b1, "history", rc=0)
    c.expect(hist.get("type") == "cold" and hist.get("boot_id") == rec.get("boot_id"),
             f"boot 1: boots.jsonl's last line is this cold boot: {hist}")
    check_shutdown(c, q1, image)

    # Boot 2: the namespace the configuration names does not exist (in the initramfs's copy,
    # appended by the harness, and the root's, changed by boot 1) and an image is named.
    named = str(uuid.uuid4())
    bad = image.with_initrd_overlay("debian-cold-2", {
        "/etc/warmboot/warmboot.conf": f"namespace = {MISSING_NAMESPACE}\n"})
    q2 = env.debian("debian-cold-2", bad, "debian-cold",
                    extra=f"wbe2e.stage=2 warmboot.image={named}")
    b2 = q2.run()
    check_guest_pass(c, b2)
    sd2 = step_ok(c, b2, "systemd", multi_user="active")
    c.expect(sd2.get("state") == "degraded" and "warmboot-restore.service" in
             sd2.get("failed", "").split(","),
             f"boot 2: the boot completed, degraded by the failed restore: state "
             f"{sd2.get('state')!r}, failed {sd2.get('failed')!r}")
    (i2, line2), _ = initramfs_line(b2)
    c.expect(line2 is not None and line2.startswith("warmboot: restore FAILED (exit 1), the boot "
                                                    "goes on") and MISSING_NAMESPACE in line2,
             f"boot 2: the initramfs said its failure on the console and went on: {line2!r}")
    rec2 = c.doc(b2, "boot-record", rc=0)
    c.expect(rec2.get("type") == "failed-warm" and rec2.get("named_image") == named and
             f"names image {named}, but the restore failed" in rec2.get("reason", "") and
             MISSING_NAMESPACE in rec2.get("reason", ""),
             f"boot 2: boot.json failed-warm with the reason: {rec2.get('type')!r}, "
             f"{rec2.get('reason')!r}")
    r2 = c.doc(b2, "restore-report", rc=0)
    c.expect((r2.get("ran_in"), r2.get("outcome")) == ("system", "failed"),
             f"boot 2: the unit tried again and failed too: {(r2.get('ran_in'), r2.get('outcome'))}")
    u2, unit2 = check_restore_units(c, b2, "boot 2", ("failed", "1"), 2)
    c.expect("in the initramfs failed" in unit2 and "trying again" in unit2,
             f"boot 2: the unit retried after the initramfs's failure: {unit2!r}")
    hist2 = c.doc(b2, "history", rc=0)
    c.expect(hist2.get("type") == "failed-warm", f"boot 2: boots.jsonl's last line: {hist2}")
    m1, m2 = b1.mem("multi-user"), b2.mem("multi-user")
    if c.expect(m1 is not None and m2 is not None, "memory marks of both boots"):
        delta = int(m1["memtotal_kb"]) - int(m2["memtotal_kb"])
        c.expect(abs(delta - PMEM_RAM_KB) <= 16 * 1024,
                 f"MemTotal of the cold boot exceeds the failed one's by {delta} kB, expected "
                 f"about {PMEM_RAM_KB} kB (the pmem as System RAM)")
    check_shutdown(c, q2, image)

    # The initramfs step's time on the cold boot, from its own line.
    tm = re.search(r"\(initramfs ([\d.]+) s: pmem probed in ([\d.]+) s, restore ([\d.]+) s",
                   line or "")
    say("debian-cold: initramfs restore step " +
        (f"{tm.group(1)} s (pmem probed {tm.group(2)} s, restore {tm.group(3)} s)" if tm else "-")
        + f"; boot 1: systemd at {sd1.get('userspace_t')} s, multi-user at "
        f"{sd1.get('multi_user_t')} s; boot 2: multi-user at {sd2.get('multi_user_t')} s")
    say(f"debian-cold: boot 1 initramfs: {line}")
    say(f"debian-cold: boot 1 unit: {unit1}")
    say(f"debian-cold: boot 2 initramfs: {line2}")
    say(f"debian-cold: boot 2 unit: {unit2}")
    return c, [q1, q2]
