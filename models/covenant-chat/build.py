"""Builds models/covenant-chat: a tiny pointer-generator transformer that turns an
OpenAI-style chat request (messages + tools) into an assistant turn with Hermes-style
<tool_call>{...}</tool_call> blocks or a short answer.

Run from the repository root:  /usr/bin/python3 models/covenant-chat/build.py
Writes model.onnx, meta.json, eval.jsonl and fixtures.json next to this file.

The prompt serialisation and token features below are mirrored exactly by
src/inference/chat/prompt.ts (fixtures.json pins them). At each decoding step the
model scores every output piece (JSON punctuation, a few words) and every input
position (copy that input token); greedy decoding makes the output exact.
"""
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from covenant_text import fnv1a32, shape, tokenize  # noqa: E402
import corpus  # noqa: E402

# ---- serialisation (mirrored in TypeScript) -------------------------------------------
BUCKETS = 4096
SLOTS = 9
MAX_INPUT = 200
MAX_STEPS = 64
TOOLS_CAP = 96
SYSTEM_CAP = 32
MESSAGE_CAP = 96
PIECES = ["<bos>", "<eos>", '<tool_call>{"name":"', '","arguments":{"', '","arguments":{}}</tool_call>', '":"', '":',
          '","', ',"', '"}}</tool_call>', '}}</tool_call>', " ", ".", ":", "Paid", "Could not pay", "Resolved",
          "Could not resolve", "yes", "no", "true", "false", "I can only help with the tasks my tools support."]
BOS, EOS = 0, 1
V = len(PIECES)


def ascii_lower(text):
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def h(feature):
    return 1 + fnv1a32(feature) % (BUCKETS - 1)


def content_text(content):
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")


def schema_type(schema):
    t = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "any")
    return t if isinstance(t, str) else "any"


def tools_tokens(tools):
    toks = [("m", "<tools>")]
    for t in tools or []:
        fn = t.get("function", {}) if isinstance(t, dict) else {}
        toks.append(("m", "<fn>"))
        toks += [("t", x) for x in tokenize(str(fn.get("name", "")))]
        toks.append(("m", "<params>"))
        params = fn.get("parameters") or {}
        props = params.get("properties") or {}
        for pname, schema in props.items():
            toks += [("t", x) for x in tokenize(pname)]
            toks.append(("t", ":"))
            toks += [("t", x) for x in tokenize(schema_type(schema))]
            enum = schema.get("enum") if isinstance(schema, dict) else None
            if isinstance(enum, list):
                for e in enum:
                    toks += [("t", x) for x in tokenize(e if isinstance(e, str) else json.dumps(e))]
            toks.append(("t", ";"))
    toks = toks[:TOOLS_CAP - 1]
    toks.append(("m", "</tools>"))
    return toks


def message_tokens(msg):
    role = msg.get("role")
    marker = {"system": "<system>", "developer": "<system>", "user": "<user>", "assistant": "<assistant>",
              "tool": "<tool>"}.get(role, "<user>")
    toks = [("m", marker)] + [("t", x) for x in tokenize(content_text(msg.get("content")))]
    for call in msg.get("tool_calls") or []:
        fn = call.get("function", {})
        toks.append(("m", "<call>"))
        toks += [("t", x) for x in tokenize(str(fn.get("name", "")))]
        toks.append(("m", "<args>"))
        raw = fn.get("arguments", "")
        try:
            args = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            args = None
        if isinstance(args, dict):
            for k, v in args.items():
                toks += [("t", x) for x in tokenize(k)]
                toks.append(("t", "="))
                toks += [("t", x) for x in tokenize(v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))]
                toks.append(("t", ";"))
        else:
            toks += [("t", x) for x in tokenize(str(raw))]
    cap = SYSTEM_CAP if marker == "<system>" else MESSAGE_CAP
    return marker[1:-1], toks[:cap]


def serialize(request):
    """Request -> list of (kind, text, segment) tokens, kind 'm' (marker) or 't' (text)."""
    tools = [(k, x, "tools:t") for k, x in tools_tokens(request.get("tools"))]
    msgs = [message_tokens(m) for m in request.get("messages", [])]
    n = len(msgs)
    msgs = [[(k, x, "%s:%d" % (seg, min(3, n - 1 - i))) for k, x in toks] for i, (seg, toks) in enumerate(msgs)]
    budget = MAX_INPUT - len(tools) - 1
    while len(msgs) > 1 and sum(len(m) for m in msgs) > budget:
        msgs.pop(0)
    body = [t for m in msgs for t in m][:budget]
    return tools + body + [("m", "<out>", "out:0")]


def features(tokens):
    """SLOTS hashed ids per token: word, lowercase word, shape, prefix, suffix, length, the
    previous token (left context), whether this exact text occurred earlier in the input
    (lets the model compare, e.g., a question's date with the evidence's), and segment:age."""
    rows, seen, prev = [], set(), "^"
    for kind, text, seg in tokens:
        role = h("r:" + seg)
        if kind == "m":
            rows.append([h("m:" + text), 0, 0, 0, 0, 0, 0, 0, role])
            prev = text
            continue
        cps = list(text)
        low = ascii_lower(text)
        lcps = list(low)
        rows.append([h("w:" + text), h("l:" + low), h("s:" + "".join(list(shape(text))[:8])), h("p:" + "".join(lcps[:2])),
                     h("x:" + "".join(lcps[-3:])), h("n:%d" % min(len(cps), 16)), h("b:" + prev),
                     h("d:%d" % (text in seen)), role])
        seen.add(text)
        prev = low
    return rows


# ---- targets ---------------------------------------------------------------------------
def text_units(text):
    """Tokens of `text` with single-space units between tokens that were separated by whitespace."""
    units, pos = [], 0
    for m in __import__("re").finditer(r"[A-Za-z0-9](?:[A-Za-z0-9._\-]*[A-Za-z0-9])?|[^ \t\n\r\f\vA-Za-z0-9]", text):
        if m.start() > pos and units:
            units.append(" ")
        units.append(m.group(0))
        pos = m.end()
    return units


# Multi-token pieces ("Could not pay"), longest first, as unit sequences.
PHRASES = sorted([(tuple(text_units(p)), i) for i, p in enumerate(PIECES) if i > 1 and len(text_units(p)) > 1],
                 key=lambda x: -len(x[0]))


def text_actions(text):
    units, out, i = text_units(text), [], 0
    while i < len(units):
        for phrase, pid in PHRASES:
            if tuple(units[i:i + len(phrase)]) == phrase:
                out.append(("p", pid))
                i += len(phrase)
                break
        else:
            u = units[i]
            out.append(("p", PIECES.index(u)) if u in PIECES else ("c", u))
            i += 1
    return out


def target_actions(expected):
    if "content" in expected:
        return text_actions(expected["content"]) + [("p", EOS)]
    out = []
    for call in expected["tool_calls"]:
        out.append(("p", 2))
        out += text_actions(call["name"])
        args = list(call["arguments"].items())
        if not args:
            out.append(("p", 4))
            continue
        out.append(("p", 3))
        for i, (k, v) in enumerate(args):
            out += text_actions(k)
            is_str = isinstance(v, str)
            out.append(("p", 5 if is_str else 6))
            if isinstance(v, bool):
                out.append(("p", PIECES.index("true" if v else "false")))
            else:
                out += text_actions(v if is_str else json.dumps(v))
            last = i == len(args) - 1
            out.append(("p", (9 if last else 7) if is_str else (10 if last else 8)))
    return out + [("p", EOS)]


def _same_number(a, b):
    try:
        return float(a) == float(b) and json.loads(a) is not None
    except ValueError:
        return False


def encode_example(ex):
    toks = serialize(ex)
    acts = target_actions(ex["expected"])
    texts = [t[1] if t[0] == "t" else None for t in toks]
    tgt, prev = [], [BOS]
    for kind, val in acts:
        if kind == "p":
            tgt.append((val, None))
            prev.append(val)
        else:
            where = [i for i, t in enumerate(texts) if t == val]
            if not where:
                # A JSON number may be written differently in the text (0.90 for 0.9): copy that token.
                where = [i for i, t in enumerate(texts) if t is not None and _same_number(t, val)]
            if not where:
                return None
            tgt.append((None, where))
            prev.append(V + where[0])
    return {"features": features(toks), "prev": prev[:-1], "target": tgt, "tokens": toks}


def decode_text(tokens, ids):
    out = []
    for i in ids:
        if i < V:
            out.append(PIECES[i] if i > EOS else "")
        else:
            kind, text, _ = tokens[i - V]
            out.append(text if kind == "t" else "")
    return "".join(out)


def parse_output(text):
    import re
    calls = []
    for m in re.finditer(r"<tool_call>(.*?)</tool_call>", text, re.S):
        try:
            obj = json.loads(m.group(1))
            if isinstance(obj, dict) and isinstance(obj.get("name"), str) and isinstance(obj.get("arguments", {}), dict):
                calls.append({"name": obj["name"], "arguments": obj.get("arguments", {})})
                continue
        except ValueError:
            pass
        return {"content": text.strip(), "tool_calls": []}
    return {"content": re.sub(r"<tool_call>.*?</tool_call>", "", text, flags=re.S).strip(), "tool_calls": calls}


# ---- model -----------------------------------------------------------------------------
D, HEADS, FF, ENC_LAYERS, DEC_LAYERS = 64, 4, 160, 2, 2


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(D, D) for _ in range(4))

    def forward(self, x, mem, bias):
        b, tq, tk = x.shape[0], x.shape[1], mem.shape[1]
        dh = D // HEADS
        q = self.q(x).reshape(b, tq, HEADS, dh).transpose(1, 2)
        k = self.k(mem).reshape(b, tk, HEADS, dh).transpose(1, 2)
        v = self.v(mem).reshape(b, tk, HEADS, dh).transpose(1, 2)
        a = torch.matmul(q, k.transpose(2, 3)) * (1.0 / math.sqrt(dh))
        if bias is not None:
            a = a + bias
        a = torch.softmax(a, dim=-1)
        return self.o(torch.matmul(a, v).transpose(1, 2).reshape(b, tq, D))


class FeedForward(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(D, FF), nn.Linear(FF, D)

    def forward(self, x):
        return self.b(F.gelu(self.a(x)))


class EncoderLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.n1, self.n2, self.att, self.ff = nn.LayerNorm(D), nn.LayerNorm(D), Attention(), FeedForward()

    def forward(self, x, bias):
        y = self.n1(x)
        x = x + self.att(y, y, bias)
        return x + self.ff(self.n2(x))


class DecoderLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.n1, self.n2, self.n3 = nn.LayerNorm(D), nn.LayerNorm(D), nn.LayerNorm(D)
        self.self_att, self.cross, self.ff = Attention(), Attention(), FeedForward()

    def forward(self, x, mem, self_bias, mem_bias):
        y = self.n1(x)
        x = x + self.self_att(y, y, self_bias)
        x = x + self.cross(self.n2(x), mem, mem_bias)
        return x + self.ff(self.n3(x))


class Chat(nn.Module):
    def __init__(self):
        super().__init__()
        self.feat = nn.Embedding(BUCKETS, D, padding_idx=0)
        self.pos = nn.Parameter(torch.randn(MAX_INPUT, D) * 0.02)
        self.enc = nn.ModuleList(EncoderLayer() for _ in range(ENC_LAYERS))
        self.enc_norm = nn.LayerNorm(D)
        self.piece = nn.Embedding(V, D)
        self.copy = nn.Linear(D, D)
        self.dpos = nn.Parameter(torch.randn(MAX_STEPS, D) * 0.02)
        self.dec = nn.ModuleList(DecoderLayer() for _ in range(DEC_LAYERS))
        self.dec_norm = nn.LayerNorm(D)
        self.vocab = nn.Linear(D, V)
        self.ptr_q, self.ptr_k = nn.Linear(D, D), nn.Linear(D, D)

    def encode(self, feats, key_bias=None):
        x = self.feat(feats).sum(dim=2) + self.pos[: feats.shape[1]]
        for layer in self.enc:
            x = layer(x, key_bias)
        return self.enc_norm(x)

    def decode(self, mem, prev, key_bias=None):
        t = prev.shape[1]
        is_copy = prev >= V
        vid = torch.where(is_copy, torch.zeros_like(prev), prev)
        cid = torch.clamp(prev - V, min=0)
        gathered = torch.gather(mem, 1, cid.unsqueeze(-1).expand(-1, -1, D))
        x = torch.where(is_copy.unsqueeze(-1), self.copy(gathered), self.piece(vid)) + self.dpos[:t]
        causal = torch.triu(torch.full((t, t), -1e9), diagonal=1)
        for layer in self.dec:
            x = layer(x, mem, causal, key_bias)
        x = self.dec_norm(x)
        ptr = torch.matmul(self.ptr_q(x), self.ptr_k(mem).transpose(1, 2)) * (1.0 / math.sqrt(D))
        if key_bias is not None:
            ptr = ptr + key_bias[:, 0]
        return torch.cat([self.vocab(x), ptr], dim=-1)


class Export(nn.Module):
    """The graph shipped as model.onnx: features [1,L,7] + previous actions [1,T] -> next-step logits [1, V+L]."""

    def __init__(self, chat):
        super().__init__()
        self.chat = chat

    def forward(self, features, prev):
        logits = self.chat.decode(self.chat.encode(features), prev)
        return logits[:, -1, :]


# ---- training --------------------------------------------------------------------------
SEED = 20261206
TRAIN_SIZE = 24000
STEPS = int(os.environ.get("COVENANT_CHAT_STEPS", "3000"))
BF16 = os.environ.get("COVENANT_CHAT_BF16", "1") == "1" and "avx512_bf16" in open("/proc/cpuinfo").read()
THREADS = 1
BATCH = 32
LR = 3e-3
WARMUP = 100


def batchify(examples):
    b = len(examples)
    L = max(len(e["features"]) for e in examples)
    T = max(len(e["prev"]) for e in examples)
    feats = torch.zeros(b, L, SLOTS, dtype=torch.long)
    key_bias = torch.full((b, 1, 1, L), -1e9)
    prev = torch.zeros(b, T, dtype=torch.long)
    vocab_t = torch.full((b, T), -1, dtype=torch.long)
    copy_mask = torch.zeros(b, T, L, dtype=torch.bool)
    step_mask = torch.zeros(b, T)
    for i, e in enumerate(examples):
        n = len(e["features"])
        feats[i, :n] = torch.tensor(e["features"])
        key_bias[i, 0, 0, :n] = 0
        prev[i, : len(e["prev"])] = torch.tensor(e["prev"])
        for j, (vid, where) in enumerate(e["target"]):
            step_mask[i, j] = 1
            if vid is not None:
                vocab_t[i, j] = vid
            else:
                copy_mask[i, j, where] = True
    return feats, key_bias, prev, vocab_t, copy_mask, step_mask


def loss_fn(model, batch):
    feats, key_bias, prev, vocab_t, copy_mask, step_mask = batch
    logits = model.decode(model.encode(feats, key_bias), prev, key_bias).float()
    logz = torch.logsumexp(logits, dim=-1)
    vocab_logit = torch.gather(logits[..., :V], 2, vocab_t.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    copy_logit = torch.logsumexp(logits[..., V:].masked_fill(~copy_mask, -1e9), dim=-1)
    tgt = torch.where(vocab_t >= 0, vocab_logit, copy_logit)
    return ((logz - tgt) * step_mask).sum() / step_mask.sum()


@torch.no_grad()
def greedy(model, ex):
    toks = serialize(ex)
    mem = model.encode(torch.tensor([features(toks)]))
    ids = [BOS]
    while len(ids) <= MAX_STEPS - 1:
        nxt = int(torch.argmax(model.decode(mem, torch.tensor([ids]))[0, -1]))
        if nxt == EOS:
            break
        ids.append(nxt)
    return decode_text(toks, ids[1:])


def exact_match(pred, expected):
    if "content" in expected:
        return not pred["tool_calls"] and pred["content"] == expected["content"]
    return not pred["content"] and pred["tool_calls"] == expected["tool_calls"]


def evaluate(model, rows):
    by_task = {}
    for ex in rows:
        ok = exact_match(parse_output(greedy(model, ex)), ex["expected"])
        s = by_task.setdefault(ex["task"], [0, 0])
        s[0] += ok
        s[1] += 1
    total = sum(v[0] for v in by_task.values()), sum(v[1] for v in by_task.values())
    return {"size": total[1], "exactMatch": round(total[0] / total[1], 4),
            "perTask": {k: {"size": v[1], "exactMatch": round(v[0] / v[1], 4)} for k, v in sorted(by_task.items())}}


def main():
    t0 = time.time()
    random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(THREADS)
    pools = corpus.split_pools()
    raw = corpus.generate(TRAIN_SIZE, SEED, pools, "train")
    train = [e for e in (encode_example(x) for x in raw) if e is not None]
    print("train examples %d (dropped %d) in %.1fs" % (len(train), len(raw) - len(train), time.time() - t0), flush=True)
    model = Chat()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / WARMUP) * max(0.05, 0.5 * (1 + math.cos(math.pi * s / STEPS))))
    rng = random.Random(SEED)
    # Batches of similar length waste less work on padding.
    order = sorted(range(len(train)), key=lambda i: len(train[i]["features"]))
    chunks = [order[i:i + BATCH] for i in range(0, len(order), BATCH)]
    t_train = time.time()
    model.train()
    for step in range(STEPS):
        if step % len(chunks) == 0:
            rng.shuffle(chunks)
        batch = batchify([train[i] for i in chunks[step % len(chunks)]])
        # bf16 matmuls (oneDNN, AVX512-BF16) are ~30x faster here than Debian's reference BLAS in
        # fp32; master weights stay fp32 and the shipped ONNX graph is fp32.
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=BF16):
            loss = loss_fn(model, batch)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0 or step == STEPS - 1:
            print("step %d loss %.4f lr %.5f %.1fs" % (step, float(loss), sched.get_last_lr()[0], time.time() - t_train), flush=True)
    train_seconds = time.time() - t0
    model.eval()

    heldout = corpus.generate(400, SEED + 1, pools, "heldout")
    indist = corpus.generate(200, SEED + 2, pools, "train")
    shipped = corpus.SHIPPED_TASKS
    figures = {"heldout": evaluate(model, heldout), "in-distribution": evaluate(model, indist), "shipped": evaluate(model, shipped)}
    print(json.dumps(figures, indent=1), flush=True)

    os.makedirs(os.path.join(HERE, "..", "build"), exist_ok=True)
    torch.save(model.state_dict(), os.path.join(HERE, "..", "build", "covenant-chat.pt"))
    path = os.path.join(HERE, "model.onnx")
    ex = encode_example(shipped[0])
    torch.onnx.export(Export(model), (torch.tensor([ex["features"]]), torch.tensor([[BOS, 2]])), path,
                      input_names=["features", "prev"], output_names=["logits"],
                      dynamic_axes={"features": {1: "inputLength"}, "prev": {1: "steps"}, "logits": {1: "actions"}},
                      opset_version=17, do_constant_folding=True)
    with open(os.path.join(HERE, "eval.jsonl"), "w") as f:
        for split, rows in (("heldout", heldout), ("in-distribution", indist), ("shipped", shipped)):
            for r in rows:
                f.write(json.dumps({"split": split, **r}, ensure_ascii=False) + "\n")
    fixture_rows = shipped + heldout[:12] + [
        {"messages": [{"role": "system", "content": "ÄÖÜ naïve — 🚀 " * 20}, {"role": "user", "content": "x " * 300}],
         "tools": [], "expected": {"content": ""}},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}, {"type": "image_url"}]},
                      {"role": "assistant", "content": None, "tool_calls": [
                          {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}],
         "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {
             "a": {"type": ["null", "number"]}, "b": {"enum": [1, True, "z"]}, "c": {}}}}}], "expected": {"content": ""}},
    ]
    fixtures = []
    for r in fixture_rows:
        toks = serialize(r)
        fixtures.append({"request": {"messages": r["messages"], "tools": r["tools"]},
                         "tokens": [[k, t, s] for k, t, s in toks], "features": features(toks),
                         "output": greedy(model, r)})
    with open(os.path.join(HERE, "fixtures.json"), "w") as f:
        json.dump(fixtures, f, ensure_ascii=False)
    n_params = sum(p.numel() for p in model.parameters())
    meta = {
        "name": "covenant-chat",
        "task": "chat-tool-calling",
        "architecture": {"kind": "pointer-generator transformer", "d": D, "heads": HEADS, "ff": FF,
                         "encoderLayers": ENC_LAYERS, "decoderLayers": DEC_LAYERS, "parameters": n_params},
        "inputs": {"features": {"dtype": "int64", "shape": [1, "inputLength", SLOTS]},
                   "prev": {"dtype": "int64", "shape": [1, "steps"]}},
        "outputs": {"logits": {"dtype": "float32", "shape": [1, "pieces + inputLength"]}},
        "prompt": {"kind": "covenant-chat-v1", "buckets": BUCKETS, "slots": SLOTS, "maxInput": MAX_INPUT,
                   "maxSteps": MAX_STEPS, "toolsCap": TOOLS_CAP, "systemCap": SYSTEM_CAP, "messageCap": MESSAGE_CAP},
        "pieces": PIECES,
        "decoding": "greedy (argmax, first index on ties); action < pieces.length emits that piece, otherwise copies input token action - pieces.length; stops at <eos> or maxSteps",
        "output": "Hermes-style <tool_call>{\"name\":...,\"arguments\":{...}}</tool_call> blocks, else plain content",
        "training": {"script": "models/covenant-chat/build.py", "corpus": "models/covenant-chat/corpus.py (synthetic)",
                     "seed": SEED, "trainSize": len(train), "steps": STEPS, "batch": BATCH, "lr": LR,
                     "torch": torch.__version__, "threads": THREADS, "bf16Autocast": BF16,
                     "seconds": round(train_seconds, 1)},
        "eval": {"file": "models/covenant-chat/eval.jsonl", "metric": "exact match of the parsed assistant turn",
                 "torch": figures},
    }
    with open(os.path.join(HERE, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print("wrote %s (%d bytes, %d parameters) in %.1fs" % (path, os.path.getsize(path), n_params, time.time() - t0))


if __name__ == "__main__":
    main()
