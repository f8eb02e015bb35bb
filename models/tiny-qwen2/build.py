"""Builds models/tiny-qwen2: a tiny decoder-only causal LM in the Qwen2 layout (RMSNorm,
rotary embeddings, grouped-query attention with q/k/v biases, SwiGLU MLP, tied embeddings;
Hugging Face parameter names), briefly trained on chat transcripts in its own ChatML
template with Qwen2-style tool calls, and exported in the Hugging Face / Optimum layout:

  model.onnx               input_ids, attention_mask, position_ids, past_key_values.{i}.key/value
                           -> logits, present.{i}.key/value
  model.safetensors        the same weights under HF names (loadable as Qwen2ForCausalLM)
  tokenizer.json           a byte-level BPE in the HF `tokenizers` JSON format (merges learned here)
  tokenizer_config.json    special tokens and the jinja chat_template (Qwen2-style, with tools)
  config.json, generation_config.json

Run from the repository root:  /usr/bin/python3 models/tiny-qwen2/build.py
Seeded, one torch thread, deterministic algorithms, a fixed number of steps (never a time
budget), so a rebuild on the same machine and torch build should give the same bytes (not
yet checked byte for byte: one build takes ~26 min on the shared 2-core VM). Another CPU or
torch build may round differently, which changes the digest (see models/README.md).

It is a test article for the runtime (src/inference/causalLm*.ts), not a useful model: it
knows two tools (get_weather, get_price) and a few greetings.
"""
import json
import math
import os
import random
import re
import struct
import sys
import time
import unicodedata

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 13
torch.manual_seed(SEED)
random.seed(SEED)
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

# ---- model config (Qwen2 names) --------------------------------------------------------
CONFIG = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "hidden_size": 64,
    "intermediate_size": 176,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "hidden_act": "silu",
    "max_position_embeddings": 512,
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "tie_word_embeddings": True,
    "attention_dropout": 0.0,
    "use_cache": True,
    "torch_dtype": "float32",
}
N_MERGES = 640
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>"]
DEFAULT_SYSTEM = "You are a helpful assistant."

# ---- byte-level BPE ----------------------------------------------------------------------
# Qwen2's pre-tokenizer pattern (what tokenizer.json declares and tokenizers.js runs):
QWEN2_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
# The same with Python's `re` (no \p{..}): letters = [^\W\d_], numbers = \d. Equal on the
# corpus (ASCII plus a few Latin-1 letters and symbols); tokenizer fixtures pin it.
PY_PATTERN = re.compile(
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|(?:[^\w\r\n]|_)?[^\W\d_]+|\d| ?(?:[^\s\w]|_)+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


B2U = bytes_to_unicode()
SPECIAL_RE = re.compile("(" + "|".join(re.escape(s) for s in SPECIALS) + ")")


def pretokenize(text):
    text = unicodedata.normalize("NFC", text)
    return ["".join(B2U[b] for b in w.encode("utf-8")) for w in PY_PATTERN.findall(text)]


def train_bpe(texts):
    counts = {}
    for t in texts:
        for part in SPECIAL_RE.split(t):
            if part in SPECIALS or not part:
                continue
            for w in pretokenize(part):
                counts[w] = counts.get(w, 0) + 1
    words = {w: list(w) for w in counts}
    merges = []
    for _ in range(N_MERGES):
        pairs = {}
        for w, syms in words.items():
            c = counts[w]
            for a, b in zip(syms, syms[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + c
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if pairs[best] < 2:
            break
        merges.append(best)
        joined = best[0] + best[1]
        for w, syms in words.items():
            i, out = 0, []
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == best[0] and syms[i + 1] == best[1]:
                    out.append(joined)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            words[w] = out
    vocab = {}
    for b in range(256):
        vocab[B2U[b]] = len(vocab)
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    return vocab, merges


class BPE:
    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.special_ids = {s: len(vocab) + i for i, s in enumerate(SPECIALS)}
        self.cache = {}

    def word(self, w):
        if w in self.cache:
            return self.cache[w]
        syms = list(w)
        while len(syms) > 1:
            ranked = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(syms, syms[1:]))]
            r, i = min(ranked)
            if r == 1 << 30:
                break
            syms = syms[:i] + [syms[i] + syms[i + 1]] + syms[i + 2:]
        ids = [self.vocab[s] for s in syms]
        self.cache[w] = ids
        return ids

    def encode(self, text):
        ids = []
        for part in SPECIAL_RE.split(text):
            if not part:
                continue
            if part in self.special_ids:
                ids.append(self.special_ids[part])
                continue
            for w in pretokenize(part):
                ids.extend(self.word(w))
        return ids


def tokenizer_json(vocab, merges):
    n = len(vocab)
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": n + i, "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
             "special": s not in ("<tool_call>", "</tool_call>")}
            for i, s in enumerate(SPECIALS)
        ],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        ]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False, "vocab": vocab,
                  "merges": [[a, b] for a, b in merges]},
    }


# ---- chat template (Qwen2's, with this model's default system prompt) --------------------
CHAT_TEMPLATE = (
    "{%- if tools %}\n"
    "    {{- '<|im_start|>system\\n' }}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n"
    "    {%- else %}\n"
    "        {{- '" + DEFAULT_SYSTEM + "' }}\n"
    "    {%- endif %}\n"
    "    {{- \"\\n\\n# Tools\\n<tools>\" }}\n"
    "    {%- for tool in tools %}\n"
    "        {{- \"\\n\" }}\n"
    "        {{- tool | tojson }}\n"
    "    {%- endfor %}\n"
    "    {{- \"\\n</tools>\\nCall a function as <tool_call>\\n{\\\"name\\\": <function-name>, \\\"arguments\\\": <args-json-object>}\\n</tool_call><|im_end|>\\n\" }}\n"
    "{%- else %}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    "    {%- else %}\n"
    "        {{- '<|im_start|>system\\n" + DEFAULT_SYSTEM + "<|im_end|>\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message.role == \"assistant\" and not message.tool_calls) %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
    "    {%- elif message.role == \"assistant\" %}\n"
    "        {{- '<|im_start|>' + message.role }}\n"
    "        {%- if message.content %}\n"
    "            {{- '\\n' + message.content }}\n"
    "        {%- endif %}\n"
    "        {%- for tool_call in message.tool_calls %}\n"
    "            {%- if tool_call.function is defined %}\n"
    "                {%- set tool_call = tool_call.function %}\n"
    "            {%- endif %}\n"
    "            {{- '\\n<tool_call>\\n{\"name\": \"' }}\n"
    "            {{- tool_call.name }}\n"
    "            {{- '\", \"arguments\": ' }}\n"
    "            {{- tool_call.arguments | tojson }}\n"
    "            {{- '}\\n</tool_call>' }}\n"
    "        {%- endfor %}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    "    {%- elif message.role == \"tool\" %}\n"
    "        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != \"tool\") %}\n"
    "            {{- '<|im_start|>user' }}\n"
    "        {%- endif %}\n"
    "        {{- '\\n<tool_response>\\n' }}\n"
    "        {{- message.content }}\n"
    "        {{- '\\n</tool_response>' }}\n"
    "        {%- if loop.last or (messages[loop.index0 + 1].role != \"tool\") %}\n"
    "            {{- '<|im_end|>\\n' }}\n"
    "        {%- endif %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n"
)


def tojson(x):
    return json.dumps(x, ensure_ascii=False)


def render(messages, tools, add_generation_prompt):
    """The template above, in Python (the TS test renders it with @huggingface/jinja and compares)."""
    out = []
    first_system = messages and messages[0]["role"] == "system"
    if tools:
        out.append("<|im_start|>system\n")
        out.append(messages[0]["content"] if first_system else DEFAULT_SYSTEM)
        out.append("\n\n# Tools\n<tools>")
        for t in tools:
            out.append("\n" + tojson(t))
        out.append("\n</tools>\nCall a function as <tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n")
    else:
        out.append("<|im_start|>system\n" + (messages[0]["content"] if first_system else DEFAULT_SYSTEM) + "<|im_end|>\n")
    for i, m in enumerate(messages):
        role = m["role"]
        if role == "user" or (role == "system" and i > 0) or (role == "assistant" and not m.get("tool_calls")):
            out.append("<|im_start|>" + role + "\n" + m["content"] + "<|im_end|>\n")
        elif role == "assistant":
            out.append("<|im_start|>assistant")
            if m.get("content"):
                out.append("\n" + m["content"])
            for tc in m["tool_calls"]:
                f = tc.get("function", tc)
                out.append('\n<tool_call>\n{"name": "' + f["name"] + '", "arguments": ' + tojson(f["arguments"]) + "}\n</tool_call>")
            out.append("<|im_end|>\n")
        elif role == "tool":
            if i == 0 or messages[i - 1]["role"] != "tool":
                out.append("<|im_start|>user")
            out.append("\n<tool_response>\n" + m["content"] + "\n</tool_response>")
            if i == len(messages) - 1 or messages[i + 1]["role"] != "tool":
                out.append("<|im_end|>\n")
    if add_generation_prompt:
        out.append("<|im_start|>assistant\n")
    return "".join(out)


# ---- corpus ------------------------------------------------------------------------------
def tool(name, description, prop, variant):
    params = {"type": "object", "properties": {prop: {"type": "string"}}, "required": [prop]}
    if variant >= 1:  # as LangChain sends a zod schema
        params["additionalProperties"] = False
    if variant == 2:
        params["$schema"] = "http://json-schema.org/draft-07/schema#"
    return {"type": "function", "function": {"name": name, "description": description, "parameters": params}}


WEATHER_DESCRIPTIONS = ["Current weather in a city", "Get the weather for a city", "Weather report"]
PRICE_DESCRIPTIONS = ["Latest price of an asset in USD", "Get the USD price of a token", "Asset price"]
WEATHER_TOOL = tool("get_weather", WEATHER_DESCRIPTIONS[0], "city", 0)
PRICE_TOOL = tool("get_price", PRICE_DESCRIPTIONS[0], "symbol", 0)
CITIES = ["Paris", "Berlin", "Tokyo", "Lisbon", "Oslo", "Madrid", "Rome", "Cairo", "Lima", "Zürich", "Dublin", "Seoul",
          "Vienna", "Quito", "Nairobi", "Delhi"]
FORECASTS = ["sunny", "cloudy", "rainy", "windy", "snowy", "foggy"]
SYMBOLS = ["ETH", "BTC", "SOL", "USDC", "DAI", "OP", "ARB", "LINK"]
WEATHER_Q = ["What's the weather in {c}?", "How is the weather in {c} today?", "Weather in {c}, please.",
             "Is it warm in {c} right now?", "Tell me the weather for {c}.", "what is the weather like in {c}",
             "Can you check the weather in {c}?", "Should I take an umbrella in {c}?"]
PRICE_Q = ["What is the price of {s}?", "How much is {s} worth?", "Price of {s}?", "Give me the latest {s} price.",
           "what does {s} cost now", "Check the {s} price for me."]
GREET = [("Hello!", "Hello! How can I help you today?"), ("Hi", "Hello! How can I help you today?"),
         ("Thanks!", "You're welcome!"), ("Thank you.", "You're welcome!"), ("Who are you?", "I am a tiny assistant for tests."),
         ("What can you do?", "I can check the weather and asset prices."), ("Bonjour, ça va ?", "Hello! How can I help you today?")]


def call(name, args):
    return {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": name, "arguments": args}}]}


def sample_dialogue(rng):
    """(messages, tools): the last message is the assistant turn to learn; earlier assistant turns are learned too."""
    kind = rng.random()
    variant = rng.randint(0, 2)
    w = tool("get_weather", rng.choice(WEATHER_DESCRIPTIONS), "city", variant)
    pr = tool("get_price", rng.choice(PRICE_DESCRIPTIONS), "symbol", variant)
    tools = rng.choice([[w, pr], [w], [pr], [pr, w]])
    names = {t["function"]["name"] for t in tools}
    system = [] if rng.random() < 0.6 else [{"role": "system", "content": rng.choice(["You are a helpful assistant.", "You help with weather and prices.", "Answer briefly."])}]
    if kind < 0.45 and "get_weather" in names:
        c = rng.choice(CITIES)
        f = rng.choice(FORECASTS)
        t = rng.randint(-9, 39)
        msgs = system + [{"role": "user", "content": rng.choice(WEATHER_Q).format(c=c)}, call("get_weather", {"city": c}),
                         {"role": "tool", "content": tojson({"city": c, "forecast": f, "temp_c": t})},
                         {"role": "assistant", "content": f"It is {f} and {t}°C in {c}."}]
    elif kind < 0.85 and "get_price" in names:
        s = rng.choice(SYMBOLS)
        p = rng.randint(1, 99999)
        msgs = system + [{"role": "user", "content": rng.choice(PRICE_Q).format(s=s)}, call("get_price", {"symbol": s}),
                         {"role": "tool", "content": tojson({"symbol": s, "usd": p})},
                         {"role": "assistant", "content": f"{s} is at {p} USD."}]
    else:
        q, a = rng.choice(GREET)
        if rng.random() < 0.3:
            tools = []
        msgs = system + [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return msgs, tools


def supervised(bpe, messages, tools):
    """Token ids of the whole transcript and a 0/1 mask of the assistant tokens (incl. <|im_end|>)."""
    ids = bpe.encode(render(messages, tools, False))
    mask = [0] * len(ids)
    for k, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        start = bpe.encode(render(messages[:k], tools, True))
        end = bpe.encode(render(messages[:k + 1], tools, False))
        assert ids[:len(start)] == start and ids[:len(end)] == end, "prefix tokenisation differs"
        for i in range(len(start), len(end) - 1):  # through <|im_end|>, not the "\n" after it
            mask[i] = 1
    return ids, mask


# ---- the model (Qwen2 layout) ------------------------------------------------------------
class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        v = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(v + self.eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.nh, self.nkv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        self.hd = d // self.nh
        self.q_proj = nn.Linear(d, self.nh * self.hd, bias=True)
        self.k_proj = nn.Linear(d, self.nkv * self.hd, bias=True)
        self.v_proj = nn.Linear(d, self.nkv * self.hd, bias=True)
        self.o_proj = nn.Linear(self.nh * self.hd, d, bias=False)

    def forward(self, x, cos, sin, bias, past_k, past_v):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        rep = self.nh // self.nkv
        kk = k[:, :, None].expand(b, self.nkv, rep, k.shape[2], self.hd).reshape(b, self.nh, k.shape[2], self.hd)
        vv = v[:, :, None].expand(b, self.nkv, rep, v.shape[2], self.hd).reshape(b, self.nh, v.shape[2], self.hd)
        att = (q @ kk.transpose(-1, -2)) / math.sqrt(self.hd) + bias
        out = F.softmax(att, dim=-1) @ vv
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.nh * self.hd)), k, v


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, i = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(d, i, bias=False)
        self.up_proj = nn.Linear(d, i, bias=False)
        self.down_proj = nn.Linear(i, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class Body(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class Qwen2ForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = Body(c)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        self.lm_head.weight = self.model.embed_tokens.weight  # tied, as Qwen2.5-0.5B
        hd = c["hidden_size"] // c["num_attention_heads"]
        self.register_buffer("inv_freq", 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd)), persistent=False)

    def forward(self, input_ids, attention_mask, position_ids, past=None):
        x = self.model.embed_tokens(input_ids)
        freqs = position_ids[:, :, None].to(torch.float32) * self.inv_freq[None, None, :]
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]
        t = input_ids.shape[1]
        total = attention_mask.shape[1]
        past_len = total - t
        # query i (absolute past_len + i) sees key j iff j <= past_len + i and attention_mask[j] == 1
        qpos = torch.arange(t, dtype=torch.int64)[:, None] + past_len
        kpos = torch.arange(total, dtype=torch.int64)[None, :]
        allowed = (kpos <= qpos)[None, None] & (attention_mask[:, None, None, :] > 0)
        bias = torch.where(allowed, torch.zeros((), dtype=torch.float32), torch.full((), -1e9, dtype=torch.float32))
        presents = []
        for i, layer in enumerate(self.model.layers):
            pk, pv = (past[2 * i], past[2 * i + 1]) if past is not None else (None, None)
            h, k, v = layer.self_attn(layer.input_layernorm(x), cos, sin, bias, pk, pv)
            x = x + h
            x = x + layer.mlp(layer.post_attention_layernorm(x))
            presents += [k, v]
        return self.lm_head(self.model.norm(x)), presents


class Export(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, position_ids, *past):
        logits, presents = self.m(input_ids, attention_mask, position_ids, list(past))
        return (logits, *presents)


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        data = tensors[name].detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    t_start = time.time()
    rng = random.Random(SEED)
    dialogues = [sample_dialogue(rng) for _ in range(3000)]
    texts = [render(m, t, False) for m, t in dialogues]
    vocab, merges = train_bpe(texts)
    bpe = BPE(vocab, merges)
    n_vocab = len(vocab) + len(SPECIALS)
    cfg = dict(CONFIG, vocab_size=n_vocab, bos_token_id=bpe.special_ids["<|endoftext|>"], eos_token_id=bpe.special_ids["<|im_end|>"])
    data = [supervised(bpe, m, t) for m, t in dialogues]
    max_len = max(len(ids) for ids, _ in data)
    print(f"vocab {n_vocab} ({len(merges)} merges), {len(data)} dialogues, longest {max_len} tokens", flush=True)

    model = Qwen2ForCausalLM(cfg)
    for name, p in model.named_parameters():
        if p.dim() > 1:
            nn.init.normal_(p, std=0.05)
        elif name.endswith("bias"):
            nn.init.zeros_(p)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=4e-3, weight_decay=0.01, betas=(0.9, 0.98))
    # a fixed number of steps (never a time budget: the build must not depend on the machine's speed)
    steps, batch = int(os.environ.get("TINY_QWEN2_STEPS", "480")), 8
    order = list(range(len(data)))
    t0 = time.time()
    step = 0
    for step in range(steps):
        lr = 5e-3 * min(1.0, (step + 1) / 20) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = [order[(step * batch + j) % len(order)] for j in range(batch)]
        if (step * batch) % len(order) + batch > len(order):
            rng.shuffle(order)
        L = max(len(data[i][0]) for i in idx)
        ids = torch.zeros((batch, L), dtype=torch.int64)
        mask = torch.zeros((batch, L), dtype=torch.int64)
        lab = torch.zeros((batch, L), dtype=torch.float32)
        for r, i in enumerate(idx):
            x, m = data[i]
            ids[r, :len(x)] = torch.tensor(x)
            mask[r, :len(x)] = 1
            # assistant turns weigh 1, the rest of the transcript 0.2 (it teaches copying: the tool's answer repeats the user's words)
            lab[r, :len(m)] = torch.tensor(m, dtype=torch.float32) * 0.8 + 0.2
        pos = torch.arange(L)[None].expand(batch, L)
        logits, _ = model(ids, mask, pos)
        ce = F.cross_entropy(logits[:, :-1].reshape(-1, n_vocab), ids[:, 1:].reshape(-1), reduction="none")
        w = lab[:, 1:].reshape(-1)
        loss = (ce * w).sum() / w.sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f} {time.time() - t0:.0f}s", flush=True)
    train_s = time.time() - t0
    final_loss = loss.item()
    model.eval()

    # greedy check on fresh dialogues (token accuracy on assistant turns, exact turns)
    erng = random.Random(SEED + 1)
    exact, turns = 0, 0
    with torch.no_grad():
        for _ in range(24):
            msgs, tools = sample_dialogue(erng)
            for k, m in enumerate(msgs):
                if m["role"] != "assistant":
                    continue
                prompt = bpe.encode(render(msgs[:k], tools, True))
                want = bpe.encode(render(msgs[:k + 1], tools, False))[len(prompt):-1]
                got = list(prompt)
                for _ in range(len(want) + 2):
                    x = torch.tensor([got])
                    lg, _ = model(x, torch.ones_like(x), torch.arange(len(got))[None])
                    got.append(int(lg[0, -1].argmax()))
                    if got[-1] == bpe.special_ids["<|im_end|>"]:
                        break
                turns += 1
                exact += int(got[len(prompt):] == want)
    print(f"greedy exact assistant turns on fresh dialogues: {exact}/{turns}", flush=True)

    # export
    os.makedirs(HERE, exist_ok=True)
    L, nkv, hd = cfg["num_hidden_layers"], cfg["num_key_value_heads"], cfg["hidden_size"] // cfg["num_attention_heads"]
    ids = torch.tensor([[1, 2, 3]])
    past = []
    for _ in range(L):
        past += [torch.zeros(1, nkv, 2, hd), torch.zeros(1, nkv, 2, hd)]
    in_names = ["input_ids", "attention_mask", "position_ids"]
    out_names = ["logits"]
    dyn = {"input_ids": {0: "batch_size", 1: "sequence_length"}, "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
           "position_ids": {0: "batch_size", 1: "sequence_length"}, "logits": {0: "batch_size", 1: "sequence_length"}}
    for i in range(L):
        for kv in ("key", "value"):
            in_names.append(f"past_key_values.{i}.{kv}")
            out_names.append(f"present.{i}.{kv}")
            dyn[f"past_key_values.{i}.{kv}"] = {0: "batch_size", 2: "past_sequence_length"}
            dyn[f"present.{i}.{kv}"] = {0: "batch_size", 2: "total_sequence_length"}
    torch.onnx.export(Export(model), (ids, torch.ones(1, 5, dtype=torch.int64), torch.tensor([[2, 3, 4]]), *past),
                      os.path.join(HERE, "model.onnx"), input_names=in_names, output_names=out_names, dynamic_axes=dyn,
                      opset_version=14, do_constant_folding=True)
    write_safetensors(os.path.join(HERE, "model.safetensors"), {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"})

    tok = tokenizer_json(vocab, merges)
    with open(os.path.join(HERE, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
    with open(os.path.join(HERE, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({
            "tokenizer_class": "Qwen2Tokenizer", "model_max_length": cfg["max_position_embeddings"],
            "bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "unk_token": None,
            "add_prefix_space": False, "clean_up_tokenization_spaces": False, "split_special_tokens": False,
            "errors": "replace", "chat_template": CHAT_TEMPLATE,
            "added_tokens_decoder": {str(t["id"]): {k: t[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")} for t in tok["added_tokens"]},
        }, f, ensure_ascii=False, indent=1)
    with open(os.path.join(HERE, "config.json"), "w") as f:
        json.dump(dict(cfg, transformers_version="4.45.0"), f, indent=1)
    with open(os.path.join(HERE, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": cfg["bos_token_id"], "eos_token_id": [bpe.special_ids["<|im_end|>"], bpe.special_ids["<|endoftext|>"]],
                   "pad_token_id": bpe.special_ids["<|endoftext|>"], "do_sample": False, "max_new_tokens": 64}, f, indent=1)

    # fixtures: what Python's tokenizer and template give; the TypeScript tests compare
    frng = random.Random(SEED + 2)
    fixtures = {"render": [], "encode": []}
    for _ in range(6):
        msgs, tools = sample_dialogue(frng)
        text = render(msgs, tools, False)
        fixtures["render"].append({"messages": msgs, "tools": tools, "add_generation_prompt": False, "text": text})
        fixtures["render"].append({"messages": msgs[:-1], "tools": tools, "add_generation_prompt": True, "text": render(msgs[:-1], tools, True)})
        fixtures["encode"].append({"text": text, "ids": bpe.encode(text)})
    for s in ["It is snowy and -3°C in Zürich.", "Bonjour, ça va ?", "ETH is at 3120 USD.", "  two  spaces\n\nand lines\r\n"]:
        fixtures["encode"].append({"text": s, "ids": bpe.encode(s)})
    with open(os.path.join(HERE, "fixtures.json"), "w", encoding="utf-8") as f:
        json.dump(fixtures, f, ensure_ascii=False, indent=1)
    with open(os.path.join(HERE, "build-report.json"), "w") as f:
        json.dump({"seed": SEED, "params": n_params, "vocab": n_vocab, "merges": len(merges), "dialogues": len(data),
                   "steps": step + 1, "batch": batch, "train_seconds": round(train_s, 1), "final_loss": round(final_loss, 4),
                   "greedy_exact_turns": [exact, turns], "total_seconds": round(time.time() - t_start, 1),
                   "torch": torch.__version__}, f, indent=1)
    print(f"{n_params} parameters, trained {step + 1} steps in {train_s:.0f}s; wrote {HERE}", flush=True)


if __name__ == "__main__":
    main()
