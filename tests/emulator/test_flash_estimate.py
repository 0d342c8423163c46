"""engine/footprint.CODE_BYTES against real builds: `mnd analyze`'s flash estimate (the generated model.c's constant
arrays plus the measured engine code per core and kernel set) next to the flash the README tour's Cortex-M runs
measured for the same model.c, compiled and linked (the firmware's "model" part: model.c and the kernels)."""
import json

import pytest

from mnd.engine.footprint import CODE_BYTES, flash_estimate
from tests.tour_runs import tour_output

pytestmark = [pytest.mark.emulator, pytest.mark.assets, pytest.mark.slow]
KERNELS = {"cortex-m55": "mve"}  # what --kernels auto builds on each core (dsp elsewhere)
TOLERANCE = 0.005  # of the measured bytes: the kernels a model links differ a little between models


def measured_models(run):
    manifest = json.loads((run / "manifest.json").read_text())
    for m in manifest["measurements"]:
        if m["runtime"] == "mnd-c" and m.get("flash_parts"):
            yield m["target"], (run / m["target"] / "model.c").read_text(), m["flash_parts"]["model"]


@pytest.mark.parametrize("run", ["out/digits-m4", "out/vww-m4"])
def test_the_flash_estimate_is_within_half_a_percent_of_the_built_model(tour, run):
    rows = list(measured_models(tour_output(tour, run)))
    assert rows, f"{run}: no Cortex-M row with a flash breakdown"
    for core, model_c, built in rows:
        kernels = KERNELS.get(core, "dsp")
        assert (core, kernels) in CODE_BYTES
        estimate, _ = flash_estimate(model_c, core, kernels)
        assert abs(estimate - built) <= TOLERANCE * built, (run, core, estimate, built)
