"""Published ImageNet figures for MobileNet V2 and V3, as printed, with where each comes from.

Sources (both for 1001 classes, the checkpoints' background class included; 224x224 unless named):
- SLIM: tensorflow/models research/slim/nets/mobilenet/README.md, the V2 checkpoint table (MACs truncated to whole
  millions, parameters to 0.01 M) and the V3 checkpoint tables (MACs and parameters as printed).
- PAPER: Howard et al., "Searching for MobileNetV3" (ICCV 2019), Table 3 (float models, 224x224). Versions of the
  paper differ for Small: the one quoted here prints 56 M / 2.5 M (1.0) and 44 M / 2.0 M (0.75); another prints the
  slim README's 66 M / 2.9 M and 2.4 M, which a count of the released architecture does not reproduce.
"""
from dataclasses import dataclass

SLIM = "slim README"
PAPER = "V3 paper Table 3"


@dataclass(frozen=True)
class Published:
    """One printed row: MACs in millions, parameters in millions, ImageNet top-1 in percent."""

    source: str
    mult_adds_m: float
    params_m: float
    top1: float


# mobilenet_v2_<alpha>_<side>: (MACs M, params M, top-1 %) from the slim README's 22-row table.
V2_SLIM = {
    (1.4, 224): (582, 6.06, 75.0), (1.3, 224): (509, 5.34, 74.4),
    (1.0, 224): (300, 3.47, 71.8), (1.0, 192): (221, 3.47, 70.7), (1.0, 160): (154, 3.47, 68.8),
    (1.0, 128): (99, 3.47, 65.3), (1.0, 96): (56, 3.47, 60.3),
    (0.75, 224): (209, 2.61, 69.8), (0.75, 192): (153, 2.61, 68.7), (0.75, 160): (107, 2.61, 66.4),
    (0.75, 128): (69, 2.61, 63.2), (0.75, 96): (39, 2.61, 58.8),
    (0.5, 224): (97, 1.95, 65.4), (0.5, 192): (71, 1.95, 63.9), (0.5, 160): (50, 1.95, 61.0),
    (0.5, 128): (32, 1.95, 57.7), (0.5, 96): (18, 1.95, 51.2),
    (0.35, 224): (59, 1.66, 60.3), (0.35, 192): (43, 1.66, 58.2), (0.35, 160): (30, 1.66, 55.7),
    (0.35, 128): (20, 1.66, 50.8), (0.35, 96): (11, 1.66, 45.5),
}

# (family, alpha, minimalistic) -> the rows printed for it; V3 checkpoints are all 224x224.
V3_PUBLISHED = {
    ("v3_large", 1.0, False): (Published(SLIM, 217, 5.4, 75.2), Published(PAPER, 219, 5.4, 75.2)),
    ("v3_large", 0.75, False): (Published(SLIM, 155, 4.0, 73.3), Published(PAPER, 155, 4.0, 73.3)),
    ("v3_small", 1.0, False): (Published(SLIM, 66, 2.9, 67.5), Published(PAPER, 56, 2.5, 67.4)),
    ("v3_small", 0.75, False): (Published(SLIM, 44, 2.4, 65.4), Published(PAPER, 44, 2.0, 65.4)),
    ("v3_large", 1.0, True): (Published(SLIM, 209, 3.9, 72.3),),
    ("v3_small", 1.0, True): (Published(SLIM, 65, 2.0, 61.9),),
}
V3_SIDE = 224

# Published rows that no counting convention of the architecture reproduces, and why (the summary says so).
V3_UNMATCHED = {
    ("v3_small", 1.0, True): "the slim README's 65 M MACs are 13 M above a count of Small minimalistic as Keras and "
                             "slim build it (52.3 M); its 2.0 M parameters agree, and no paper figure exists",
}


def v2_published(alpha: float, side: int) -> Published | None:
    row = V2_SLIM.get((alpha, side))
    return Published(SLIM, *row) if row else None


def v3_published(family: str, alpha: float, side: int, minimalistic: bool) -> tuple:
    return V3_PUBLISHED.get((family, alpha, minimalistic), ()) if side == V3_SIDE else ()
