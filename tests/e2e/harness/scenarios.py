#!/usr/bin/env python3
"""warmboot's end-to-end VM test: real kernels, real pmem, real kexec, under QEMU (TCG).

Run through tests/e2e/run, which installs what it needs first. See tests/e2e/README.md.
"""

import argparse
import json
import os
import time

from .build import binaries
from .common import BUILD, LOGS, MIB, ROOT, T0, WORK, say
from .initramfs import build_initramfs
from .kernel import fetch_kernel
from .qemu import Qemu

# The legacy pmem region: 528 MiB at 2032 MiB. devdax "map mem" keeps 2 MiB of it for its page
# map and kmem adds whole 128 MiB blocks, so exactly 4 blocks (512 MiB) become System RAM.
MEMMAP = "memmap=528M!2032M"
PMEM_RAM_KB = 4 * 128 * 1024
# The emulated NVDIMM's backing file: 1 GiB of region plus the 128 KiB label area.
NVDIMM_BYTES = 1073872896


# ---------------------------------------------------------------------------------------------
# Checks and reports.


class Checks:
    def __init__(self, scenario):
        self.scenario = scenario
        self.failures = []
        self.passed = 0

    def expect(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failures.append(what)
            say(f"{self.scenario}: CHECK FAILED: {what}")
        return bool(cond)

    def doc(self, boot, name, rc=None):
        """The JSON document `name` printed in this boot, checking its exit code when given."""
        j = boot.json.get(name)
        if not self.expect(j is not None and j["doc"] is not None, f"{name}: JSON report present"):
            return {}
        if rc is not None and j["rc"] is not None:
            self.expect(j["rc"] == rc, f"{name}: exit code {j['rc']}, expected {rc}")
        return j["doc"]

    def mem_delta_kb(self, boot, before, after):
        a, b = boot.mem(before), boot.mem(after)
        if not self.expect(a is not None and b is not None, f"memory marks {before}/{after}"):
            return None
        return int(b["memtotal_kb"]) - int(a["memtotal_kb"])


def phases_text(doc, indent="      "):
    out = []
    for p in doc.get("phases", []) or []:
        out.append(f"{indent}{p.get('phase', '?'):<34} {p.get('seconds', 0):8.3f} s  "
                   f"{'' if p.get('ok', True) else 'FAILED '}{p.get('detail', '')}")
    return "\n".join(out)


def print_timeline(scenario, runs):
    """Every step with the host time it was seen (seconds since QEMU started), the time since
    the previous step, and the guest's own measure of the step; warmboot's phases below their
    step. A command that kexec'd (warmboot preserve with its own kexec) shows as 'kexec'd'."""
    print(f"\n=== timeline: {scenario}", flush=True)
    for q in runs:
        b = q.boot
        print(f"  {q.name}: QEMU {q.seconds:.1f} s, exit {q.exit_code}"
              + (f", killed: {q.killed_by}" if q.killed_by else ""))
        rows = [(e["host_t"], e) for e in b.events if "step" in e or "result" in e]
        for name, j in b.json.items():
            if j["rc"] is None and j["doc"] is not None:
                secs = sum(p.get("seconds", 0) for p in j["doc"].get("phases", []))
                rows.append((j["end_t"], {"step": name, "ok": "1" if j["doc"].get("ok") else "0",
                                          "host_t": j["end_t"], "guest_s": secs,
                                          "then": "kexec"}))
        rows.sort(key=lambda r: r[0])
        prev = 0.0
        for host_t, e in rows:
            if "step" in e:
                dur = ""
                if "guest_s" in e:
                    dur = f"{e['guest_s']:7.2f} s"
                elif "start" in e and "t" in e:
                    try:
                        dur = f"{float(e['t']) - float(e['start']):7.2f} s"
                    except ValueError:
                        pass
                extra = " ".join(f"{k}={v}" for k, v in e.items()
                                 if k not in ("kind", "host_t", "step", "ok", "t", "start",
                                              "guest_s"))
                print(f"    {host_t:7.1f}s  +{host_t - prev:6.1f}  "
                      f"{'ok  ' if e.get('ok') == '1' else 'FAIL'} {e['step']:<26} "
                      f"{dur:>9}  {extra}")
                j = b.json.get(e["step"])
                if j and j["doc"] and j["doc"].get("phases"):
                    print(phases_text(j["doc"]))
            else:
                print(f"    {host_t:7.1f}s  +{host_t - prev:6.1f}  result={e['result']} "
                      f"{e.get('reason', '')}")
            prev = host_t
    print(flush=True)


def print_reports(scenario, runs, names=None):
    """Prints the guest's preserve/restore reports (compact)."""
    for q in runs:
        for name, j in q.boot.json.items():
            if not (name.startswith("preserve") or name.startswith("restore")):
                continue
            if names and name not in names:
                continue
            doc = dict(j["doc"] or {})
            doc.pop("preserve_report", None)
            dev = doc.get("device")
            if isinstance(dev, dict):
                dev = dict(dev)
                dev.pop("blocks", None)
                doc["device"] = dev
            how = "no exit: it kexec'd" if j["rc"] is None else f"exit {j['rc']}"
            print(f"--- {q.name}: {name} ({how}):")
            print(json.dumps(doc, indent=1, sort_keys=True)[:6000])


def tail_log(q, n=80):
    print(f"--- last {n} lines of {os.path.relpath(q.log, ROOT)}:")
    for _, line in q.boot.lines[-n:]:
        print("  | " + line)


# ---------------------------------------------------------------------------------------------
# Scenarios.


class Env:
    def __init__(self, args, vmlinuz, initrd):
        self.args = args
        self.vmlinuz = vmlinuz
        self.initrd = initrd

    def cmdline(self, scenario, extra="", nvdimm=False, stage=1):
        parts = ["console=ttyS0", "panic=-1", f"loglevel={self.args.loglevel}"]
        if not nvdimm:
            parts.append(MEMMAP)
        parts += [f"wbe2e.scenario={scenario}", f"wbe2e.stage={stage}"]
        if self.args.kexec != "auto":
            parts.append(f"wbe2e.kexec={self.args.kexec}")
        if nvdimm:
            parts.append("wbe2e.nvdimm=1")
        return " ".join(parts + ([extra] if extra else []))

    def legacy(self, name, scenario, extra=""):
        return Qemu(name, ["-machine", "pc", "-m", "3G"], self.cmdline(scenario, extra),
                    self.vmlinuz, self.initrd, self.args.boot_timeout, self.args.run_timeout)

    def nvdimm(self, name, scenario, backing, stage, extra=""):
        machine = ["-machine", "q35,nvdimm=on", "-m", "2G,slots=2,maxmem=8G",
                   "-object", "memory-backend-ram,id=m0,size=2G",
                   "-numa", "node,nodeid=0,cpus=0-1,memdev=m0", "-numa", "node,nodeid=1",
                   "-object", f"memory-backend-file,id=mem1,share=on,mem-path={backing},"
                              f"size={NVDIMM_BYTES}",
                   "-device", "nvdimm,id=nvdimm1,memdev=mem1,label-size=128K,node=1"]
        return Qemu(name, machine, self.cmdline(scenario, extra, nvdimm=True, stage=stage),
                    self.vmlinuz, self.initrd, self.args.boot_timeout, self.args.run_timeout)


def sizes(env, **defaults):
    """wbe2e.* size parameters, scaled down with --quick."""
    out = []
    for k, v in defaults.items():
        if env.args.quick:
            v = max(1, v // 8)
        out.append(f"wbe2e.{k}={v}")
    return " ".join(out)


def check_guest_pass(c, boot):
    """The guest's own verdict on its scenario script, with its reason when it failed."""
    r = boot.result
    c.expect(r is not None and r.get("result") == "pass",
             f"guest result: {r.get('result') if r else 'none'} {r.get('reason', '') if r else ''}")


def check_cold_restore(c, boot, name="restore-cold"):
    doc = c.doc(boot, name, rc=0)
    c.expect(doc.get("outcome") == "nothing-to-restore",
             f"{name}: outcome {doc.get('outcome')!r}, expected nothing-to-restore")
    check_memory_back(c, boot, name, doc)


def check_memory_back(c, boot, name, doc):
    c.expect(doc.get("memory_returned") is True, f"{name}: memory_returned")
    delta = c.mem_delta_kb(boot, "before-" + name, "after-" + name)
    if delta is not None:
        c.expect(delta >= PMEM_RAM_KB - 16 * 1024,
                 f"{name}: MemTotal grew by {delta} kB, expected about {PMEM_RAM_KB} kB")
    st = c.doc(boot, "status-after-" + name, rc=0)
    dev = st.get("device", {})
    c.expect(dev.get("mode") == "system-ram", f"status after {name}: mode {dev.get('mode')!r}")
    c.expect(dev.get("blocks_total", 0) > 0 and dev.get("blocks_online") == dev.get("blocks_total"),
             f"status after {name}: {dev.get('blocks_online')} of {dev.get('blocks_total')} "
             "blocks online")
    zones = {b.get("zone") for b in dev.get("blocks", [])}
    c.expect(zones == {"Movable"}, f"status after {name}: blocks in zones {zones}, want Movable")
    return delta


def check_preserve(c, boot, name, prev_mem=None):
    """A preserve that sealed its image. With kexec-tools the report is printed in the same boot
    (and the memory is marked after it); with warmboot's own kexec it comes back in the next
    restore's preserve_report."""
    j = boot.json.get(name)
    doc = j["doc"] if j and j["doc"] else None
    if doc is None:
        c.expect(False, f"{name}: JSON report present")
        return {}
    if j["rc"] is not None:
        c.expect(j["rc"] == 0, f"{name}: exit code {j['rc']}, expected 0")
    c.expect(doc.get("ok") is True and doc.get("image_sealed") is True,
             f"{name}: ok and image_sealed")
    c.expect(doc.get("memory_removed") is True, f"{name}: memory_removed")
    if prev_mem and boot.mem("after-" + name):
        delta = c.mem_delta_kb(boot, prev_mem, "after-" + name)
        c.expect(delta is not None and delta <= -(PMEM_RAM_KB - 16 * 1024),
                 f"{name}: MemTotal changed by {delta} kB, expected about -{PMEM_RAM_KB} kB")
    return doc


def check_restored(c, boot, name, rc=0, outcome="restored"):
    doc = c.doc(boot, name, rc=rc)
    c.expect(doc.get("outcome") == outcome,
             f"{name}: outcome {doc.get('outcome')!r}, expected {outcome}")
    mode = (doc.get("device") or {}).get("mode")
    c.expect(mode == "raw", f"{name}: the namespace came up {mode!r}, expected raw")
    check_memory_back(c, boot, name, doc)
    return doc


def check_app(c, boot, name, quarantined=0):
    doc = c.doc(boot, name, rc=0)
    c.expect(doc.get("ok") is True, f"{name}: the sample app's check passed")
    c.expect(doc.get("mismatched") == [] and doc.get("unexpected") == [],
             f"{name}: no mismatched or unexpected files: {doc.get('mismatched')} "
             f"{doc.get('unexpected')}")
    c.expect(len(doc.get("quarantined", [])) == quarantined,
             f"{name}: {len(doc.get('quarantined', []))} quarantined file(s), expected {quarantined}")
    c.expect(doc.get("files_checked", -1) + quarantined == doc.get("files_expected"),
             f"{name}: checked {doc.get('files_checked')} + {quarantined} quarantined of "
             f"{doc.get('files_expected')} files")
    return doc


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


HEADER_MAGIC = b"WARMBOOT"
SEAL_MAGIC = b"WBSEAL01"


def read_at(path, off, n):
    with open(path, "rb") as fh:
        fh.seek(off)
        return fh.read(n)


def fresh_nvdimm_backing(name):
    """An emulated NVDIMM's backing file, all zeros: empty labels, no image."""
    backing = os.path.join(WORK, name)
    if os.path.exists(backing):
        os.unlink(backing)
    with open(backing, "wb") as fh:
        fh.truncate(NVDIMM_BYTES)
    return backing


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
    # Below 2 MiB the namespace was never System RAM (devdax keeps it), so bytes there are the
    # image's; above, stale RAM contents would blur the count.
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


SCENARIOS = {
    "happy": scenario_happy,
    "damage": scenario_damage,
    "badblocks": scenario_badblocks,
    "powercut": scenario_powercut,
    "nvdimm": scenario_nvdimm,
    "toobig": scenario_toobig,
}


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
    args = ap.parse_args()
    names = args.scenarios or list(SCENARIOS)
    for n in names:
        if n not in SCENARIOS:
            ap.error(f"unknown scenario {n!r}; known: {' '.join(SCENARIOS)}")
    os.makedirs(LOGS, exist_ok=True)
    os.makedirs(WORK, exist_ok=True)

    warmboot, app = binaries(args.build_dir, build=not args.no_build)
    kdir, kver, vmlinuz = fetch_kernel()
    initrd = build_initramfs(kdir, kver, vmlinuz, warmboot, app)
    env = Env(args, vmlinuz, initrd)

    results = {}
    for n in names:
        say(f"=== scenario {n}")
        t = time.monotonic()
        try:
            c, runs = SCENARIOS[n](env)
        except Exception as e:  # a harness bug must not hide the other scenarios
            import traceback
            traceback.print_exc()
            results[n] = (False, time.monotonic() - t, [f"harness error: {e}"])
            continue
        for q in runs:
            problems = q.boot.kernel_problems()
            c.expect(not problems, f"{q.name}: kernel log problems: {problems[:5]}")
            c.expect(q.killed_by or len(q.boot.dmesg) >= 1, f"{q.name}: kernel log dumped")
        print_timeline(n, runs)
        print_reports(n, runs)
        ok = not c.failures
        if not ok:
            for q in runs:
                tail_log(q)
        results[n] = (ok, time.monotonic() - t, c.failures)
        say(f"=== scenario {n}: {'PASS' if ok else 'FAIL'} ({c.passed} checks passed, "
            f"{len(c.failures)} failed, {time.monotonic() - t:.0f} s)")

    print("\n=== e2e summary")
    for n, (ok, secs, fails) in results.items():
        print(f"  {n:<10} {'PASS' if ok else 'FAIL'}  {secs:6.0f} s")
        for f in fails:
            print(f"             - {f}")
    print(f"  total {time.monotonic() - T0:.0f} s; serial logs in {os.path.relpath(LOGS, ROOT)}/")
    passed = sum(1 for ok, _, _ in results.values() if ok)
    print(f"e2e: {passed} passed, {len(results) - passed} failed")
    return 0 if all(ok for ok, _, _ in results.values()) else 1
