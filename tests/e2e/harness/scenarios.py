"""The scenarios: each boots one or more QEMU machines and checks what the guest printed.

Adding one:
  * the guest side: shell functions scenario_NAME_STAGE in guest/scenarios.sh (stage 1 runs at
    the cold boot; a kexec or another QEMU run carries wbe2e.stage=N to the next);
  * here: a function scenario_NAME(env) under @scenario that boots the machines through env
    (env.legacy() or env.nvdimm(); sizes() for wbe2e.* parameters scaled by --quick), checks
    the documents with a Checks and the check_* helpers, and returns (checks, [every Qemu it
    ran]); main then checks each run's kernel log and prints the timeline and the reports;
  * a row in the scenario table of tests/e2e/README.md.
`tests/e2e/run` runs every registered scenario in the order they are defined here.
"""

import time

from .checks import (Checks, check_app, check_cold_restore, check_guest_pass, check_memory_back,
                     check_preserve, check_restored)
from .common import MIB, say
from .machines import fresh_nvdimm_backing, sizes

SCENARIOS = {}  # name -> scenario function, in definition order


def scenario(fn):
    """Registers scenario_NAME as NAME."""
    name = fn.__name__
    assert name.startswith("scenario_"), name
    SCENARIOS[name[len("scenario_"):]] = fn
    return fn


@scenario
def scenario_happy(env):
    c = Checks("happy")
    q = env.legacy("happy", "happy",
                   sizes(env, mib=env.args.mib, files=env.args.files, mib2=64, files2=1000))
    b = q.run()
    runs = [q]
    check_guest_pass(c, b)
    check_cold_restore(c, b)
    w = c.doc(b, "app-write-1", rc=0)
    c.expect(w.get("random_bytes", 0) >= (env.args.mib if not env.args.quick else 1) * MIB,
             "app-write-1: random data written")
    prev = "after-restore-cold"
    for i in (1, 2):
        name = f"preserve-{i}"
        restore = check_restored(c, b, f"restore-{i}")
        pres = (b.json.get(name) or {}).get("doc") or restore.get("preserve_report") or {}
        if name in b.json:
            check_preserve(c, b, name, prev)
        c.expect(pres.get("image_sealed") is True and pres.get("memory_removed") is True,
                 f"{name}: sealed with the memory removed")
        gen = (pres.get("pack") or {}).get("generation")
        c.expect(gen == i, f"{name}: image generation {gen}, expected {i}")
        c.expect(restore.get("preserve_report") is not None,
                 f"restore-{i}: carries the preserve report across the kexec")
        c.expect((restore.get("unpack") or {}).get("damaged", []) == [],
                 f"restore-{i}: nothing damaged")
        check_app(c, b, f"app-check-{i}")
        prev = f"after-restore-{i}"
    again = c.doc(b, "restore-again", rc=0)
    c.expect(again.get("outcome") == "nothing-to-restore" and again.get("memory_returned") is True,
             f"restore-again: {again.get('outcome')!r}, memory_returned "
             f"{again.get('memory_returned')}")
    delta = c.mem_delta_kb(b, "after-restore-2", "after-restore-again")
    c.expect(delta == 0, f"restore-again: MemTotal changed by {delta} kB")
    return c, runs


@scenario
def scenario_damage(env):
    c = Checks("damage")
    q = env.legacy("damage", "damage", sizes(env, mib=32, files=300) if not env.args.quick
                   else "wbe2e.mib=8 wbe2e.files=50")
    b = q.run()
    runs = [q]
    check_guest_pass(c, b)
    check_cold_restore(c, b)
    check_preserve(c, b, "preserve-1", "after-restore-cold")
    c.doc(b, "verify-after-damage", rc=3)
    r = check_restored(c, b, "restore-1", rc=3, outcome="partial")
    damaged = (r.get("unpack") or {}).get("damaged", [])
    c.expect(len(damaged) == 1, f"restore-1: {len(damaged)} damaged segment(s), expected 1")
    if damaged:
        d = damaged[0]
        c.expect(d.get("path") == "blobs/blob-0000.bin",
                 f"restore-1: damaged segment is {d.get('path')!r}, expected blobs/blob-0000.bin")
        ranges = d.get("damaged_ranges", [])
        c.expect(ranges == [{"offset": 5 * MIB, "length": MIB}],
                 f"restore-1: damaged ranges {ranges}, expected the 1 MiB chunk at 5 MiB")
        c.expect(bool(d.get("quarantined_as")), "restore-1: the damaged file is quarantined")
    a = check_app(c, b, "app-check-1", quarantined=1)
    qs = a.get("quarantined", [])
    if qs:
        c.expect(qs[0].get("path") == "blobs/blob-0000.bin" and qs[0].get("named_in_report"),
                 f"app-check-1: quarantined {qs[0]}")
        c.expect(0 < qs[0].get("differing_bytes", 0) <= MIB,
                 f"app-check-1: the quarantined copy differs in {qs[0].get('differing_bytes')} "
                 "bytes, at most one chunk")
    return c, runs


@scenario
def scenario_badblocks(env):
    c = Checks("badblocks")
    q = env.legacy("badblocks", "badblocks", "wbe2e.mib=32 wbe2e.files=300")
    b = q.run()
    runs = [q]
    check_guest_pass(c, b)
    check_cold_restore(c, b)
    r = check_restored(c, b, "restore-1", rc=3, outcome="partial")
    bad = r.get("bad_ranges", [])
    c.expect(bad == [{"offset": 8192 + 9 * MIB, "length": 4096}],
             f"restore-1: known bad ranges {bad}, expected 4096 bytes at 8192 + 9 MiB")
    damaged = (r.get("unpack") or {}).get("damaged", [])
    c.expect(len(damaged) == 1 and damaged[0].get("path") == "blobs/blob-0000.bin"
             and damaged[0].get("damaged_ranges") == [{"offset": 9 * MIB, "length": MIB}],
             f"restore-1: damaged {damaged}, expected chunk 9 of blobs/blob-0000.bin")
    phases = {p.get("phase"): p for p in r.get("phases", [])}
    clear = phases.get("clear media errors")
    c.expect(clear is not None and clear.get("ok") is True,
             f"restore-1: 'clear media errors' phase ok: {clear}")
    check_app(c, b, "app-check-1", quarantined=1)
    return c, runs


HEADER_MAGIC = b"WARMBOOT"
SEAL_MAGIC = b"WBSEAL01"


def read_at(path, off, n):
    with open(path, "rb") as fh:
        fh.seek(off)
        return fh.read(n)


@scenario
def scenario_powercut(env):
    c = Checks("powercut")
    backing = fresh_nvdimm_backing("nvdimm-powercut.img")
    runs = []
    # Run 1: set the labels up, write state, kill QEMU while preserve writes the image.
    state = {"seen_at": None, "data_at_kill": 0}

    def cut(q, boot):
        if boot.step("preserve-begin") is None or "preserve-1" in boot.json:
            return None  # not started yet, or finished (too late: the check below fails)
        # The provisional header is written first (no seal); the cut comes once chunk data has
        # started to land behind it, and well before the seal.
        if read_at(backing, 0, 8) != HEADER_MAGIC or not any(read_at(backing, 8192, 4096)):
            return None
        if state["seen_at"] is None:
            state["seen_at"] = time.monotonic()
        if time.monotonic() - state["seen_at"] < env.args.cut_delay:
            return None
        if read_at(backing, 4096, 8) == SEAL_MAGIC:
            return None
        return (f"power cut: chunk data landing on the NVDIMM for "
                f"{time.monotonic() - state['seen_at']:.1f} s, no seal yet")

    q1 = env.nvdimm("powercut-1", "powercut", backing, 1,
                    sizes(env, mib=env.args.mib, files=1000))
    b1 = q1.run(trigger=cut)
    runs.append(q1)
    c.expect(q1.killed_by and q1.killed_by.startswith("power cut"),
             f"powercut-1: QEMU killed mid-write (killed_by={q1.killed_by!r}, "
             f"result={b1.result})")
    check_cold_restore(c, b1)
    # Below 2 MiB the namespace was never System RAM (devdax keeps it for its info block, padded
    # to the alignment), so bytes there are the image's; above, stale RAM contents would blur
    # the count.
    head, seal = read_at(backing, 0, 8), read_at(backing, 4096, 8)
    data = any(read_at(backing, 8192, 4096))
    c.expect(head == HEADER_MAGIC and seal != SEAL_MAGIC and data,
             f"after the cut: header {head!r}, seal {seal!r}, data at 8 KiB: {data} "
             "(want a provisional header, chunk data, no seal)")
    say(f"powercut: after the cut the NVDIMM holds a provisional header {head!r}, chunk data "
        f"at 8 KiB: {data}, and no seal ({seal!r})")
    if not c.failures:
        # Run 2: cold boot: no sealed image; then a sealed one and a power-off.
        q2 = env.nvdimm("powercut-2", "powercut", backing, 2, sizes(env, mib2=32, files2=300))
        b2 = q2.run()
        runs.append(q2)
        c.expect(b2.result is not None and b2.result.get("result") == "pass",
                 f"powercut-2: guest result {b2.result}")
        r = check_restored(c, b2, "restore-after-cut", rc=4, outcome="no-valid-image")
        c.expect("not sealed" in r.get("message", ""),
                 f"restore-after-cut: message says 'not sealed': {r.get('message')!r}")
        p = c.doc(b2, "preserve-2", rc=0)
        c.expect(p.get("image_sealed") is True, "preserve-2: sealed")
        # Run 3: after a power cycle the sealed image is restored.
        q3 = env.nvdimm("powercut-3", "powercut", backing, 3)
        b3 = q3.run()
        runs.append(q3)
        c.expect(b3.result is not None and b3.result.get("result") == "pass",
                 f"powercut-3: guest result {b3.result}")
        check_restored(c, b3, "restore-after-power-cycle")
        check_app(c, b3, "app-check-2")
    return c, runs


@scenario
def scenario_nvdimm(env):
    """A warm reboot on the emulated NVDIMM: the NFIT bus and labels through a kexec (powercut
    only ever cold-boots it)."""
    c = Checks("nvdimm")
    backing = fresh_nvdimm_backing("nvdimm-kexec.img")
    q = env.nvdimm("nvdimm", "nvdimm", backing, 1, sizes(env, mib=128, files=500))
    b = q.run()
    check_guest_pass(c, b)
    check_cold_restore(c, b)
    restore = check_restored(c, b, "restore-1")
    pres = (b.json.get("preserve-1") or {}).get("doc") or restore.get("preserve_report") or {}
    c.expect(pres.get("image_sealed") is True and pres.get("memory_removed") is True,
             "preserve-1: sealed with the memory removed")
    c.expect("namespace label named 'warmboot'" in pres.get("notes", []),
             f"preserve-1: the label was named: notes {pres.get('notes')}")
    c.expect((restore.get("unpack") or {}).get("damaged", []) == [], "restore-1: nothing damaged")
    dev = c.doc(b, "status-after-restore-1", rc=0).get("device", {})
    c.expect(dev.get("labeled") is True and dev.get("label_name") == "warmboot",
             f"status after restore-1: label {dev.get('label_name')!r} after the kexec")
    # QEMU puts the NVDIMM's memory in node 1 (-device nvdimm,node=1): kmem onlines it there.
    c.expect(dev.get("target_node") == 1,
             f"status after restore-1: target_node {dev.get('target_node')}, expected 1")
    check_app(c, b, "app-check-1")
    return c, [q]


@scenario
def scenario_toobig(env):
    c = Checks("toobig")
    q = env.legacy("toobig", "toobig", "wbe2e.mib=64 wbe2e.files=300 wbe2e.bulk=600")
    b = q.run()
    runs = [q]
    check_guest_pass(c, b)
    check_cold_restore(c, b)
    p = c.doc(b, "preserve-1", rc=1)
    err = p.get("error") or {}
    c.expect(err.get("code") == "no-space", f"preserve-1: error code {err.get('code')!r}, "
             "expected no-space")
    c.expect(p.get("memory_removed") is False, "preserve-1: memory not removed")
    names = [ph.get("phase") for ph in p.get("phases", [])]
    c.expect(not any("offline" in (n or "") or "unbind" in (n or "") for n in names),
             f"preserve-1: no offline/unbind phase ran: {names}")
    delta = c.mem_delta_kb(b, "before-preserve-1", "after-preserve-1")
    c.expect(delta == 0, f"preserve-1: MemTotal changed by {delta} kB")
    st = c.doc(b, "status-after-preserve-1", rc=0).get("device", {})
    c.expect(st.get("mode") == "system-ram" and st.get("blocks_online") == st.get("blocks_total"),
             f"status after the refusal: {st.get('mode')}, {st.get('blocks_online')} of "
             f"{st.get('blocks_total')} blocks online")
    r = c.doc(b, "restore-1", rc=0)
    c.expect(r.get("outcome") == "nothing-to-restore",
             f"restore-1 after a plain kexec: outcome {r.get('outcome')!r}")
    check_memory_back(c, b, "restore-1", r)
    return c, runs
