"""The scenarios: each boots one or more QEMU machines and checks what the guest printed.

Adding one:
  * the guest side: shell functions scenario_NAME_STAGE in guest/scenarios.sh (stage 1 runs at
    the cold boot; a kexec or another QEMU run carries wbe2e.stage=N to the next; a hyphen in
    NAME is an underscore in the function's name);
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
from .machines import PMEM_RAM_KB, fresh_nvdimm_backing, sizes

SCENARIOS = {}  # name -> scenario function, in definition order


def scenario(fn):
    """Registers scenario_NAME as NAME, its underscores as hyphens (scenario_offline_refused is
    offline-refused; the guest's stage functions keep the underscores)."""
    name = fn.__name__
    assert name.startswith("scenario_"), name
    SCENARIOS[name[len("scenario_"):].replace("_", "-")] = fn
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
    check_token(c, b, 1, None)
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
        # The image was named on the next kernel's command line, and restored as meant for it.
        uuid = (pres.get("pack") or {}).get("uuid")
        c.expect(bool(uuid), f"{name}: pack.uuid {uuid!r}")
        if pres.get("kexec"):
            c.expect(pres["kexec"].get("image_token") == uuid,
                     f"{name}: kexec image_token {pres['kexec'].get('image_token')!r}, "
                     f"expected {uuid!r}")
        check_token(c, b, i + 1, uuid)
        c.expect(restore.get("image_intent") == "named" and restore.get("named_image") == uuid,
                 f"restore-{i}: image_intent {restore.get('image_intent')!r}, named_image "
                 f"{restore.get('named_image')!r} (want named, {uuid!r})")
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
        # A cold boot names no image: the sealed one is stale, kept with its memory...
        st = c.doc(b3, "restore-stale", rc=5)
        c.expect(st.get("outcome") == "stale-image" and st.get("image_kept") is True
                 and st.get("memory_returned") is False,
                 f"restore-stale: outcome {st.get('outcome')!r}, image_kept "
                 f"{st.get('image_kept')}, memory_returned {st.get('memory_returned')}")
        delta = c.mem_delta_kb(b3, "before-restore-stale", "after-restore-stale")
        c.expect(delta == 0, f"restore-stale: MemTotal changed by {delta} kB")
        # ... and restored by the stale_images = restore policy.
        r = check_restored(c, b3, "restore-after-power-cycle")
        c.expect(r.get("image_intent") == "policy",
                 f"restore-after-power-cycle: image_intent {r.get('image_intent')!r}, "
                 "expected policy (stale_images = restore)")
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


def step_fields(c, boot, name):
    """The key=value fields of the guest's step `name` ({} when it was not marked)."""
    e = boot.step(name)
    c.expect(e is not None, f"{name}: step marked")
    return e or {}


def check_online_movable(c, doc, what):
    """A status document: the namespace is System RAM, every block online in ZONE_MOVABLE."""
    dev = doc.get("device", {})
    zones = {blk.get("zone") for blk in dev.get("blocks", [])}
    c.expect(dev.get("mode") == "system-ram" and dev.get("blocks_total", 0) > 0
             and dev.get("blocks_online") == dev.get("blocks_total") and zones == {"Movable"},
             f"{what}: {dev.get('mode')!r}, {dev.get('blocks_online')} of "
             f"{dev.get('blocks_total')} blocks online, zones {zones} (want all online, Movable)")
    return dev


@scenario
def scenario_offline_refused(env):
    """The kernel refuses the offline (memory-notifier-error-inject, MEM_GOING_OFFLINE = -EBUSY):
    preserve gives up with everything as it was; later the online is refused after a restore."""
    c = Checks("offline-refused")
    q = env.legacy("offline-refused", "offline-refused", sizes(env, mib=32, files=300))
    b = q.run()
    check_guest_pass(c, b)
    check_cold_restore(c, b)
    # Stage 1: the refused preserve.
    p = c.doc(b, "preserve-refused", rc=1)
    err = p.get("error") or {}
    msg = err.get("message", "")
    c.expect(err.get("code") == "busy", f"preserve-refused: error code {err.get('code')!r}, "
             "expected busy")
    c.expect("out of System RAM" in msg and "all blocks are back online, nothing changed" in msg,
             f"preserve-refused: message says the offline was refused and rolled back: {msg!r}")
    c.expect(p.get("memory_removed") is False and p.get("image_sealed") is False,
             "preserve-refused: no memory removed, no image sealed")
    check_stopped_at_offline(c, p, "preserve-refused", "8 attempt(s)",
                             "the offline was tried 8 times and failed")
    delta = c.mem_delta_kb(b, "before-preserve-refused", "after-preserve-refused")
    c.expect(delta == 0, f"preserve-refused: MemTotal changed by {delta} kB")
    before = check_online_movable(c, c.doc(b, "status-before-preserve-refused", rc=0),
                                  "status before the refused preserve")
    after = check_online_movable(c, c.doc(b, "status-after-preserve-refused", rc=0),
                                 "status after the refused preserve")
    c.expect(before.get("blocks") == after.get("blocks"),
             f"the blocks are as they were: {before.get('blocks')} -> {after.get('blocks')}")
    sb, sa = step_fields(c, b, "state-before"), step_fields(c, b, "state-after")
    c.expect(sb.get("policy") == "online_movable" and sa.get("policy") == sb.get("policy"),
             f"auto_online_blocks {sb.get('policy')!r} before, {sa.get('policy')!r} after")
    c.expect(sb.get("state_sha256") and sa.get("state_sha256") == sb.get("state_sha256"),
             f"state tree sha256 {sb.get('state_sha256')} before, {sa.get('state_sha256')} after")
    check_app(c, b, "app-check-state")
    # Stage 1 then preserves without the fault; stage 2 refuses the online during restore.
    r = c.doc(b, "restore-1", rc=1)
    pres = (b.json.get("preserve-1") or {}).get("doc") or r.get("preserve_report") or {}
    if "preserve-1" in b.json:
        check_preserve(c, b, "preserve-1")
    c.expect(pres.get("image_sealed") is True and pres.get("memory_removed") is True,
             "preserve-1 (no fault): sealed with the memory removed")
    c.expect(r.get("outcome") == "restored" and r.get("image_kept") is False,
             f"restore-1: outcome {r.get('outcome')!r} image_kept {r.get('image_kept')}, "
             "expected restored (the image consumed)")
    c.expect((r.get("unpack") or {}).get("damaged", []) == [], "restore-1: nothing damaged")
    c.expect(r.get("memory_returned") is False, "restore-1: memory_returned false")
    emsg = (r.get("error") or {}).get("message", "")
    c.expect("cannot online" in emsg, f"restore-1: the error names the refused online: {emsg!r}")
    notes = r.get("notes", [])
    c.expect(any("giving the memory back failed" in n for n in notes),
             f"restore-1: a note says the memory was not given back: {notes}")
    delta = c.mem_delta_kb(b, "before-restore-1", "after-restore-1")
    c.expect(delta == 0, f"restore-1: MemTotal changed by {delta} kB with the online refused")
    dev = c.doc(b, "status-after-restore-1", rc=0).get("device", {})
    c.expect(dev.get("mode") == "system-ram" and dev.get("blocks_online") == 0
             and dev.get("blocks_total", 0) > 0,
             f"status after restore-1: {dev.get('mode')!r}, {dev.get('blocks_online')} of "
             f"{dev.get('blocks_total')} blocks online (want kmem bound, all offline)")
    check_app(c, b, "app-check-1")
    again = c.doc(b, "restore-again", rc=0)
    c.expect(again.get("outcome") == "nothing-to-restore",
             f"restore-again: outcome {again.get('outcome')!r}, expected nothing-to-restore")
    check_memory_back(c, b, "restore-again", again)
    check_app(c, b, "app-check-2")
    return c, [q]


@scenario
def scenario_noroom(env):
    """Restore cannot make room (a 64 MiB tmpfs on the restore directory, memory occupied): it
    keeps the sealed image and its memory; with room, the same image is restored."""
    c = Checks("noroom")
    q = env.legacy("noroom", "noroom", sizes(env, mib=192, files=300))
    b = q.run()
    check_guest_pass(c, b)
    check_cold_restore(c, b)
    hog = step_fields(c, b, "hog")
    say(f"noroom: hog {hog.get('hog_mib')} MiB, MemAvailable {hog.get('available_before_kb')} kB "
        f"-> {hog.get('available_kb')} kB")
    r = c.doc(b, "restore-noroom", rc=1)
    err = r.get("error") or {}
    msg = err.get("message", "")
    c.expect(err.get("code") == "no-space", f"restore-noroom: error code {err.get('code')!r}, "
             "expected no-space")
    c.expect("of memory" in msg and "tmpfs on /run/warmboot/restore" in msg
             and "nothing was written" in msg,
             f"restore-noroom: the error says memory is short and nothing was written: {msg!r}")
    c.expect(r.get("image_kept") is True and r.get("memory_returned") is False,
             f"restore-noroom: image_kept {r.get('image_kept')}, memory_returned "
             f"{r.get('memory_returned')} (want the image kept, the memory not returned)")
    c.expect("sealed image is kept" in r.get("message", ""),
             f"restore-noroom: the message says the image is kept: {r.get('message')!r}")
    phases = [ph.get("phase") for ph in r.get("phases", [])]
    c.expect(not any("unpack" in n or "devdax" in n or "kmem" in n for n in phases if n),
             f"restore-noroom: nothing unpacked, no transition: {phases}")
    delta = c.mem_delta_kb(b, "before-restore-noroom", "after-restore-noroom")
    c.expect(delta == 0, f"restore-noroom: MemTotal changed by {delta} kB")
    st = c.doc(b, "status-after-restore-noroom", rc=0)
    dev, img = st.get("device", {}), st.get("image") or {}
    c.expect(dev.get("mode") == "raw" and img.get("state") == "sealed"
             and img.get("waiting") is True,
             f"status after the refusal: mode {dev.get('mode')!r}, image {img.get('state')!r}, "
             f"waiting {img.get('waiting')} (want raw, sealed, waiting)")
    ent = step_fields(c, b, "restore-dir-after-refusal")
    c.expect(ent.get("entries") == "0",
             f"the restore directory is empty after the refusal: {ent.get('entries')} entries")
    ok = check_restored(c, b, "restore-1")
    c.expect(any("grew the tmpfs on /run/warmboot/restore" in n for n in ok.get("notes", [])),
             f"restore-1: grew the small tmpfs: {ok.get('notes')}")
    c.expect((ok.get("unpack") or {}).get("damaged", []) == [], "restore-1: nothing damaged")
    pres = ok.get("preserve_report") or {}
    c.expect(pres.get("image_sealed") is True, "restore-1: carries the sealed preserve report")
    check_app(c, b, "app-check-1")
    return c, [q]


@scenario
def scenario_roomgap(env):
    """As noroom, with the restore directory on /run (a tmpfs with room on paper) while memory is
    short: restore should refuse with the image kept. Fails at 1979590 (OOM, kernel panic)."""
    c = Checks("roomgap")
    q = env.legacy("roomgap", "roomgap", sizes(env, mib=192, files=300))
    b = q.run()
    check_guest_pass(c, b)
    check_cold_restore(c, b)
    hog = step_fields(c, b, "hog")
    say(f"roomgap: hog {hog.get('hog_mib')} MiB, MemAvailable {hog.get('available_before_kb')} kB "
        f"-> {hog.get('available_kb')} kB; /run has {hog.get('run_free_kb')} kB free on paper")
    r = c.doc(b, "restore-short", rc=1)
    err = r.get("error") or {}
    c.expect(err.get("code") == "no-space" and "nothing was written" in err.get("message", ""),
             f"restore-short: refused before the first byte: {err}")
    c.expect(r.get("image_kept") is True and r.get("memory_returned") is False,
             f"restore-short: image_kept {r.get('image_kept')}, memory_returned "
             f"{r.get('memory_returned')}")
    st = c.doc(b, "status-after-restore-short", rc=0)
    img = st.get("image") or {}
    c.expect(img.get("state") == "sealed" and img.get("waiting") is True,
             f"status after the refusal: image {img}")
    check_restored(c, b, "restore-1")
    check_app(c, b, "app-check-1")
    return c, [q]


@scenario
def scenario_foreign(env):
    """An administrator's namespace (fsdax with data; raw with a swap signature) is left exactly
    as it is, whether the configuration names it or not; a blank raw one only when unnamed.
    Handed over by name, warmboot's marks (dax uuid, image) then make it warmboot's unnamed."""
    c = Checks("foreign")
    q = env.legacy("foreign", "foreign")
    b = q.run()
    check_guest_pass(c, b)
    leave = "leaves it exactly as it is"
    for kind, tags, sysmode in (("fsdax", ("fsdax-unnamed", "fsdax-named"), "fsdax"),
                                ("swap", ("swap-named",), "raw"),
                                ("blank", ("blank-unnamed",), "raw")):
        base = step_fields(c, b, f"look-{kind}-before")
        c.expect(base.get("sysmode") == sysmode,
                 f"{kind}: the namespace is {base.get('sysmode')!r} before, expected {sysmode}")
        for tag in tags:
            for cmd in ("restore", "preserve", "discard"):
                d = c.doc(b, f"{cmd}-{tag}", rc=1)
                err = d.get("error") or {}
                c.expect(err.get("code") == "permission" and leave in err.get("message", ""),
                         f"{cmd}-{tag}: refused ({err.get('code')!r}: {err.get('message')!r})")
                if cmd == "preserve":
                    c.expect(d.get("memory_removed") is False and d.get("image_sealed") is False,
                             f"{cmd}-{tag}: nothing removed or sealed")
            st = c.doc(b, f"status-{tag}", rc=0)
            dev = st.get("device", {})
            c.expect(st.get("owned") is False, f"status-{tag}: owned {st.get('owned')}")
            c.expect(any(leave in w for w in st.get("warnings", [])),
                     f"status-{tag}: a warning says it is left alone: {st.get('warnings')}")
            want = "fsdax" if kind == "fsdax" else "raw"
            c.expect(dev.get("mode") == want, f"status-{tag}: mode {dev.get('mode')!r}")
            if kind == "swap":
                c.expect(dev.get("foreign_signature") == "swap",
                         f"status-{tag}: foreign_signature {dev.get('foreign_signature')!r}")
            if kind == "blank":
                c.expect("foreign_signature" not in dev and any(
                    "not marked as warmboot's and the configuration does not name it" in w
                    for w in st.get("warnings", [])),
                    f"status-{tag}: unmarked and unnamed: {st.get('warnings')}")
            for cmd in ("restore", "preserve", "discard", "status"):
                look = step_fields(c, b, f"look-after-{cmd}-{tag}")
                same = all(look.get(k) == base.get(k) for k in
                           ("sysmode", "ns_sha256", "marker_sha256", "head_sha256"))
                c.expect(same, f"after {cmd}-{tag}: the namespace is not as it was: "
                         f"{ {k: look.get(k) for k in ('sysmode', 'ns_sha256', 'marker_sha256')} } "
                         f"vs { {k: base.get(k) for k in ('sysmode', 'ns_sha256', 'marker_sha256')} }")
    # Named, the blank namespace is handed over: the cold restore makes it System RAM.
    check_cold_restore(c, b, "restore-named")
    # From then on warmboot's marks make it warmboot's without the name.
    st = c.doc(b, "status-marked", rc=0)
    dev = st.get("device", {})
    c.expect(st.get("owned") is True and (dev.get("dax_uuid") or "").startswith("7761726d-626f"),
             f"status-marked (unnamed): owned {st.get('owned')} by the dax uuid "
             f"{dev.get('dax_uuid')!r} (warmboot's begins with 'warmboot' in ASCII)")
    p = c.doc(b, "preserve-marked", rc=0)
    c.expect(p.get("image_sealed") is True and p.get("memory_removed") is True,
             "preserve-marked (unnamed, by the dax uuid): sealed with the memory removed")
    check_restored(c, b, "restore-marked")
    check_app(c, b, "app-check-marked")
    setup = step_fields(c, b, "fsdax-setup")
    base = step_fields(c, b, "look-fsdax-before")
    c.expect(setup.get("marker_sha256") == base.get("marker_sha256"),
             "fsdax: the marker reads back as written")
    return c, [q]


@scenario
def scenario_lock(env):
    """A second command while a real preserve holds the lock: a restore waiting 0.5 s refuses,
    naming the holder; one with the default wait waits, then restores what preserve sealed."""
    c = Checks("lock")
    q = env.legacy("lock", "lock", sizes(env, mib=256, files=1000))
    b = q.run()
    check_guest_pass(c, b)
    check_cold_restore(c, b)
    held = step_fields(c, b, "lock-held")
    pid = held.get("pid")
    ref = c.doc(b, "restore-refused", rc=1)
    err = ref.get("error") or {}
    msg = err.get("message", "")
    c.expect(err.get("code") == "busy", f"restore-refused: error code {err.get('code')!r}")
    c.expect("another warmboot command holds /run/warmboot/lock" in msg
             and f"pid {pid}, warmboot preserve" in msg and "nothing changed" in msg,
             f"restore-refused: names the holder (pid {pid}, preserve): {msg!r}")
    c.expect(ref.get("phases") == [] and "device" not in ref,
             f"restore-refused: did not look at the device: phases {ref.get('phases')}")
    after = step_fields(c, b, "after-refusal")
    c.expect(after.get("preserve_running") == "1",
             "the preserve still held the lock when the refusal came back (the waiting restore "
             "then started while it ran)")
    p = c.doc(b, "preserve-1", rc=0)
    c.expect(p.get("image_sealed") is True and p.get("memory_removed") is True,
             "preserve-1 (the holder): sealed with the memory removed")
    w = c.doc(b, "restore-waited", rc=0)
    c.expect(w.get("outcome") == "restored" and w.get("memory_returned") is True,
             f"restore-waited: outcome {w.get('outcome')!r}, memory_returned "
             f"{w.get('memory_returned')} (it waited for the preserve, then restored)")
    gen = (p.get("pack") or {}).get("generation")
    rgen = ((w.get("preserve_report") or {}).get("pack") or {}).get("generation")
    c.expect(gen is not None and rgen == gen,
             f"restore-waited restored the image preserve-1 sealed (generation {rgen} vs {gen})")
    delta = c.mem_delta_kb(b, "before-preserve-1", "after-restore-waited")
    c.expect(delta is not None and abs(delta) <= 16 * 1024,
             f"MemTotal after the restore is as before the preserve (changed by {delta} kB)")
    check_online_movable(c, c.doc(b, "status-after-restore-waited", rc=0),
                         "status after restore-waited")
    check_app(c, b, "app-check-1")
    return c, [q]


def phase_map(doc):
    return {ph.get("phase"): ph for ph in doc.get("phases", [])}


def check_stopped_at_offline(c, doc, who, detail, what):
    """A preserve that stopped at the offline step: it failed with `detail`, the rollback
    onlined every block again, and nothing past the offline (unbind, raw, write) ran. Returns
    the offline phase."""
    phases = phase_map(doc)
    off = phases.get("offline memory blocks") or {}
    c.expect(off.get("ok") is False and detail in off.get("detail", ""), f"{who}: {what}: {off}")
    rb = phases.get("rollback: online all blocks") or {}
    c.expect(rb.get("ok") is True, f"{who}: the rollback succeeded: {rb}")
    later = [n for n in phases if n and ("unbind" in n or "raw" in n or "write" in n)]
    c.expect(not later, f"{who}: nothing ran after the offline step: {later}")
    return off


def check_token(c, boot, stage, uuid):
    """The kernel of `stage` was booted with its command line naming exactly image `uuid`
    (None: naming none)."""
    cl = step_fields(c, boot, f"cmdline-{stage}")
    want = ("none", "0") if uuid is None else (uuid, "1")
    c.expect((cl.get("image_token"), cl.get("image_tokens")) == want,
             f"stage {stage}'s /proc/cmdline names image {cl.get('image_token')!r} "
             f"({cl.get('image_tokens')} warmboot.image= words), expected {want[0]!r}")


@scenario
def scenario_stale(env):
    """A sealed image the next boot was not meant to restore (a kexec-tools reboot whose command
    line names no image): restore keeps it and its memory (stale-image, exit 5), status says it
    is stale and how to restore it, 'restore --image UUID' restores it."""
    c = Checks("stale")
    q = env.legacy("stale", "stale", sizes(env, mib=64, files=300))
    b = q.run()
    check_guest_pass(c, b)
    check_cold_restore(c, b)
    # Stage 1: sealed without a kexec, so nothing names the image for the next boot.
    p = check_preserve(c, b, "preserve-1", "before-preserve-1")
    uuid = (p.get("pack") or {}).get("uuid")
    c.expect(bool(uuid), f"preserve-1: pack.uuid {uuid!r}")
    c.expect("kexec" not in p, f"preserve-1 (--no-kexec): no kexec section: {p.get('kexec')}")
    img = c.doc(b, "status-after-preserve-1", rc=0).get("image") or {}
    c.expect(img.get("uuid") == uuid and img.get("state") == "sealed" and img.get("waiting") is True
             and img.get("stale") is False and "earlier in this boot" in img.get("why", ""),
             f"status after preserve-1 (same boot): {img} (want {uuid} sealed, waiting, not stale)")
    load = step_fields(c, b, "kexec-load")
    c.expect(load.get("loader") == "kexec-tools" and load.get("image_token") == "none",
             f"the reboot was kexec-tools' naming no image: {load}")
    check_token(c, b, 1, None)
    check_token(c, b, 2, None)
    # Stage 2: the image is stale: kept, with its memory.
    r = c.doc(b, "restore-stale", rc=5)
    msg = r.get("message", "")
    c.expect(r.get("outcome") == "stale-image", f"restore-stale: outcome {r.get('outcome')!r}")
    c.expect(r.get("image_kept") is True and r.get("memory_returned") is False,
             f"restore-stale: image_kept {r.get('image_kept')}, memory_returned "
             f"{r.get('memory_returned')} (want kept, not returned)")
    c.expect(r.get("image_intent") == "stale" and r.get("named_image") is None,
             f"restore-stale: image_intent {r.get('image_intent')!r}, named_image "
             f"{r.get('named_image')!r}")
    c.expect("was not meant for this boot" in msg and f"restore --image {uuid}" in msg,
             f"restore-stale: the message says it is stale and names {uuid}: {msg!r}")
    phases = [n for n in phase_map(r) if n]
    c.expect(not any("unpack" in n or "restore directory" in n or "devdax" in n or "kmem" in n
                     or "consume" in n for n in phases),
             f"restore-stale: nothing unpacked or consumed, no transition: {phases}")
    c.expect((r.get("device") or {}).get("mode") == "raw",
             f"restore-stale: device mode {(r.get('device') or {}).get('mode')!r}")
    delta = c.mem_delta_kb(b, "before-restore-stale", "after-restore-stale")
    c.expect(delta == 0, f"restore-stale: MemTotal changed by {delta} kB")
    d = step_fields(c, b, "restore-dir-after-stale")
    c.expect(d.get("entries") == "0" and d.get("pmem0") == "blockdev",
             f"after restore-stale: {d.get('entries')} entries in the restore directory, "
             f"/dev/pmem0 {d.get('pmem0')} (want empty, the raw block device)")
    st = c.doc(b, "status-stale", rc=0)
    dev, img = st.get("device", {}), st.get("image") or {}
    c.expect(dev.get("mode") == "raw" and img.get("state") == "sealed" and img.get("uuid") == uuid
             and img.get("stale") is True and img.get("waiting") is True,
             f"status after restore-stale: mode {dev.get('mode')!r}, image {img}")
    c.expect("names no image" in img.get("why", ""),
             f"status after restore-stale: why {img.get('why')!r}")
    txt = step_fields(c, b, "status-stale-text")
    c.expect(txt.get("uuid") == uuid and txt.get("image_hint") == "1",
             f"human status says 'restore --image {uuid}': {txt}")
    # Asked for by its uuid, it is restored.
    ok = check_restored(c, b, "restore-1")
    c.expect(ok.get("image_intent") == "requested",
             f"restore-1: image_intent {ok.get('image_intent')!r}, expected requested")
    c.expect(any("on request" in n for n in ok.get("notes", [])),
             f"restore-1: a note says it was restored on request: {ok.get('notes')}")
    got = ((ok.get("preserve_report") or {}).get("pack") or {}).get("uuid")
    c.expect(got == uuid, f"restore-1 restored image {got!r}, preserve-1 sealed {uuid!r}")
    c.expect((ok.get("unpack") or {}).get("damaged", []) == [], "restore-1: nothing damaged")
    check_app(c, b, "app-check-1")
    return c, [q]


@scenario
def scenario_sigterm_offline(env):
    """SIGTERM while preserve retries an offline the kernel refuses (MEM_GOING_OFFLINE = -EBUSY,
    1000 attempts configured): it stops, rolls back, nothing changed; then a normal warm reboot."""
    c = Checks("sigterm-offline")
    q = env.legacy("sigterm-offline", "sigterm-offline", sizes(env, mib=32, files=300))
    b = q.run()
    check_guest_pass(c, b)
    check_cold_restore(c, b)
    sent = step_fields(c, b, "sigterm-sent")
    c.expect(sent.get("state") not in (None, "Z", "gone") and int(sent.get("refusals") or 0) >= 1,
             f"SIGTERM sent to a running preserve after the kernel refused an offline: {sent}")
    c.expect(sent.get("policy_during") == "offline",
             f"the preserve held auto_online_blocks at offline while offlining: {sent}")
    p = c.doc(b, "preserve-sigterm", rc=1)
    err = p.get("error") or {}
    msg = err.get("message", "")
    c.expect(err.get("code") == "interrupted",
             f"preserve-sigterm: error code {err.get('code')!r}, expected interrupted")
    c.expect("interrupted by SIGTERM" in msg and "nothing changed" in msg,
             f"preserve-sigterm: the error says SIGTERM and nothing changed: {msg!r}")
    c.expect(p.get("memory_removed") is False and p.get("image_sealed") is False
             and "pack" not in p, "preserve-sigterm: no memory removed, no image sealed")
    off = check_stopped_at_offline(c, p, "preserve-sigterm", "interrupted by SIGTERM",
                                   "the offline step stopped on the signal")
    end = step_fields(c, b, "preserve-sigterm")
    secs = float(end.get("ended_after_signal_s") or "nan")
    say(f"sigterm-offline: the preserve ended {secs:.2f} s after SIGTERM; offline step: "
        f"{off.get('detail')!r} ({off.get('seconds', 0):.2f} s)")
    c.expect(secs < 15, f"preserve-sigterm: ended {secs} s after SIGTERM (want promptly, < 15 s)")
    delta = c.mem_delta_kb(b, "before-preserve-sigterm", "after-preserve-sigterm")
    c.expect(delta == 0, f"preserve-sigterm: MemTotal changed by {delta} kB")
    before = check_online_movable(c, c.doc(b, "status-before-preserve-sigterm", rc=0),
                                  "status before the interrupted preserve")
    st = c.doc(b, "status-after-preserve-sigterm", rc=0)
    after = check_online_movable(c, st, "status after the interrupted preserve")
    c.expect(before.get("blocks") == after.get("blocks"),
             f"the blocks are as they were: {before.get('blocks')} -> {after.get('blocks')}")
    c.expect("image" not in st, f"status after the interrupted preserve: image {st.get('image')}")
    sb, sa = step_fields(c, b, "state-before"), step_fields(c, b, "state-after")
    c.expect(sb.get("policy") == "online_movable" and sa.get("policy") == sb.get("policy"),
             f"auto_online_blocks {sb.get('policy')!r} before, {sa.get('policy')!r} after")
    c.expect(sb.get("state_sha256") and sa.get("state_sha256") == sb.get("state_sha256"),
             f"state tree sha256 {sb.get('state_sha256')} before, {sa.get('state_sha256')} after")
    c.expect(sa.get("pmem0") == "none", f"no raw /dev/pmem0 after the interrupted preserve: {sa}")
    check_app(c, b, "app-check-state")
    # The fault cleared: a normal warm reboot.
    r = check_restored(c, b, "restore-1")
    pres = (b.json.get("preserve-1") or {}).get("doc") or r.get("preserve_report") or {}
    if "preserve-1" in b.json:
        check_preserve(c, b, "preserve-1")
    c.expect(pres.get("image_sealed") is True and pres.get("memory_removed") is True,
             "preserve-1 (no fault): sealed with the memory removed")
    c.expect(r.get("image_intent") == "named", f"restore-1: image_intent {r.get('image_intent')!r}")
    check_app(c, b, "app-check-1")
    return c, [q]


@scenario
def scenario_sigterm_write(env):
    """SIGTERM while preserve writes the image (past the point of no return): it completes and
    seals the image, exits 3; warmboot kexec names the image and the next boot restores it."""
    c = Checks("sigterm-write")
    q = env.legacy("sigterm-write", "sigterm-write", sizes(env, mib=256, files=1000))
    b = q.run()
    check_guest_pass(c, b)
    check_cold_restore(c, b)
    sent = step_fields(c, b, "sigterm-sent")
    c.expect(sent.get("state") not in (None, "Z", "gone"),
             f"the preserve was running when SIGTERM was sent: {sent}")
    p = c.doc(b, "preserve-1", rc=3)
    err = p.get("error") or {}
    msg = err.get("message", "")
    c.expect(err.get("code") == "interrupted",
             f"preserve-1: error code {err.get('code')!r}, expected interrupted")
    c.expect("interrupted by SIGTERM after the point of no return" in msg
             and "the image was completed and sealed" in msg,
             f"preserve-1: the error says SIGTERM came after the point of no return and the "
             f"image was sealed: {msg!r}")
    c.expect(p.get("image_sealed") is True and p.get("memory_removed") is True,
             f"preserve-1: image_sealed {p.get('image_sealed')}, memory_removed "
             f"{p.get('memory_removed')}")
    phases = phase_map(p)
    w = phases.get("write image") or {}
    c.expect(w.get("ok") is True, f"preserve-1: the write completed: {w}")
    c.expect(not any("rollback" in (n or "") or "kexec" in (n or "") for n in phases),
             f"preserve-1: no rollback, no kexec load: {list(phases)}")
    end = step_fields(c, b, "preserve-1")
    secs = float(end.get("ended_after_signal_s") or "nan")
    say(f"sigterm-write: SIGTERM {sent.get('raw_seen_after_s')} s after the preserve started "
        f"(/dev/pmem0 seen); the preserve ended {secs:.2f} s after it; write image "
        f"{w.get('seconds', 0):.2f} s")
    c.expect(secs >= 0, f"preserve-1: ended {secs} s after the signal")
    delta = c.mem_delta_kb(b, "before-preserve-1", "after-preserve-1")
    c.expect(delta is not None and delta <= -(PMEM_RAM_KB - 16 * 1024),
             f"preserve-1: MemTotal changed by {delta} kB, expected about -{PMEM_RAM_KB} kB")
    uuid = (p.get("pack") or {}).get("uuid")
    st = c.doc(b, "status-after-preserve-1", rc=0)
    dev, img = st.get("device", {}), st.get("image") or {}
    c.expect(dev.get("mode") == "raw" and img.get("state") == "sealed" and img.get("uuid") == uuid
             and img.get("waiting") is True and img.get("stale") is False,
             f"status after preserve-1: mode {dev.get('mode')!r}, image {img} (want {uuid} "
             "sealed, waiting, not stale: this boot's)")
    if "kexec" in b.json:  # warmboot kexec: its plan names the image
        plan = c.doc(b, "kexec", rc=0).get("plan") or {}
        c.expect(plan.get("image_token") == uuid
                 and f"warmboot.image={uuid}" in plan.get("cmdline", ""),
                 f"kexec: the plan names image {uuid}: token {plan.get('image_token')!r}, "
                 f"cmdline {plan.get('cmdline')!r}")
    else:
        load = step_fields(c, b, "kexec-load")
        c.expect(load.get("image_token") == uuid, f"kexec-tools names image {uuid}: {load}")
    check_token(c, b, 2, uuid)
    r = check_restored(c, b, "restore-1")
    c.expect(r.get("image_intent") == "named" and r.get("named_image") == uuid,
             f"restore-1: image_intent {r.get('image_intent')!r}, named_image "
             f"{r.get('named_image')!r} (want named, {uuid})")
    rep = r.get("preserve_report") or {}
    c.expect(((rep.get("pack") or {}).get("uuid")) == uuid
             and "after the point of no return" in (rep.get("error") or {}).get("message", ""),
             "restore-1: carries the interrupted preserve's report across the kexec")
    c.expect((r.get("unpack") or {}).get("damaged", []) == [], "restore-1: nothing damaged")
    check_app(c, b, "app-check-1")
    return c, [q]


API_UID = 1000


@scenario
def scenario_api(env):
    """Two applications keep their state with warmbootd through the client library: api-db
    (a sealed 256 MiB memfd and 3000 byte segments) answers the prepare ready, api-cache misses
    its deadline. After the warm reboot api-db gets every byte back through the restored view
    and releases it; api-cache starts cold; the preserve report names it."""
    c = Checks("api")
    mib, segments = (32, 375) if env.args.quick else (256, 3000)
    deadline = 3000
    q = env.legacy("api", "api", f"wbe2e.mib={mib} wbe2e.segments={segments} "
                                 f"wbe2e.segments2=20 wbe2e.deadline={deadline}")
    b = q.run()
    check_guest_pass(c, b)
    check_cold_restore(c, b)
    # Stage 1: both apps handed over as uid 1000, then heard of the warm reboot.
    db = c.doc(b, "api-db-handed-over", rc=0)
    c.expect(db.get("ok") is True and db.get("uid") == API_UID
             and db.get("segments_listed") == segments + 1
             and db.get("heap_bytes") == mib * MIB,
             f"api-db handed over a {mib} MiB memfd and {segments} byte segments as uid "
             f"{API_UID}: {db}")
    cache = c.doc(b, "api-cache-handed-over", rc=0)
    c.expect(cache.get("ok") is True and cache.get("segments_listed") == 21,
             f"api-cache handed over 21 segments: {cache}")
    listed = step_fields(c, b, "api-list")
    c.expect(listed.get("db") == str(segments + 1) and listed.get("cache") == "21",
             f"warmboot api list --all: the daemon holds {listed.get('db')} of api-db's and "
             f"{listed.get('cache')} of api-cache's segments (want {segments + 1}, 21)")
    ans = c.doc(b, "api-db-answer", rc=0)
    c.expect(ans.get("ok") is True and ans.get("answer") == "ready"
             and ans.get("deadline_ms") == deadline,
             f"api-db got the prepare (deadline {deadline} ms) and answered ready: {ans}")
    prep = c.doc(b, "api-cache-prepare", rc=0)
    c.expect(prep.get("round") == ans.get("round") and prep.get("answer") == "none",
             f"api-cache got the same round's prepare and did not answer: {prep}")
    # The preserve: the round's result in its report.
    restore = check_restored(c, b, "restore-1")
    pres = (b.json.get("preserve-1") or {}).get("doc") or restore.get("preserve_report") or {}
    if "preserve-1" in b.json:
        check_preserve(c, b, "preserve-1", "after-restore-cold")
    c.expect(pres.get("ok") is True and pres.get("image_sealed") is True
             and pres.get("memory_removed") is True,
             "preserve-1: ok, sealed with the memory removed")
    cp = pres.get("checkpoint") or {}
    apps = {a.get("app"): a for a in cp.get("apps", [])}
    record_bytes = db.get("record_bytes", 0)
    c.expect(cp.get("complete") is False and cp.get("ready") == 1
             and cp.get("segments") == segments + 1
             and cp.get("bytes") == mib * MIB + record_bytes,
             f"preserve-1: checkpoint incomplete, 1 app ready with {segments + 1} segments of "
             f"{mib * MIB + record_bytes} bytes: {({k: v for k, v in cp.items() if k != 'apps'})}")
    c.expect((apps.get("api-db") or {}).get("answer") == "ready"
             and (apps.get("api-db") or {}).get("uid") == API_UID,
             f"preserve-1: api-db (uid {API_UID}) ready: {apps.get('api-db')}")
    c.expect((apps.get("api-cache") or {}).get("answer") == "missed"
             and (apps.get("api-cache") or {}).get("uid") == API_UID,
             f"preserve-1: api-cache missed its deadline: {apps.get('api-cache')}")
    c.expect(f"starts cold: api-cache (uid {API_UID}): missed: did not answer before its "
             "deadline" in pres.get("notes", []),
             f"preserve-1: a note names api-cache as starting cold: {pres.get('notes')}")
    # The round waits out api-cache's deadline, then exports api-db's segments one by one.
    rnd = phase_map(pres).get("checkpoint round") or {}
    c.expect(rnd.get("ok") is True and rnd.get("seconds", 0) >= deadline / 1000,
             f"preserve-1: the round waited for the deadline ({deadline} ms): {rnd}")
    c.expect((restore.get("unpack") or {}).get("damaged", []) == [], "restore-1: nothing damaged")
    # Stage 2: what restore brought back, as files of uid 1000, mode 0600.
    f = step_fields(c, b, "api-files")
    own = f"{API_UID}:{API_UID}"
    c.expect(f.get("files") == str(segments + 1) and f.get("uids") == str(API_UID)
             and f.get("apps") == "api-db",
             f"restore dir: {f.get('files')} files under .warmboot-api, uids {f.get('uids')}, "
             f"apps {f.get('apps')} (want {segments + 1}, {API_UID}, api-db only)")
    # The group is the app's own at the hand-over (SO_PEERCRED), not one looked up at shutdown.
    c.expect(f.get("modes") == f"600:{own}={segments + 1}",
             f"restore dir: every segment's file mode 0600, owned by {own} (the app's uid and "
             f"group): {f.get('modes')} (mode:uid:gid=count)")
    c.expect(f.get("app_dirs") == f"700:{API_UID}" and f.get("dirs") == f"755:0,700:{API_UID}",
             f"restore dir: .warmboot-api 0755 root, {API_UID}/ and api-db/ 0700 uid "
             f"{API_UID}: {f.get('dirs')}, {f.get('app_dirs')}")
    chk = c.doc(b, "api-db-check", rc=0)
    heap = chk.get("heap") or {}
    c.expect(chk.get("ok") is True and chk.get("warm") is True and chk.get("uid") == API_UID,
             f"api-db-check: ok, warm, as uid {API_UID}")
    c.expect(chk.get("segments_checked") == segments + 1 and chk.get("mismatched") == []
             and chk.get("missing") == [] and chk.get("unexpected") == [],
             f"api-db-check: {chk.get('segments_checked')} of {segments + 1} segments identical "
             f"(mismatched {chk.get('mismatched')}, missing {chk.get('missing')}, unexpected "
             f"{chk.get('unexpected')})")
    c.expect(heap.get("size") == mib * MIB and heap.get("xxh3") == db.get("heap_xxh3")
             and heap.get("differing_bytes") == 0,
             f"api-db-check: the memfd came back byte for byte, XXH3 {heap.get('xxh3')} (handed "
             f"over {db.get('heap_xxh3')})")
    c.expect(chk.get("bytes_checked") == mib * MIB + record_bytes,
             f"api-db-check: {chk.get('bytes_checked')} bytes checked, handed over "
             f"{mib * MIB + record_bytes}")
    gen = (pres.get("pack") or {}).get("generation")
    c.expect(chk.get("generation") == gen and gen is not None,
             f"api-db-check: generation {chk.get('generation')}, the image's {gen}")
    c.expect(chk.get("released") == segments + 1 and chk.get("segments_after_release") == 0,
             f"api-db-check: released {chk.get('released')}, "
             f"{chk.get('segments_after_release')} left")
    after = step_fields(c, b, "api-files-after-release")
    c.expect(after.get("files") == "0", f"after the release: {after.get('files')} files left")
    cold = c.doc(b, "api-cache-check", rc=0)
    c.expect(cold.get("ok") is True and cold.get("warm") is True
             and cold.get("segments_restored") == 0 and cold.get("segments_held") == 0,
             f"api-cache-check: a warm boot with nothing for api-cache (it starts cold): {cold}")
    say(f"api: hand-over {db.get('seconds', 0):.2f} s (memfd written {db.get('generate_seconds', 0):.2f} s, "
        f"put {db.get('put_memfd_seconds', 0) * 1000:.1f} ms; {segments} byte segments "
        f"{db.get('put_bytes_seconds', 0):.2f} s); answer {ans.get('answer_seconds', 0) * 1000:.1f} ms; "
        f"round {rnd.get('seconds', 0):.2f} s (deadline {deadline / 1000:.0f} s, then the "
        f"export); check {chk.get('check_seconds', 0):.2f} s, "
        f"release {chk.get('release_seconds', 0):.2f} s")
    return c, [q]
