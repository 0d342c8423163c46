"""`mnd measure`: run a target's measurements again on an existing export, without re-exporting."""
import os
import tempfile
from dataclasses import replace
from pathlib import Path

from mnd.pipeline.data.plan import reload_evaluation
from mnd.pipeline.data.preprocess import Preprocessing
from mnd.pipeline.errors import ModelError
from mnd.pipeline.export.run import check_target
from mnd.pipeline.manifest import Manifest
from mnd.pipeline.report.markdown import render


def remeasure(run_dir: Path, target_name: str, settings) -> Manifest:
    if not (run_dir / "manifest.json").is_file():
        raise ModelError(f"'{run_dir}' has no manifest.json; give a directory written by 'mnd export'")
    target = check_target(target_name)
    manifest = Manifest.read(run_dir)
    prep = Preprocessing.from_dict(manifest.model["preprocessing"])
    evaluation = reload_evaluation(manifest.data, prep, manifest.model["classes"])
    kept = tuple(m for m in manifest.measurements if m.target != target.name)
    manifest = replace(manifest.with_measurements(kept + target.measure(run_dir, manifest, evaluation, settings)),
                       target={"name": target.name, "options": {"threads": settings.threads,
                                                                "clock_mhz": settings.clock_mhz}})
    _write_atomically(run_dir, manifest)
    return manifest


def _write_atomically(run_dir: Path, manifest: Manifest) -> None:
    """manifest.json and report.md through temporary files, so a failure leaves the old ones."""
    for name, text in (("manifest.json", manifest.to_json()), ("report.md", render(manifest, str(run_dir)))):
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=run_dir)
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(temporary, run_dir / name)
