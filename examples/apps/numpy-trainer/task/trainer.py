"""The numpy part of the numpy-trainer app: data, model, learning-rate schedule and a tiny PNG writer.

No ClearML here, so it can be tested (and reused) without a server; task/main.py does the reporting.
"""
import struct
import zlib

import numpy as np


def make_data(samples: int, noise: float, seed: int):
    """(x_train, y_train, x_val, y_val): a noisy sine on [-1, 1], every fifth sample kept for validation."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1.0, 1.0, size=max(samples, 10)))
    y = np.sin(np.pi * x) + rng.normal(0.0, noise, size=x.shape)
    val = np.zeros(x.shape, dtype=bool)
    val[::5] = True
    return x[~val], y[~val], x[val], y[val]


def features(x, kind: str, degree: int):
    """Design matrix: [1, x] for "linear", [1, x, ..., x^degree] for "polynomial"."""
    top = 1 if kind == "linear" else max(1, int(degree))
    return np.stack([x ** p for p in range(top + 1)], axis=1)


def mse(weights, x, y, kind: str, degree: int) -> float:
    residual = features(x, kind, degree) @ weights - y
    return float(np.mean(residual ** 2))


def sgd_step(weights, x, y, kind: str, degree: int, lr: float):
    """One full-batch gradient step on the mean squared error."""
    X = features(x, kind, degree)
    grad = 2.0 * X.T @ (X @ weights - y) / len(y)
    return weights - lr * grad


def initial_weights(kind: str, degree: int):
    return np.zeros((1 if kind == "linear" else max(1, int(degree))) + 1)


def learning_rate(iteration: int, base: float, schedule) -> float:
    """``base`` times the factor of the last schedule step reached (``[{at_iteration, factor}]``, any order)."""
    factor = 1.0
    for step in sorted(schedule or [], key=lambda s: int(s.get("at_iteration", 0))):
        if iteration >= int(step.get("at_iteration", 0)):
            factor = float(step.get("factor", 1.0))
    return base * factor


def png_bytes(pixels) -> bytes:
    """An RGB PNG from an (height, width, 3) uint8 array, written by hand (no PIL needed)."""
    pixels = np.asarray(pixels, dtype=np.uint8)
    height, width = pixels.shape[:2]
    raw = b"".join(b"\x00" + pixels[row].tobytes() for row in range(height))  # filter type 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, truecolour
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def residual_image(residuals, width: int = 160, height: int = 64):
    """A bar per validation sample: blue above the axis when the model is too high, orange below."""
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    mid = height // 2
    image[mid, :] = (120, 120, 120)
    residuals = np.asarray(residuals, dtype=float)
    if residuals.size == 0:
        return image
    scale = (mid - 2) / max(float(np.max(np.abs(residuals))), 1e-9)
    bar = max(1, width // residuals.size)
    for i, r in enumerate(residuals[: width // bar]):
        h = int(round(abs(r) * scale))
        rows = slice(mid - h, mid) if r > 0 else slice(mid + 1, mid + 1 + h)
        image[rows, i * bar: (i + 1) * bar - (1 if bar > 2 else 0)] = (31, 119, 180) if r > 0 else (255, 127, 14)
    return image
