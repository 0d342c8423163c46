"""The confusion matrix on the evaluation set, as the manifest stores it (manifest.evaluation): rows are true
classes, columns predicted ones. Beyond MAX_FULL classes only the SHOWN most frequent true classes are kept, with
each one's row and column totals over all classes, so what the plot leaves out can still be counted."""
import numpy as np

MAX_FULL = 50
SHOWN = 20


def confusion_record(outputs, labels, class_names, runtime: str, artifact: str) -> dict:
    """`outputs` [N, classes] (any shape with N rows), `labels` [N] true class indices; `class_names` are used when
    there is one per class, else the class indices."""
    scores = np.asarray(outputs).reshape(len(labels), -1)
    classes = scores.shape[1]
    names = [str(name) for name in class_names] if len(class_names) == classes else [str(i) for i in range(classes)]
    predicted = scores.argmax(axis=1)
    truth = np.asarray(labels, dtype=np.int64)
    full = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(full, (truth, predicted), 1)
    shown = _shown_classes(full) if classes > MAX_FULL else np.arange(classes)
    return {"runtime": runtime, "artifact": artifact,
            "labels": [names[i] for i in shown],
            "matrix": full[np.ix_(shown, shown)].tolist(),
            "row_totals": full[shown].sum(axis=1).tolist(),
            "column_totals": full[:, shown].sum(axis=0).tolist(),
            "classes": classes, "classes_shown": len(shown), "samples": int(len(truth))}


def _shown_classes(full: np.ndarray) -> np.ndarray:
    """The SHOWN most frequent true classes, in class order; ties go to the lower index."""
    by_frequency = np.argsort(-full.sum(axis=1), kind="stable")[:SHOWN]
    return np.sort(by_frequency)
