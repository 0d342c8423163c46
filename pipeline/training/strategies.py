"""`--strategy default|mirrored|multi-worker`: the tf.distribute strategy a run trains under and its cluster.

MultiWorkerMirroredStrategy reads its cluster from TF_CONFIG (or --workers host:port,... with --task-index I, which
build it) and must be created before TensorFlow runs any op, so the CLI creates it first. --batch-size is per
replica: the global batch is batch x replicas in sync, and the peak learning rate scales linearly with the
replicas (Goyal et al. 2017, "Accurate, Large Minibatch SGD"; the schedule's warm-up is what makes that safe)."""
import json
import os
from dataclasses import dataclass

from mnd.base.errors import UsageError

STRATEGIES = ("default", "mirrored", "multi-worker")
SCALING_RULE = "global batch = --batch-size x replicas; peak learning rate = --lr x replicas (linear scaling)"


@dataclass(frozen=True)
class Cluster:
    """This process's place in a multi-worker cluster (one worker when there is no TF_CONFIG)."""
    workers: tuple = ()
    task_index: int = 0
    chief: bool = True

    @property
    def size(self) -> int:
        return max(len(self.workers), 1)


def cluster_from_options(strategy: str, workers: str | None, task_index: int | None, environ=os.environ) -> Cluster:
    """The cluster --workers/--task-index or TF_CONFIG describe; a bad combination is a one-line UsageError."""
    if strategy not in STRATEGIES:
        raise UsageError(f"--strategy {strategy} is not one of {', '.join(STRATEGIES)}")
    if (workers is not None or task_index is not None) and strategy != "multi-worker":
        raise UsageError("--workers and --task-index are for --strategy multi-worker; add it or drop them")
    if strategy != "multi-worker":
        return Cluster()
    if workers is not None:
        if task_index is None:
            raise UsageError("--workers needs --task-index I: this machine's position in the --workers list, from 0")
        config = {"cluster": {"worker": _addresses(workers)}, "task": {"type": "worker", "index": task_index}}
        return _cluster_of(config, "--task-index")
    if task_index is not None:
        raise UsageError("--task-index needs --workers host:port,host:port (or drop it and set TF_CONFIG)")
    if not environ.get("TF_CONFIG", "").strip():
        return Cluster()
    try:
        config = json.loads(environ["TF_CONFIG"])
    except ValueError as error:
        raise UsageError(f"TF_CONFIG is not JSON ({error}); set it as in docs/TRAINING.md or use --workers") from None
    return _cluster_of(config, "TF_CONFIG's task index")


def tf_config(cluster: Cluster) -> str | None:
    """The TF_CONFIG (JSON) MultiWorkerMirroredStrategy reads for `cluster`; None for one worker on its own."""
    if not cluster.workers:
        return None
    return json.dumps({"cluster": {"worker": list(cluster.workers)}, "task": {"type": "worker",
                                                                             "index": cluster.task_index}})


def create(strategy: str, cluster: Cluster):
    """The strategy, created before any other TensorFlow op (MultiWorkerMirroredStrategy's requirement)."""
    import tensorflow as tf

    if strategy == "default":
        return tf.distribute.get_strategy()
    if strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    config = tf_config(cluster)
    if config is None:
        os.environ.pop("TF_CONFIG", None)
    else:
        os.environ["TF_CONFIG"] = config
    return tf.distribute.MultiWorkerMirroredStrategy()


def describe(name: str, cluster: Cluster, strategy, batch_size: int, learning_rate: float) -> dict:
    """What the manifest records about the distribution; global_batch and learning_rate are what training uses."""
    replicas = strategy.num_replicas_in_sync
    return {"strategy": name, "workers": list(cluster.workers) or ["local"], "task_index": cluster.task_index,
            "chief": cluster.chief, "replicas": replicas, "per_replica_batch": batch_size,
            "global_batch": batch_size * replicas, "base_learning_rate": learning_rate,
            "learning_rate": scaled_learning_rate(learning_rate, replicas), "rule": SCALING_RULE}


def scaled_learning_rate(learning_rate: float, replicas: int) -> float:
    return learning_rate * replicas


def _addresses(workers: str, source: str = "--workers") -> list:
    addresses = [address.strip() for address in workers.split(",")]
    for address in addresses:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise UsageError(f"{source}: '{address}' is not host:port (for example 10.0.0.2:12345)")
    if len(set(addresses)) != len(addresses):
        raise UsageError(f"{source} lists an address twice: {workers}")
    return addresses


def _cluster_of(config, index_name: str) -> Cluster:
    """A cluster from TF_CONFIG's JSON: worker (and optional chief) jobs, this task's type and index."""
    fix = "; set it as in docs/TRAINING.md or use --workers"
    cluster, task = (config.get("cluster"), config.get("task")) if isinstance(config, dict) else (None, None)
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise UsageError(f"TF_CONFIG needs 'cluster' and 'task' objects{fix}")
    jobs = {job: cluster.get(job, []) for job in ("chief", "worker")}
    if set(cluster) - set(jobs) or not all(isinstance(hosts, list) and all(isinstance(h, str) for h in hosts)
                                           for hosts in jobs.values()) or len(jobs["chief"]) > 1:
        raise UsageError(f"TF_CONFIG's cluster may hold one 'chief' and a 'worker' list of host:port strings{fix}")
    kind, index = task.get("type"), task.get("index")
    if kind not in jobs or not isinstance(index, int) or isinstance(index, bool):
        raise UsageError(f"TF_CONFIG's task needs a type (chief or worker) and an integer index{fix}")
    if not 0 <= index < len(jobs[kind]):
        raise UsageError(f"{index_name} {index} is out of range: the cluster has {len(jobs[kind])} {kind}(s), "
                         f"indexed from 0")
    everyone = jobs["chief"] + jobs["worker"]
    _addresses(",".join(everyone), "TF_CONFIG")
    position = index if kind == "chief" else len(jobs["chief"]) + index
    return Cluster(tuple(everyone), position, position == 0)
