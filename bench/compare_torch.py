#!/usr/bin/env python3
"""Baselines for bench/compare.sh: PyTorch CPU and OpenBLAS on the same work as `mwb bench`.

  compare_torch.py torch --model M.h5 --mwb MWB --tokens 64 512 --threads T --out F.json
      Builds the GPT-2 forward pass in PyTorch from the tensors of an mwb model file
      (docs/file-format.md), checks that its logits agree with `mwb predict --ids ...
      --json` to 1e-3 (so that both compute the same thing), then times prefills of
      random prompts: the logits of every position, as `mwb bench` computes them,
      under torch.inference_mode, the median of --repeat runs after one warm-up.
  compare_torch.py sgemm --rows 64 512 --threads T --out F.json
      numpy float32 products rows x 768 times 768 x 3072 (the MLP up-projection of
      gpt2-small), which numpy hands to the system BLAS (OpenBLAS here), and which
      BLAS core and kernel did the work.
  compare_torch.py report --dir D
      The table of ratios from the JSON files the steps above and compare.sh wrote.

Needs python3-torch and python3-h5py (torch), numpy (sgemm); run it with the system
Python (/usr/bin/python3), which has them.
"""
import argparse
import ctypes
import json
import math
import os
import statistics
import subprocess
import sys
import time


def load_gpt2(path):
    """The tensors of a gpt2 model file as float32 torch tensors, with its shape."""
    import h5py
    import torch

    with h5py.File(path, "r") as f:
        attrs = {k: f.attrs[k] for k in f.attrs}

        def text(name, default=None):
            v = attrs.get(name, default)
            return v.decode() if isinstance(v, bytes) else (str(v) if v is not None else None)

        if text("architecture") != "gpt2":
            sys.exit(f"compare_torch.py: {path} is a {text('architecture')} model; only gpt2 is implemented")
        # Options of the format this forward pass does not implement: refuse rather than
        # time a different computation.
        for unsupported in ("sliding_window", "attn_logit_softcapping", "final_logit_softcapping",
                            "query_pre_attn_scalar", "parallel_residual"):
            if unsupported in attrs and attrs[unsupported]:
                sys.exit(f"compare_torch.py: {path} sets {unsupported}, which this script does not implement")
        cfg = {
            "n_layer": int(attrs["n_layer"]),
            "n_head": int(attrs["n_head"]),
            "d_model": int(attrs["d_model"]),
            "n_ctx": int(attrs["n_ctx"]),
            "vocab_size": int(attrs["vocab_size"]),
            "norm_eps": float(attrs["norm_eps"]),
            "activation": text("activation"),
            "tie": int(attrs.get("tie_embeddings", 0)) == 1,
        }
        cfg["head_dim"] = int(attrs.get("head_dim", cfg["d_model"] // cfg["n_head"]))

        def t(name):
            return torch.from_numpy(f[name][...].astype("float32"))

        w = {"wte": t("/embed/token"), "wpe": t("/embed/position"),
             "lnf_w": t("/final_norm/weight"), "lnf_b": t("/final_norm/bias"), "blocks": []}
        w["unembed"] = w["wte"] if cfg["tie"] else t("/lm_head/weight")
        for i in range(cfg["n_layer"]):
            p = f"/blocks/{i}"
            b = {}
            for part in ("norm1", "norm2"):
                b[part + "_w"], b[part + "_b"] = t(f"{p}/{part}/weight"), t(f"{p}/{part}/bias")
            for lin in ("attn/q", "attn/k", "attn/v", "attn/o", "mlp/up", "mlp/down"):
                key = lin.split("/")[1]
                b[key + "_w"], b[key + "_b"] = t(f"{p}/{lin}/weight"), t(f"{p}/{lin}/bias")
            w["blocks"].append(b)
    return cfg, w


def gpt2_forward(cfg, w, ids):
    """Logits of every position, [n, vocab]: GPT-2 as docs/file-format.md describes it."""
    import torch
    import torch.nn.functional as F

    n = ids.shape[0]
    d, heads, hd = cfg["d_model"], cfg["n_head"], cfg["head_dim"]
    eps = cfg["norm_eps"]
    act = {
        "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
        "gelu": F.gelu,
        "relu": F.relu,
        "silu": F.silu,
    }[cfg["activation"]]
    mask = torch.full((n, n), float("-inf")).triu(1)
    x = w["wte"][ids] + w["wpe"][:n]
    for b in w["blocks"]:
        h = F.layer_norm(x, (d,), b["norm1_w"], b["norm1_b"], eps)
        q = F.linear(h, b["q_w"], b["q_b"]).view(n, heads, hd).transpose(0, 1)
        k = F.linear(h, b["k_w"], b["k_b"]).view(n, heads, hd).transpose(0, 1)
        v = F.linear(h, b["v_w"], b["v_b"]).view(n, heads, hd).transpose(0, 1)
        scores = q @ k.transpose(1, 2) / math.sqrt(hd) + mask
        a = (torch.softmax(scores, dim=-1) @ v).transpose(0, 1).reshape(n, heads * hd)
        x = x + F.linear(a, b["o_w"], b["o_b"])
        h = F.layer_norm(x, (d,), b["norm2_w"], b["norm2_b"], eps)
        x = x + F.linear(act(F.linear(h, b["up_w"], b["up_b"])), b["down_w"], b["down_b"])
    x = F.layer_norm(x, (d,), w["lnf_w"], w["lnf_b"], eps)
    return F.linear(x, w["unembed"])


def timed(fn, repeat):
    fn()  # warm-up: first-touch of buffers, the thread pool
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def cmd_torch(args):
    try:
        import torch
    except ImportError:
        print("compare_torch.py: PyTorch is not installed (apt install python3-torch); skipped", file=sys.stderr)
        return 3
    torch.set_num_threads(args.threads)
    cfg, w = load_gpt2(args.model)
    gen = torch.Generator().manual_seed(1)

    # Fairness check: the same logits as mwb for one prompt.
    ids = torch.randint(0, cfg["vocab_size"], (16,), generator=gen)
    out = subprocess.run([args.mwb, "predict", args.model, "--ids", ",".join(map(str, ids.tolist())),
                          "--top", "50", "--json"], check=True, capture_output=True, text=True).stdout
    top = json.loads(out)["top"]
    with torch.inference_mode():
        logits = gpt2_forward(cfg, w, ids)[-1]
    diff = max(abs(float(logits[e["id"]]) - e["logit"]) for e in top)
    print(f"torch vs mwb predict: max |logit difference| over the top 50 = {diff:.2e}", file=sys.stderr)
    if not diff <= 1e-3:
        print("compare_torch.py: the torch forward pass does not reproduce mwb's logits; no timing",
              file=sys.stderr)
        return 1

    result = {"torch_version": torch.__version__, "threads": torch.get_num_threads(),
              "max_logit_difference": diff, "prefill": {}}
    for n in args.tokens:
        if n > cfg["n_ctx"]:
            sys.exit(f"compare_torch.py: {n} tokens exceed the context of {cfg['n_ctx']}")
        prompt = torch.randint(0, cfg["vocab_size"], (n,), generator=gen)
        with torch.inference_mode():
            med, each = timed(lambda: gpt2_forward(cfg, w, prompt), args.repeat)
        result["prefill"][str(n)] = {"seconds": med, "each": each}
        print(f"torch prefill {n} tokens: {med:.4f} s (median of {args.repeat})", file=sys.stderr)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    return 0


def blas_description():
    """Which BLAS numpy calls and, for OpenBLAS, the core and kernel it chose."""
    info = {}
    try:
        from threadpoolctl import threadpool_info
        for pool in threadpool_info():
            if pool.get("user_api") == "blas":
                info.update({k: pool.get(k) for k in ("internal_api", "version", "architecture",
                                                      "threading_layer", "num_threads", "filepath")})
                break
    except ImportError:
        pass
    # OpenBLAS's own report (the loaded library, found through /proc/self/maps when
    # threadpoolctl is missing): its build options and the core kernel in use.
    path = info.get("filepath")
    if not path:
        with open("/proc/self/maps") as maps:
            for line in maps:
                if "blas" in line.rsplit("/", 1)[-1]:
                    path = line.split()[-1]
                    break
    if path:
        lib = ctypes.CDLL(path)
        for fn in ("openblas_get_config", "openblas_get_corename"):
            if hasattr(lib, fn):
                getattr(lib, fn).restype = ctypes.c_char_p
                info[fn] = getattr(lib, fn)().decode()
        info.setdefault("filepath", path)
    return info


def cmd_sgemm(args):
    import numpy as np

    rng = np.random.default_rng(1)
    b = rng.standard_normal((768, 3072), dtype=np.float32)
    result = {"numpy_version": np.__version__, "products": {},
              "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                                       "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}}
    try:  # OPENBLAS_NUM_THREADS (set by compare.sh) does the same where this is missing
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.threads, user_api="blas")
    except ImportError:
        pass
    for m in args.rows:
        a = rng.standard_normal((m, 768), dtype=np.float32)
        c = np.empty((m, 3072), dtype=np.float32)
        med, each = timed(lambda: np.matmul(a, b, out=c), args.repeat)
        gflops = 2.0 * m * 768 * 3072 / med / 1e9
        result["products"][str(m)] = {"seconds": med, "gflops": gflops, "each": each}
        print(f"sgemm {m} x 768 x 3072: {med * 1e3:.3f} ms, {gflops:.1f} GFLOP/s (median of {args.repeat})",
              file=sys.stderr)
    result["blas"] = blas_description()  # after the products: OpenBLAS is initialised
    for k, v in result["blas"].items():
        print(f"  blas {k}: {v}", file=sys.stderr)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    return 0


def cmd_report(args):
    def load(name):
        path = os.path.join(args.dir, name)
        return json.load(open(path)) if os.path.exists(path) else None

    torch_r, sgemm_r, trace_r = load("torch.json"), load("sgemm.json"), load("trace.json")
    mwb = {}
    for name in sorted(os.listdir(args.dir)):
        if name.startswith("mwb-prefill-"):
            r = json.load(open(os.path.join(args.dir, name)))
            mwb[r["prompt_tokens"]] = r
    decode = load("mwb-decode.json")
    any_run = next(iter(mwb.values()), decode)
    print(f"threads {any_run['threads']}, mwb product {any_run['isa']}, weights {any_run['weights']}")
    if torch_r:
        print(f"torch {torch_r['torch_version']} ({torch_r['threads']} threads), logits agree with mwb to "
              f"{torch_r['max_logit_difference']:.1e}")
    if sgemm_r:
        blas = sgemm_r["blas"]
        print(f"numpy {sgemm_r['numpy_version']} BLAS: {blas.get('internal_api', '?')} {blas.get('version', '')}, "
              f"core {blas.get('architecture') or blas.get('openblas_get_corename', '?')}, "
              f"config '{blas.get('openblas_get_config', '?')}'")
    print()
    print("| measurement | mwb | baseline | mwb / baseline |")
    print("|---|---|---|---|")
    for n, r in sorted(mwb.items()):
        s, g = r["prefill_seconds"], r["prefill_gflops"]
        if torch_r and str(n) in torch_r["prefill"]:
            ts = torch_r["prefill"][str(n)]["seconds"]
            print(f"| prefill {n} tokens, time: mwb vs PyTorch | {s:.4f} s | {ts:.4f} s | "
                  f"**{ts / s:.2f}×** speed |")
        elif not torch_r:
            print(f"| prefill {n} tokens, time | {s:.4f} s | (no PyTorch) | — |")
        if sgemm_r and str(n) in sgemm_r["products"]:
            bg = sgemm_r["products"][str(n)]["gflops"]
            print(f"| prefill {n} tokens, GFLOP/s vs OpenBLAS sgemm {n}×768×3072 | {g:.1f} | {bg:.1f} | "
                  f"**{g / bg:.2f}** |")
        else:
            print(f"| prefill {n} tokens, GFLOP/s | {g:.1f} | — | — |")
    if decode:
        print(f"| decoding {decode['decode_tokens']} tokens after {decode['prompt_tokens']} | "
              f"{decode['decode_tokens_per_second']:.1f} tokens/s | — | — |")
    if trace_r:
        f, nv = trace_r["fast_seconds"], trace_r["naive_seconds"]
        print(f"| exact causal trace, hidden, 10 samples, demo model: fast vs `--naive` | {f:.2f} s | "
              f"{nv:.2f} s | **{nv / f:.1f}×** speed |")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("torch")
    t.add_argument("--model", required=True)
    t.add_argument("--mwb", required=True)
    t.add_argument("--tokens", type=int, nargs="+", default=[64, 512])
    t.add_argument("--threads", type=int, required=True)
    t.add_argument("--repeat", type=int, default=5)
    t.add_argument("--out", required=True)
    s = sub.add_parser("sgemm")
    s.add_argument("--rows", type=int, nargs="+", default=[64, 512])
    s.add_argument("--threads", type=int, required=True)
    s.add_argument("--repeat", type=int, default=20)
    s.add_argument("--out", required=True)
    r = sub.add_parser("report")
    r.add_argument("--dir", required=True)
    args = p.parse_args()
    return {"torch": cmd_torch, "sgemm": cmd_sgemm, "report": cmd_report}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
