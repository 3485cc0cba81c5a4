"""Matrix-product peaks of a device, measured and as the vendor states them:
what ``benchmarks.gpu_throughput`` compares the networks' FLOP/s to.

"Measured peak": the best FLOP/s of a large square ``torch.matmul`` in every
dtype (CUDA events on CUDA, ``time.perf_counter`` on the CPU), and of one
batch by a hidden layer. "Spec peak": the vendor's dense figure for a known
GPU (:data:`SPEC_PEAKS`).
"""

from __future__ import annotations

import time

import torch

from sktaaf.measure import markdown_table

SEED = 0

#: The dtype of every peak-measuring product (``tf32``: float32, TF32 allowed).
MATMUL_DTYPES = {
    "fp32": torch.float32,
    "tf32": torch.float32,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}
_H100_SXM = {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4}
#: Vendor dense peaks in TFLOP/s (NVIDIA data sheets, sparsity not counted):
#: (substring of ``torch.cuda.get_device_name()``, part, peaks); first match.
SPEC_PEAKS = [
    (
        "H100 PCIe",
        "H100 PCIe",
        {"fp32": 51.2, "tf32": 378.0, "bf16": 756.5, "fp16": 756.5},
    ),
    ("H100", "H100 SXM", _H100_SXM),
    ("H200", "H200 SXM (as H100 SXM)", _H100_SXM),
    ("A100", "A100 SXM", {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "fp16": 312.0}),
]

PEAK_SIZES = {"cuda": 8192, "cpu": 1024}


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def matmul_tflops(
    shape: tuple[int, int, int], kind: str, device: str, repeats: int
) -> float:
    """Best TFLOP/s of ``(m x k) @ (k x n)`` products in the dtype of ``kind``.

    On CUDA each repeat times 10 products between CUDA events; on the CPU one,
    with ``time.perf_counter``. ``"tf32"`` allows TF32 for the products,
    ``"fp32"`` forbids it; the setting is restored afterwards.
    """
    m, k, n = shape
    cuda = device.startswith("cuda")
    inner = 10 if cuda else 1
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high" if kind == "tf32" else "highest")
    try:
        generator = torch.Generator(device).manual_seed(SEED)
        dtype = MATMUL_DTYPES[kind]
        a = torch.randn(m, k, device=device, generator=generator).to(dtype)
        b = torch.randn(k, n, device=device, generator=generator).to(dtype)
        out = torch.empty(m, n, device=device, dtype=dtype)
        for _ in range(3):  # warm-up: kernel selection, clocks
            torch.matmul(a, b, out=out)
        _synchronize(device)
        best = float("inf")
        for _ in range(repeats):
            if cuda:
                start, end = (torch.cuda.Event(enable_timing=True) for _ in "se")
                start.record()
                for _ in range(inner):
                    torch.matmul(a, b, out=out)
                end.record()
                end.synchronize()
                seconds = start.elapsed_time(end) / 1000
            else:
                begin = time.perf_counter()
                torch.matmul(a, b, out=out)
                seconds = time.perf_counter() - begin
            best = min(best, seconds / inner)
    finally:
        torch.set_float32_matmul_precision(previous)
    return 2 * m * k * n / best / 1e12


def peak_kind(precision: str, tf32: bool, device: str) -> str:
    """The peak a precision's training is compared to."""
    if precision == "fp32" and tf32 and device.startswith("cuda"):
        return "tf32"
    return precision


def measure_peaks(config: dict, log=print) -> dict:
    """Measured peaks of every dtype the run needs: square and layer-shaped."""
    device = config["device"]
    # All of them on CUDA, where they take seconds; on the CPU (where float16
    # products can be a thousand times slower) those of --precisions.
    kinds = set(MATMUL_DTYPES if device.startswith("cuda") else config["precisions"])
    size, width = config["peak_size"], max(config["hidden_layer_sizes"])
    shapes = {
        "square": (size, size, size),
        "layer": (config["batch_size"], width, width),
    }
    peaks = {}
    for kind in MATMUL_DTYPES:
        if kind not in kinds:
            continue
        peaks[kind] = {"shapes": {name: list(s) for name, s in shapes.items()}}
        for name, shape in shapes.items():
            try:
                tflops = matmul_tflops(shape, kind, device, config["peak_repeats"])
            except RuntimeError as exc:  # a dtype the device cannot multiply
                peaks[kind][f"{name}_error"] = str(exc).splitlines()[0]
                tflops = None
            peaks[kind][f"{name}_tflops"] = tflops
        log(
            f"peak {kind}: {number_text(peaks[kind]['square_tflops'], '.4g')} TFLOP/s "
            f"square {size}, {number_text(peaks[kind]['layer_tflops'], '.4g')} "
            f"TFLOP/s at {shapes['layer']}"
        )
    return peaks


def spec_peaks(device_name: str) -> dict | None:
    """The vendor's dense peaks of a known GPU, else None."""
    for pattern, part, peaks in SPEC_PEAKS:
        if pattern in device_name:
            return {"part": part, "tflops": peaks}
    return None


def shares(tflops: float, kind: str, peaks: dict, spec: dict | None) -> dict:
    """``tflops`` as a share of the measured and of the spec peak of ``kind``."""
    measured = peaks.get(kind, {}).get("square_tflops")
    return {
        "peak_kind": kind,
        "share_of_peak": tflops / measured if measured else None,
        "share_of_spec_peak": tflops / spec["tflops"][kind] if spec else None,
    }


def number_text(value, spec: str, scale: float = 1) -> str:
    """``value`` (times ``scale``) formatted by ``spec``; blank for None."""
    return "" if value is None else format(value * scale, spec)


def percent_text(value) -> str:
    """A share as a percentage with one decimal; blank for None."""
    return "" if value is None else f"{100 * value:.1f}%"


def peaks_table(peaks: dict, spec: dict | None) -> str:
    shapes = next(iter(peaks.values()))["shapes"] if peaks else {}
    square = "x".join(map(str, shapes.get("square", [])[:2]))
    layer = "{} x {} @ {} x {}".format(*shapes["layer"], shapes["layer"][2])
    titles = [
        "matmul",
        f"square {square} TFLOP/s",
        f"layer {layer} TFLOP/s",
        "spec TFLOP/s",
    ]
    lines = [
        [
            kind,
            number_text(peak["square_tflops"], ".4g"),
            number_text(peak["layer_tflops"], ".4g"),
            number_text(spec["tflops"].get(kind) if spec else None, ".1f"),
        ]
        for kind, peak in peaks.items()
    ]
    return markdown_table(titles, lines, "lrrr")
