#!/usr/bin/python3
"""Writes tiny random-weight causal LM checkpoints in the Hugging Face layout, and the logits of a plain-PyTorch
forward of each architecture, for Superalign's pretrained-LM tests.

The forward passes below are written from the published architectures (GPT-2: Conv1D [in, out] projections, learned
positions, tanh GELU, tied head; Llama/Qwen2: RMSNorm, RoPE with rotate_half, SwiGLU, GQA) and not from the C# code;
safetensors is written and read by hand (no safetensors/transformers package here). Needs only torch (Debian's
python3-torch 1.13 works).

Usage:  make_lm_fixtures.py OUT_DIR            writes the fixtures
        make_lm_fixtures.py --check DIR NAME     reads a checkpoint written elsewhere (e.g. by C#'s SaveHuggingFace),
                                                 runs this file's forward and compares with OUT_DIR/NAME's logits
"""
import json, math, os, struct, sys
import torch

DTYPES = {"F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2), "I64": (torch.int64, 8)}
NAMES = {v[0]: k for k, v in DTYPES.items()}


def save_safetensors(path, tensors, dtype=None):
    header, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        if t.dtype in (torch.bfloat16, torch.float16):
            raw = t.view(torch.int16).numpy().tobytes()
        else:
            raw = t.numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n].decode("utf-8"))
    buf, out = data[8 + n:], {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt, size = DTYPES[info["dtype"]]
        b, e = info["data_offsets"]
        raw = bytearray(buf[b:e])
        if dt in (torch.bfloat16, torch.float16):
            t = torch.frombuffer(raw, dtype=torch.int16).view(dt) if len(raw) else torch.empty(0, dtype=dt)
        else:
            t = torch.frombuffer(raw, dtype=dt) if len(raw) else torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"]).clone()
    return header, out


def load_checkpoint(directory):
    single = os.path.join(directory, "model.safetensors")
    if os.path.exists(single):
        return load_safetensors(single)[1]
    with open(os.path.join(directory, "model.safetensors.index.json")) as f:
        index = json.load(f)
    out = {}
    for shard in sorted(set(index["weight_map"].values())):
        out.update(load_safetensors(os.path.join(directory, shard))[1])
    return out


# ---------------------------------------------------------------- GPT-2
def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gpt2_forward(cfg, sd, ids):
    p = "transformer." if "transformer.wte.weight" in sd else ""
    g = lambda k: sd[p + k].float()
    D, H, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    B, L = ids.shape
    x = g("wte.weight")[ids] + g("wpe.weight")[torch.arange(L)]
    causal = torch.tril(torch.ones(L, L, dtype=torch.bool))
    for i in range(cfg["n_layer"]):
        h = torch.nn.functional.layer_norm(x, (D,), g(f"h.{i}.ln_1.weight"), g(f"h.{i}.ln_1.bias"), eps)
        qkv = h @ g(f"h.{i}.attn.c_attn.weight") + g(f"h.{i}.attn.c_attn.bias")   # Conv1D: x @ W[in, out] + b
        q, k, v = qkv.split(D, dim=-1)
        heads = lambda t: t.view(B, L, H, D // H).transpose(1, 2)
        q, k, v = heads(q), heads(k), heads(v)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D // H)
        s = s.masked_fill(~causal, float("-inf"))
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, L, D)
        x = x + a @ g(f"h.{i}.attn.c_proj.weight") + g(f"h.{i}.attn.c_proj.bias")
        h = torch.nn.functional.layer_norm(x, (D,), g(f"h.{i}.ln_2.weight"), g(f"h.{i}.ln_2.bias"), eps)
        m = gelu_new(h @ g(f"h.{i}.mlp.c_fc.weight") + g(f"h.{i}.mlp.c_fc.bias"))
        x = x + m @ g(f"h.{i}.mlp.c_proj.weight") + g(f"h.{i}.mlp.c_proj.bias")
    x = torch.nn.functional.layer_norm(x, (D,), g("ln_f.weight"), g("ln_f.bias"), eps)
    head = sd["lm_head.weight"].float() if "lm_head.weight" in sd and not cfg.get("tie_word_embeddings", True) else g("wte.weight")
    return x @ head.T


def gpt2_weights(cfg, gen, prefix, legacy):
    D, V, P, inner = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"], 4 * cfg["n_embd"]
    r = lambda *s: torch.randn(*s, generator=gen) * 0.2
    sd = {prefix + "wte.weight": r(V, D), prefix + "wpe.weight": r(P, D)}
    for i in range(cfg["n_layer"]):
        b = f"{prefix}h.{i}."
        sd[b + "ln_1.weight"] = 1 + r(D); sd[b + "ln_1.bias"] = r(D)
        sd[b + "attn.c_attn.weight"] = r(D, 3 * D); sd[b + "attn.c_attn.bias"] = r(3 * D)
        sd[b + "attn.c_proj.weight"] = r(D, D); sd[b + "attn.c_proj.bias"] = r(D)
        if legacy:
            sd[b + "attn.bias"] = torch.tril(torch.ones(P, P)).view(1, 1, P, P)
            sd[b + "attn.masked_bias"] = torch.tensor(-1e4)
        sd[b + "ln_2.weight"] = 1 + r(D); sd[b + "ln_2.bias"] = r(D)
        sd[b + "mlp.c_fc.weight"] = r(D, inner); sd[b + "mlp.c_fc.bias"] = r(inner)
        sd[b + "mlp.c_proj.weight"] = r(inner, D); sd[b + "mlp.c_proj.bias"] = r(D)
    sd[prefix + "ln_f.weight"] = 1 + r(D); sd[prefix + "ln_f.bias"] = r(D)
    return sd


# ---------------------------------------------------------------- Llama / Qwen2
def rms_norm(x, w, eps):
    x32 = x.float()
    return w * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def llama_forward(cfg, sd, ids):
    g = lambda k: sd[k].float()
    D, H = cfg["hidden_size"], cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads") or H
    hd = cfg.get("head_dim") or D // H
    eps, theta = cfg["rms_norm_eps"], cfg.get("rope_theta", 10000.0)
    qwen = cfg["model_type"] == "qwen2"
    qkv_bias = qwen or cfg.get("attention_bias", False)
    o_bias = (not qwen) and cfg.get("attention_bias", False)
    B, L = ids.shape
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    freqs = torch.outer(torch.arange(L).float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    causal = torch.tril(torch.ones(L, L, dtype=torch.bool))
    x = g("model.embed_tokens.weight")[ids]
    lin = lambda t, name, bias: t @ g(name + ".weight").T + (g(name + ".bias") if bias else 0)
    for i in range(cfg["num_hidden_layers"]):
        b = f"model.layers.{i}."
        h = rms_norm(x, g(b + "input_layernorm.weight"), eps)
        q = lin(h, b + "self_attn.q_proj", qkv_bias).view(B, L, H, hd).transpose(1, 2)
        k = lin(h, b + "self_attn.k_proj", qkv_bias).view(B, L, KV, hd).transpose(1, 2)
        v = lin(h, b + "self_attn.v_proj", qkv_bias).view(B, L, KV, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        s = s.masked_fill(~causal, float("-inf"))
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, L, H * hd)
        x = x + lin(a, b + "self_attn.o_proj", o_bias)
        h = rms_norm(x, g(b + "post_attention_layernorm.weight"), eps)
        gate = lin(h, b + "mlp.gate_proj", False)
        up = lin(h, b + "mlp.up_proj", False)
        x = x + lin(torch.nn.functional.silu(gate) * up, b + "mlp.down_proj", False)
    x = rms_norm(x, g("model.norm.weight"), eps)
    head = g("model.embed_tokens.weight") if cfg.get("tie_word_embeddings", False) else g("lm_head.weight")
    return x @ head.T


def llama_weights(cfg, gen):
    D, V, I, H = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"], cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads") or H
    hd = cfg.get("head_dim") or D // H
    qwen = cfg["model_type"] == "qwen2"
    qkv_bias = qwen or cfg.get("attention_bias", False)
    o_bias = (not qwen) and cfg.get("attention_bias", False)
    r = lambda *s: torch.randn(*s, generator=gen) * 0.2
    sd = {"model.embed_tokens.weight": r(V, D)}
    for i in range(cfg["num_hidden_layers"]):
        b = f"model.layers.{i}."
        sd[b + "input_layernorm.weight"] = 1 + r(D)
        for name, out in (("q_proj", H * hd), ("k_proj", KV * hd), ("v_proj", KV * hd)):
            sd[b + f"self_attn.{name}.weight"] = r(out, D)
            if qkv_bias:
                sd[b + f"self_attn.{name}.bias"] = r(out)
        sd[b + "self_attn.o_proj.weight"] = r(D, H * hd)
        if o_bias:
            sd[b + "self_attn.o_proj.bias"] = r(D)
        sd[b + "post_attention_layernorm.weight"] = 1 + r(D)
        sd[b + "mlp.gate_proj.weight"] = r(I, D)
        sd[b + "mlp.up_proj.weight"] = r(I, D)
        sd[b + "mlp.down_proj.weight"] = r(D, I)
    sd["model.norm.weight"] = 1 + r(D)
    if not cfg.get("tie_word_embeddings", False):
        sd["lm_head.weight"] = r(V, D)
    return sd


GPT2 = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 64, "n_positions": 32, "n_embd": 16,
        "n_layer": 2, "n_head": 4, "n_inner": None, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
        "tie_word_embeddings": True}
LLAMA = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 64, "hidden_size": 32,
         "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
         "max_position_embeddings": 32, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu",
         "tie_word_embeddings": False, "attention_bias": False, "rope_scaling": None}


def fixtures():
    llama_tied = dict(LLAMA, tie_word_embeddings=True, attention_bias=True, num_key_value_heads=4, head_dim=16)
    qwen = dict(LLAMA, model_type="qwen2", architectures=["Qwen2ForCausalLM"], rope_theta=1000000.0,
                num_key_value_heads=1, use_sliding_window=False, sliding_window=32, max_window_layers=2)
    qwen.pop("attention_bias")
    return [
        # name, config, family, options
        ("gpt2", GPT2, "gpt2", {"prefix": "transformer."}),
        ("gpt2-bare-legacy", GPT2, "gpt2", {"prefix": "", "legacy": True}),
        ("gpt2-bf16", GPT2, "gpt2", {"prefix": "transformer.", "dtype": torch.bfloat16}),
        ("llama-gqa", LLAMA, "llama", {}),
        ("llama-tied-bias", llama_tied, "llama", {}),
        ("qwen2", qwen, "llama", {}),
        ("llama-sharded", LLAMA, "llama", {"shards": 2}),
    ]


def forward(family, cfg, sd, ids):
    return gpt2_forward(cfg, sd, ids) if family == "gpt2" else llama_forward(cfg, sd, ids)


def main(out):
    torch.manual_seed(0)
    ids = torch.tensor([[5, 17, 3, 60, 42, 8, 0, 33, 12, 7], [63, 1, 2, 40, 40, 9, 21, 30, 50, 4]], dtype=torch.int64)
    for n, (name, cfg, family, opt) in enumerate(fixtures()):
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        gen = torch.Generator().manual_seed(1000 + n)
        sd = gpt2_weights(cfg, gen, opt["prefix"], opt.get("legacy", False)) if family == "gpt2" else llama_weights(cfg, gen)
        dtype = opt.get("dtype")
        if dtype is not None:  # what the file holds is what the forward reads: bf16 values, computed in float32
            sd = {k: v.to(dtype) for k, v in sd.items()}
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        shards = opt.get("shards", 1)
        if shards == 1:
            save_safetensors(os.path.join(d, "model.safetensors"), sd)
        else:
            keys = list(sd.keys())
            weight_map, total = {}, 0
            for s in range(shards):
                part = keys[s::shards]
                fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
                save_safetensors(os.path.join(d, fname), {k: sd[k] for k in part})
                for k in part:
                    weight_map[k] = fname
                    total += sd[k].numel() * sd[k].element_size()
            with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
                json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
        with torch.no_grad():
            logits = forward(family, cfg, sd, ids)
        save_safetensors(os.path.join(d, "expected.safetensors"), {"tokens": ids, "logits": logits.float()})
        print(name, tuple(logits.shape), float(logits.abs().max()))


def check(directory, name, out):
    family = {n: f for n, _, f, _ in fixtures()}[name]
    with open(os.path.join(directory, "config.json")) as f:
        cfg = json.load(f)
    header, _ = load_safetensors(os.path.join(directory, "model.safetensors"))
    sd = load_checkpoint(directory)
    _, expected = load_safetensors(os.path.join(out, name, "expected.safetensors"))
    with torch.no_grad():
        logits = forward(family, cfg, sd, expected["tokens"])
    diff = float((logits - expected["logits"]).abs().max())
    print(f"{name}: {len(sd)} tensors, metadata {header.get('__metadata__')}, max |logits - expected| = {diff:.3g}")
    return 0 if diff < 1e-4 else 1


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4]))
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    main(sys.argv[1])
