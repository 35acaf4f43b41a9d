#!/usr/bin/env python3
"""Prints per-tensor statistics of a V4 checkpoint directory (dequantized values: FP8 x block
scale, FP4 x per-32 scale), grouped by tensor type: mean, rms, min, max, kurtosis and the spread
of row / column rms. Used to pick the magnitudes of `dsv4 make-model`
(src/model/schema_random_init.cc) from the golden checkpoints, and to compare a make-model output
with them:  python3 tests/data/golden_stats.py ../shared/golden/tiny-flash/checkpoint [LAYER]
Pure Python (no numpy), fine for the tiny checkpoints."""
import json, math, re, struct, sys
from pathlib import Path

FP4 = [0, 0.5, 1, 1.5, 2, 3, 4, 6]


def e4m3(c):
    s = -1 if c & 0x80 else 1
    e, m = (c >> 3) & 0xF, c & 7
    if e == 15 and m == 7:
        return float("nan")
    return s * (m / 8 * 2**-6 if e == 0 else (1 + m / 8) * 2 ** (e - 7))


E4 = [e4m3(i) for i in range(256)]


def load(d):
    tensors = {}
    for p in sorted(Path(d).glob("*.safetensors")):
        b = p.read_bytes()
        n = struct.unpack("<Q", b[:8])[0]
        for k, v in json.loads(b[8 : 8 + n]).items():
            if k != "__metadata__":
                a, e = v["data_offsets"]
                tensors[k] = (v["dtype"], v["shape"], b[8 + n + a : 8 + n + e])
    return tensors


def values(T, k):
    dt, sh, raw = T[k]
    if dt == "F32":
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    if dt == "BF16":
        return [struct.unpack("<f", b"\0\0" + raw[i : i + 2])[0] for i in range(0, len(raw), 2)]
    if dt == "F8_E4M3":
        _, ssh, s = T[k[:-6] + "scale"]
        R, C = sh
        return [E4[raw[i * C + j]] * 2.0 ** (s[(i // 128) * ssh[1] + j // 128] - 127) for i in range(R) for j in range(C)]
    if dt == "I8":
        _, ssh, s = T[k[:-6] + "scale"]
        R, C = sh
        out = []
        for i in range(R):
            for c in range(C):
                b = raw[i * C + c]
                for q, nib in ((2 * c, b & 15), (2 * c + 1, b >> 4)):
                    out.append((-1 if nib & 8 else 1) * FP4[nib & 7] * 2.0 ** (s[i * ssh[1] + q // 32] - 127))
        return out
    return None


def describe(v, shape):
    n = len(v)
    m2 = sum(x * x for x in v) / n
    line = "mean %+.3g rms %.3g min %.3g max %.3g" % (sum(v) / n, math.sqrt(m2), min(v), max(v))
    if m2 > 0:
        line += " kurt %.1f" % (sum(x**4 for x in v) / n / m2**2)
    if len(shape) == 2 and shape[0] > 1:
        R = shape[0]
        C = n // R
        rr = sorted(math.sqrt(sum(x * x for x in v[i * C : (i + 1) * C]) / C) for i in range(R))
        line += " row-rms %.3g/%.3g/%.3g" % (rr[0], rr[R // 2], rr[-1])
    return line


def main():
    T = load(sys.argv[1])
    layer = sys.argv[2] if len(sys.argv) > 2 else "3"
    for k in sorted(T):
        if re.match(r"layers\.\d+\.", k) and not k.startswith(f"layers.{layer}."):
            continue
        if re.search(r"experts\.[1-9]", k):
            continue
        dt, sh, _ = T[k]
        v = values(T, k)
        if v is None:
            if dt == "F8_E8M0":
                e = [x - 127 for x in T[k][2]]
                print(f"{k:50s} {dt:8s} {sh} exponents {min(e)}..{max(e)}")
            else:
                print(f"{k:50s} {dt:8s} {sh}")
            continue
        print(f"{k:50s} {dt:8s} {sh} {describe(v, sh)}")


if __name__ == "__main__":
    main()
