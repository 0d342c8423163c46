"""--strategy, --workers/--task-index and TF_CONFIG: the cluster each describes, the linear scaling rule, and the
one-line refusals of bad combinations."""
import json

import pytest

from mnd.base.errors import UsageError
from mnd.pipeline.training.strategies import Cluster, cluster_from_options, describe, scaled_learning_rate, tf_config

TWO = "10.0.0.1:2222,10.0.0.2:2222"


def test_workers_and_task_index_build_the_tf_config():
    cluster = cluster_from_options("multi-worker", TWO, 1, environ={})
    assert cluster == Cluster(("10.0.0.1:2222", "10.0.0.2:2222"), 1, False) and cluster.size == 2
    assert json.loads(tf_config(cluster)) == {"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]},
                                              "task": {"type": "worker", "index": 1}}


def test_tf_config_with_a_chief_puts_it_first():
    config = {"cluster": {"chief": ["a:1"], "worker": ["b:2", "c:3"]}, "task": {"type": "worker", "index": 0}}
    cluster = cluster_from_options("multi-worker", None, None, environ={"TF_CONFIG": json.dumps(config)})
    assert cluster == Cluster(("a:1", "b:2", "c:3"), 1, False)
    chief = {**config, "task": {"type": "chief", "index": 0}}
    assert cluster_from_options("multi-worker", None, None, environ={"TF_CONFIG": json.dumps(chief)}).chief


def test_one_worker_needs_no_cluster():
    assert cluster_from_options("multi-worker", None, None, environ={}) == Cluster()
    assert tf_config(cluster_from_options("multi-worker", "127.0.0.1:5000", 0, environ={})) is not None
    assert cluster_from_options("default", None, None, environ={"TF_CONFIG": "not json"}) == Cluster()


@pytest.mark.parametrize("strategy, workers, index, environ, message", [
    ("multi-worker", TWO, None, {}, "--workers needs --task-index"),
    ("multi-worker", None, 0, {}, "--task-index needs --workers"),
    ("multi-worker", TWO, 2, {}, "--task-index 2 is out of range: the cluster has 2 worker"),
    ("mirrored", TWO, 0, {}, "are for --strategy multi-worker"),
    ("multi-worker", "10.0.0.1", 0, {}, "'10.0.0.1' is not host:port"),
    ("multi-worker", "a:1,a:1", 0, {}, "lists an address twice"),
    ("multi-worker", None, None, {"TF_CONFIG": "{cluster"}, "TF_CONFIG is not JSON"),
    ("multi-worker", None, None, {"TF_CONFIG": '{"cluster": {"worker": ["a:1"]}}'}, "needs 'cluster' and 'task'"),
    ("multi-worker", None, None, {"TF_CONFIG": '{"cluster": {"ps": ["a:1"]}, "task": {"type": "ps", "index": 0}}'},
     "may hold one 'chief' and a 'worker' list"),
    ("multi-worker", None, None, {"TF_CONFIG": '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker"}}'},
     "integer index"),
])
def test_bad_combinations_are_one_line_usage_errors(strategy, workers, index, environ, message):
    with pytest.raises(UsageError, match=message) as caught:
        cluster_from_options(strategy, workers, index, environ=environ)
    assert "\n" not in str(caught.value)


def test_the_global_batch_and_peak_rate_scale_with_the_replicas():
    class FourReplicas:
        num_replicas_in_sync = 4

    shares = describe("multi-worker", Cluster(("a:1", "b:1"), 0, True), FourReplicas(), 32, 2e-3)
    assert (shares["global_batch"], shares["learning_rate"], shares["per_replica_batch"]) == (128, 8e-3, 32)
    assert shares["workers"] == ["a:1", "b:1"] and shares["chief"]
    assert scaled_learning_rate(1e-3, 1) == 1e-3


def test_cli_refuses_workers_without_task_index_before_training(mnd, tmp_path):
    result = mnd("train", "--model", "mobilenet_v1_025_32", "--dataset", "digits", "--out", tmp_path / "run",
                 "--strategy", "multi-worker", "--workers", TWO, check=2)
    assert result.stderr.strip().splitlines()[-1].startswith("mnd: error: --workers needs --task-index")
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()
