"""`mnd train --resume RUN_DIR`: continue an interrupted run from its last checkpoint with the options its manifest
recorded. The data order and augmentation are functions of (seed, epoch), and the checkpoint holds the model, the
optimizer (its step, so the schedule) and the epoch, so the resumed run ends with the weights of an uninterrupted
one."""
import json
from dataclasses import fields
from pathlib import Path

from mnd.base.errors import UsageError
from mnd.pipeline import rundir
from mnd.pipeline.training.checkpoints import FOLDER, latest
from mnd.pipeline.training.fit import TrainConfig


def interrupted_run(run_folder: Path) -> dict:
    """The manifest of the interrupted run at `run_folder`; a one-line UsageError for anything else. Reads no
    TensorFlow, so the CLI can check it before creating the strategy."""
    try:
        manifest = json.loads((Path(run_folder) / "manifest.json").read_text())
    except (OSError, ValueError):
        raise UsageError(f"--resume {run_folder}: no readable manifest.json; give a run directory mnd train "
                         "wrote") from None
    if not isinstance(manifest, dict) or "options" not in manifest or "distribution" not in manifest:
        raise UsageError(f"--resume {run_folder}: not a run this version of mnd train can resume (no recorded options)")
    if manifest.get("status") != "interrupted":
        raise UsageError(f"--resume {run_folder}: the run is {manifest.get('status')}, not interrupted; "
                         "only an interrupted run continues")
    if not (Path(run_folder) / FOLDER).is_dir():
        chief = manifest["distribution"].get("chief", True)
        where = "" if chief else " (it was a non-chief worker; resume the chief's, task 0's, run directory)"
        raise UsageError(f"--resume {run_folder}: no {FOLDER}/ folder in it{where}")
    return manifest


def resume_training(run_folder: Path, distribution, cache_root: Path, progress=None) -> dict:
    """Continue the interrupted run at `run_folder` in place (rebuilt beside it and swapped in when done)."""
    from mnd.pipeline.training.run import run_training

    manifest = interrupted_run(run_folder)
    if latest(Path(run_folder) / FOLDER) is None:
        raise UsageError(f"--resume {run_folder}: its {FOLDER}/ folder holds no checkpoint")
    options = manifest["options"]
    recorded = {f.name: manifest["training"][f.name] for f in fields(TrainConfig)}
    config = TrainConfig(**{name: tuple(value) if isinstance(value, list) else value for name, value in recorded.items()})
    destination = rundir.claim(Path(run_folder), force=True)
    return run_training(options["model"], options["dataset"], destination, config, cache_root=cache_root,
                        val_split=options["val_split"],
                        channels=options["channels"], activation=options["activation"],
                        preprocess=options["preprocess"], to_gray=options["to_gray"], progress=progress,
                        init=options["init"], distribution=distribution, resumed=manifest)
