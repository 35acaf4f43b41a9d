#!/usr/bin/env python3
"""Bytes of weights a deepseek4 GGUF reads per decoded token (for bench/vs_llamacpp.sh): every
tensor, except the embedding and the hash table (one row each) and the stacked routed experts
(expert_used_count of expert_count). Pure standard library: parses the GGUF header only.
Usage: gguf_active_bytes.py FILE.gguf"""
import struct
import sys

# ggml type -> (block elements, block bytes), for the types dsv4 convert and the community files use.
GEOM = {0: (1, 4), 1: (1, 2), 30: (1, 2), 8: (32, 34), 39: (32, 17), 12: (256, 144), 14: (256, 210),
        10: (256, 84), 16: (256, 66), 26: (1, 4), 27: (1, 8), 24: (1, 1)}
SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def main(path):
    with open(path, "rb") as f:
        data = f.read(64 << 20)
    off = 0

    def take(fmt):
        nonlocal off
        v = struct.unpack_from("<" + fmt, data, off)
        off += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal off
        n = take("Q")
        s = data[off:off + n].decode("utf-8", "replace")
        off += n
        return s

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        return take(SCALAR[t])

    assert take("I") == 0x46554747, "not a GGUF file"
    take("I")
    n_tensors, n_kv = take("Q"), take("Q")
    kv = {}
    for _ in range(n_kv):
        k = string()
        kv[k] = value(take("I"))
    used, experts = kv["deepseek4.expert_used_count"], kv["deepseek4.expert_count"]
    total = 0
    for _ in range(n_tensors):
        name = string()
        ne = [take("Q") for _ in range(take("I"))]
        t = take("I")
        take("Q")
        be, bb = GEOM[t]
        rows = 1
        for d in ne[1:]:
            rows *= d
        nbytes = ne[0] // be * bb * rows
        if name == "token_embd.weight" or name.endswith("ffn_gate_tid2eid.weight"):
            nbytes //= ne[-1]
        elif "_exps." in name:
            nbytes = nbytes * used // experts
        total += nbytes
    print(total)


if __name__ == "__main__":
    main(sys.argv[1])
