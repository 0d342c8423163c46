"""A worker with several replicas (MirroredStrategy over two logical CPUs, in a fresh process: devices are set
before TensorFlow starts): each replica gets a consecutive half of the worker's share of every global batch. (The
first step's loss matching one replica's is checked across two workers, tests/cli/test_train_multiworker.py.)"""
import json
import subprocess
import sys

import pytest

SCRIPT = r"""
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import numpy as np
from mnd.pipeline.data.dataset import Dataset
from mnd.pipeline.data.preprocess import Preprocessing
from mnd.pipeline.training.array_data import ArrayTrainingData
from mnd.pipeline.training.augment import Augmentation
from mnd.pipeline.training.loop import _epoch_batches

rng = np.random.default_rng(0)
dataset = Dataset("noise", rng.integers(0, 256, (64, 32, 32, 1), dtype=np.uint8), np.arange(64) % 3, ("a", "b", "c"))
data = ArrayTrainingData(dataset, dataset.subset(np.arange(8)), Preprocessing("unit", 32, 1), Augmentation(max_shift=2),
                         seed=0)
one, two = tf.distribute.get_strategy(), tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
split = []
for whole, parts in zip(_epoch_batches(one, data, 1, 32), _epoch_batches(two, data, 1, 32)):
    halves = [two.experimental_local_results(part) for part in parts]
    split.append(all(np.array_equal(np.concatenate([h.numpy() for h in halves[i]]), whole[i].numpy())
                     and len(halves[i]) == 2 and len(halves[i][0]) == 16 for i in range(3)))
print(json.dumps({"split": split}))
"""


@pytest.mark.slow
def test_two_replicas_of_one_worker_split_its_share_of_every_global_batch():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["split"] == [True, True]
