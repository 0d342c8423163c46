"""The README's CLI tour as commands: its ```sh and ```console code blocks (```text blocks are output excerpts), one
command per line (a trailing `\\` continues it), `$ ` lines followed by the output they print, lines marked
`# needs: ...` (a board, a phone, Docker, your own files) and `make` lines kept out of the walk. Example file names
(vww_96_int8.tflite, vww_dev, coral/...) become their paths under the test assets (../shared/assets)."""
import re
import shlex
from dataclasses import dataclass, field

TOUR_HEADING = "## CLI tour"
WALKED_BLOCKS = ("sh", "console")
OUTPUT_BLOCKS = ("text",)
NEEDS = re.compile(r"#\s*needs:\s*(?P<what>[^#]+?)\s*$")
EXACT_NUMBER = re.compile(r"\b\d{1,3}(?:,\d{3})+\b")  # 7,489,664: counts the README prints exactly
# The README's example files, as a reader who downloaded them names them, and where the test assets keep them.
ASSETS = {
    "vww_96_int8.tflite": "mlperf_vww/vww_96_int8.tflite",
    "vww_96.h5": "mlperf_vww/vww_96.h5",
    "vww_dev": "vww_dev",
    "imagenet_dev": "imagenet_dev",
    "person_detect.tflite": "tflm_person_detection/person_detect.tflite",
    "coral/mobilenet_v1_0.25_128_quant.tflite": "coral_mobilenet_v1_quant/mobilenet_v1_0.25_128_quant.tflite",
    "coral/mobilenet_v1_0.5_160_quant.tflite": "coral_mobilenet_v1_quant/mobilenet_v1_0.5_160_quant.tflite",
    "coral/mobilenet_v1_0.75_192_quant.tflite": "coral_mobilenet_v1_quant/mobilenet_v1_0.75_192_quant.tflite",
    "coral/mobilenet_v2_1.0_224_quant.tflite": "coral_mobilenet_v2_quant/mobilenet_v2_1.0_224_quant.tflite",
}


class TourError(ValueError):
    """The README breaks the tour's conventions (an unmarked block, a command that is not mnd's)."""


@dataclass(frozen=True)
class Command:
    line: str                       # as written in the README, continuation lines joined
    argv: tuple = ()                # shell words, comments dropped, example files mapped to the assets
    skipped: str = ""               # why it is not walked: "needs: a Raspberry Pi", "make"
    expected: tuple = field(default=())  # the output lines the README shows under a `$ ` command

    @property
    def expected_exit(self) -> int:
        """2 when the README shows it failing (`mnd: error: ...`, a usage or input error), else 0."""
        return 2 if any(line.startswith("mnd: error:") for line in self.expected) else 0

    def expected_error(self) -> str:
        """The error line as shown, up to its `...` (the README shortens the rest)."""
        (line,) = [line for line in self.expected if line.startswith("mnd: error:")]
        return line.split(" ...")[0].rstrip()

    def expected_numbers(self) -> list:
        return [number for line in self.expected for number in EXACT_NUMBER.findall(line)]


def tour_section(markdown: str) -> str:
    """From the `## CLI tour` heading to the next second-level heading."""
    lines = markdown.splitlines()
    if TOUR_HEADING not in lines:
        raise TourError(f"no '{TOUR_HEADING}' heading")
    start = lines.index(TOUR_HEADING) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start:end])


def code_blocks(section: str) -> list:
    """(info string, lines) of every fenced block, in order."""
    blocks, info, body = [], None, []
    for line in section.splitlines():
        if line.startswith("```"):
            if info is None:
                info, body = line[3:].strip(), []
            else:
                blocks.append((info, body))
                info = None
        elif info is not None:
            body.append(line)
    if info is not None:
        raise TourError("a code block is not closed")
    return blocks


def joined(lines: list) -> list:
    """Lines with trailing-backslash continuations joined into one."""
    out, pending = [], ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1].rstrip() + " "
        else:
            out.append(pending + line.strip() if pending else line)
            pending = ""
    if pending:
        raise TourError(f"a continued line ends the block: {pending.strip()!r}")
    return out


def substituted(word: str, assets) -> str:
    return str(assets / ASSETS[word]) if word in ASSETS else word


def command(line: str, assets, expected=()) -> Command:
    marker = NEEDS.search(line)
    if marker:
        return Command(line, skipped=f"needs: {marker['what']}", expected=tuple(expected))
    words = shlex.split(line, comments=True)
    if words[0] == "make":
        return Command(line, skipped="make", expected=tuple(expected))
    if words[0] != "mnd":
        raise TourError(f"not an mnd command and not marked '# needs: ...': {line!r}")
    return Command(line, tuple(substituted(word, assets) for word in words), expected=tuple(expected))


def block_commands(info: str, lines: list, assets) -> list:
    if info not in WALKED_BLOCKS + OUTPUT_BLOCKS:
        raise TourError(f"a tour code block must be ```sh, ```console or ```text, not ```{info}: {lines[:1]}")
    if info in OUTPUT_BLOCKS:
        return []
    lines = joined(lines)
    if info == "sh":
        return [command(line.strip(), assets) for line in lines if line.strip() and not line.lstrip().startswith("#")]
    commands, current, output = [], None, []
    for line in lines + ["$ "]:
        if line.startswith("$ "):
            if current is not None:
                commands.append(command(current, assets, output))
            current, output = line[2:].strip(), []
        elif current is None:
            raise TourError(f"a ```console block must start with a `$ ` command: {line!r}")
        else:
            output.append(line)
    return commands


def tour_commands(markdown: str, assets) -> list:
    """Every command of the tour, in the README's order, walked or not."""
    return [c for info, lines in code_blocks(tour_section(markdown)) for c in block_commands(info, lines, assets)]
