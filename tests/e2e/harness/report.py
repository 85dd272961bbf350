"""What a reader sees of a scenario besides the live step lines: the timeline of every QEMU run
(host time, time since the previous step, the guest's own duration, warmboot's phases), the
guest's preserve/restore reports, the tail of a failed run's serial log, and the summary."""

import json
import os
import time

from .common import LOGS, ROOT, T0


def phases_text(doc, indent="      "):
    out = []
    for p in doc.get("phases", []) or []:
        out.append(f"{indent}{p.get('phase', '?'):<34} {p.get('seconds', 0):8.3f} s  "
                   f"{'' if p.get('ok', True) else 'FAILED '}{p.get('detail', '')}")
    return "\n".join(out)


def kernel_text(kernel):
    return f"kernel {kernel.release} ({kernel.suite})"


def print_timeline(scenario, runs, kernel=None):
    """Every step with the host time it was seen (seconds since QEMU started), the time since
    the previous step, and the guest's own measure of the step; warmboot's phases below their
    step. A command that kexec'd (warmboot preserve with its own kexec) shows as 'kexec'd'.
    `kernel` (a kernel.Kernel), when given, is named in the heading."""
    print(f"\n=== timeline: {scenario}" + (f", {kernel_text(kernel)}" if kernel else ""),
          flush=True)
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


def print_summary(results):
    """results: scenario -> (ok, seconds, failures, the kernel it booted). The last line keeps
    its exact form: `e2e: N passed, M failed`."""
    print("\n=== e2e summary")
    for n, (ok, secs, fails, booted) in results.items():
        print(f"  {n:<10} {'PASS' if ok else 'FAIL'}  {secs:6.0f} s  {kernel_text(booted)}")
        for f in fails:
            print(f"             - {f}")
    print(f"  total {time.monotonic() - T0:.0f} s; serial logs in {os.path.relpath(LOGS, ROOT)}/")
    passed = sum(1 for r in results.values() if r[0])
    print(f"e2e: {passed} passed, {len(results) - passed} failed")
