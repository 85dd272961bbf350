"""The debian-warm scenario: warm reboots of the real Debian root through systemd, with an
application as a systemd service (warmboot-sample.service: warmboot-api-app serve, on the client
library of the .deb) that keeps its state with warmbootd.

One QEMU run holds five kernels (kexec stays inside QEMU): the cold boot (the app hands its
state over; warmbootd is SIGKILLed and its fd store brings every segment back), `warmboot
reboot` into the first warm boot (generation 1), again into the second (generation 2), a plain
`systemctl kexec` (a kernel loaded by `warmboot kexec --load-only`, no `warmboot reboot`) into
the third (generation 3: warmboot-prepare.service's stop ran the round before the app stopped),
`systemctl reboot` the same way into the fourth (generation 4: systemd 252 reboots the ordinary
way, warmboot's system-shutdown hook jumps), then a state too large for the namespace: `warmboot reboot --fallback cold` refuses and reboots
through the firmware, which ends QEMU (-no-reboot); a second QEMU run boots the same disk for
the cold boot that follows. The blackout of each warm reboot is timed from the console
(blackout.py).

Registered after the other debian-* scenarios (main imports this module after them).
"""

import types

from . import blackout
from .checks import Checks, check_guest_pass
from .common import say
from .debian_base import base_root
from .debian_image import SampleApp, build_image
from .debian_scenarios import SYSTEMD_OK, check_shutdown
from .qemu import KERNEL_PROBLEM_RE
from .scenarios import scenario

NAMESPACE_MIB = 528
APP = "sample"
WARM = 4           # warm boots in run 1 (stages 2 to 5)
LAST = WARM + 2    # the cold boot after the refusal (run 2)
# Stages reached without warmboot reboot, by `systemctl VERB` with warmboot's kernel loaded.
PLAIN = {4: "kexec", 5: "reboot"}
# systemd's console status lines, by the units' descriptions (systemd may shorten them in the
# middle: a distinctive word or two).
UNIT_LINES = {
    "prepare": blackout.PREPARE_RE,
    "app": r"(warmboot-sample|warmboot sample application)",
    "preserve": blackout.PRESERVE_RE,
    "daemon": r"(warmbootd\.service|warmboot checkpoint API daemon)",
}


def app_sizes(env):
    """The app's memfd (MiB) and byte segments: 256 MiB and 3000, an eighth with --quick."""
    return (32, 375) if env.args.quick else (256, 3000)


def big_mib(mib):
    """The file that makes the state too large: with the app's memfd (and ~15 MiB of records)
    well past the namespace."""
    return NAMESPACE_MIB + 32 - mib


def check_kernel(c, b, k, run, want_type, seg_total, generation=None):
    """One boot of the root (kernel k of QEMU run `b`): systemd up, the boot record and status
    of the expected type, the app's start (warm: every segment identical; cold: why) and its
    fresh hand-over. Returns (boot record, the app's start document)."""
    st = f"{k + 1}" if run == 1 else f"{LAST}"
    sd = blackout.step_of(b, k, "systemd")
    c.expect(sd is not None and sd.get("ok") == "1" and
             (sd.get("state"), sd.get("failed")) in SYSTEMD_OK,
             f"stage {st}: systemd up ({sd and (sd.get('state'), sd.get('failed'))})")
    rec = c.doc(b, f"boot-record-{st}", rc=0)
    c.expect(rec.get("type") == want_type,
             f"stage {st}: boot.json type {rec.get('type')!r} ({rec.get('reason')!r}), "
             f"expected {want_type!r}")
    status = c.doc(b, f"status-{st}", rc=0)
    c.expect((status.get("boot") or {}).get("type") == want_type,
             f"stage {st}: warmboot status --json boot type {(status.get('boot') or {})}")
    dev = status.get("device", {})
    c.expect(dev.get("mode") == "system-ram" and dev.get("blocks_online") == 4,
             f"stage {st}: pmem back as System RAM: mode {dev.get('mode')!r}, "
             f"{dev.get('blocks_online')} blocks online")
    units = blackout.step_of(b, k, f"units-{st}") or {}
    c.expect((units.get("restore"), units.get("target"), units.get("preserve"),
              units.get("prepare"), units.get("app")) == ("active",) * 5,
             f"stage {st}: units restore/target/preserve/prepare/app active: {units}")
    c.expect(units.get("cycles") == "0",
             f"stage {st}: no ordering cycle in the journal ({units.get('cycles')} lines)")
    # What node_exporter's textfile collector reads (restore --boot writes it at every boot).
    metrics = blackout.step_of(b, k, f"metrics-{st}") or {}
    c.expect(metrics.get("warm") == ("1" if want_type == "warm" else "0"),
             f"stage {st}: warmboot_boot_type{{type=\"warm\"}} in the metrics file: {metrics}")
    if want_type == "warm":
        tl = status.get("timeline") or {}
        c.expect((tl.get("seconds") or 0) > 0 and float(metrics.get("blackout") or 0) > 0,
                 f"stage {st}: status and the metrics file show the blackout: status "
                 f"{tl.get('seconds')} s, warmboot_blackout_seconds {metrics.get('blackout')}")
    # It ran (its exit stamped) and succeeded; on a warm boot it gave the memory back.
    c.expect(units.get("give_back") == "success" and units.get("give_back_ran", "0") != "0" and
             units.get("give_back_lines") == ("1" if want_type == "warm" else "0"),
             f"stage {st}: warmboot-give-back.service ran: result {units.get('give_back')!r}, "
             f"exit stamp {units.get('give_back_ran')!r}, given-back lines "
             f"{units.get('give_back_lines')!r}")
    # The configuration's constant append (wbe2e.warm=1) once on a warm boot's command line,
    # however many warm reboots came before.
    c.expect(units.get("warm_params") == ("1" if want_type == "warm" else "0"),
             f"stage {st}: wbe2e.warm=1 {units.get('warm_params')} times on the command line")
    c.expect(units.get("kexec_load_conf") == "false",
             f"stage {st}: kexec-tools' LOAD_KEXEC is false ({units.get('kexec_load_conf')!r})")
    start = c.doc(b, f"app-start-{st}", rc=0)
    ready = blackout.step_of(b, k, "app-ready") or {}
    c.expect(ready.get("ok") == "1" and ready.get("start") == ("warm" if want_type == "warm"
                                                               else "cold"),
             f"stage {st}: the app's start marker: {ready}")
    if want_type == "warm":
        c.expect(start.get("ok") is True and start.get("warm") is True and
                 start.get("segments_checked") == seg_total and not start.get("mismatched") and
                 not start.get("missing") and start.get("released") == seg_total,
                 f"stage {st}: the app checked {start.get('segments_checked')} of {seg_total} "
                 f"segments byte-identical and released them: mismatched "
                 f"{start.get('mismatched')}, missing {start.get('missing')}")
        c.expect(start.get("generation") == generation,
                 f"stage {st}: generation {start.get('generation')}, expected {generation}")
        heap = start.get("heap", {})
        c.expect(heap.get("xxh3") == heap.get("expected_xxh3") and heap.get("differing_bytes")
                 == 0, f"stage {st}: the memfd by XXH3: {heap}")
    else:
        c.expect(start.get("warm") is False and start.get("segments_restored") == 0,
                 f"stage {st}: the app started cold with nothing restored: {start}")
    if want_type == "warm":
        # The timeline, as warmboot report gives and draws it, ends at the app's readiness (its
        # unit active: READY=1 after its check), after the restore's end.
        report = c.doc(b, f"report-{st}", rc=0)
        ar = report.get("applications_ready") or {}
        units = [u.get("unit") for u in ar.get("units", [])]
        c.expect((ar.get("seconds") or 0) > (report.get("seconds") or 0) > 0 and
                 "warmboot-sample.service" in units and any(
                     s.get("name") == "applications starting" for s in report.get("segments", [])),
                 f"stage {st}: warmboot report: blackout {report.get('seconds')} s, applications "
                 f"ready at {ar.get('seconds')} s ({units}); notes {report.get('notes')}")
        svg = blackout.step_of(b, k, f"svg-{st}") or {}
        c.expect(svg.get("end") == "1" and svg.get("ready_line") == "1" and
                 int(svg.get("bars") or 0) == len(report.get("segments", [])),
                 f"stage {st}: report --svg drew every segment and the applications' readiness: "
                 f"{svg}")
    handed = c.doc(b, f"app-handed-over-{st}", rc=0)
    c.expect(handed.get("ok") is True and handed.get("segments_listed") == seg_total,
             f"stage {st}: the app handed over {handed.get('segments_listed')} segments")
    return rec, start, handed


def check_warm_reboot(c, b, k, reboot_doc, preserve, handed, restore):
    """The warm reboot out of kernel k: warmboot reboot took the warm path, the preserve at
    shutdown adopted its round (the app ready) and sealed the image the next kernel restored."""
    c.expect(reboot_doc.get("outcome") == "warm",
             f"reboot {k + 1}: outcome {reboot_doc.get('outcome')!r} ({reboot_doc.get('cause')})")
    image = reboot_doc.get("image")
    c.expect(preserve.get("ok") is True and preserve.get("image_sealed") is True,
             f"reboot {k + 1}: last-preserve.json ok and sealed ({preserve.get('error')})")
    c.expect((preserve.get("pack") or {}).get("uuid") == image,
             f"reboot {k + 1}: the preserve wrote the image warmboot reboot named ({image}, "
             f"{(preserve.get('pack') or {}).get('uuid')})")
    cp = preserve.get("checkpoint") or {}
    apps = {a.get("app"): a.get("answer") for a in cp.get("apps", [])}
    c.expect(apps.get(APP) == "ready" and cp.get("round") == reboot_doc.get("round"),
             f"reboot {k + 1}: the preserve adopted warmboot reboot's round "
             f"{reboot_doc.get('round')} (got {cp.get('round')}), the app ready: {apps}")
    prep = blackout.step_of(b, k, "app-prepared") or {}
    c.expect(prep.get("ok") == "1" and prep.get("round") == str(reboot_doc.get("round")),
             f"reboot {k + 1}: the app got the prepare of that round and answered ready: {prep}")
    c.expect(restore.get("ran_in") == "initramfs" and restore.get("outcome") == "restored",
             f"reboot {k + 1}: the initramfs restored it: ({restore.get('ran_in')}, "
             f"{restore.get('outcome')})")
    # The hot-remove off the blackout: warmboot reboot took the memory out (offline, unbind,
    # raw) while the services ran; the preserve at shutdown only wrote.
    early = [p.get("phase") for p in (reboot_doc.get("offline_early") or {}).get("phases", [])]
    late = [p.get("phase") for p in preserve.get("phases", [])]
    c.expect("namespace to raw" in early and "unbind kmem (hot-remove)" in early and
             "namespace to raw" not in late and "unbind kmem (hot-remove)" not in late,
             f"reboot {k + 1}: hot-removed by warmboot reboot ({early}), not at shutdown "
             f"({late}); why not: {(reboot_doc.get('offline_early') or {}).get('why_not')}")
    # The hot-plug off the blackout: the initramfs left the pmem raw, warmboot-give-back.service
    # gave it back after warmboot-state.target and recorded it in this report.
    gb = restore.get("give_back") or {}
    c.expect(restore.get("give_back_deferred") is True and gb.get("outcome") == "given-back" and
             restore.get("memory_returned") is True and
             not any(p.get("phase", "").startswith(("namespace to devdax", "bind kmem", "online"))
                     for p in restore.get("phases", [])),
             f"reboot {k + 1}: the give-back ran after the restore, not in it: deferred "
             f"{restore.get('give_back_deferred')}, give_back {gb.get('outcome')!r} "
             f"({gb.get('message')!r})")
    hook = blackout.step_of(b, k, "shutdown-hook") or {}
    c.expect(hook.get("verb") == "kexec", f"reboot {k + 1}: systemd-shutdown's verb: {hook}")


def check_stop_order(c, b, k):
    """The shutdown out of kernel k stopped the units in order: warmboot-prepare.service (the
    round) before the app, the app before warmboot-preserve.service (which seals what it handed
    over), that before warmbootd (whose descriptors it packs)."""
    begin = blackout.step_of(b, k, f"reboot-begin-{k + 1}")
    hook = blackout.shutdown_end(b, k)
    if not (begin and hook):
        c.expect(False, f"reboot {k + 1}: stop order: no reboot-begin or shutdown hook")
        return
    t = {}
    for unit, rx in UNIT_LINES.items():
        for verb in ("Stopping", "Stopped"):
            t[f"{unit} {verb}"], _ = blackout.first_line(b, begin["host_t"],
                                                         rf"{verb} .*{rx}", hook["host_t"])
    order = [("prepare Stopped", "app Stopping"), ("app Stopped", "preserve Stopping"),
             ("preserve Stopped", "daemon Stopping")]
    c.expect(all(t[x] is not None and t[y] is not None and t[x] <= t[y] for x, y in order),
             f"reboot {k + 1}: units stopped in order (prepare, app, preserve, warmbootd): "
             + ", ".join(f"{n} {v and round(v - begin['host_t'], 2)}" for n, v in t.items()))


def check_plain_kexec(c, b, k, kexec_doc, rec, preserve, restore, verb):
    """The warm reboot out of kernel k by a plain `systemctl VERB`: warmboot-prepare.service's
    stop ran the round while the app still ran, warmboot-preserve.service's adopted it and sealed
    the image it loaded the next kernel for, and the initramfs restored it. At a reboot (an
    ordinary one for systemd 252) warmboot's system-shutdown hook jumped."""
    c.expect(kexec_doc.get("rebooting") is False and (kexec_doc.get("load") or {}),
             f"reboot {k + 1}: warmboot kexec --load-only loaded a kernel: {kexec_doc}")
    image = (preserve.get("pack") or {}).get("uuid")
    c.expect(preserve.get("ok") is True and preserve.get("image_sealed") is True and
             image and rec.get("named_image") == image,
             f"reboot {k + 1}: the preserve sealed {image}, which the next kernel's command line "
             f"named ({rec.get('named_image')}; {preserve.get('error')})")
    cp = preserve.get("checkpoint") or {}
    apps = {a.get("app"): a.get("answer") for a in cp.get("apps", [])}
    prep = blackout.step_of(b, k, "app-prepared") or {}
    c.expect(apps.get(APP) == "ready" and prep.get("ok") == "1" and
             prep.get("round") == str(cp.get("round")),
             f"reboot {k + 1}: the app answered the prepare unit's round {prep.get('round')} "
             f"while it ran; the preserve adopted round {cp.get('round')}: {apps}")
    c.expect(preserve.get("handed_over_ns") is not None,
             f"reboot {k + 1}: the blackout's start is in the report "
             f"({preserve.get('handed_over_ns')})")
    late = [p.get("phase") for p in preserve.get("phases", [])]
    c.expect("namespace to raw" in late,
             f"reboot {k + 1}: the memory taken out at the shutdown ({late})")
    c.expect(restore.get("ran_in") == "initramfs" and restore.get("outcome") == "restored",
             f"reboot {k + 1}: the initramfs restored it: ({restore.get('ran_in')}, "
             f"{restore.get('outcome')})")
    hook = blackout.step_of(b, k, "shutdown-hook") or {}
    if verb == "kexec":
        c.expect(hook.get("verb") == "kexec", f"reboot {k + 1}: systemd-shutdown's verb: {hook}")
        return
    # The test's own hook runs beside warmboot's and may not get to print before the jump.
    c.expect(hook.get("verb") in (None, "reboot"),
             f"reboot {k + 1}: systemd-shutdown's verb: {hook}")
    lo, hi = blackout.in_kernel(b, k)
    t_jump, line = blackout.first_line(b, lo, blackout.HOOK_JUMP_RE, hi)
    c.expect(t_jump is not None,
             f"reboot {k + 1}: warmboot's system-shutdown hook said it jumps: {line!r}")


@scenario
def scenario_debian_warm(env):
    """Cold boot, fd store, three warm reboots through systemd (the third a plain systemctl
    kexec), a refusal made cold; the blackout."""
    c = Checks("debian-warm")
    base = base_root()
    mib, segments = app_sizes(env)
    total = segments + 1
    image = build_image(base, env.programs, env.args.build_dir, name="debian-warm",
                        app=SampleApp(env.programs["warmboot-api-app"], mib, segments))
    c.kernel = types.SimpleNamespace(release=image.release, suite=f"{base.meta['suite']} root")
    extra = f"wbe2e.big_mib={big_mib(mib)}"
    q1 = env.debian("debian-warm-1", image, "debian-warm", extra=extra)
    b1 = q1.run()
    c.expect(b1.result is None, f"run 1: no guest verdict before its reboot: {b1.result}")
    kernels = len(blackout.kernel_starts(b1))
    c.expect(kernels == WARM + 1,
             f"run 1: {WARM + 1} kernels (a cold boot, {WARM} kexecs): {kernels}")

    # Stage 1: cold; the app hands its state over; the fd store under a real systemd.
    check_kernel(c, b1, 0, 1, "cold", total)
    killed = blackout.step_of(b1, 0, "warmbootd-killed") or {}
    c.expect(killed.get("ok") == "1" and killed.get("old_pid") != killed.get("new_pid"),
             f"fd store: warmbootd SIGKILLed and restarted by systemd: {killed}")
    reconnected = blackout.step_of(b1, 0, "app-reconnected") or {}
    c.expect(reconnected.get("ok") == "1" and reconnected.get("segments") == str(total),
             f"fd store: the app registered again and the new daemon holds its "
             f"{reconnected.get('segments')} of {total} segments: {reconnected}")
    fd = blackout.step_of(b1, 0, "fd-store") or {}
    c.expect(fd.get("identical") == "1" and fd.get("after") == str(total),
             f"fd store: api list --all identical before and after ({fd})")
    reload = c.doc(b1, "api-status-reload", rc=0).get("reload") or {}
    c.expect(reload.get("segments") == total and not reload.get("lost"),
             f"fd store: api status reload {reload}, expected {total} segments, none lost")

    # Stages 2 to 4: warm, generations 1 to 3 (the last by a plain systemctl kexec).
    results = []
    for k in range(1, WARM + 1):
        reboot_doc = c.doc(b1, f"reboot-{k}", rc=0)
        rec, start, handed = check_kernel(c, b1, k, 1, "warm", total, generation=k)
        preserve = c.doc(b1, f"last-preserve-{k + 1}", rc=0)
        restore = c.doc(b1, f"restore-report-{k + 1}", rc=0)
        check_stop_order(c, b1, k - 1)
        if k + 1 in PLAIN:
            check_plain_kexec(c, b1, k - 1, reboot_doc, rec, preserve, restore, PLAIN[k + 1])
        else:
            c.expect(rec.get("named_image") == reboot_doc.get("image"),
                     f"stage {k + 1}: boot.json names {rec.get('named_image')}, warmboot reboot "
                     f"{reboot_doc.get('image')}")
            check_warm_reboot(c, b1, k - 1, reboot_doc, preserve, handed, restore)
        rows, secs, notes = blackout.measure(b1, k - 1, preserve)
        results.append((k, rows, secs, notes, preserve))
    # The console outside the guest's own kernel-log dumps (checked on their own): the shutdowns,
    # kexecs and boots of the three kernels.
    console, dumping = [], False
    for _, line in b1.lines:
        dumping = (dumping or "WB-E2E-DMESG-BEGIN" in line) and "WB-E2E-DMESG-END" not in line
        if not dumping and KERNEL_PROBLEM_RE.search(line) and "WB-E2E" not in line:
            console.append(line.strip())
    c.expect(not console, f"run 1: no kernel problem on the console: {console[:5]}")
    c.expect(q1.killed_by is None and q1.exit_code == 0 and any(
        "reboot: Restarting system" in line for _, line in b1.lines),
        f"run 1 ended by the ordinary reboot (exit {q1.exit_code}, killed: {q1.killed_by})")

    # Stage 5: the refused warm reboot became an ordinary one; cold, with the cause.
    q2 = env.debian("debian-warm-2", image, "debian-warm", extra=f"{extra} wbe2e.stage={LAST}")
    b2 = q2.run()
    check_guest_pass(c, b2)
    refused = c.doc(b2, f"reboot-{LAST - 1}", rc=0)
    c.expect(refused.get("outcome") == "cold" and refused.get("code") == "no-space",
             f"refusal: warmboot reboot --fallback cold: outcome {refused.get('outcome')!r}, "
             f"code {refused.get('code')!r}: {refused.get('cause')}")
    rec4, start4, _ = check_kernel(c, b2, 0, 2, "cold", total)
    cause = c.doc(b2, f"reboot-cause-{LAST}", rc=0)
    c.expect(cause.get("reboot") == "cold" and cause.get("cause") == refused.get("cause"),
             f"refusal: reboot-cause.json kept the cause: {cause}")
    c.expect(cause.get("cause") and cause.get("cause") in rec4.get("reason", ""),
             f"refusal: the cold boot's reason is the cause: {rec4.get('reason')!r}")
    c.expect(cause.get("cause", "?") in start4.get("reason", ""),
             f"refusal: the app said why it started cold: {start4.get('reason')!r}")
    # warmboot-preserve.service was stopped by that ordinary reboot too: systemd had no kexec
    # job (ListJobs on its private socket), so it wrote nothing; history_dir's last preserve is
    # still the last warm reboot's.
    before = (c.doc(b1, f"last-preserve-{LAST - 1}", rc=0).get("pack") or {}).get("uuid")
    after = (c.doc(b2, f"last-preserve-{LAST}", rc=0).get("pack") or {}).get("uuid")
    c.expect(before and after == before,
             f"refusal: the ordinary reboot's preserve did nothing (last-preserve {after}, the "
             f"last warm reboot's {before})")
    check_shutdown(c, q2, image)

    # The blackouts.
    for k, rows, secs, notes, preserve in results:
        say(f"debian-warm: blackout of warm reboot {k} (kernel {k} -> {k + 1}), "
            f"from the console's host times:")
        if rows is None:
            c.expect(False, f"blackout {k}: {'; '.join(notes)}")
            continue
        lines, ours = blackout.table(rows, secs)
        for line in lines:
            say(line)
        for n in notes:
            say(f"      note: {n}")
    for k in range(WARM + 1):
        say(f"debian-warm: kernel {k + 1}: app ready: " +
            str(blackout.step_of(b1, k, "app-ready")))
    say(f"debian-warm: app {mib} MiB memfd + {segments} byte segments; image {image.seconds:.0f} s;"
        f" run 1 {q1.seconds:.0f} s ({WARM + 1} kernels), run 2 {q2.seconds:.0f} s")
    return c, [q1, q2]
