"""Checks: a scenario's expectations, counted (passed) or collected (failures, printed in the
summary), and the check_* helpers the scenarios share."""

from .common import say
from .machines import PMEM_RAM_KB


class Checks:
    def __init__(self, scenario):
        self.scenario = scenario
        self.failures = []
        self.passed = 0
        # The kernel the scenario booted when it is not the suite's (the debian-* scenarios
        # boot their root's own): anything with `release` and `suite`, for the reports.
        self.kernel = None

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


def check_kernel_logs(c, runs):
    """Every run: no warning, oops, call trace, hung task or failed offline in the kernel logs
    the guest dumped, and at least one dumped (unless the harness killed QEMU)."""
    for q in runs:
        problems = q.boot.kernel_problems()
        c.expect(not problems, f"{q.name}: kernel log problems: {problems[:5]}")
        c.expect(q.killed_by or len(q.boot.dmesg) >= 1, f"{q.name}: kernel log dumped")
