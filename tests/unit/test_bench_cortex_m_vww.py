"""The cortex-m-vww benchmark's pure helpers: bit-exact counts read from the manifest's checks, the per-layer sums,
the table's ratios against TFLM + CMSIS-NN and the bars, all computed from the rows given."""
import pytest

from tests.bench import cortex_m_vww as bench


def _row(runtime, instructions, cycles, layers=2, **more):
    split = [instructions // layers] * (layers - 1) + [instructions - instructions // layers * (layers - 1)]
    cycles_split = [cycles // layers] * (layers - 1) + [cycles - cycles // layers * (layers - 1)]
    return {"target": "cortex-m4", "runtime": runtime, "instructions": instructions, "cycles_estimated": cycles,
            "n": 3, "accuracy": 2 / 3, "arena_bytes": 55_712, "model_flash_bytes": 299_408, "flash_bytes": 302_636,
            "layers": [{"instructions": i, "cycles_estimated": c} for i, c in zip(split, cycles_split)], **more}


def _check(runtime, differ, n=3, passed=None):
    return {"name": f"cortex-m4 {runtime} vs litert reference", "passed": differ == 0 if passed is None else passed,
            "detail": f"{differ} of {n} samples differ"}


def test_bit_exact_counts_come_from_passed_checks_only():
    manifest = {"validations": [_check("mnd-c", 0), _check("tflm-reference", 1), _check("tflm-cmsis-nn", 0, 3,
                                                                                         passed=False)]}
    assert bench.exact_samples(manifest, "cortex-m4", "mnd-c") == 3
    assert bench.exact_samples(manifest, "cortex-m4", "tflm-reference") is None
    assert bench.exact_samples(manifest, "cortex-m4", "tflm-cmsis-nn") is None
    assert bench.exact_samples(manifest, "cortex-m7", "mnd-c") is None


def test_layers_must_sum_to_the_totals():
    row = _row("mnd-c", 12_000_000, 17_000_000, layers=31)
    assert bench.layers_sum(row)
    row["layers"][0]["cycles_estimated"] += 1000
    assert not bench.layers_sum(row)


def test_table_ratios_against_cmsis_nn_of_the_same_run():
    manifest = {"measurements": [_row("mnd-c", 12_000_000, 18_000_000), _row("tflm-cmsis-nn", 24_000_000, 30_000_000),
                                 _row("tflm-reference", 100_000_000, 144_000_000)],
                "validations": [_check(r, 0) for r in ("mnd-c", "tflm-cmsis-nn", "tflm-reference")]}
    measured = {("cortex-m4", "auto"): bench.core_rows(manifest, "cortex-m4")}
    lines = bench.table(measured)
    mnd_c = next(line for line in lines if "| mnd-c (kernels auto) |" in line)
    assert "| 12,000,000 | 18,000,000 | 0.50x | 0.60x |" in mnd_c and "| 3 / 3 | yes |" in mnd_c
    reference = next(line for line in lines if "TFLM reference kernels" in line)
    assert "| 4.17x | 4.80x |" in reference
    verdicts = "\n".join(bench.verdicts(measured))
    assert "cortex-m4 mnd-c estimated cycles at zero wait states <= 10,600,000: measured 18,000,000: **NOT met**" \
        in verdicts
    assert "model-library flash B <= 327,680: measured 299,408: **met**" in verdicts
    assert "cortex-m55 mnd-c instructions <= 3,000,000: not measured" in verdicts
    assert "1.69x of it" in verdicts


def test_samples_is_refused_for_benchmarks_that_do_not_take_it(capsys):
    from tests.bench import run

    for argv in (["cortex-m-mobilenets", "--samples", "2"], ["cortex-m-vww", "--samples", "0"]):
        with pytest.raises(SystemExit) as stopped:
            run.main(argv)
        assert stopped.value.code == 2
    assert "--samples takes N >= 1 and only these benchmarks: cortex-m-vww" in capsys.readouterr().err
