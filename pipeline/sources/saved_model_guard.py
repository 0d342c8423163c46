"""Static check of a SavedModel's graphs before anything loads them: every op that loading or serving could run
must be a pure inference op (arithmetic, layers, variables, calls of functions the model itself holds).

Model files are untrusted, and a SavedModel is a program: `tf.io.write_file`, `tf.py_function` or `tf.print`
inside a serving function run as soon as it is called. This module reads saved_model.pb with TensorFlow's
protobuf classes only (nothing is imported into a graph or executed) and walks every node of every meta graph,
including every function of the function library.

Checkpoint I/O is where TensorFlow puts it, and nowhere else: SaveV2 and MergeV2Checkpoints (with their filename
helpers) only in what the SaverDef's save tensor alone reaches, which no loader runs; RestoreV2 only in what its
restore op alone reaches — for TF2 SavedModels (those with an object graph) TensorFlow's loader never runs it (it
builds its own restore from the object graph), for TF1 ones it runs with the SavedModel's own variables path,
so there RestoreV2 must read from the SaverDef's filename tensor. Everything a signature, a collection (init
ops), the object graph or any other node or function can reach may hold inference ops only.
"""
from pathlib import Path

from mnd.base.errors import ModelError

INFERENCE_OPS = frozenset({
    # plumbing, calls (every library function is checked too), control flow over checked functions
    "Const", "Identity", "IdentityN", "NoOp", "Placeholder", "PlaceholderWithDefault", "StopGradient",
    "PreventGradient", "Snapshot", "EnsureShape", "StatefulPartitionedCall", "PartitionedCall", "If", "StatelessIf",
    "While", "StatelessWhile", "Switch", "Merge",
    # in-process variable state (loading assigns the weights)
    "VarHandleOp", "ReadVariableOp", "AssignVariableOp", "VarIsInitializedOp", "VariableV2", "Assign",
    # elementwise arithmetic
    "Add", "AddV2", "AddN", "Sub", "Mul", "RealDiv", "Div", "DivNoNan", "FloorDiv", "FloorMod", "Maximum",
    "Minimum", "Neg", "Abs", "Square", "SquaredDifference", "Sqrt", "Rsqrt", "Reciprocal", "Exp", "Log", "Log1p",
    "Pow", "Erf", "Tanh", "Sigmoid", "Floor", "Ceil", "Round", "Sign", "Cast", "ClipByValue",
    # layers
    "BiasAdd", "MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum", "Conv2D", "Conv2DBackpropInput",
    "DepthwiseConv2dNative", "Relu", "Relu6", "LeakyRelu", "Elu", "Selu", "Softplus", "Softsign", "Softmax",
    "LogSoftmax", "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "AvgPool", "MaxPool", "MaxPoolV2", "LRN",
    "FakeQuantWithMinMaxVars", "FakeQuantWithMinMaxVarsPerChannel", "FakeQuantWithMinMaxArgs",
    # reductions and comparisons
    "Mean", "Sum", "Max", "Min", "Prod", "ArgMax", "ArgMin", "All", "Any", "Cumsum", "TopKV2", "Equal", "NotEqual",
    "Less", "LessEqual", "Greater", "GreaterEqual", "LogicalAnd", "LogicalOr", "LogicalNot",
    # shapes and indexing
    "Reshape", "Squeeze", "ExpandDims", "Transpose", "ConcatV2", "Concat", "Pack", "Unpack", "Split", "SplitV",
    "Slice", "StridedSlice", "Pad", "PadV2", "MirrorPad", "Shape", "ShapeN", "Size", "Rank", "Fill", "ZerosLike",
    "OnesLike", "Range", "Tile", "GatherV2", "GatherNd", "Select", "SelectV2", "BroadcastTo", "BroadcastArgs",
    "ReverseV2", "OneHot", "Where",
    # images
    "ResizeBilinear", "ResizeNearestNeighbor", "ResizeBicubic", "DepthToSpace", "SpaceToDepth", "SpaceToBatchND",
    "BatchToSpaceND",
})
SAVE_OPS = frozenset({"SaveV2", "MergeV2Checkpoints", "ShardedFilename", "StringJoin", "StaticRegexFullMatch",
                      "DisableCopyOnRead"})
RESTORE_OPS = frozenset({"RestoreV2"})
WHAT_IT_DOES = {
    "WriteFile": "writes files", "ReadFile": "reads files", "MatchingFiles": "lists files",
    "PyFunc": "runs Python code", "PyFuncStateless": "runs Python code", "EagerPyFunc": "runs Python code",
    "PrintV2": "prints or writes to a file", "Print": "prints", "Assert": "raises errors and logs tensors",
    "SaveV2": "writes checkpoint files", "MergeV2Checkpoints": "writes checkpoint files",
    "Save": "writes checkpoint files", "SaveSlices": "writes checkpoint files", "RestoreV2": "reads checkpoint files",
    "Restore": "reads checkpoint files", "RestoreSlice": "reads checkpoint files",
    "ImmutableConst": "maps a file into memory", "DebugIdentityV2": "writes debug dumps",
    "WriteSummary": "writes summaries", "CreateSummaryFileWriter": "writes summaries",
    "WholeFileReaderV2": "reads files", "TFRecordDatasetV2": "reads files",
}
FIX = "only pure inference ops are allowed (save the model as .keras with built-in layers instead)"


def check_saved_model(path: Path) -> bytes:
    """The bytes of `path`/saved_model.pb, once no meta graph holds an op outside what the module docstring allows."""
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    data = (Path(path) / "saved_model.pb").read_bytes()
    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString(data)
    except DecodeError as error:
        raise ModelError(f"cannot load '{path}': saved_model.pb does not parse ({error}) — is the file complete?") \
            from None
    if not proto.meta_graphs:
        raise ModelError(f"cannot load '{path}': saved_model.pb holds no meta graph — is the file complete?")
    problems = {}
    for meta_graph in proto.meta_graphs:
        for key, where in _Graph(meta_graph.graph_def, meta_graph).problems().items():
            problems.setdefault(key, where)
    _raise(path, problems)
    return data


def check_graph_def(graph_def, path: Path) -> None:
    """A frozen GraphDef (no saver, no signatures) with inference ops only, in its nodes and its functions."""
    _raise(path, _Graph(graph_def, None).problems())


def _raise(path: Path, problems: dict) -> None:
    if not problems:
        return
    found = ", ".join(f"{what} in {where}" for what, where in sorted(problems.items()))
    raise ModelError(f"'{path}': the SavedModel's graph holds {found}, which mnd does not run; {FIX}")


def _tensor_node(name: str) -> str:
    return name.lstrip("^").split(":")[0]


class _Graph:
    """Units are ("node", name) for the main graph and ("function", name) for the library; a unit reaches the
    nodes it reads and the functions its nodes call (function bodies run whole, so any call reaches all of it)."""

    def __init__(self, graph_def, meta_graph):
        self.nodes = {node.name: node for node in graph_def.node}
        self.functions = {function.signature.name: function for function in graph_def.library.function}
        self.meta_graph = meta_graph
        saver = meta_graph.saver_def if meta_graph is not None else None
        self.filename = _tensor_node(saver.filename_tensor_name) if saver is not None else None
        self.save_roots = self._existing([saver.save_tensor_name] if saver is not None else [])
        self.restore_roots = self._existing([saver.restore_op_name] if saver is not None else [])

    def _existing(self, names) -> set:
        return {("node", _tensor_node(name)) for name in names if _tensor_node(name) in self.nodes}

    def node_defs(self, unit):
        kind, name = unit
        return [self.nodes[name]] if kind == "node" else list(self.functions[name].node_def)

    def calls(self, node) -> list:
        """Function names a node calls: its op when that is a library function, and every function attribute."""
        names = [node.op] if node.op in self.functions else []
        for attr in node.attr.values():
            names += [attr.func.name] if attr.HasField("func") else []
            names += [func.name for func in attr.list.func]
        return names

    def successors(self, unit) -> set:
        found = {("function", name) for node in self.node_defs(unit) for name in self.calls(node)
                 if name in self.functions}
        if unit[0] == "node":
            found |= {("node", _tensor_node(name)) for name in self.nodes[unit[1]].input
                      if _tensor_node(name) in self.nodes}
        return found

    def closure(self, roots) -> set:
        seen, stack = set(roots), list(roots)
        while stack:
            for unit in self.successors(stack.pop()) - seen:
                seen.add(unit)
                stack.append(unit)
        return seen

    def entry_points(self) -> set:
        """What loaders and callers run by name: signature tensors, collection nodes, object-graph functions."""
        if self.meta_graph is None:
            return set()
        names = [tensor.name for signature in self.meta_graph.signature_def.values()
                 for tensor in [*signature.inputs.values(), *signature.outputs.values()]]
        names += [name for collection in self.meta_graph.collection_def.values() for name in collection.node_list.value]
        objects = self.meta_graph.object_graph_def
        functions = set(objects.concrete_functions) | {node.bare_concrete_function.concrete_function_name
                                                       for node in objects.nodes}
        functions |= {name for node in objects.nodes for name in node.function.concrete_functions}
        return self._existing(names) | {("function", name) for name in functions if name in self.functions}

    def problems(self) -> dict:
        """{'op X (what it does)': 'where'} for every refused op, first place found."""
        units = {("node", name) for name in self.nodes} | {("function", name) for name in self.functions}
        saving, restoring = self.closure(self.save_roots), self.closure(self.restore_roots)
        anything_else = self.closure((units - saving - restoring) | self.entry_points())
        tf2 = self.meta_graph is not None and self.meta_graph.HasField("object_graph_def")
        problems = {}
        for unit in sorted(units):
            only_saving = unit in saving and unit not in restoring and unit not in anything_else
            only_restoring = unit in restoring and unit not in saving and unit not in anything_else
            for node in self.node_defs(unit):
                allowed = INFERENCE_OPS | (SAVE_OPS if only_saving else frozenset())
                if only_restoring and (tf2 or (unit[0] == "node" and node.input
                                               and _tensor_node(node.input[0]) == self.filename)):
                    allowed |= RESTORE_OPS
                where = f"node '{unit[1]}'" if unit[0] == "node" else f"function '{unit[1]}'"
                for name in self.calls(node):
                    if name not in self.functions:
                        problems.setdefault(f"a call of function '{name}' (not in the SavedModel)", where)
                if node.op not in allowed and node.op not in self.functions:
                    what = WHAT_IT_DOES.get(node.op, "not a pure inference op")
                    problems.setdefault(f"op {node.op} ({what})", where)
        return problems
