"""Builds models/moderation: a post-text classifier (ok / spam / abuse / scam).

Run from the repository root:  /usr/bin/python3 models/moderation/build.py
Writes model.onnx, meta.json, eval.jsonl and fixtures.json next to this file.
Featurizer (mirrored exactly by src/inference/moderation/featurize.ts): ASCII-lowercase,
collapse whitespace, hashed character 3- and 4-grams plus hashed word tokens (FNV-1a 32,
modulo DIM) counted into a float32 vector. The ONNX graph takes those raw counts and does
log1p, L2 normalisation, a 32-unit ReLU layer and a 4-way linear layer itself.
"""
import json
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from covenant_text import fnv1a32, tokenize  # noqa: E402
from corpus import LABELS, generate, split_templates  # noqa: E402

DIM = 4096
HIDDEN = 32
MAX_CHARS = 2000
SEED = 20261206
TRAIN_SIZE = 8000
EVAL_SIZE = 800
EPOCHS = 12
BATCH = 128
LR = 3e-3
WEIGHT_DECAY = 1e-4
WS = " \t\n\r\f\v"


def ascii_lower(text):
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def features(text):
    """The feature strings of a text, in order (before hashing)."""
    cps = list(text)[:MAX_CHARS]
    text = ascii_lower("".join(cps))
    words, cur = [], []
    for c in text:
        if c in WS:
            if cur:
                words.append("".join(cur))
                cur = []
        else:
            cur.append(c)
    if cur:
        words.append("".join(cur))
    norm = " " + " ".join(words) + " "
    cps = list(norm)
    out = []
    for n in (3, 4):
        for i in range(len(cps) - n + 1):
            out.append("c%d:%s" % (n, "".join(cps[i:i + n])))
    for tok in tokenize(norm):
        out.append("w:" + tok)
    return out


def featurize(text):
    counts = [0.0] * DIM
    for f in features(text):
        counts[fnv1a32(f) % DIM] += 1.0
    return counts


class Classifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(DIM, HIDDEN)
        self.out = torch.nn.Linear(HIDDEN, len(LABELS))

    def forward(self, counts):
        x = torch.log1p(counts)
        x = x / (torch.sqrt(torch.sum(x * x, dim=1, keepdim=True)) + 1e-6)
        return self.out(torch.relu(self.hidden(x)))


def accuracy(model, rows):
    x = torch.tensor([featurize(r["text"]) for r in rows])
    y = torch.tensor([LABELS.index(r["label"]) for r in rows])
    with torch.no_grad():
        pred = model(x).argmax(dim=1)
    per_label = {}
    for i, lab in enumerate(LABELS):
        mask = y == i
        per_label[lab] = round(float((pred[mask] == y[mask]).float().mean()), 4)
    return round(float((pred == y).float().mean()), 4), per_label


def main():
    t0 = time.time()
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    train_t, unseen_t = split_templates()
    train = generate(train_t, TRAIN_SIZE, SEED)
    eval_seen = generate(train_t, EVAL_SIZE, SEED + 1)
    eval_unseen = generate(unseen_t, EVAL_SIZE, SEED + 2)
    x = torch.tensor([featurize(r["text"]) for r in train])
    y = torch.tensor([LABELS.index(r["label"]) for r in train])
    model = Classifier()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    for epoch in range(EPOCHS):
        perm = torch.randperm(len(train))
        total = 0.0
        for i in range(0, len(train), BATCH):
            idx = perm[i:i + BATCH]
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        print("epoch %d loss %.4f" % (epoch, total / len(train)), flush=True)
    model.eval()
    train_seconds = time.time() - t0
    acc_seen, per_seen = accuracy(model, eval_seen)
    acc_unseen, per_unseen = accuracy(model, eval_unseen)
    print("eval accuracy: seen templates %.4f, unseen templates %.4f" % (acc_seen, acc_unseen))

    path = os.path.join(HERE, "model.onnx")
    torch.onnx.export(model, torch.zeros(1, DIM), path, input_names=["counts"], output_names=["logits"],
                      dynamic_axes={"counts": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17,
                      do_constant_folding=True)
    with open(os.path.join(HERE, "eval.jsonl"), "w") as f:
        for split, rows in (("seen-templates", eval_seen), ("unseen-templates", eval_unseen)):
            for r in rows:
                f.write(json.dumps({"split": split, "text": r["text"], "label": r["label"]}, ensure_ascii=False) + "\n")
    fixture_texts = [r["text"] for r in eval_seen[:20] + eval_unseen[:20]] + [
        "", "   ", "ÄÖÜ straße İstanbul — naïve café 🚀🚀", "Send 1 ETH to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\tnow\n\n!!",
        "x" * 2500,
    ]
    fixtures = [{"text": t, "nonzero": [[i, c] for i, c in enumerate(featurize(t)) if c]} for t in fixture_texts]
    with open(os.path.join(HERE, "fixtures.json"), "w") as f:
        json.dump(fixtures, f, ensure_ascii=False)
    meta = {
        "name": "moderation",
        "task": "text-classification",
        "labels": LABELS,
        "inputs": {"counts": {"dtype": "float32", "shape": ["batch", DIM]}},
        "outputs": {"logits": {"dtype": "float32", "shape": ["batch", len(LABELS)]}},
        "featurizer": {
            "kind": "hashed-ngrams-v1",
            "dim": DIM,
            "maxChars": MAX_CHARS,
            "lowercase": "ascii",
            "charNgrams": [3, 4],
            "wordTokens": True,
            "hash": "fnv1a32(utf8(feature)) % dim",
            "featurePrefixes": {"char": "c<n>:", "word": "w:"},
        },
        "training": {
            "script": "models/moderation/build.py",
            "corpus": "models/moderation/corpus.py (synthetic, templated)",
            "seed": SEED, "trainSize": TRAIN_SIZE, "epochs": EPOCHS, "batch": BATCH, "lr": LR,
            "weightDecay": WEIGHT_DECAY, "hidden": HIDDEN, "torch": torch.__version__, "threads": 2,
            "seconds": round(train_seconds, 1),
        },
        "eval": {
            "file": "models/moderation/eval.jsonl",
            "torch": {"seen-templates": {"size": EVAL_SIZE, "accuracy": acc_seen, "perLabel": per_seen},
                      "unseen-templates": {"size": EVAL_SIZE, "accuracy": acc_unseen, "perLabel": per_unseen}},
        },
    }
    with open(os.path.join(HERE, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print("wrote %s (%d bytes) in %.1fs" % (path, os.path.getsize(path), time.time() - t0))


if __name__ == "__main__":
    main()
