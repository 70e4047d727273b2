#!/usr/bin/env python3
"""PyTorch eager peer of the Superalign step benchmarks (benchmarks/Superalign.Benchmarks).

One optimizer step of the same model, the same shapes, the same losses and the same thread count as the C#
``StepFixture``, written the way a researcher would write it in PyTorch eager with a TRL-style DPO step:

* ``competence``: cross-entropy (MLP, batch 256) or masked token NLL (LM, 2 x pairs = 32 sequences);
* ``conformity``: DPO ``sigmoid`` loss ``-logsigmoid(beta * h)``, beta = 0.1. For the LM, chosen and rejected are
  concatenated into one 2B forward of the policy (TRL ``concatenated_forward``); for the MLP classifier both responses
  are classes of the same input, so one forward of B examples is gathered at two classes. Reference log-probs come
  from a TRL-style reference forward under ``torch.no_grad()`` of a frozen deepcopy of the initial model, or, with
  ``--cached-reference``, are precomputed once for the data set (what the C# fixture does:
  ``pref.WithReferenceLogProbs(student.Clone())``);
* ``alternating``: competence and conformity steps alternate, starting with competence (FixedRatio(1, 1)).

Each step: zero_grad(set_to_none=True), forward, loss, backward, clip_grad_norm_(max_norm=1.0), AdamW step, and, as
the C# optimizer and a TRL/HF trainer do, the loss, the gradient norm and a few metrics are read back to the host.

Modes:
  standalone (default): warm up, time ``--steps`` steps, print one JSON line on stdout.
  ``--serve``: persistent process for the C# BenchmarkDotNet harness. Prints ``ready`` after setup and warm-up; each
  stdin line ``run K`` runs K steps and answers ``done``; ``quit`` or EOF exits. Nothing else is written to stdout.

Always run with the interpreter that has torch, e.g. ``/usr/bin/python3 benchmarks/peer/torch_peer.py ...``.
"""

import argparse
import copy
import json
import math
import os
import sys
import time


THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")


def _pin_threads():
    # torch.set_num_threads sizes ATen's OpenMP pool but not the pool of an external pthreads BLAS: Debian's
    # python3-torch (BLAS_INFO=generic) does its matmuls in OpenBLAS (openblas-pthread), which by default starts one
    # thread per core whatever torch.set_num_threads says. Both libraries read these variables when they load, so
    # they are exported (unless already set) before torch is imported:
    #  * OPENBLAS_NUM_THREADS / MKL_NUM_THREADS / OMP_NUM_THREADS = --threads: the same thread count everywhere;
    #  * OMP_WAIT_POLICY=PASSIVE: otherwise idle libgomp workers spin after every element-wise op and steal the cores
    #    from the OpenBLAS threads of the next matmul. Measured on the 2-core box at --threads 2: mlp 128x1024x3
    #    competence ~106 -> ~32 ms/step, lm d128-L2-T64 competence ~170 -> ~77 ms/step. (A stock pip/conda torch
    #    uses MKL on the same OpenMP pool and does not have this problem.)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--threads", type=int, default=2)
    threads = pre.parse_known_args()[0].threads
    if threads >= 1:
        for var in THREAD_ENV[:3]:
            os.environ.setdefault(var, str(threads))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


_pin_threads()

import torch  # noqa: E402  (after the thread variables are set)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# Fixed by the C# StepFixture (benchmarks/Superalign.Benchmarks/StepFixtures.cs).
MLP_CLASSES = 8
MLP_BATCH = 256
LM_VOCAB = 64
LM_PAIRS = 16
# The GPT-2-shaped fixture (StepFixture.Gpt2): GPT-2's vocabulary and position table, heads of width 64, 4 pairs.
GPT2_VOCAB = 50257
GPT2_POSITIONS = 1024
GPT2_PAIRS = 4
POOL_BATCHES = 8  # batches generated once and cycled
LEARNING_RATE = 1e-4
# AlternatingOptimizerOptions defaults: WeightDecay 0, betas (0.9, 0.999), eps 1e-8, MaxGradientNorm 1.0.
# (torch.optim.AdamW's own default weight_decay is 0.01, so it is set explicitly.)
WEIGHT_DECAY = 0.0
BETAS = (0.9, 0.999)
EPS = 1e-8
MAX_GRAD_NORM = 1.0
DPO_BETA = 0.1
IGNORE_INDEX = -100  # TRL's label_pad_token_id / the HF loss ignore index


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------------------------
# Models (mirroring src/Superalign/Students/MlpClassifier.cs and TinyCausalLm.cs)
# --------------------------------------------------------------------------------------------------------------------

class MlpClassifier(nn.Module):
    """Depth x (Linear, ReLU[, Dropout]) then a Linear head: the C# MlpClassifier with its default options
    (Activation.ReLU, Dropout 0, ZeroInitHead false). nn.Linear's default init is the C# SeededInit.Default
    (uniform +-1/sqrt(fan_in) for weight and bias)."""

    def __init__(self, features, width, depth, classes, dropout=0.0):
        super().__init__()
        layers, fan_in = [], features
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), nn.ReLU()]
            if dropout > 0:  # the C# model only calls dropout when p > 0
                layers.append(nn.Dropout(dropout))
            fan_in = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(fan_in, classes)

    def forward(self, x):
        return self.head(self.body(x))


def mlp_expected_params(features, width, depth, classes):
    # C# MlpClassifier: Depth hidden Linear layers (weight + bias) and a Linear head:
    #   (F*W + W) + (depth - 1) * (W*W + W) + (W*C + C)       (depth >= 1)
    # 64x256x3 -> 150,280; 128x1024x3 -> 2,239,496.
    if depth == 0:
        return features * classes + classes
    return (features * width + width) + (depth - 1) * (width * width + width) + (width * classes + classes)


class Block(nn.Module):
    """Pre-LayerNorm block: x + Attn(LN(x)), then x + MLP(LN(x)); fused QKV; GELU MLP d -> 4d -> d."""

    def __init__(self, d, heads, layers, max_len, dropout=0.0, attention="explicit", gelu="none"):
        super().__init__()
        self.heads, self.dropout, self.attention, self.gelu = heads, dropout, attention, gelu
        self.ln_1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.attn_out = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp_in = nn.Linear(d, 4 * d)
        self.mlp_out = nn.Linear(4 * d, d)
        self.drop = nn.Dropout(dropout)
        # GPT-2 init as in the C# Block: normal(0, 0.02), residual output projections std 0.02/sqrt(2L), zero biases.
        std, residual_std = 0.02, 0.02 / math.sqrt(2.0 * layers)
        for lin, s in ((self.qkv, std), (self.attn_out, residual_std), (self.mlp_in, std), (self.mlp_out, residual_std)):
            nn.init.normal_(lin.weight, 0.0, s)
            nn.init.zeros_(lin.bias)
        # True above the diagonal = future positions, masked out. A buffer, not a parameter.
        self.register_buffer("causal_mask", torch.ones(max_len, max_len, dtype=torch.bool).triu(1), persistent=False)

    def _attn(self, x):
        b, l, d = x.shape
        h = self.heads
        q, k, v = self.qkv(x).view(b, l, 3, h, d // h).permute(2, 0, 3, 1, 4).unbind(0)  # each [B, H, L, d/H]
        p = self.dropout if self.training else 0.0
        if self.attention == "sdpa":
            # torch >= 2.0: the fused kernel, as the C# model uses (scaled_dot_product_attention, is_causal).
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:
            # torch 1.13 has no public F.scaled_dot_product_attention, so the causal attention is written out
            # (nanoGPT style): q @ k^T / sqrt(d_head), precomputed causal mask via masked_fill, softmax, @ v.
            # The C# TinyCausalLm calls the fused scaled_dot_product_attention(is_causal: true) instead: same math,
            # different kernel (this path materialises the [B, H, L, L] score matrix).
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.causal_mask[:l, :l], float("-inf"))
            att = att.softmax(dim=-1)
            if p > 0:
                att = F.dropout(att, p)
            y = att @ v
        return self.attn_out(y.transpose(1, 2).reshape(b, l, d))

    def _residual(self, branch):
        return self.drop(branch) if self.dropout > 0 else branch

    def forward_cached(self, x, cache):
        """Eval-mode forward of new positions x [B, N, d] after the cached ones: cache is None (prefill, causal over x)
        or (k, v) of the earlier positions [B, H, P, d/H]; returns (output, the cache extended by x's keys and values)."""
        h = self.ln_1(x)
        b, n, d = h.shape
        q, k, v = self.qkv(h).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        if cache is not None:
            k, v = torch.cat((cache[0], k), dim=2), torch.cat((cache[1], v), dim=2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        if n > 1:  # prefill: causal within the new positions (one new position sees every cached one)
            past = k.size(2) - n
            att = att.masked_fill(self.causal_mask[past:past + n, :past + n], float("-inf"))
        y = att.softmax(dim=-1) @ v
        x = x + self.attn_out(y.transpose(1, 2).reshape(b, n, d))
        x = x + self.mlp_out(F.gelu(self.mlp_in(self.ln_2(x)), approximate=self.gelu))
        return x, (k, v)

    def forward(self, x):
        x = x + self._residual(self._attn(self.ln_1(x)))
        return x + self._residual(self.mlp_out(F.gelu(self.mlp_in(self.ln_2(x)), approximate=self.gelu)))


class TinyCausalLm(nn.Module):
    """Token + learned position embeddings, L pre-LN blocks, final LayerNorm, output head tied to the token
    embedding (logits = h @ W_e^T, no parameter of its own): the C# TinyCausalLm."""

    def __init__(self, vocab, max_len, d, layers, heads, dropout=0.0, attention="explicit", gelu="none"):
        super().__init__()
        self.dropout = dropout
        self.tok_emb = nn.Embedding(vocab, d)
        self.pos_emb = nn.Parameter(torch.empty(max_len, d))
        nn.init.normal_(self.tok_emb.weight, 0.0, 0.02)
        nn.init.normal_(self.pos_emb, 0.0, 0.02)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d, heads, layers, max_len, dropout, attention, gelu) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)

    def forward(self, tokens):
        x = self.tok_emb(tokens) + self.pos_emb[: tokens.size(1)]
        if self.dropout > 0:
            x = self.drop(x)
        for block in self.blocks:
            x = block(x)
        return F.linear(self.ln_f(x), self.tok_emb.weight)  # tied head

    def forward_cached(self, tokens, caches, position):
        """Logits of the last new position of tokens [B, N] that start at `position`, with every block's KV cache
        (None entries at prefill); returns (logits [B, V], the extended caches)."""
        x = self.tok_emb(tokens) + self.pos_emb[position: position + tokens.size(1)]
        out = []
        for block, cache in zip(self.blocks, caches):
            x, cache = block.forward_cached(x, cache)
            out.append(cache)
        return F.linear(self.ln_f(x[:, -1]), self.tok_emb.weight), out


# The generation benchmark's shape (GenerationBenchmarks.cs): d256, 4 layers, 4 heads, vocabulary 256, context 256;
# 8 prompts of 32 tokens, 128 new tokens, greedy.
GEN_VOCAB, GEN_BATCH, GEN_PROMPT, GEN_NEW = 256, 8, 32, 128


class GenerationPeer:
    """Greedy generation in PyTorch eager with its own KV cache (prefill in one forward, then one position per token),
    as a Hugging Face model's generate(use_cache=True) does; `step()` is one generation of GEN_NEW tokens for the batch."""

    def __init__(self, shape, seed, check):
        d, layers, context = (int(s[1:]) for s in shape.split("-"))
        if context < GEN_PROMPT + GEN_NEW:
            raise SystemExit(f"--shape {shape}: the context T must hold {GEN_PROMPT} + {GEN_NEW} tokens")
        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed)
        self.model = TinyCausalLm(GEN_VOCAB, context, d, layers, max(1, d // 64), attention="explicit").eval()
        self.expected_params = lm_expected_params(GEN_VOCAB, context, d, layers)
        self.params = sum(p.numel() for p in self.model.parameters())
        self.prompts = torch.randint(GEN_VOCAB, (GEN_BATCH, GEN_PROMPT), generator=g)
        self.last = {}
        if check:
            # The cache must not change the tokens: compare with the loop that re-reads the whole sequence.
            with torch.no_grad():
                cached, free = self.generate(), self.generate_without_cache()
            if not torch.equal(cached, free):
                raise SystemExit("torch_peer: cached and cache-free greedy generation differ")
            log("torch_peer: cached and cache-free greedy generation agree on every token")

    @torch.no_grad()
    def generate(self):
        logits, caches = self.model.forward_cached(self.prompts, [None] * len(self.model.blocks), 0)
        out = [self.prompts]
        position = self.prompts.size(1)
        for i in range(GEN_NEW):
            token = logits.argmax(-1, keepdim=True)
            out.append(token)
            if i + 1 < GEN_NEW:
                logits, caches = self.model.forward_cached(token, caches, position)
                position += 1
        return torch.cat(out, dim=1)

    @torch.no_grad()
    def generate_without_cache(self):
        tokens = self.prompts
        for _ in range(GEN_NEW):
            tokens = torch.cat((tokens, self.model(tokens)[:, -1].argmax(-1, keepdim=True)), dim=1)
        return tokens

    def step(self):
        tokens = self.generate()
        self.last = {"tokens": int(tokens.size(1))}


def lm_expected_params(vocab, max_len, d, layers):
    # C# TinyCausalLm: token embedding V*d, position table T*d, per block LN(2d) + QKV(3d^2 + 3d) + out(d^2 + d)
    # + LN(2d) + mlp_in(4d^2 + 4d) + mlp_out(4d^2 + d) = 12d^2 + 13d, final LN 2d, tied head (no parameters):
    #   V*d + T*d + L*(12d^2 + 13d) + 2d
    # d128-L2-T64 -> 413,184; d256-L4-T128 -> 3,208,704.
    return vocab * d + max_len * d + layers * (12 * d * d + 13 * d) + 2 * d


# --------------------------------------------------------------------------------------------------------------------
# Log-probs and losses (TRL style)
# --------------------------------------------------------------------------------------------------------------------

def sequence_logps(logits, labels):
    """TRL get_batch_logps: summed log-probs of the labels over the positions that are not IGNORE_INDEX.
    logits [B, T, V] are already aligned with labels [B, T] (position t predicts token t + 1)."""
    loss_mask = labels != IGNORE_INDEX
    labels = labels.masked_fill(~loss_mask, 0)
    per_token = torch.gather(logits.log_softmax(-1), dim=2, index=labels.unsqueeze(2)).squeeze(2)
    return (per_token * loss_mask).sum(-1)


def dpo_sigmoid_loss(pc, pr, rc, rr, beta=DPO_BETA):
    """TRL DPOTrainer.dpo_loss, loss_type='sigmoid', label_smoothing 0."""
    logits = (pc - pr) - (rc - rr)
    losses = -F.logsigmoid(beta * logits)
    chosen_rewards = beta * (pc - rc).detach()
    rejected_rewards = beta * (pr - rr).detach()
    return losses.mean(), chosen_rewards, rejected_rewards


# --------------------------------------------------------------------------------------------------------------------
# Fixtures: data pool, model, reference, optimizer, step
# --------------------------------------------------------------------------------------------------------------------

class Peer:
    def __init__(self, model_kind, shape, phase, cached_reference, seed, attention):
        self.kind, self.phase, self.cached_reference = model_kind, phase, cached_reference
        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed)
        if model_kind == "mlp":
            features, width, depth = (int(s) for s in shape.split("x"))
            self.model = MlpClassifier(features, width, depth, MLP_CLASSES)
            self.expected_params = mlp_expected_params(features, width, depth, MLP_CLASSES)
            n = MLP_BATCH * POOL_BATCHES  # as StepFixture.Mlp: batch * 8 examples
            x = torch.randn(n, features, generator=g)
            y = torch.randint(MLP_CLASSES, (n,), generator=g)
            r = torch.randint(MLP_CLASSES, (n,), generator=g)
            sl = [slice(i * MLP_BATCH, (i + 1) * MLP_BATCH) for i in range(POOL_BATCHES)]
            self.sup_pool = [dict(x=x[s].contiguous(), y=y[s].contiguous()) for s in sl]
            self.pref_pool = [dict(x=x[s].contiguous(), chosen=y[s].contiguous(), rejected=r[s].contiguous()) for s in sl]
        else:
            d, layers, seq = (int(s[1:]) for s in shape.split("-"))
            if model_kind == "gpt2":
                # GPT-2 small's shape (StepFixture.Gpt2): the tanh GELU, 1024 learned positions, heads of width 64.
                vocab, positions, pairs, heads, gelu = GPT2_VOCAB, GPT2_POSITIONS, GPT2_PAIRS, max(1, d // 64), "tanh"
            else:
                vocab, positions, pairs, heads, gelu = LM_VOCAB, seq, LM_PAIRS, max(1, d // 32), "none"
            self.model = TinyCausalLm(vocab, positions, d, layers, heads, attention=attention, gelu=gelu)
            self.expected_params = lm_expected_params(vocab, positions, d, layers)
            n = pairs * POOL_BATCHES * 2  # as StepFixture: 2 x pairs sequences per competence batch, 8 batches
            chosen = torch.randint(vocab, (n, seq), generator=g)
            rejected = torch.randint(vocab, (n, seq), generator=g)
            prompt = seq // 4  # the first quarter of each sequence is the prompt

            def split(tokens):
                # ResponseBatch.ForCausalLm: inputs = tokens[:, :-1]; labels = tokens[:, 1:] with the (shifted)
                # prompt positions masked out. TRL forwards the full sequence and drops the last logit; the C#
                # student reads L - 1 tokens, so this peer does the same (same shapes).
                labels = tokens[:, 1:].clone()
                labels[:, : prompt - 1] = IGNORE_INDEX  # response mask shifted by one: positions 1..prompt-1
                return tokens[:, :-1].contiguous(), labels

            cin, clab = split(chosen)
            rin, rlab = split(rejected)
            sup_b, pref_b = 2 * pairs, pairs  # competence sees 2 x pairs sequences
            self.sup_pool = [dict(x=cin[i * sup_b:(i + 1) * sup_b], y=clab[i * sup_b:(i + 1) * sup_b])
                             for i in range(POOL_BATCHES)]
            self.pref_pool = [dict(chosen_ids=cin[i * pref_b:(i + 1) * pref_b], chosen_labels=clab[i * pref_b:(i + 1) * pref_b],
                                   rejected_ids=rin[i * pref_b:(i + 1) * pref_b], rejected_labels=rlab[i * pref_b:(i + 1) * pref_b])
                              for i in range(POOL_BATCHES)]
        self.params = sum(p.numel() for p in self.model.parameters())
        self.model.train()

        # TRL: the reference is a frozen copy of the initial policy, run in eval mode under no_grad.
        self.ref_model = copy.deepcopy(self.model).eval().requires_grad_(False)
        if cached_reference:
            # TRL precompute_ref_log_probs: one pass over the data set before training; the C# fixture does the same.
            for batch in self.pref_pool:
                batch["ref_chosen"], batch["ref_rejected"] = self.reference_logps(batch)
            self.ref_model = None

        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=LEARNING_RATE, betas=BETAS, eps=EPS,
                                           weight_decay=WEIGHT_DECAY)
        self.steps_done = 0
        self.last = {}

    # --- forward passes -------------------------------------------------------------------------------------------

    def concatenated_forward(self, model, batch):
        """Policy (or reference) log-probs of chosen and rejected with ONE forward pass."""
        if self.kind == "mlp":
            # Both responses are classes of the same input: one forward of B, gathered at two classes.
            logps = model(batch["x"]).log_softmax(-1)
            pc = logps.gather(1, batch["chosen"].unsqueeze(1)).squeeze(1)
            pr = logps.gather(1, batch["rejected"].unsqueeze(1)).squeeze(1)
            return pc, pr
        # TRL concatenated_forward: chosen and rejected stacked into one 2B batch.
        ids = torch.cat([batch["chosen_ids"], batch["rejected_ids"]], dim=0)
        labels = torch.cat([batch["chosen_labels"], batch["rejected_labels"]], dim=0)
        all_logps = sequence_logps(model(ids), labels)
        b = batch["chosen_ids"].size(0)
        return all_logps[:b], all_logps[b:]

    @torch.no_grad()
    def reference_logps(self, batch):
        return self.concatenated_forward(self.ref_model, batch)

    # --- losses ----------------------------------------------------------------------------------------------------

    def competence_loss(self, batch):
        logits = self.model(batch["x"])
        if self.kind == "mlp":
            loss = F.cross_entropy(logits, batch["y"])
            with torch.no_grad():
                acc = (logits.argmax(-1) == batch["y"]).float().mean()
        else:
            labels = batch["y"]
            # HF causal-LM loss: mean token NLL over the response tokens (prompt labels are IGNORE_INDEX).
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE_INDEX)
            with torch.no_grad():
                mask = labels != IGNORE_INDEX
                acc = ((logits.argmax(-1) == labels) & mask).sum() / mask.sum().clamp_min(1)
        return loss, {"accuracy": acc}

    def conformity_loss(self, batch):
        pc, pr = self.concatenated_forward(self.model, batch)
        if self.cached_reference:
            rc, rr = batch["ref_chosen"], batch["ref_rejected"]
        else:
            rc, rr = self.reference_logps(batch)
        loss, chosen_rewards, rejected_rewards = dpo_sigmoid_loss(pc, pr, rc, rr)
        metrics = {
            "rewards/chosen": chosen_rewards.mean(),
            "rewards/rejected": rejected_rewards.mean(),
            "rewards/margins": (chosen_rewards - rejected_rewards).mean(),
            "rewards/accuracies": (chosen_rewards > rejected_rewards).float().mean(),
            "logps/chosen": pc.detach().mean(),
            "logps/rejected": pr.detach().mean(),
        }
        return loss, metrics

    # --- one optimizer step ----------------------------------------------------------------------------------------

    def step(self):
        i = self.steps_done
        if self.phase == "competence" or (self.phase == "alternating" and i % 2 == 0):
            loss, metrics = self.competence_loss(self.sup_pool[(i if self.phase == "competence" else i // 2) % POOL_BATCHES])
        else:
            loss, metrics = self.conformity_loss(self.pref_pool[(i if self.phase == "conformity" else i // 2) % POOL_BATCHES])
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), MAX_GRAD_NORM)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.steps_done += 1
        # Read loss, grad norm and metrics back to the host once, as the C# step (and a trainer's logging) does.
        names = list(metrics)
        values = torch.stack([loss.detach(), grad_norm.detach()] + [metrics[k].float() for k in names]).tolist()
        self.last = dict(zip(["loss", "grad_norm"] + names, values))
        return self.last["loss"]


# --------------------------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------------------------

DEFAULT_SHAPES = {"mlp": "64x256x3", "lm": "d128-L2-T64", "gpt2": "d768-L12-T128"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["mlp", "lm", "gpt2"], required=True)
    p.add_argument("--shape", default=None,
                   help="mlp: FEATURESxWIDTHxDEPTH (64x256x3, 128x1024x3); lm and gpt2: dD-LL-TT (d128-L2-T64, d256-L4-T128; "
                        "gpt2: d768-L12-T128 = GPT-2 small, 124M parameters)")
    p.add_argument("--phase", choices=["competence", "conformity", "alternating", "generate"], required=True,
                   help="generate (--model lm only): one 'step' is greedy generation of 128 new tokens for 8 prompts of "
                        "32 tokens with a KV cache (shape dD-LL-TT, T = context >= 160; the C# GenerationBenchmarks use d256-L4-T256)")
    p.add_argument("--cached-reference", action="store_true",
                   help="precompute the reference log-probs once for the data set (as the C# fixture does) "
                        "instead of a reference forward under no_grad every conformity step")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2 = the C# ProcessorCount)")
    p.add_argument("--serve", action="store_true", help="stdin/stdout protocol for the C# harness (ready / run K / done / quit)")
    p.add_argument("--steps", type=int, default=50, help="timed steps in standalone mode (default 50)")
    p.add_argument("--warmup", type=int, default=4, help="untimed warm-up steps before timing or 'ready' (default 4)")
    p.add_argument("--seed", type=int, default=7, help="seed of the data pool and of the initial weights (default 7)")
    p.add_argument("--attention", choices=["auto", "explicit", "sdpa"], default="auto",
                   help="LM attention: sdpa = F.scaled_dot_product_attention (torch >= 2.0, what the C# model uses); "
                        "explicit = masked softmax(q k^T / sqrt(d)) v; auto = sdpa when available")
    args = p.parse_args(argv)
    if args.shape is None:
        args.shape = DEFAULT_SHAPES[args.model]
    has_sdpa = hasattr(F, "scaled_dot_product_attention")
    if args.attention == "auto":
        args.attention = "sdpa" if has_sdpa else "explicit"
    elif args.attention == "sdpa" and not has_sdpa:
        p.error(f"torch {torch.__version__} has no F.scaled_dot_product_attention; use --attention explicit")
    if args.phase == "generate" and args.model != "lm":
        p.error("--phase generate needs --model lm")
    if args.threads < 1 or args.steps < 1 or args.warmup < 0:
        p.error("--threads and --steps must be >= 1, --warmup >= 0")
    try:
        if args.model == "mlp":
            ok = len([int(s) for s in args.shape.split("x")]) == 3
        else:
            parts = args.shape.split("-")
            ok = [s[0] for s in parts] == ["d", "L", "T"] and all(int(s[1:]) > 0 for s in parts)
    except ValueError:
        ok = False
    if not ok:
        p.error(f"bad --shape {args.shape!r} for --model {args.model}")
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    # In serve mode stdout carries the protocol only: everything else printed by accident goes to stderr.
    protocol = sys.stdout
    if args.serve:
        sys.stdout = sys.stderr

    # Standalone generation first checks its cache against the cache-free loop (minutes on a slow BLAS); serve mode,
    # timed by the C# harness, skips the check.
    peer = (GenerationPeer(args.shape, args.seed, check=not args.serve) if args.phase == "generate"
            else Peer(args.model, args.shape, args.phase, args.cached_reference, args.seed, args.attention))
    log(f"torch_peer: torch {torch.__version__}, threads {torch.get_num_threads()}, model {args.model} {args.shape}, "
        f"phase {args.phase}, cached_reference {args.cached_reference}"
        + (f", attention {args.attention}" if args.model != "mlp" else "")
        + ", " + " ".join(f"{v}={os.environ.get(v, '')}" for v in THREAD_ENV))
    log(f"torch_peer: parameters {peer.params:,} (C# formula: {peer.expected_params:,})"
        + ("" if peer.params == peer.expected_params else "  MISMATCH"))
    if peer.params != peer.expected_params:
        return 1

    for _ in range(args.warmup):
        peer.step()

    if args.serve:
        protocol.write("ready\n")
        protocol.flush()
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "quit":
                break
            if words[0] == "run" and len(words) == 2 and words[1].isdigit():
                for _ in range(int(words[1])):
                    peer.step()
                protocol.write("done\n")
                protocol.flush()
                continue
            log(f"torch_peer: unknown command {line.strip()!r} (expected 'run K' or 'quit'); exiting")
            return 2
        return 0

    start = time.perf_counter()
    for _ in range(args.steps):
        peer.step()
    elapsed = time.perf_counter() - start
    log(f"torch_peer: last step {peer.last}")
    print(json.dumps({
        "model": args.model,
        "shape": args.shape,
        "phase": args.phase,
        "threads": torch.get_num_threads(),
        "cached_reference": args.cached_reference,
        "ms_per_step": round(1000.0 * elapsed / args.steps, 3),
        "steps": args.steps,
        "torch": torch.__version__,
        "attention": args.attention if args.model != "mlp" else None,
        "params": peer.params,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
