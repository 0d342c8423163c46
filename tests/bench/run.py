"""`make bench`: rerunnable benchmarks; each writes its section of docs/BENCHMARKS.md between markers."""
import argparse
import importlib
import re
import sys
from pathlib import Path

# name -> module under tests.bench, imported only when that benchmark runs
BENCHMARKS = {"train-digits": "train_digits", "export-speed": "export_speed", "host-int8-ratio": "host_int8_ratio",
              "cortex-m-vww": "cortex_m_vww", "cortex-m-mobilenets": "cortex_m_mobilenets",
              "onnx-reduce-range": "onnx_reduce_range", "quant-quality": "quant_quality",
              "coral-v2-rpi4": "coral_v2_rpi4", "cortex-m-trained": "cortex_m_trained",
              "input-pipeline": "input_pipeline", "transfer-vww": "transfer_vww",
              "train-workers": "train_workers", "sweep-executors": "sweep_executors"}
SAMPLED = ("cortex-m-vww",)  # benchmarks whose run() takes a number of images for a quick check
DOC = Path(__file__).resolve().parents[2] / "docs" / "BENCHMARKS.md"


def replace_section(text: str, name: str, body: str) -> str:
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    return pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + f"\n\n{block}\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", default=list(BENCHMARKS), help=f"any of {', '.join(BENCHMARKS)}")
    parser.add_argument("--samples", type=int, metavar="N", help=f"a check on N images, printed and not written "
                        f"to {DOC.name} (benchmarks that take it: {', '.join(SAMPLED)})")
    args = parser.parse_args(argv)
    if args.samples is not None and (args.samples < 1 or set(args.names) - set(SAMPLED)):
        parser.error(f"--samples takes N >= 1 and only these benchmarks: {', '.join(SAMPLED)}")
    for name in args.names:
        module = importlib.import_module(f"tests.bench.{BENCHMARKS[name]}")
        body = module.run(args.samples) if args.samples else module.run()
        print(body)
        if args.samples:
            continue
        text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"  # read late: benchmarks may run side by side
        DOC.write_text(replace_section(text, name, body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
