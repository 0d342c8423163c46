"""Disjoint calibration and evaluation samples for an export, and how to load them again."""
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnd.base.errors import DataError
from mnd.pipeline.data import fingerprint
from mnd.pipeline.data.calibration_set import calibration_pixels
from mnd.pipeline.data.dataset import Dataset
from mnd.pipeline.data.datasets import BUILTIN, load_dataset, stratified_split, stratified_subset
from mnd.pipeline.data.label_files import find_label_file
from mnd.pipeline.data.preprocess import Preprocessing

EVAL_FRACTION_OF_CALIB = 0.5


@dataclass(frozen=True)
class Evaluation:
    pixels: np.ndarray
    labels: np.ndarray
    float_inputs: np.ndarray
    prep: Preprocessing


def _part(source: str, split: float | None, side: str) -> dict:
    return {"source": source, "split": split, "part": side}


def plan_data(model_source, calib: str | None, evaluation: str | None) -> tuple:
    """(calibration part, evaluation part) as {"source", "split", "part"} records; parts of one split are disjoint."""
    trained_on = _trained_on(model_source) if calib is None else model_source.dataset  # read only without --calib
    if calib is None and evaluation is None:
        if trained_on is None:
            raise DataError("this model has no training run to take data from; give --calib DATA "
                            "(and optionally --eval DATA)")
        calib = trained_on
    if calib is None:
        if trained_on is None:
            raise DataError("give --calib DATA: the model has no training run to calibrate on")
        calib = trained_on
    same_as_calib = evaluation is None or same_data(evaluation, calib)
    if same_as_calib and trained_on is not None and same_data(calib, trained_on):
        return _part(calib, model_source.val_split, "train"), _part(calib, model_source.val_split, "held_out")
    if same_as_calib:
        return _part(calib, EVAL_FRACTION_OF_CALIB, "train"), _part(calib, EVAL_FRACTION_OF_CALIB, "held_out")
    return _part(calib, None, "all"), _part(evaluation, None, "all")


def _trained_on(model_source) -> str | None:
    """The training run's dataset, once it matches the fingerprint the run recorded (a run's manifest is a
    stranger's word for which folder to read)."""
    if model_source.dataset is not None and model_source.run_dir is not None:
        fingerprint.verify(model_source.dataset, model_source.dataset_fingerprint,
                           Path(model_source.run_dir) / "manifest.json", fingerprint.GIVE_CALIB)
    return model_source.dataset


def same_data(first: str, second: str) -> bool:
    """Whether two dataset arguments name the same data, however spelled: a built-in name, or the same file or
    folder after links and relative parts are resolved (a folder and its y_labels.csv / labels.csv alike)."""
    return first == second or (first not in BUILTIN and second not in BUILTIN and _where(first) == _where(second))


def _where(source: str) -> str:
    path = Path(source)
    return os.path.realpath(find_label_file(path) or path)


def refuse_shared_samples(calib_pixels: np.ndarray, evaluation: Dataset, calib: str, evaluation_source: str) -> None:
    """Calibration and evaluation data given as two datasets must still be disjoint: an evaluation sample whose
    pixels (at the model's input) equal a calibration sample's is refused."""
    calibration = {sample.tobytes() for sample in calib_pixels}
    shared = sum(sample.tobytes() in calibration for sample in evaluation.pixels)
    if shared:
        raise DataError(f"--eval '{evaluation_source}' has {shared} of its {len(evaluation)} images also in --calib "
                        f"'{calib}' (the same pixels at the model's input), but calibration and evaluation samples "
                        "must be disjoint; remove them from one of the two, or give one dataset as --calib alone to "
                        "have it split in half")


def load_part(part: dict, prep: Preprocessing, classes: int) -> Dataset:
    dataset = load_dataset(part["source"], prep, classes)
    if part["split"] is not None:
        rest, held_out = stratified_split(dataset, part["split"])
        dataset = held_out if part["part"] == "held_out" else rest
    return stratified_subset(dataset, part["limit"]) if part.get("limit") else dataset


def load_evaluation_only(model_source, calib, evaluation, classes: int, evaluation_samples: int | None = None):
    """For already-quantized models: no calibration; evaluate on --eval, else --calib, else the training set."""
    source = evaluation or calib or _trained_on(model_source)
    if source is None:
        raise DataError("give --eval DATA: this model is already quantized and needs only evaluation data")
    eval_part = {**_part(source, None, "all"), "limit": evaluation_samples}
    evaluation_set = load_part(eval_part, model_source.prep, classes)
    return to_evaluation(evaluation_set, model_source.prep), {"calibration": None,
                                                              "evaluation": _recorded(eval_part, evaluation_set)}


def load_export_data(model_source, calib, evaluation, calibration_samples: int, classes: int,
                     evaluation_samples: int | None = None):
    """(float calibration inputs, Evaluation, manifest 'data' record)."""
    prep = model_source.prep
    calib_part, eval_part = plan_data(model_source, calib, evaluation)
    eval_part = {**eval_part, "limit": evaluation_samples}
    calib_pixels = calibration_pixels(load_part(calib_part, prep, classes), calibration_samples)
    evaluation_set = load_part(eval_part, prep, classes)
    if len(evaluation_set) == 0:
        raise DataError(f"evaluation set '{eval_part['source']}' is empty; give --eval a dataset with images")
    if calib_part["part"] == "all":
        refuse_shared_samples(calib_pixels, evaluation_set, calib_part["source"], eval_part["source"])
    doc = {"calibration": {**calib_part, "samples": len(calib_pixels)},
           "evaluation": _recorded(eval_part, evaluation_set)}
    return prep.apply(calib_pixels), to_evaluation(evaluation_set, prep), doc


def _recorded(eval_part: dict, evaluation_set: Dataset) -> dict:
    """The manifest's record of the evaluation part: how to load it again and the fingerprint of its source."""
    return {**eval_part, "samples": len(evaluation_set), "fingerprint": fingerprint.take(eval_part["source"])}


def to_evaluation(dataset: Dataset, prep: Preprocessing) -> Evaluation:
    return Evaluation(dataset.pixels, dataset.labels, prep.apply(dataset.pixels), prep)


def reload_evaluation(data_doc: dict, prep: Preprocessing, classes: int, manifest_path) -> Evaluation:
    """The recorded evaluation samples, read only while their source matches the fingerprint taken at export."""
    part = data_doc["evaluation"]
    fingerprint.verify(part["source"], part.get("fingerprint"), manifest_path)
    return to_evaluation(load_part(part, prep, classes), prep)


def given_evaluation(source: str, recorded: dict, prep: Preprocessing, classes: int) -> tuple:
    """(Evaluation, its manifest record) from `mnd measure --eval DATA`: all of DATA, as many samples as the export
    evaluated at most."""
    part = {**_part(source, None, "all"), "limit": recorded.get("limit")}
    evaluation_set = load_part(part, prep, classes)
    if len(evaluation_set) == 0:
        raise DataError(f"evaluation set '{source}' is empty; give --eval a dataset with images")
    return to_evaluation(evaluation_set, prep), _recorded(part, evaluation_set)
