"""The transfer-vww benchmark's pure helpers: pooling the folds, the goal's verdict, the time budget."""
import pytest

from tests.bench import transfer_vww as bench
from tests.bench.transfer_vww import Run

FINE_TUNE = f"fine-tune x{bench.DEFAULT_FACTOR:g}"


def runs(fine_tune: tuple, scratch: tuple, walls=((30.0, 40.0), (30.0, 40.0))) -> list:
    """Two folds of fine-tune and scratch with the given correct counts (of 100 each) and (fine-tune, scratch) walls."""
    made = []
    for fold in (1, 2):
        made.append(Run(FINE_TUNE, fold, bench.EPOCHS, walls[fold - 1][0], 1.0, fine_tune[fold - 1], 100))
        made.append(Run("scratch", fold, bench.EPOCHS, walls[fold - 1][1], 1.0, scratch[fold - 1], 100))
    return made


def test_pooled_sums_both_folds_and_refuses_a_missing_one():
    assert bench.pooled(runs((70, 66), (54, 61)), FINE_TUNE) == (136, 200)
    with pytest.raises(ValueError, match="has 1 folds"):
        bench.pooled(runs((70, 66), (54, 61))[:3], "scratch")


def test_the_goal_is_judged_on_the_estimate_and_on_the_interval():
    assert "NOT met" in bench.margin_verdict((136, 200), (125, 200))
    near = bench.margin_verdict((136, 200), (115, 200))
    assert "met on the point estimate only" in near and "above 0" in near
    assert "the whole 95% interval above it" in bench.margin_verdict((190, 200), (100, 200))


def test_scratch_gets_the_fine_tunes_time_only_where_it_was_faster():
    assert bench.budget_epochs(runs((70, 66), (54, 61))) == bench.EPOCHS
    slower_fine_tune = runs((70, 66), (54, 61), walls=((30.0, 40.0), (45.0, 30.0)))
    assert bench.budget_epochs(slower_fine_tune) == bench.EPOCHS * 3 // 2
    lines = bench.verdict_lines(runs((70, 66), (54, 61)) + [
        Run(f"fine-tune x{factor:g}", fold, bench.EPOCHS, 30.0, 1.0, 68, 100)
        for factor in bench.OTHER_FACTORS for fold in (1, 2)], bench.EPOCHS)
    assert lines[0].startswith(f"- Fine-tune (x{bench.DEFAULT_FACTOR:g}) - scratch, same epochs: +10.5 points")
    assert "no longer scratch run was needed" in lines[1]
    assert "chosen within the noise" in lines[-1]
