"""`mnd targets`, `mnd doctor`."""
import json
import logging

from mnd.pipeline.commands.common import emit_json, print_result

log = logging.getLogger("mnd")


def cmd_targets(args) -> None:
    from mnd.pipeline.target_list import access_given, format_rows, list_targets

    rows = list_targets(access_given(args))
    if args.json:
        emit_json(args, json.dumps(rows, indent=2) + "\n")
        return
    print(format_rows(rows))
    ready = [row["name"] for row in rows if row["available"]]
    log.info("next: mnd export --target host   (ready here: %s)", ", ".join(ready))


def cmd_doctor(args) -> None:
    from mnd.pipeline.doctor import diagnose, format_report

    report = diagnose()
    print_result(args, report, format_report)
    missing = [tool["name"] for tool in report["tools"] if not tool["found"]]
    log.info("next: %s", report["install_debian"] or ("make toolchain (registers qemu-aarch64 with binfmt_misc)"
                                                      if missing else "mnd export --target host"))

